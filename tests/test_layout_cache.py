"""The layout cache of chunked print outputs (studybook/render/layout_cache.py): an edit lays out
only the chunks it changed, and what comes from the cache is the bytes a build with an empty
cache writes.

The mini book is cut into one chunk a question ($STUDYBOOK_PDF_CHUNK=1): the front matter, two
chapters and the bibliography. The builds run without SOURCE_DATE_EPOCH, as an
author's do: every edit then changes the build time the PDF's metadata records.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from conftest import run_build
from studybook.reader import read_book
from studybook.render import pdf_chunks
from studybook.render.layout_cache import LayoutCache

NOTE = re.compile(r"pdf: from the layout cache: (\d+) of (\d+) page counts, (\d+) of (\d+) laid-out chunks")


class _Book:
    path, id, language = "content/handbook.md", "book", "en"


def _key(html: str, **kw) -> str:
    cache = LayoutCache(Path("/nonexistent"), Path("/nonexistent"))
    cache.__dict__["environment"] = "env"  # the cached_property, without hashing the real code
    return cache.key("pdf-write", html, kw.pop("resources", {}), _Book(), "a4", **{"first": False, **kw})


def test_a_key_holds_the_pages_of_the_anchors_the_chunk_links_to_and_no_others():
    html = '<a href="#q-a">see</a>'
    assert _key(html, pages={"q-a": 5, "q-b": 1}) == _key(html, pages={"q-a": 5, "q-b": 9})
    assert _key(html, pages={"q-a": 5}) != _key(html, pages={"q-a": 6})


def test_a_key_leaves_out_the_build_time_of_every_chunk_but_the_first():
    meta = '<meta name="dcterms.created" content="{}"><meta name="dcterms.modified" content="{}">'
    old, new = (meta.format(t, t) + "<p>x</p>" for t in ("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"))
    assert _key(old) == _key(new)
    assert _key(old, first=True) != _key(new, first=True)
    assert _key(old) != _key(old.replace("<p>x</p>", "<p>y</p>"))


def test_a_key_holds_the_resources_the_html_names():
    html = '<img src="studybook://image/a.png">'
    picture = {"studybook://image/a.png": (b"one", "image/png")}
    assert _key(html, resources=picture) != _key(html, resources={"studybook://image/a.png": (b"two", "image/png")})
    assert _key("<p></p>", resources=picture) == _key("<p></p>")


def test_a_page_count_is_taken_from_the_cache_and_a_damaged_entry_is_laid_out_again(tmp_path: Path):
    from types import SimpleNamespace

    from studybook.render import Options
    from studybook.render.pdf import Part

    cache = LayoutCache(tmp_path, tmp_path)
    cache.__dict__["environment"] = "env"
    options = Options(build_time=0, layout_cache=cache)
    doc = SimpleNamespace(html="<p>x</p>", resources={})
    calls: list[int] = []

    def lay_out() -> pdf_chunks.Laid:
        calls.append(1)
        return pdf_chunks.Laid(3, {"q-a": 2}, 1)

    first = pdf_chunks.counted("pdf", doc, _Book(), options, Part(), lay_out)
    again = pdf_chunks.counted("pdf", doc, _Book(), options, Part(), lay_out)
    assert (len(calls), first.cached, again.cached) == (1, False, True)
    assert (again.pages, again.anchors, again.footnotes, again.key) == (3, {"q-a": 2}, 1, first.key)
    for entry in tmp_path.glob("*.json"):
        entry.write_text('{"result": {"pages": 3}, "warnings": []}', encoding="utf-8")
    damaged = pdf_chunks.counted("pdf", doc, _Book(), options, Part(), lay_out)
    assert (len(calls), damaged.cached, damaged.pages) == (2, False, 3)


def _build(source: Path, out: Path, cache: Path) -> tuple[tuple[int, ...], bytes]:
    proc = run_build("pdf", "--strict", "--source", str(source), "--out", str(out),
                     env={"STUDYBOOK_CACHE": str(cache), pdf_chunks.ENV: "1"}, unset=("SOURCE_DATE_EPOCH",))
    assert proc.returncode == 0, proc.stderr
    m = NOTE.search(proc.stderr)
    assert m, proc.stderr
    return tuple(int(n) for n in m.groups()), next(out.glob("*.pdf")).read_bytes()


def _fresh(cache: Path, into: Path) -> Path:
    """An empty layout cache with the warm formula and figure caches of `cache`."""
    for part in ("formulas", "figures"):
        if (cache / part).exists():
            shutil.copytree(cache / part, into / part)
    return into


@pytest.mark.slow
def test_an_edit_lays_out_only_what_it_changed_and_writes_what_an_empty_cache_writes(mini_book: Path,
                                                                                      tmp_path: Path):
    cache = tmp_path / "cache"
    chunks = pdf_chunks.plan(read_book(mini_book), 1)
    assert len([c for c in chunks if c.topics]) == 2 and chunks[-1].back

    os.utime(mini_book, (1_799_999_900, 1_799_999_900))  # the build time; the edits below save the same day
    counts, _ = _build(mini_book, tmp_path / "first", cache)
    assert counts[0] == counts[2] == 0, "an empty cache has nothing"
    text = mini_book.read_text(encoding="utf-8")

    # One word of the first chapter's answer: that chunk is laid out again (both rounds), and the
    # front matter's second round (the build time in its metadata); nothing else.
    edited = text.replace("Attention compares a query", "Attention compares one query", 1)
    assert edited != text
    mini_book.write_text(edited, encoding="utf-8")
    os.utime(mini_book, (1_800_000_000, 1_800_000_000))  # a new build time, as an editor's save gives
    (cached_counts, total_counts, cached_chunks, total_chunks), data = _build(mini_book, tmp_path / "edit", cache)
    assert (cached_counts, cached_chunks) == (total_counts - 1, total_chunks - 2)
    _, clean = _build(mini_book, tmp_path / "edit-clean", _fresh(cache, tmp_path / "empty-1"))
    assert data == clean, "the PDF from the cache differs from the one an empty cache gives"

    # A page more in the first chapter: every page number after it moves, so every chunk after
    # it is laid out again with its new numbers (the page counts of the others still hold).
    longer = edited.replace("### Answer\n\n", "### Answer\n\n" + ("A sentence that adds length. " * 50 + "\n\n") * 4, 1)
    assert longer != edited
    mini_book.write_text(longer, encoding="utf-8")
    # The same build time as the edit before: the front matter's HTML is then the same, and only
    # the pages its contents names have moved.
    os.utime(mini_book, (1_800_000_000, 1_800_000_000))
    (cached_counts, total_counts, cached_chunks, total_chunks), data = _build(mini_book, tmp_path / "long", cache)
    assert cached_counts == total_counts - 1
    assert cached_chunks < total_chunks - 2, "the chunks after a page added are laid out again"
    _, clean = _build(mini_book, tmp_path / "long-clean", _fresh(cache, tmp_path / "empty-2"))
    assert data == clean, "a chunk came from the cache with stale page numbers"


@pytest.mark.slow
def test_the_cache_keeps_only_what_the_last_build_of_each_book_used(mini_book: Path, tmp_path: Path):
    cache = tmp_path / "cache"
    _build(mini_book, tmp_path / "first", cache)
    entries = set((cache / "layouts").glob("*.pdf"))
    text = mini_book.read_text(encoding="utf-8")
    mini_book.write_text(text.replace("Attention compares a query", "Attention compares one query", 1),
                         encoding="utf-8")
    os.utime(mini_book, (1_800_000_000, 1_800_000_000))
    _build(mini_book, tmp_path / "edit", cache)
    after = set((cache / "layouts").glob("*.pdf"))
    assert len(after) == len(entries), "an edit replaces the entries it changed"
    assert entries - after, "the old layout of the edited chunk is dropped"
    # A book whose file is gone: its entries go with the next build of any book.
    gone = tmp_path / "gone"
    shutil.copytree(mini_book.parent, gone)
    _build(gone / "handbook.md", tmp_path / "gone-out", cache)
    assert len(set((cache / "layouts").glob("*.pdf"))) > len(after)
    shutil.rmtree(gone)
    _build(mini_book, tmp_path / "again", cache)
    assert set((cache / "layouts").glob("*.pdf")) == after


@pytest.mark.slow
def test_flashcards_measure_and_lay_out_again_only_the_cards_an_edit_changed(mini_book: Path, tmp_path: Path):
    def build(out: str, cache: Path) -> tuple[list[tuple[int, int]], bytes]:
        proc = run_build("flashcards", "--strict", "--source", str(mini_book), "--out", str(tmp_path / out),
                         env={"STUDYBOOK_CACHE": str(cache), pdf_chunks.ENV: "1", "SOURCE_DATE_EPOCH": "1700000000"})
        assert proc.returncode == 0, proc.stderr
        m = re.search(r"flashcards: from the layout cache: (\d+) of (\d+) measured batches, (\d+) of (\d+) "
                      r"laid-out chunks", proc.stderr)
        assert m, proc.stderr
        n = [int(g) for g in m.groups()]
        return [(n[0], n[1]), (n[2], n[3])], next((tmp_path / out).glob("*.pdf")).read_bytes()

    cache = tmp_path / "cache"
    (measured, chunks), _ = build("first", cache)
    assert measured[0] == chunks[0] == 0
    text = mini_book.read_text(encoding="utf-8")
    edited = text.replace("averaged with the softmax weights.", "averaged by the softmax weights.")
    assert edited != text
    mini_book.write_text(edited, encoding="utf-8")
    (measured, chunks), data = build("edit", cache)
    # The edited card's back is measured again; the fronts and the other card's back are not.
    assert 0 < measured[0] < measured[1], measured
    _, clean = build("clean", _fresh(cache, tmp_path / "empty"))
    assert data == clean, "the flashcards from the cache differ from those an empty cache gives"


@pytest.mark.slow
def test_the_quiz_from_the_cache_is_the_quiz_laid_out(mini_book: Path, tmp_path: Path):
    def build(out: str) -> tuple[str, bytes]:
        proc = run_build("quiz", "--strict", "--source", str(mini_book), "--out", str(tmp_path / out),
                         env={"STUDYBOOK_CACHE": str(tmp_path / "cache"), pdf_chunks.ENV: "1",
                              "SOURCE_DATE_EPOCH": "1700000000"})
        assert proc.returncode == 0, proc.stderr
        note = re.search(r"quiz: from the layout cache: .*", proc.stderr)
        assert note, proc.stderr
        return note.group(0), next((tmp_path / out).glob("*.pdf")).read_bytes()

    note, laid_out = build("first")
    assert note.startswith("quiz: from the layout cache: 0 of ")
    note, cached = build("again")
    counts = [int(n) for n in re.findall(r"\d+", note)]
    assert counts[0] == counts[1] and counts[2] == counts[3] and counts[1] >= 3, note
    assert cached == laid_out
