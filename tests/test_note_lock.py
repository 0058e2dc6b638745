"""Anki note identity: only notes whose content changed get a newer modification time.

Each edition has a committed lock beside its source (`handbook.lock.yaml`) recording each note's
content hash and time; see studybook/notelock.py. Proved with the real Anki engine: re-importing
after one edit reports exactly one updated note, with the review history kept.
"""

from __future__ import annotations

import io
import sqlite3
import tempfile
import zipfile
from pathlib import Path

import pytest
from anki.collection import Collection, ImportAnkiPackageOptions, ImportAnkiPackageRequest

from conftest import BOOK, BOOK_ZH, FIXTURES, HANDBOOK_EPOCH, run_build
from studybook import notelock
from studybook.reader import read_book
from studybook.render import Options, anki

V1, V2 = "1700000000", "1700000100"


def build(source: Path, out: Path, epoch: str, *extra: str):
    return run_build("anki", *extra, "--source", str(source), "--out", str(out), env={"SOURCE_DATE_EPOCH": epoch})


def note_times(apkg: bytes | Path) -> dict[str, int]:
    """Question id (the first field) → the note's modification time, read from the package."""
    data = apkg.read_bytes() if isinstance(apkg, Path) else apkg
    with zipfile.ZipFile(io.BytesIO(data)) as zf, tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "c.anki2"
        db.write_bytes(zf.read("collection.anki2"))
        con = sqlite3.connect(db)
        try:
            return {flds.split("\x1f")[0]: mod for flds, mod in con.execute("select flds, mod from notes")}
        finally:
            con.close()


def edit(source: Path, old: str, new: str) -> None:
    text = source.read_text(encoding="utf-8")
    assert old in text
    source.write_text(text.replace(old, new), encoding="utf-8")


def test_reimport_after_one_edit_updates_exactly_one_note(mini_book: Path, tmp_path: Path):
    lock = notelock.path_for(mini_book)
    assert lock.name == "handbook.lock.yaml" and lock.exists()  # committed with the fixture
    proc = build(mini_book, tmp_path / "v1", V1)
    assert proc.returncode == 0 and "note lock" not in proc.stderr, proc.stderr
    (tmp_path / "anki").mkdir()
    col = Collection(str(tmp_path / "anki" / "collection.anki2"))
    try:
        options = ImportAnkiPackageOptions()  # what File > Import does: update notes if newer
        first = col.import_anki_package(ImportAnkiPackageRequest(
            package_path=str(tmp_path / "v1" / "mini-bank-en.apkg"), options=options)).log
        assert len(first.new) == 2
        col.decks.select(col.decks.id_for_name("Mini Question Bank"))
        for _ in range(2):
            col.sched.answerCard(col.sched.getCard(), 3)
        history = {c: (col.get_card(c).ivl, col.get_card(c).type, col.get_card(c).due) for c in col.find_cards("")}

        edit(mini_book, "Softmax maps logits", "Softmax turns logits")
        proc = build(mini_book, tmp_path / "v2", V2)
        assert proc.returncode == 0, proc.stderr
        assert f"{lock}:1: warning: the Anki note lock is out of date: notes 1 changed (softmax), 0 new, 0 gone" \
            in proc.stderr
        log = col.import_anki_package(ImportAnkiPackageRequest(
            package_path=str(tmp_path / "v2" / "mini-bank-en.apkg"), options=options)).log

        assert [n.fields[0] for n in log.updated] == ["softmax"]
        assert [n.fields[0] for n in log.duplicate] == ["attention"]  # unchanged: left alone
        assert len(log.new) == 0 and col.note_count() == 2
        assert "Softmax turns logits" in col.get_note(col.find_notes("ID:softmax")[0])["KeyPoints"]
        assert col.db.scalar("select count() from revlog") == 2
        assert {c: (col.get_card(c).ivl, col.get_card(c).type, col.get_card(c).due)
                for c in col.find_cards("")} == history
    finally:
        col.close()
    assert note_times(tmp_path / "v2" / "mini-bank-en.apkg") == {"attention": int(V1), "softmax": int(V2)}
    assert "softmax: {hash: " in lock.read_text() and f"time: {V2}}}" in lock.read_text()


def test_same_source_lock_and_epoch_give_the_same_deck_and_an_up_to_date_lock_is_not_written(
        mini_book: Path, tmp_path: Path):
    edit(mini_book, "Softmax maps logits", "Softmax turns logits")
    assert build(mini_book, tmp_path / "a", V2).returncode == 0  # records the edit in the lock
    lock = notelock.path_for(mini_book)
    recorded = lock.read_bytes()
    second = build(mini_book, tmp_path / "b", V2)
    third = build(mini_book, tmp_path / "c", str(int(V2) + 500))  # a later epoch changes no note
    assert second.returncode == third.returncode == 0
    assert ": warning: " not in second.stderr + third.stderr and "note lock" not in second.stderr + third.stderr
    assert (tmp_path / "a" / "mini-bank-en.apkg").read_bytes() == (tmp_path / "b" / "mini-bank-en.apkg").read_bytes()
    assert note_times(tmp_path / "c" / "mini-bank-en.apkg") == {"attention": int(V1), "softmax": int(V2)}
    assert lock.read_bytes() == recorded


