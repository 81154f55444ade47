"""The serializers: any string reads back as itself (PyYAML, tomllib), comments stay comments."""

from __future__ import annotations

import random
import sys

import pytest
import yaml

from gpudoctor.envplan.emit import comment, comment_safe, toml_string, toml_value, yaml_scalar

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

TRICKY = [
    "yes", "No", "ON", "off", "y", "n", "true", "False", "null", "~", "123", "0x1F", "0o17",
    "1e3", "1_000", ".inf", "-.nan", "2026-01-01", "12:30:00", "=", "<<", "- a", "? x", "a: b",
    "a #b", "#x", "'q'", '"q"', "\\", "&anchor", "*ref", "!tag", "%dir", "@x", "`x`", "{a}",
    "[a]", "|", ">", "a\nb", "a\rb", "tab\tx", "\x00", "\x1b[2J", "\x07", "\x7f", "\x85",
    "\u2028", "\u2029", "\ufeff", "\u202e", "é", "名前", "😀", " lead", "trail ", "",
]  # fmt: skip
ALPHABET = [*"abcXYZ019_.-=<>:#'\"\\ !&*?|{}[],@`%~", *map(chr, range(0x20)), "\x7f",
            "\x85", "\xa0", "\u2028", "\u2029", "\ufeff", "\u202e", "é", "名", "😀"]  # fmt: skip


def _samples() -> list[str]:
    rng = random.Random(13)  # noqa: S311 - reproducible test data, not secrets
    made = ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 12))) for _ in range(1500)]
    return TRICKY + made


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_strings_read_back_as_themselves(text: str) -> None:
    assert yaml.safe_load(f"k: {yaml_scalar(text)}\n")["k"] == text
    assert yaml.safe_load(f"- {yaml_scalar(text)}\n") == [text]
    assert tomllib.loads(f"k = {toml_string(text)}\n")["k"] == text


def test_random_strings_read_back_as_themselves() -> None:
    for text in _samples():
        assert yaml.safe_load(f"k: {yaml_scalar(text)}\n")["k"] == text, repr(text)
        assert tomllib.loads(f"k = {toml_value([text, {'x': text}])}\n")["k"] == [
            text,
            {"x": text},
        ], repr(text)


def test_plain_only_when_it_stays_a_string() -> None:
    assert yaml_scalar("torch2.14-cu126") == "torch2.14-cu126"
    assert yaml_scalar("python=3.14") == "python=3.14"
    assert yaml_scalar("yes") == '"yes"' and yaml_scalar("123") == '"123"'


def test_comments_stay_one_inert_comment() -> None:
    for text in _samples():
        lines = comment(text) or ["#"]
        block = "\n".join(lines) + "\nk: 1\n"
        assert yaml.safe_load(block) == {"k": 1}, repr(text)
        assert tomllib.loads(block.replace("k: 1", "k = 1")) == {"k": 1}, repr(text)
        assert all(c.isprintable() or c == " " for c in comment_safe(text)), repr(text)
