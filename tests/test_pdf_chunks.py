"""A large book's PDF laid out in chunks and merged (studybook/render/pdf_chunks.py), checked
against the same book laid out as one document.

Chunking is forced on a small generated book ($STUDYBOOK_PDF_CHUNK: questions per chunk), so
that every join is exercised: front matter, several chapter groups (one ending on a right-hand
page, so a blank page is put in), the bibliography and the index. Both PDFs are read back with
pypdf and poppler.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from pypdf import PdfReader
from pypdf.generic import IndirectObject, StreamObject
from test_pdf import Built, outline_entries, printed_page_numbers

from conftest import BOOK, FIXTURES, ROOT, run_build
from studybook.reader import read_book
from studybook.render import pdf_chunks, quiz

pytestmark = pytest.mark.slow

EPOCH = "1700000000"
QUESTIONS, PER_CHUNK = 60, 15  # the generator makes at least the handbook once (50)


def build_chunked(source: Path, out: Path, chunk: int, target: str = "pdf") -> Path:
    """`target` of `source` built with chunks of `chunk` questions (0: in one piece)."""
    proc = run_build(target, "--strict", "--source", str(source), "--out", str(out),
                     env={"SOURCE_DATE_EPOCH": EPOCH, pdf_chunks.ENV: str(chunk)})
    assert proc.returncode == 0, proc.stderr
    (pdf,) = out.glob("*.pdf")
    return pdf


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("generated")
    subprocess.run([sys.executable, str(ROOT / "scripts" / "generate_book.py"), str(QUESTIONS), "--out", str(out)],
                   check=True)
    return out / "handbook.md"


@pytest.fixture(scope="module")
def pair(generated, tmp_path_factory) -> tuple[Built, Built]:
    book = read_book(generated)
    whole = build_chunked(generated, tmp_path_factory.mktemp("whole"), 0)
    chunked = build_chunked(generated, tmp_path_factory.mktemp("chunked"), PER_CHUNK)
    return Built(whole, book), Built(chunked, book)


def test_the_book_is_cut_into_several_chunks(generated):
    chunks = pdf_chunks.plan(read_book(generated), PER_CHUNK)
    assert chunks[0].front and chunks[-1].index and chunks[-2].back
    assert len([c for c in chunks if c.topics]) >= 3


def test_the_handbook_is_not_chunked(monkeypatch):
    monkeypatch.delenv(pdf_chunks.ENV, raising=False)
    assert pdf_chunks.chunk_size(read_book(BOOK)) == 0


def assert_same_texts(whole: list[str], chunked: list[str]) -> None:
    assert len(chunked) == len(whole)
    different = [n for n, (a, b) in enumerate(zip(whole, chunked, strict=True), 1) if a != b]
    assert not different, f"pages whose text differs: {different[:20]}"


def test_same_text_on_every_page(pair):
    assert_same_texts(pair[0].texts, pair[1].texts)


def test_same_outline_titles_and_targets(pair):
    whole, chunked = pair
    assert chunked.outline == whole.outline
    assert len(chunked.outline) >= QUESTIONS


def links(built: Built) -> list[tuple[int, str, int | None]]:
    """(page, destination name, page of the destination) for every internal link."""
    reader = built.reader
    names = {name: reader.get_destination_page_number(dest) + 1 for name, dest in reader.named_destinations.items()}
    found = []
    for number, page in enumerate(reader.pages, 1):
        for annot in page.get("/Annots") or []:
            annot = annot.get_object()
            if "/Dest" in annot:
                found.append((number, str(annot["/Dest"]), names.get(str(annot["/Dest"]))))
    return found


def test_every_internal_link_resolves_to_the_same_page(pair):
    whole, chunked = links(pair[0]), links(pair[1])
    assert [link for link in chunked if link[2] is None] == [], "links to no destination"
    assert chunked == whole
    assert len(chunked) > 5 * QUESTIONS


def test_printed_page_numbers_are_the_pages_of_their_anchors(pair, tmp_path):
    found = printed_page_numbers(pair[1], tmp_path)
    wrong = [f for f in found if int(re.search(r"(\d+)\D*$", f[1]).group(1)) != f[3]]
    assert not wrong, wrong[:10]
    assert len(found) >= 3 * QUESTIONS


def _number_tree(node) -> list:
    """The flat [key, value, …] of a number tree (a /Nums leaf, or /Kids with /Limits)."""
    if "/Nums" in node:
        return list(node["/Nums"])
    flat: list = []
    for kid in node["/Kids"]:
        kid = kid.get_object()
        low, high = (int(v) for v in kid["/Limits"])
        part = _number_tree(kid)
        assert [low, high] == [int(part[0]), int(part[-2])], "a number-tree node's limits are wrong"
        flat += part
    return flat


def _structure_problems(reader: PdfReader) -> list[str]:
    """Every StructParents / StructParent key in the ParentTree, and what it maps to on its page."""
    root = reader.trailer["/Root"]["/StructTreeRoot"].get_object()
    nums = _number_tree(root["/ParentTree"].get_object())
    tree = dict(zip((int(k) for k in nums[::2]), nums[1::2], strict=True))
    problems = []
    if [int(k) for k in nums[::2]] != sorted(tree):
        problems.append("ParentTree keys out of order or repeated")
    (document,) = root["/K"]
    if document.get_object()["/S"] != "/Document":
        problems.append("the root element is not one Document")
    for number, page in enumerate(reader.pages, 1):
        key = page.get("/StructParents")
        if key is None or int(key) not in tree:
            problems.append(f"page {number}: StructParents {key} not in the ParentTree")
            continue
        for element in tree[int(key)]:
            pg = element.get_object().get("/Pg")
            if pg is not None and pg.get_object() != page.get_object():
                problems.append(f"page {number}: a structure element of another page")
        for reference in page.get("/Annots") or []:
            annot = reference.get_object()
            if "/StructParent" not in annot or int(annot["/StructParent"]) not in tree:
                problems.append(f"page {number}: a link without its structure element")
                continue
            # Its entry is the Link element that holds this very annotation (an OBJR).
            element = tree[int(annot["/StructParent"])].get_object()
            kids = element.get("/K", []) if isinstance(element, dict) else []
            kids = kids if isinstance(kids, list) else [kids]
            if not any(not isinstance(k, int) and k.get_object().get("/Type") == "/OBJR"
                       and k.get_object().raw_get("/Obj").idnum == reference.idnum for k in kids):
                problems.append(f"page {number}: a link's StructParent names another element")
    return problems


def test_one_valid_structure_tree(pair):
    whole, chunked = pair
    assert _structure_problems(whole.reader) == []
    assert _structure_problems(chunked.reader) == []
    def entries(reader: PdfReader) -> int:
        return len(_number_tree(reader.trailer["/Root"]["/StructTreeRoot"]["/ParentTree"].get_object()))

    assert entries(chunked.reader) == entries(whole.reader)


def test_metadata_and_catalog_as_in_one_document(pair):
    whole, chunked = (p.reader for p in pair)
    assert chunked.metadata == whole.metadata
    assert sorted(chunked.trailer["/Root"].keys()) == sorted(whole.trailer["/Root"].keys())
    assert chunked.trailer["/Root"]["/Lang"] == whole.trailer["/Root"]["/Lang"]
    assert chunked.trailer["/ID"][0] == whole.trailer["/ID"][0]
    assert chunked.xmp_metadata is not None


def test_chunked_build_is_reproducible(tmp_path):
    source = FIXTURES / "mini" / "handbook.md"
    first = build_chunked(source, tmp_path / "a", 1)
    assert first.read_bytes() == build_chunked(source, tmp_path / "b", 1).read_bytes()
    assert outline_entries(PdfReader(first))


def _references(value) -> list[int]:
    """The object numbers that `value` refers to, at any depth (not following them)."""
    if isinstance(value, IndirectObject):
        return [value.idnum]
    if isinstance(value, dict):
        return [n for item in value.values() for n in _references(item)]
    if isinstance(value, list):
        return [n for item in value for n in _references(item)]
    return []


def test_merged_objects_are_packed_in_object_streams(pair):
    """The merge packs what is not a stream into compressed object streams and ends with a
    cross-reference stream, as WeasyPrint does (written as plain text, the ≈ 47,000 structure
    elements and the like made the merged file 2.4 times the size of the unchunked one)."""
    whole, chunked = pair
    assert chunked.path.stat().st_size <= 1.3 * whole.path.stat().st_size
    data = chunked.path.read_bytes()
    start = int(re.search(rb"startxref\s+(\d+)\s+%%EOF\s*$", data).group(1))
    assert re.match(rb"(\d+) 0 obj\s*<<[^>]*/Type /XRef", data[start:]), "no cross-reference stream"
    reader = PdfReader(chunked.path, strict=True)
    direct, packed = reader.xref[0], reader.xref_objStm
    assert len(packed) > 10 * len(direct)
    # Every entry leads to its object: an offset to its "n 0 obj", an object stream to a value.
    wrong = [n for n, offset in direct.items() if not data[offset:].startswith(b"%d 0 obj" % n)]
    assert not wrong, f"objects not at their offsets: {wrong[:10]}"
    objects = {n: reader.get_object(IndirectObject(n, 0, reader)) for n in [*direct, *packed]}
    assert None not in objects.values()
    assert all(isinstance(reader.get_object(stream), StreamObject) for stream, _ in packed.values())
    assert not [n for n in packed if isinstance(objects[n], StreamObject)], "a stream in an object stream"
    # No reference leads nowhere (a number the renumbering missed).
    referenced = {n for value in objects.values() for n in _references(value)}
    referenced |= set(_references(dict(reader.trailer)))
    assert referenced <= set(objects), sorted(referenced - set(objects))[:10]


# ---------------------------------------------------------------------------------------------
# The contents and the bibliography in parts (pdf_chunks.PART_LINES): each part goes on from the
# one before on the next page, on whichever side that falls, with the running head.

PART_LINES = 40  # the generated book's contents in two parts, its bibliography in about twenty


@pytest.fixture(scope="module")
def parted(generated, tmp_path_factory) -> Built:
    from studybook import mathsvg
    from studybook.cli import cache_dir
    from studybook.output import discard
    from studybook.render import Options, pdf

    book = read_book(generated)
    mathsvg.draw_all(book, cache=mathsvg.FormulaCache(cache_dir() / "formulas"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pdf_chunks, "PART_LINES", PART_LINES)
        patch.setenv(pdf_chunks.ENV, str(PER_CHUNK))
        result = pdf.render(book, Options(build_time=int(EPOCH)))
    path = tmp_path_factory.mktemp("parted") / "parted.pdf"
    try:
        path.write_bytes(result.path.read_bytes())
    finally:
        discard([result])
    return Built(path, book)


def test_contents_and_bibliography_are_cut_into_parts_that_go_on(generated):
    parts = pdf_chunks.plan(read_book(generated), PER_CHUNK, PART_LINES)
    contents = [p for p in parts if p.front or p.contents]
    bibliography = [p for p in parts if p.back]
    assert len(contents) >= 2 and len(bibliography) >= 2
    assert [p.continues for p in contents] == [False] + [True] * (len(contents) - 1)
    assert [p.continues for p in bibliography] == [False] + [True] * (len(bibliography) - 1)


def test_parts_print_every_page_number_once_and_right(pair, parted, tmp_path):
    """Every contents line and every "cited in" entry, as many as in the book laid out in one
    piece, and each names the page its link leads to."""
    found = printed_page_numbers(parted, tmp_path)
    wrong = [f for f in found if int(re.search(r"(\d+)\D*$", f[1]).group(1)) != f[3]]
    assert not wrong, wrong[:10]
    assert len(found) == len(printed_page_numbers(pair[0], tmp_path))


def test_parts_keep_folios_running_heads_and_structure(parted):
    """A part that goes on starts on the next page whichever side it is (no blank page), with
    the folio of that page and the running head of its matter."""
    reader, texts = parted.reader, parted.texts
    assert _structure_problems(reader) == []
    tops = [(title, page) for depth, title, page in parted.outline if depth == 0]
    at = [n for n, (title, _) in enumerate(tops) if title in ("Contents", "Bibliography")]
    opening = [tops[n][1] for n in at]
    ends = [tops[n + 1][1] for n in at]  # the next part of the book opens there
    matter = []
    for start, end in zip(opening, ends, strict=True):
        pages = list(range(start, end))
        while not texts[pages[-1] - 1].strip():  # a blank verso before the next opener
            pages.pop()
        matter += pages
    assert not [n for n in matter if not texts[n - 1].strip()], "a blank page inside the matter"
    wrong = [n for n in matter if not texts[n - 1].rstrip().endswith(f"\n{n}")]
    assert not wrong, f"pages whose folio is not their number: {wrong[:10]}"
    # Laid out as the side it is printed on: the folio at the outer edge.
    wrong = [n for n in matter if _folio_side(reader.pages[n - 1], n) != ("right" if n % 2 else "left")]
    assert not wrong, f"pages laid out as the other side: {wrong[:10]}"
    headless = [n for n in matter if n not in opening
                and not re.search(r"^(contents|bibliography)$", texts[n - 1], re.I | re.M)]
    assert not headless, f"pages of the contents or the bibliography without their running head: {headless}"
    assert len(matter) > 20


def _folio_side(page, number: int) -> str | None:
    """Which half of the page the folio `number` is on (the lowest text reading `number`)."""
    found: list[tuple[float, float]] = []

    def visit(text, cm, tm, font, size) -> None:
        if text.strip() == str(number):
            found.append((tm[4] * cm[1] + tm[5] * cm[3] + cm[5], tm[4] * cm[0] + tm[5] * cm[2] + cm[4]))

    page.extract_text(visitor_text=visit)
    if not found:
        return None
    _, x = min(found)
    return "right" if x > float(page.mediabox.width) / 2 else "left"


def test_merge_is_not_stopped_by_pypdfs_limits_for_hostile_files(pair, tmp_path):
    """pypdf refuses arrays and dictionaries of over 100,000 elements, and one chunk of a
    5,000-question book holds a bigger array: the merge reads the build's own chunks without
    those limits. Here the limits are cut to ten elements, far below this book's arrays."""
    import pypdf

    whole, _ = pair
    target = tmp_path / "merged.pdf"
    with pypdf.apply_configuration(array_maximum_element_count=10, dictionary_maximum_element_count=10), \
            target.open("wb") as out:
        pdf_chunks.merge([whole.path], [False], None, b"0" * 16, out)
    assert len(PdfReader(target).pages) == len(PdfReader(whole.path).pages)