def test_strict_build_with_an_out_of_date_lock_fails_and_writes_nothing(mini_book: Path, tmp_path: Path):
    lock = notelock.path_for(mini_book)
    before = lock.read_bytes()
    edit(mini_book, "Softmax maps logits", "Softmax turns logits")
    proc = build(mini_book, tmp_path / "out", V2, "--strict")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"{lock}:1: warning: the Anki note lock is out of date: notes 1 changed (softmax), 0 new, 0 gone — " \
           "a build without --strict writes it; commit it with the book" in proc.stderr
    assert "nothing was written" in proc.stderr
    assert lock.read_bytes() == before and not (tmp_path / "out").exists()


def test_a_renamed_question_id_is_reported_at_the_question(mini_book: Path, tmp_path: Path):
    for old, new in [("id: softmax\n", "id: softmax-fn\n"), ("related: [softmax]", "related: [softmax-fn]"),
                     ("(#softmax)", "(#softmax-fn)")]:
        edit(mini_book, old, new)
    line = read_book(mini_book).question("softmax-fn").location.line
    proc = build(mini_book, tmp_path / "out", V2, "--strict")
    assert proc.returncode == 1
    assert (f"{mini_book}:{line}: warning: question id 'softmax' was renamed to 'softmax-fn': Anki sees a new "
            "note, and learners lose the review history of 'softmax' and keep its old card as well — keep the "
            "id 'softmax' (ids are permanent)") in proc.stderr
    assert "notes 0 changed, 1 new (softmax-fn), 1 gone (softmax)" in proc.stderr


def test_a_removed_question_id_is_reported_at_its_lock_line(mini_book: Path, tmp_path: Path):
    lock = notelock.path_for(mini_book)
    text = lock.read_text(encoding="utf-8")
    text += "  retired-question: {hash: 0123456789abcdef, source: 0123456789ab, time: 1690000000}\n"
    lock.write_text(text, encoding="utf-8")
    line = len(text.splitlines())
    proc = build(mini_book, tmp_path / "out", V2)
    assert proc.returncode == 0, proc.stderr
    assert (f"{lock}:{line}: warning: question 'retired-question' is no longer in the book: learners keep its "
            "old card; brought back under another id it would start without its review history") in proc.stderr
    assert "retired-question" not in lock.read_text(encoding="utf-8")  # recorded: reported once


@pytest.mark.parametrize(("old", "new", "message"), [
    ("# Anki note lock", "<<<<<<< HEAD\n# Anki note lock", "the Anki note lock has an unresolved merge conflict — "
     "the build writes this file: resolve a merge conflict by taking either side and building again"),
    ("book: mini-bank", "book: mini-bank: x", "the Anki note lock cannot be read: mapping values are not allowed here"),
    ("source: 434c189d3188, time: 1700000000}", "source: 434c189d3188, time: soon}",
     "an entry of the Anki note lock needs a hash and a time in whole seconds"),
    ("book: mini-bank", "book: another-book", "the Anki note lock is for book 'another-book', not 'mini-bank'"),
])
def test_a_damaged_lock_is_one_located_error(mini_book: Path, tmp_path: Path, old: str, new: str, message: str):
    lock = notelock.path_for(mini_book)
    edit(lock, old, new)
    lines = lock.read_text(encoding="utf-8").splitlines()
    line = next(i for i, x in enumerate(lines, 1) if new.splitlines()[0] in x)
    proc = build(mini_book, tmp_path / "out", V2)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"{lock}:{line}: {message}" in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()


def test_a_changed_note_is_always_newer_than_its_recorded_time(tmp_path: Path):
    """An epoch older than the lock (a clock behind, an old SOURCE_DATE_EPOCH) still updates."""
    source = FIXTURES / "mini" / "handbook.md"
    lock = notelock.load(source)
    assert lock.notes is not None
    stale = notelock.NoteLock(lock.path, lock.book, lock.language, lock.note_type,
                              {**lock.notes, "softmax": notelock.Entry("0" * 16, 1750000000, "")}, lock.data)
    options = Options(build_time=1600000000, note_lock=stale)
    times = note_times(anki.render(read_book(source), options))
    assert times == {"attention": 1700000000, "softmax": 1750000001}
    assert len(options.extra_files) == 1 and options.extra_files[0][0] == lock.path


@pytest.mark.parametrize("source", [
    pytest.param(BOOK, marks=pytest.mark.slow), pytest.param(BOOK_ZH, marks=pytest.mark.slow),
    FIXTURES / "mini" / "handbook.md", FIXTURES / "mini" / "handbook.zh-CN.md", FIXTURES / "gfm" / "handbook.md",
], ids=lambda p: str(p.relative_to(FIXTURES.parent.parent)))
def test_the_committed_locks_are_up_to_date(source: Path):
    options = Options(build_time=int(HANDBOOK_EPOCH), note_lock=notelock.load(source))
    anki.render(read_book(source), options)
    assert options.extra_files == [] and options.problems.items == [], (
        f"{notelock.path_for(source)} is out of date: build the deck without --strict "
        f"(python build.py anki --source {source}) and commit the lock")
