"""One book, one policy: the deck, the PDF and the EPUB of the handbook agree on the bibliography's
order, on how every author list is printed, and on cross-reference labels (none doubled).

Each output is read back from the real artifact built once per session (`handbook_dist`).
"""

from __future__ import annotations

import re
import sqlite3
import tempfile
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
from pypdf import PdfReader

from conftest import BOOK, ROOT
from studybook import labels
from studybook.model import Book
from studybook.reader import read_book

pytestmark = pytest.mark.slow

X = "{http://www.w3.org/1999/xhtml}"
LABELS = labels.load(ROOT / "templates", "en")
# A label printed twice: "Q48 (Q48)", "(Q13 (p. 30))", "Q13 (Q13, p. 30)".
DOUBLED = re.compile(r"\bQ(\d+)\s*\(Q\1\b|\(Q\d+\s*\(p\.\s*\d+\)\)")


@pytest.fixture(scope="module")
def book() -> Book:
    return read_book(BOOK)


def _squash(text: str) -> str:
    """Text without spaces and line-end hyphens: what survives any line breaking."""
    return re.sub(r"[\s\u00ad-]+", "", text).casefold()


def _epub_bibliography(epub: Path) -> list[ET.Element]:
    with zipfile.ZipFile(epub) as zf:
        root = ET.fromstring(zf.read("OEBPS/bibliography.xhtml"))
    return [li for li in root.iter(f"{X}li") if (li.get("id") or "").startswith("ref-")]


def _anki_fields(apkg: Path) -> list[list[str]]:
    with zipfile.ZipFile(apkg) as zf, tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "c.anki2"
        db.write_bytes(zf.read("collection.anki2"))
        con = sqlite3.connect(db)
        try:
            return [row[0].split("\x1f") for row in con.execute("select flds from notes order by id")]
        finally:
            con.close()


def _pdf_text(pdf: Path, from_bookmark: str = "") -> str:
    """The PDF's text, from the page the named top-level bookmark points at when given."""
    reader = PdfReader(pdf)
    start = 0
    if from_bookmark:
        mark = next(m for m in reader.outline if not isinstance(m, list) and m.title == from_bookmark)
        start = reader.get_destination_page_number(mark)
    return "\n".join(page.extract_text() or "" for page in reader.pages[start:])


def test_pdf_and_epub_list_the_bibliography_in_the_books_one_order(book: Book, handbook_dist: Path):
    expected = [ref.key for ref in book.bibliography]
    items = _epub_bibliography(handbook_dist / "llm-interview-handbook-en.epub")
    assert len(items) == len(expected)
    # House style sets the title in typographic quotes with its full stop: “Title.”
    epub_titles = ["".join(li.find(f".//{X}cite").itertext()).removeprefix("“").removesuffix("”").rstrip(".")
                   for li in items]
    assert epub_titles == [book.references[k].title.rstrip(".") for k in expected]

    text = _squash(_pdf_text(handbook_dist / "llm-interview-handbook-en.pdf", LABELS["bibliography"]))
    # Each title must come after the previous one: a list in another order leaves a title behind.
    cursor = 0
    for key in expected:
        found = text.find(_squash(book.references[key].title)[:40], cursor)
        assert found != -1, f"{key} is not where the book's order puts it in the PDF"
        cursor = found + 1


def test_every_output_prints_each_author_list_the_same_way(book: Book, handbook_dist: Path):
    epub_authors = {li.get("id"): "".join(li.find(f".//{X}span[@class='ref-authors']").itertext())
                    for li in _epub_bibliography(handbook_dist / "llm-interview-handbook-en.epub")}
    pdf = _squash(_pdf_text(handbook_dist / "llm-interview-handbook-en.pdf"))
    fields = _anki_fields(handbook_dist / "llm-interview-handbook-en.apkg")
    anki_refs = " ".join(re.sub(r"<[^>]+>", "", f[5]) for f in fields)
    for ref in book.bibliography:
        line = LABELS.authors(ref)
        assert epub_authors[f"ref-{ref.key}"] == line, ref.key
        assert _squash(f"{line} ({ref.year})") in pdf, ref.key
        if book.cited_by[ref.key]:
            assert f"{line} ({ref.year})" in anki_refs, ref.key
    partial = [ref for ref in book.bibliography if ref.partial]
    assert partial and all(LABELS.authors(ref).endswith(LABELS["et_al"]) for ref in partial)