# ---------------------------------------------------------------------------------------------
# The quiz (studybook/render/quiz.py): the title page with the contents, then chapter groups;
# where a blank page goes in between chunks, it is the page headed for notes one document prints.

QUIZ_PER_CHUNK = 25


@pytest.fixture(scope="module")
def quiz_pair(generated, tmp_path_factory) -> tuple[Built, Built]:
    book = read_book(generated)
    whole = build_chunked(generated, tmp_path_factory.mktemp("quiz-whole"), 0, "quiz")
    chunked = build_chunked(generated, tmp_path_factory.mktemp("quiz-chunked"), QUIZ_PER_CHUNK, "quiz")
    return Built(whole, book), Built(chunked, book)


def _notes(book) -> str:
    from studybook import labels

    return str(labels.load(ROOT / "templates", book.language)["blank"]).upper()


def test_the_quiz_is_cut_into_chunks_with_notes_pages_between(generated, quiz_pair):
    chunks = quiz.plan(read_book(generated), QUIZ_PER_CHUNK)
    assert chunks[0].front and len(chunks) >= 3 and all(c.topics for c in chunks[1:])
    # The title page is one page: the merge puts a page in before the first chapter group.
    chunked = quiz_pair[1]
    assert _notes(chunked.book) in " ".join(chunked.texts[1].split()).upper()


