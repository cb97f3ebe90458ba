"""The shared YAML reader of the catalogue, scoring, handoff and flow files."""

from pathlib import Path

import pytest

from bot.yamlconf import load_document


class ConfigError(ValueError):
    pass


def _load(tmp_path: Path, text: str):
    path = tmp_path / "settings.yml"
    path.write_text(text, encoding="utf-8")
    data, _ = load_document(path, ConfigError, "settings")
    return data


def test_yes_no_and_country_codes_stay_text(tmp_path):
    assert _load(tmp_path, "country: NO\nanswer: yes\nflag: true\n") == {
        "country": "NO",
        "answer": "yes",
        "flag": True,
    }


def test_a_key_given_twice_names_both_lines(tmp_path):
    with pytest.raises(
        ConfigError, match=r"settings.yml:3: invalid YAML: 'a' is given twice \(first on line 1\)"
    ):
        _load(tmp_path, "a: 1\nb: 2\na: 3\n")


def test_merge_keys_are_read(tmp_path):
    text = "base: &base\n  points: 5\n  cap: 10\nrule:\n  <<: *base\n  decay: 7\n"
    assert _load(tmp_path, text)["rule"] == {"points": 5, "cap": 10, "decay": 7}


def test_a_merged_key_written_again_is_a_line_numbered_error(tmp_path):
    text = "base: &base\n  points: 5\n  cap: 10\nrule:\n  <<: *base\n  cap: 20\n"
    with pytest.raises(ConfigError, match=r"settings.yml:6: .*'cap' is given twice"):
        _load(tmp_path, text)


@pytest.mark.parametrize("text", ["? [1]\n: 2\n", "{[1, 2]: x}\n", "? {a: 1}\n: 2\n"])
def test_a_list_or_mapping_as_a_key_is_a_line_numbered_error(tmp_path, text):
    with pytest.raises(ConfigError, match=r"settings.yml:1: invalid YAML: found unhashable key"):
        _load(tmp_path, text)


def test_a_syntax_error_names_the_line(tmp_path):
    with pytest.raises(ConfigError, match=r"settings.yml:2: invalid YAML"):
        _load(tmp_path, "a: [1, 2\nb: 3\n")


def test_each_read_gets_its_own_copy_and_a_changed_file_is_read_anew(tmp_path):
    first = _load(tmp_path, "rules:\n  cart: {points: 12}\n")
    first["rules"]["cart"]["points"] = 99
    assert _load(tmp_path, "rules:\n  cart: {points: 12}\n")["rules"]["cart"]["points"] == 12
    assert _load(tmp_path, "rules:\n  cart: {points: 13}\n")["rules"]["cart"]["points"] == 13


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("version: 1\n~: 3\n", 2, "a key is missing before ':'"),
        ("rules:\n  cart: 1\n  ? \n  : 3\n", 3, "a key is missing before ':'"),
        ("version: 1\n12: x\n", 2, "12 is not a name"),
        ("sizes:\n  2026-12-07: x\n", 2, "is not a name"),
    ],
)
def test_every_key_of_a_settings_file_is_a_name(tmp_path, text, line, problem):
    with pytest.raises(ConfigError, match=rf"settings.yml:{line}: invalid YAML: .*{problem}"):
        _load(tmp_path, text)