def test_no_output_doubles_a_cross_reference_label(handbook_dist: Path):
    pdf = _pdf_text(handbook_dist / "llm-interview-handbook-en.pdf")
    with zipfile.ZipFile(handbook_dist / "llm-interview-handbook-en.epub") as zf:
        epub = " ".join(re.sub(r"<[^>]+>", "", zf.read(n).decode()) for n in zf.namelist() if n.endswith(".xhtml"))
    anki = " ".join(re.sub(r"<[^>]+>", "", f) for fields in _anki_fields(
        handbook_dist / "llm-interview-handbook-en.apkg") for f in fields)
    for name, text in (("pdf", pdf), ("epub", epub), ("anki", anki)):
        text = " ".join(text.split())
        assert not DOUBLED.findall(text), (name, DOUBLED.findall(text)[:5])
        # "(see tokenization (Q1, p. 8))": a link that closes the author's parentheses.
        assert not NESTED.findall(text), (name, NESTED.findall(text)[:5])


NESTED = re.compile(r"\([^()]{0,40}\(Q\d+")
# Chinese writes its parentheses full width: "（位置编码（Q8，第 23 页））" nests the label in the
# author's own parentheses, where "（位置编码，Q8，第 23 页）" follows the comma rule.
NESTED_ZH = re.compile(r"（[^（）]{0,40}（Q\d+")


def test_no_chinese_output_nests_a_label_in_the_authors_parentheses(handbook_zh_dist: Path):
    stem = "llm-interview-handbook-zh-CN"
    pdf = _pdf_text(handbook_zh_dist / f"{stem}.pdf")
    with zipfile.ZipFile(handbook_zh_dist / f"{stem}.epub") as zf:
        epub = " ".join(re.sub(r"<[^>]+>", "", zf.read(n).decode()) for n in zf.namelist() if n.endswith(".xhtml"))
    anki = " ".join(re.sub(r"<[^>]+>", "", f) for fields in _anki_fields(handbook_zh_dist / f"{stem}.apkg")
                    for f in fields)
    for name, text in (("pdf", pdf), ("epub", epub), ("anki", anki)):
        text = re.sub(r"\s+", "", text)
        assert "，Q" in text, name  # the rule is in use (the source has such links)
        assert not NESTED_ZH.findall(text), (name, NESTED_ZH.findall(text)[:5])


def test_labels_follow_one_rule(book: Book):
    """The rule itself: a link whose text is its label gets no second label; inside the author's
    parentheses the label follows a comma."""
    from studybook.diagnostics import Location
    from studybook.model import Fragment, XRef

    q = book.questions[0]
    here = Location("x", 1)
    same = LABELS.xref(book, XRef(q.id, Fragment((f"Q{q.number}",)), here))
    other = LABELS.xref(book, XRef(q.id, Fragment(("tokenization",)), here))
    inside = LABELS.xref(book, XRef(q.id, Fragment(("tokenization",)), here, parenthesized=True))
    assert same.same and not other.same
    assert (other.open, other.label, other.close) == (" (", f"Q{q.number}", ")")
    assert (inside.open, inside.close) == (", ", "")
    within = LABELS.xref(book, XRef(q.id, Fragment(("tokenization",)), here, nested=True))
    assert (within.open, within.close) == (" [", "]")


def test_a_formula_has_the_same_picture_size_in_the_pdf_and_the_epub(book: Book, handbook_dist: Path):
    """One drawing per formula: the EPUB's fallback picture is the PDF's, at the same size in em."""
    from studybook import mathsvg

    pictures = mathsvg.draw_all(book)
    with zipfile.ZipFile(handbook_dist / "llm-interview-handbook-en.epub") as zf:
        pages = [zf.read(n).decode() for n in zf.namelist() if n.endswith(".xhtml")]
    heights = [float(h) for page in pages for h in re.findall(r'altimg-height="([\d.]+)em"', page)]
    assert heights and max(heights) < 10, max(heights)  # was 52.7 em for one formula
    tall = max((m for f in book.fragments() for m in f.maths), key=lambda m: pictures[m].height_em)
    assert f'altimg-height="{pictures[tall].height_em:.3f}'.rstrip("0").rstrip(".") in " ".join(pages)
