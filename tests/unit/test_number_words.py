import pytest

from bot.answers.text import SMALL_NUMBER_RE, fold, small_number


@pytest.mark.parametrize(
    ("words", "value"),
    [
        ("two", 2),
        ("twenty-one", 21),
        ("deux", 2),
        ("quinze", 15),  # French and Portuguese
        ("vingt-et-un", 21),
        ("trente et un", 31),
        ("soixante", None),  # above 31
        ("zwei", 2),
        ("Zwölf", 12),  # accents and case do not matter
        ("einunddreißig", 31),
        ("dos", 2),
        ("dieciséis", 16),
        ("veintidós", 22),
        ("treinta y uno", 31),
        ("due", 2),
        ("diciassette", 17),
        ("ventotto", 28),  # the ten loses its vowel before "otto"
        ("trentuno", 31),
        ("dois", 2),
        ("dezasseis", 16),  # Portugal
        ("dezesseis", 16),  # Brazil
        ("vinte e duas", 22),
        ("32", None),
        ("hoodie", None),
    ],
)
def test_small_number(words: str, value: int | None) -> None:
    assert small_number(words) == value


def test_small_number_re_finds_compounds_whole() -> None:
    text = fold("dans vingt-et-un jours, in einundzwanzig Tagen, en treinta y un días")
    assert [small_number(m.group()) for m in SMALL_NUMBER_RE.finditer(text)] == [21, 21, 31]
