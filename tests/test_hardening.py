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
