"""Golden tests: an input beside its expected output, compared whole (as pandoc and mdformat do).

A change to any of these outputs shows up as a diff a reviewer can read. When the change is
intended, regenerate the expected files with `UPDATE_GOLDEN=1 pytest tests/test_golden.py` and
review the diff before committing.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import tempfile
import zipfile
from pathlib import Path

import pytest

from conftest import FIXTURES, ROOT, run_build
from studybook.reader import read_book
from studybook.render import Options, anki, epub

GOLDEN = Path(__file__).resolve().parent / "golden"
MINI = FIXTURES / "mini" / "handbook.md"
EPOCH = 1700000000


def _compare(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(actual, encoding="utf-8")
    expected = path.read_text(encoding="utf-8") if path.exists() else ""
    assert actual == expected, f"{name} differs from its golden copy (UPDATE_GOLDEN=1 to accept)"


def test_anki_note_fields_of_the_fixture_book():
    data = anki.render(read_book(MINI), Options(build_time=EPOCH))
    with zipfile.ZipFile(io.BytesIO(data)) as zf, tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "c.anki2"
        db.write_bytes(zf.read("collection.anki2"))
        con = sqlite3.connect(db)
        try:
            rows = con.execute("select flds, tags from notes order by sfld").fetchall()
            models = json.loads(con.execute("select models from col").fetchone()[0])
        finally:
            con.close()
    notes = [dict(zip(anki.FIELDS, flds.split("\x1f"), strict=True)) | {"tags": tags.split()} for flds, tags in rows]
    (model,) = models.values()
    card = {"front": model["tmpls"][0]["qfmt"], "back": model["tmpls"][0]["afmt"]}
    _compare("mini-anki-notes.json", json.dumps({"notes": notes, "card": card}, indent=1, ensure_ascii=False) + "\n")


def test_epub_chapter_of_the_fixture_book():
    data = epub.render(read_book(MINI), Options(build_time=EPOCH))
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        _compare("mini-epub-chapter-01.xhtml", zf.read("OEBPS/chapter-01.xhtml").decode("utf-8"))


def test_check_output_of_a_broken_book():
    proc = run_build("check", "--source", str((FIXTURES / "broken" / "handbook.md").relative_to(ROOT)))
    assert proc.returncode == 1
    _compare("broken-check.txt", proc.stderr)


@pytest.mark.parametrize("name", ["mini-anki-notes.json", "mini-epub-chapter-01.xhtml", "broken-check.txt"])
def test_golden_files_exist(name: str):
    assert (GOLDEN / name).stat().st_size > 0