def test_quiz_same_text_on_every_page(quiz_pair):
    assert_same_texts(quiz_pair[0].texts, quiz_pair[1].texts)


def test_quiz_same_outline_and_links(quiz_pair):
    whole, chunked = quiz_pair
    assert chunked.outline == whole.outline
    assert len(chunked.outline) == 2 * len(chunked.book.topics)
    found = links(chunked)
    assert [link for link in found if link[2] is None] == [], "links to no destination"
    assert found == links(whole)
    assert len(found) >= 2 * QUESTIONS  # back-references and contents


def test_quiz_page_references_name_the_pages_of_their_targets(quiz_pair):
    """Each answer's back-reference names its question's page, each chapter's question list the
    page its answers start on, the contents both (checked on the chunked quiz, which the text
    test ties to the unchunked one)."""
    chunked = quiz_pair[1]
    pages = {name: chunked.reader.get_destination_page_number(dest) + 1
             for name, dest in chunked.reader.named_destinations.items()}
    texts = [" ".join(t.split()) for t in chunked.texts]
    by_page: dict[int, list[int]] = {}
    for q in chunked.book.questions:
        by_page.setdefault(pages[f"a-{q.id}"], []).append(pages[f"q-{q.id}"])
    for page, expected in by_page.items():
        assert [int(n) for n in re.findall(r"\(question on p\. (\d+)\)", texts[page - 1])] == expected, page
    contents = []
    for topic in chunked.book.topics:
        first, answers = pages[f"t-{topic.id}"], pages[f"answers-{topic.id}"]
        assert f"Answers from page {answers}" in texts[first - 1]
        contents.append(f"Questions p. {first} · Answers p. {answers}")
    assert re.findall(r"Questions p\. \d+ · Answers p\. \d+", texts[0]) == contents


def test_quiz_one_valid_structure_tree(quiz_pair):
    whole, chunked = quiz_pair
    assert _structure_problems(whole.reader) == []
    assert _structure_problems(chunked.reader) == []
    assert chunked.reader.metadata == whole.reader.metadata
    assert chunked.reader.trailer["/ID"][0] == whole.reader.trailer["/ID"][0]


def test_chunked_quiz_is_reproducible(tmp_path):
    source = FIXTURES / "mini" / "handbook.md"
    first = build_chunked(source, tmp_path / "a", 1, "quiz")
    assert first.read_bytes() == build_chunked(source, tmp_path / "b", 1, "quiz").read_bytes()
