"""Hostile input the build refuses at its line (a first part of the hardening work)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_build


def test_a_language_that_is_not_a_tag_cannot_write_outside_the_output(mini_book: Path, tmp_path: Path):
    text = mini_book.read_text(encoding="utf-8").replace("language: en", "language: x/../../../../escaped")
    mini_book.write_text(text, encoding="utf-8")
    line = text.split("\n").index("language: x/../../../../escaped") + 1
    proc = run_build("all", "--source", str(mini_book), "--out", str(tmp_path / "out"))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"handbook.md:{line}: language 'x/../../../../escaped' is not a BCP 47 tag" in proc.stderr
    assert not (tmp_path / "out").exists() and not list(tmp_path.parent.rglob("escaped*"))


@pytest.mark.parametrize("formula", [r"\href{javascript:alert(1)}{x}", r"\style{color:red}{x}",
                                     r"\class{evil}{x}", r"\cssId{a}{x}", r"\unicode{x41}"])
def test_formula_commands_that_reach_the_dom_are_refused(mini_book: Path, formula: str):
    text = mini_book.read_text(encoding="utf-8").replace(r"\((2, 1, 0)\)", f"\\({formula}\\)")
    mini_book.write_text(text, encoding="utf-8")
    line = next(i for i, s in enumerate(text.split("\n"), 1) if formula in s)
    proc = run_build("check", "--source", str(mini_book))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"handbook.md:{line}: malformed LaTeX" in proc.stderr and "is not allowed in a formula" in proc.stderr


@pytest.mark.parametrize(("bad", "name"), [("\u202e", "202E"), ("\x1f", "001F"), ("\x00", "0000")])
def test_control_and_bidi_characters_are_refused_at_their_line(mini_book: Path, bad: str, name: str):
    text = mini_book.read_text(encoding="utf-8").replace("Numbers and functions.", f"Numbers{bad} and functions.")
    mini_book.write_text(text, encoding="utf-8")
    line = next(i for i, s in enumerate(text.split("\n"), 1) if bad in s)
    proc = run_build("check", "--source", str(mini_book))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"handbook.md:{line}: invisible control character U+{name}" in proc.stderr


@pytest.mark.parametrize(("block", "message"), [
    ("id: softmax\nid: other\n", "the key 'id' is written twice"),
    ("id: softmax\ntags: &a [x]\nrelated: *a\n", "aliases (*name) are not allowed here"),
])
def test_metadata_yaml_refuses_duplicate_keys_and_aliases(mini_book: Path, block: str, message: str):
    text = mini_book.read_text(encoding="utf-8")
    old = "id: softmax\ndifficulty: easy\ntags: [softmax]\nreferences: [vaswani2017attention]\nrelated: [attention]\n"
    assert old in text
    mini_book.write_text(text.replace(old, block), encoding="utf-8")
    proc = run_build("check", "--source", str(mini_book))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and message in proc.stderr


def test_anki_sound_tags_written_in_the_text_do_not_play(mini_book: Path, tmp_path: Path):
    import sqlite3
    import zipfile

    text = mini_book.read_text(encoding="utf-8").replace("Numbers and functions.", "Numbers.")
    text = text.replace("Softmax maps logits", "Softmax [sound:evil.mp3] maps logits")
    mini_book.write_text(text, encoding="utf-8")
    proc = run_build("anki", "--source", str(mini_book), "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    with zipfile.ZipFile(next(tmp_path.glob("*.apkg"))) as zf:
        (tmp_path / "c.anki2").write_bytes(zf.read("collection.anki2"))
    fields = " ".join(r[0] for r in sqlite3.connect(tmp_path / "c.anki2").execute("select flds from notes"))
    assert "[sound:" not in fields and "&#91;sound:evil.mp3]" in fields
