import re

import pytest

from bot.answers.text import (
    SMALL_NUMBER_RE,
    NumberReading,
    fold,
    read_number,
    small_number,
    words_to_int,
)


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


@pytest.mark.parametrize(
    ("words", "value", "scale"),
    [
        # English keeps words_to_int's reading, vague counts included.
        ("two hundred", 200, 100),
        ("a few hundred", 300, 100),
        ("two thousand five hundred", 2500, 1),  # not "N times" its last multiplier
        ("a grand", 1000, 1000),
        # French
        ("deux cents", 200, 100),
        ("trois cent cinquante", 350, 1),
        ("quatre-vingts", 80, 1),  # four twenties
        ("quatre-vingt-dix-neuf", 99, 1),
        ("soixante et onze", 71, 1),
        ("septante", 70, 1),  # Belgium and Switzerland
        ("mille deux cents", 1200, 1),
        # German, written as one word
        ("zweihundert", 200, 100),
        ("zweihundertfünfzig", 250, 1),
        ("einundzwanzig", 21, 1),
        ("tausend", 1000, 1000),
        ("zweitausendfünfhundert", 2500, 1),
        ("eine Million", 1_000_000, 1_000_000),
        # Spanish
        ("doscientos", 200, 1),  # one word for 200: no multiplier to share
        ("trescientos cincuenta", 350, 1),
        ("dos mil quinientos", 2500, 1),
        ("doscientos mil", 200_000, 1000),
        ("veintidós", 22, 1),
        ("mil", 1000, 1000),
        # Italian, written as one word
        ("duecento", 200, 100),
        ("duemilacinquecento", 2500, 1),
        ("centottanta", 180, 1),
        ("trecentoventitré", 323, 1),
        # Portuguese
        ("quinhentos", 500, 1),
        ("duzentos e cinquenta", 250, 1),
        ("mil e quinhentos", 1500, 1),
        ("cento e vinte", 120, 1),
    ],
)
def test_read_number(words: str, value: int, scale: int) -> None:
    assert read_number(re.split(r"[\s-]+", words)) == NumberReading(value, scale)


@pytest.mark.parametrize(
    "word",
    # Words made of number parts that are no numbers: "vente" (sale) is not vent|e,
    # "centro" not cent|ro, "Achtung" not acht|ung, "novembre" not nove|mbre.
    ["vente", "dose", "centro", "milano", "novembre", "Achtung", "einmal", "und", "hoodie", ""],
)
def test_read_number_refuses_other_words(word: str) -> None:
    assert read_number([word]) is None


def test_words_to_int_stays_english() -> None:
    assert words_to_int(["two", "hundred", "fifty"]) == 250
    assert words_to_int(["deux", "cents"]) is None
