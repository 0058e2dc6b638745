"""The printed handbook, checked on the real PDF that `build.py pdf` writes.

Structure (bookmarks, table of contents, headings, fonts, page size, metadata, tags) is read back
with pypdf; one page is rasterised with poppler's pdftoppm to make sure something is drawn. The
structural checks run on the fixture book and, when it exists, on the real handbook.
"""

from __future__ import annotations

import html
import itertools
import re
import shutil
import statistics
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader
from pypdf.generic import IndirectObject

from conftest import BOOK, BOOK_ZH, FIXTURES, ROOT, run_build
from studybook import labels
from studybook.mathsvg import DrawError as MathRenderError
from studybook.mathsvg import alttext
from studybook.mathsvg import draw as typeset
from studybook.model import Book, XRef
from studybook.reader import read_book

pytestmark = pytest.mark.slow  # builds real artifacts and runs the validators

EPOCH = "1700000000"
MINI = FIXTURES / "mini" / "handbook.md"
A4 = (595.28, 841.89)
LETTER = (612.0, 792.0)


def build_pdf(source: Path, out: Path, *extra: str, epoch: str = EPOCH) -> Path:
    proc = run_build("pdf", "--strict", "--source", str(source), "--out", str(out), *extra,
                     env={"SOURCE_DATE_EPOCH": epoch})
    assert proc.returncode == 0, proc.stderr  # --strict: WeasyPrint had nothing to complain about
    pdfs = list(out.glob("*.pdf"))
    assert len(pdfs) == 1, pdfs
    return pdfs[0]


def norm(text: str) -> str:
    """Whitespace-collapsed text, with words WeasyPrint hyphenated at a line end joined again."""
    text = re.sub(r"\u2010[ \t]*\n\s*", "", text)  # hyphen added by the hyphenator: drop it
    text = re.sub(r"-[ \t]*\n\s*", "-", text)  # a line broken after a real hyphen ("fine-tuning")
    text = _CJK_BREAK.sub("", text)  # Chinese lines wrap between any two characters, with no space
    return " ".join(text.replace("\u2010", "-").split())


_CJK = "\u3000-\u303f\u3400-\u9fff\uff00-\uffef"
_CJK_BREAK = re.compile(f"(?<=[{_CJK}])\\s+(?=[{_CJK}])")


def outline_entries(reader: PdfReader) -> list[tuple[int, str, int]]:
    """(depth, title, 1-based page) for every bookmark, in document order."""
    entries: list[tuple[int, str, int]] = []

    def walk(items, depth):
        for item in items:
            if isinstance(item, list):
                walk(item, depth + 1)
            else:
                entries.append((depth, item.title, reader.get_destination_page_number(item) + 1))

    walk(reader.outline, 0)
    return entries


def squash(text: str) -> str:
    """Whitespace dropped except next to digits: a Chinese line wraps between any two characters."""
    return re.sub(r"(?<=\D)\s+(?=\D)", "", text)


def plain_title(title_text: str) -> str:
    """The part of a title that prints as text (inline formulas print as images)."""
    pieces = re.split(r"\\\(.*?\\\)|\$[^$]*\$", title_text)
    return max((p.strip() for p in pieces), key=len)


class Built:
    def __init__(self, path: Path, book: Book):
        self.path = path
        self.book = book
        self.reader = PdfReader(path)
        self.texts = [page.extract_text() or "" for page in self.reader.pages]
        self.outline = outline_entries(self.reader)

    def page_of(self, title: str) -> int:
        return next(page for _, t, page in self.outline if t == title)


@pytest.fixture(scope="module", params=["mini", "handbook", "handbook-zh"])
def built(request, tmp_path_factory) -> Built:
    if request.param == "handbook":
        return Built(request.getfixturevalue("handbook_dist") / "llm-interview-handbook-en.pdf", read_book(BOOK))
    if request.param == "handbook-zh":
        return Built(request.getfixturevalue("handbook_zh_dist") / "llm-interview-handbook-zh-CN.pdf",
                     read_book(BOOK_ZH))
    return Built(build_pdf(MINI, tmp_path_factory.mktemp("pdf-mini")), read_book(MINI))


@pytest.fixture(scope="module")
def mini(tmp_path_factory) -> Built:
    return Built(build_pdf(MINI, tmp_path_factory.mktemp("pdf-mini")), read_book(MINI))


# ---------------------------------------------------------------------------------------------
# Structure


def test_page_count_is_sane(built: Built):
    pages = len(built.reader.pages)
    n_questions = len(built.book.questions)
    # Cover, colophon, preface, contents, one opener per chapter, the questions, bibliography, index.
    assert pages >= 6 + len(built.book.topics) + n_questions // 2
    assert pages <= 12 + 2 * len(built.book.topics) + 5 * n_questions


def words(book: Book) -> labels.Labels:
    return labels.load(ROOT / "templates", book.language)


def test_outline_is_chapters_then_their_questions(built: Built):
    w = words(built.book)
    expected: list[tuple[int, str]] = [(0, s.title_text) for s in built.book.sections]
    expected.append((0, w["contents"]))
    for topic in built.book.topics:
        expected.append((0, f"{topic.number}. {topic.title_text}"))
        expected += [(1, f"Q{q.number}. {q.title_text}") for q in topic.questions]
    expected += [(0, w["bibliography"])] + ([(0, w["index"])] if any(q.index for q in built.book.questions) else [])
    assert [(depth, title) for depth, title, _ in built.outline] == expected


def test_each_bookmark_lands_on_the_page_showing_its_heading(built: Built):
    pages = [page for _, _, page in built.outline]
    assert pages == sorted(pages), "bookmarks must follow the page order"
    for topic in built.book.topics:
        page = built.page_of(f"{topic.number}. {topic.title_text}")
        text = norm(built.texts[page - 1])
        assert norm(words(built.book)["chapter"].format(n=topic.number)).lower() in text.lower()  # in capitals
        assert norm(plain_title(topic.title_text)) in text
        assert page % 2 == 1, f"chapter {topic.number} opens on a left-hand page ({page})"
        for q in topic.questions:
            qpage = built.page_of(f"Q{q.number}. {q.title_text}")
            qtext = norm(built.texts[qpage - 1])
            assert squash(f"Q{q.number} {norm(plain_title(q.title_text))}") in squash(qtext) or (
                f"Q{q.number}" in qtext and squash(norm(plain_title(q.title_text))) in squash(qtext)), \
                (qpage, q.title_text)
            # The heading is never left alone at the foot of a page: its key points follow it.
            after = qtext.split(f"Q{q.number} ", 1)[-1]
            first_part = words(built.book)["key_points" if not q.key_points.is_empty else "answer"]
            assert first_part.upper() in after.upper(), f"Q{q.number}'s heading is stranded on page {qpage}"


def test_printed_toc_page_numbers_equal_bookmark_pages(built: Built):
    first = built.page_of(words(built.book)["contents"])
    last = built.page_of(f"1. {built.book.topics[0].title_text}")
    toc = norm(" ".join(built.texts[first - 1:last - 1]))
    toc = re.sub(r"(?:\. ?){2,}", " ", toc)  # dot leaders
    entries = [(s.title_text, s.title_text) for s in built.book.sections]
    for topic in built.book.topics:
        entries.append((f"{topic.number}. {topic.title_text}", f"{topic.number} {topic.title_text}"))
        entries += [(f"Q{q.number}. {q.title_text}", f"Q{q.number} {plain_title(q.title_text)}")
                    for q in topic.questions]
    w = words(built.book)
    entries += [(w["bibliography"], w["bibliography"])]
    if any(q.index for q in built.book.questions):
        entries.append((w["index"], w["index"]))
    # Compared without whitespace: a Chinese title wraps between any two characters.
    toc = squash(toc)
    pos = 0
    for bookmark, printed in entries:
        m = re.compile(re.escape(squash(norm(printed))) + r"\s*\.?\s*(\d+)\b").search(toc, pos)
        assert m, f"{printed!r} not found in the table of contents"
        assert int(m.group(1)) == built.page_of(bookmark), bookmark
        pos = m.end()


def test_every_question_title_is_in_the_text(built: Built):
    text = norm(" ".join(built.texts))
    for q in built.book.questions:
        assert norm(plain_title(q.title_text)) in text, q.title_text


def test_every_font_is_embedded_and_is_noto(built: Built):
    fonts: dict[str, bool] = {}
    for page in built.reader.pages:
        resources = page.get("/Resources") or {}
        for font in (resources.get("/Font") or {}).values():
            font = font.get_object()
            descendants = font.get("/DescendantFonts")
            target = descendants[0].get_object() if descendants else font
            descriptor = target["/FontDescriptor"].get_object()
            embedded = any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3"))
            fonts[str(font["/BaseFont"])] = embedded
    assert fonts, "no fonts found"
    assert all(fonts.values()), {name for name, ok in fonts.items() if not ok}
    assert all("Noto" in name for name in fonts), sorted(fonts)
    assert any("Mono" in name for name in fonts), "code is not set in the mono face"


def test_figures_are_numbered_by_chapter(mini: Built):
    assert "Figure 1.1. Attention weights for one query" in norm(" ".join(mini.texts))  # as in the EPUB


def _words(pdf: Path, tmp_path: Path) -> list[tuple[int, float, float, float, str]]:
    """(page, page width, xMin, xMax, word) for every word, from poppler's pdftotext -bbox."""
    assert shutil.which("pdftotext"), "install poppler-utils (make setup-test)"
    out = tmp_path / "bbox.html"
    subprocess.run(["pdftotext", "-bbox", str(pdf), str(out)], check=True)
    words = []
    for number, page in enumerate(re.findall(r"<page (.*?)</page>", out.read_text(encoding="utf-8"), re.S), 1):
        width = float(re.search(r'width="([\d.]+)"', page).group(1))
        for x0, x1, word in re.findall(r'<word xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)" '
                                       r'yMax="[\d.]+">(.*?)</word>', page):
            words.append((number, width, float(x0), float(x1), word))
    return words


def test_nothing_runs_past_the_margins(built: Built, tmp_path: Path):
    margin = 20 / 25.4 * 72  # the narrower (outer) margin is 22 mm
    # The cover (page 1) is a full-bleed design with margins of its own.
    outside = [(page, word) for page, width, x0, x1, word in _words(built.path, tmp_path)
               if page > 1 and (x0 < margin - 1 or x1 > width - margin + 1)]
    assert not outside, outside[:10]


@pytest.fixture(scope="module")
def stressed(tmp_path_factory) -> Built:
    """The fixture book plus a table spanning pages, an over-long code line and an inline link."""
    content = tmp_path_factory.mktemp("stressed") / "content"
    shutil.copytree(FIXTURES / "mini", content)
    source = content / "handbook.md"
    rows = "\n".join(f"| row-{i:02d} | value {i} of a table that has to span several pages |" for i in range(90))
    long_line = "x = " + " + ".join(f"weight_{i}" for i in range(60))
    _insert_after(source, "For logits", "As [Q1](#attention) shows, read [the original paper](https://example.org/a/rather/long/path/to/"
                  "the-paper.pdf) first.\n\n| Step | Value |\n|---|---|\n" + rows
                  + f"\n\n```python\n{long_line}\n```")
    return Built(build_pdf(source, tmp_path_factory.mktemp("stressed-dist")), read_book(source))


def test_a_cross_reference_that_is_the_number_prints_only_the_page(stressed: Built):
    q1 = stressed.page_of("Q1. What is attention?")
    text = norm(" ".join(stressed.texts))
    assert f"As Q1 (p. {q1}) shows" in text


def test_long_tables_repeat_their_header_on_every_page(stressed: Built):
    pages = [text for text in stressed.texts if "row-" in text]
    assert len(pages) >= 2, "the test table should span pages"
    for text in pages:
        assert "Step Value" in norm(text)


def test_long_code_lines_wrap_inside_the_margins(stressed: Built, tmp_path: Path):
    raw = "\n".join(stressed.texts)
    # Wrapped at the spaces between tokens: every identifier survives whole on one line.
    assert set(re.findall(r"\bweight_\d+\b", raw)) == {f"weight_{i}" for i in range(60)}
    margin = 20 / 25.4 * 72
    words = _words(stressed.path, tmp_path)
    # The cover (page 1) is a full-bleed design with margins of its own.
    outside = [w for w in words if w[0] > 1 and not (margin - 1 <= w[2] and w[3] <= w[1] - margin + 1)]
    assert outside == []


def test_a_wrapped_code_line_goes_on_under_a_hanging_indent(stressed: Built, tmp_path: Path):
    # Back at column 0 a continuation reads as a new source line; it goes on indented instead.
    lines = Layout(stressed.path, tmp_path).lines
    first = next(line for line in lines if line.text.startswith("x = weight_0 "))
    rest = [line for line in lines if line.page == first.page and line.y0 > first.y0
            and re.fullmatch(r"(\+ )?weight_\d+( \+ weight_\d+)*( \+)?", line.text)]
    assert rest, "the long code line should wrap"
    assert all(line.x0 >= first.x0 + 10 for line in rest), [(line.x0, line.text[:20]) for line in rest]


def test_inline_links_print_their_url_in_a_footnote(stressed: Built):
    url = "https://example.org/a/rather/long/path/to/the-paper.pdf"
    page = next(i for i, text in enumerate(stressed.texts) if "the original paper" in text)
    assert url in norm(stressed.texts[page]).replace(" ", "")
    uris = [str(a.get_object()["/A"]["/URI"]) for a in stressed.reader.pages[page].get("/Annots") or []
            if "/A" in a.get_object() and "/URI" in a.get_object()["/A"]]
    assert uris.count(url) >= 2  # the words in the text and the printed URL both link


def test_cross_references_print_number_and_resolved_page(mini: Built):
    # Q1's answer links to softmax (Q2) and Q2's links back to attention (Q1).
    q1 = mini.page_of("Q1. What is attention?")
    q2 = mini.page_of("Q2. What does softmax do?")
    assert f"softmax (Q2, p. {q2})" in norm(mini.texts[q1 - 1])
    assert f"attention (Q1, p. {q1})" in norm(mini.texts[q2 - 1])


def printed_page_numbers(built: Built, tmp_path: Path) -> list[tuple[int, str, str, int]]:
    """(page, printed text, anchor, page of the anchor) for every page number the book prints.

    Each printed page number is the end of a link to the anchor it names (contents, chapter
    lists, cross-references, key papers, "cited in", index), and the link's destination is where
    the anchor really is. The text under each link rectangle is read with pdftotext -bbox; a
    rectangle holding a dot leader and a number (contents, chapter lists), only a number (in the
    index), or ending in "p. 12" / "第 12 页" (cross-references) is a page number.
    """
    w = words(built.book)
    label = re.compile(re.escape(w["page_before"].strip()) + r"(\d+)" + re.escape(w["page_after"].strip())
                       + re.escape(w["paren_close"].strip()) + r"?[.,;:，。、]*$")
    leader = re.compile(r"\.+(\d+)")  # contents and chapter lists: dot leader, number
    locator = re.compile(r"(\d+)[,，]?")  # the index: the number alone
    index_start = (built.page_of(w["index"]) if any(q.index for q in built.book.questions)
                   else len(built.reader.pages) + 1)
    out = tmp_path / "bbox-pn.html"
    subprocess.run(["pdftotext", "-bbox", str(built.path), str(out)], check=True)
    page_words = [[(float(x0), float(y0), float(x1), float(y1), html.unescape(text)) for x0, y0, x1, y1, text in
                   re.findall(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>',
                              page)]
                  for page in re.findall(r"<page (.*?)</page>", out.read_text(encoding="utf-8"), re.S)]
    destinations = {name: built.reader.get_destination_page_number(dest) + 1
                    for name, dest in built.reader.named_destinations.items()}
    found = []
    for number, page in enumerate(built.reader.pages, 1):
        height = float(page.mediabox.height)
        for annot in page.get("/Annots") or []:
            annot = annot.get_object()
            if annot.get("/Subtype") != "/Link" or "/Dest" not in annot:
                continue
            x0, y0, x1, y1 = (float(v) for v in annot["/Rect"])
            left, right, top, bottom = min(x0, x1), max(x0, x1), height - max(y0, y1), height - min(y0, y1)
            text = "".join(t for a, b, c, d, t in page_words[number - 1]
                           if left <= (a + c) / 2 <= right and top <= (b + d) / 2 <= bottom)
            text = re.sub(r"\s+", "", text)
            m = (leader.fullmatch(text) or label.search(text)
                 or (locator.fullmatch(text) if number >= index_start else None))
            if m:
                dest = str(annot["/Dest"])
                found.append((number, text, dest, destinations[dest]))
    return found


def test_every_printed_page_number_is_the_page_of_its_anchor(built: Built, tmp_path: Path):
    found = printed_page_numbers(built, tmp_path)
    wrong = [(page, text, anchor, real) for page, text, anchor, real in found
             if int(re.search(r"(\d+)\D*$", text).group(1)) != real]
    assert not wrong, f"(page, printed, anchor, its real page): {wrong[:10]}"
    # Not vacuous: every contents line of a question, every cross-reference of the book.
    targets = [anchor for _, _, anchor, _ in found]
    for q in built.book.questions:
        assert targets.count(f"q-{q.id}") >= 2, f"Q{q.number}: its contents line and chapter-list entry"
    n_xrefs = sum(1 for f in built.book.fragments() for _ in f.parts_of(XRef))
    assert len(found) >= 2 * len(built.book.questions) + len(built.book.topics) + n_xrefs
    if any(q.index for q in built.book.questions):
        index_start = built.page_of(words(built.book)["index"])
        assert sum(page >= index_start for page, *_ in found) >= 20, "the index locators"


def test_links_are_live(mini: Built):
    internal, external = 0, set()
    for page in mini.reader.pages:
        for annot in page.get("/Annots") or []:
            annot = annot.get_object()
            if annot.get("/Subtype") != "/Link":
                continue
            action = annot.get("/A")
            if action is not None and action.get_object().get("/S") == "/URI":
                external.add(str(action.get_object()["/URI"]))
            else:
                internal += 1
    assert "https://arxiv.org/abs/1706.03762" in external
    assert internal >= 8  # TOC entries, in-chapter lists, cross-references, related, index


def test_page_numbers_in_footer_except_cover_and_openers(mini: Built):
    def last_lines(page: int) -> list[str]:
        return [line.strip() for line in mini.texts[page - 1].splitlines() if line.strip()]

    openers = [page for depth, title, page in mini.outline if depth == 0 and title[0].isdigit()]
    for page in [*openers, 1, 2]:
        assert str(page) not in last_lines(page), f"page {page} should carry no folio"
    for page, text in enumerate(mini.texts, 1):
        assert not text.strip().isdigit(), f"page {page} is blank but for its number"
    q1 = mini.page_of("Q1. What is attention?")
    assert str(q1) in last_lines(q1)
    assert "BASICS" in mini.texts[q1 - 1]  # running head: the chapter title


def test_paper_size_and_letter_option(mini: Built, tmp_path: Path):
    box = mini.reader.pages[0].mediabox
    assert (round(float(box.width), 2), round(float(box.height), 2)) == A4
    letter = PdfReader(build_pdf(MINI, tmp_path, "--paper", "letter"))
    for page in letter.pages:
        assert (round(float(page.mediabox.width), 2), round(float(page.mediabox.height), 2)) == LETTER


def test_metadata_language_and_tagging(mini: Built):
    meta = mini.reader.metadata
    assert meta.title == "Mini Question Bank"
    assert meta.author == "Test Author"
    assert "attention" in meta["/Keywords"] and "softmax" in meta["/Keywords"]
    assert meta["/CreationDate"] == "D:20231114221320Z"  # SOURCE_DATE_EPOCH, not the clock
    root = mini.reader.trailer["/Root"]
    assert root["/Lang"] == "en"
    assert bool(root["/MarkInfo"]["/Marked"])
    assert "/StructTreeRoot" in root
    xmp = root["/Metadata"].get_object().get_data().decode()
    assert 'pdfuaid:part="1"' in xmp  # PDF/UA-1
    assert "<xmp:CreateDate>2023-11-14T22:13:20Z</xmp:CreateDate>" in xmp


def test_formulas_carry_their_latex_as_alt_text(mini: Built):
    alts: set[str] = set()

    def walk(node, depth=0):
        node = node.get_object() if isinstance(node, IndirectObject) else node
        if isinstance(node, list):
            for child in node:
                walk(child, depth + 1)
            return
        if not hasattr(node, "get"):
            return
        if "/Alt" in node:
            alts.add(str(node["/Alt"]))
        if "/K" in node and depth < 200:
            walk(node["/K"], depth + 1)

    walk(mini.reader.trailer["/Root"]["/StructTreeRoot"])
    assert r"s_{ij} = \mathbf{q}_i^\top \mathbf{k}_j" in alts
    assert "A small grid of weights" in alts


def test_a_rendered_page_is_not_blank(mini: Built, tmp_path: Path):
    assert shutil.which("pdftoppm"), "install poppler-utils (make setup-test)"
    page = mini.page_of("Q1. What is attention?")
    subprocess.run(["pdftoppm", "-png", "-r", "40", "-f", str(page), "-l", str(page), str(mini.path),
                    str(tmp_path / "page")], check=True)
    (png,) = tmp_path.glob("page*.png")
    image = Image.open(png).convert("L")
    pixels = list(image.get_flattened_data())
    dark = sum(1 for p in pixels if p < 128)
    assert dark / len(pixels) > 0.01, "the page is (nearly) blank"
    assert min(pixels) < 60  # real ink, not a faint tint


# ---------------------------------------------------------------------------------------------
# The formulas' LaTeX as invisible text over their pictures (studybook.render.math_text)


def _formula_boxes(reader: PdfReader, height: float) -> dict[int, list[tuple[float, float, float, float]]]:
    """Where each formula picture is painted: (x0, y0, x1, y1) in pdftotext's coordinates (y down)
    per 1-based page. A formula is a Form XObject without a transparency group (svg_forms), its
    picture the form's (0, 0)–(w, h), w and h half its bounding box's far corner."""
    found: dict[int, list[tuple[float, float, float, float]]] = {}
    for number, page in enumerate(reader.pages, 1):
        xobjects = page["/Resources"].get("/XObject", {})

        def visit(op, args, cm, tm, number=number, xobjects=xobjects):
            if op != b"Do" or args[0] not in xobjects:
                return
            form = xobjects[args[0]].get_object()
            if form.get("/Subtype") != "/Form" or "/Group" in form:
                return
            w, h = float(form["/BBox"][2]) / 2, float(form["/BBox"][3]) / 2
            a, b, c, d, e, f = (float(v) for v in cm)
            xs = [a * x + c * y + e for x, y in ((0, 0), (w, h))]
            ys = [height - (b * x + d * y + f) for x, y in ((0, 0), (w, h))]
            found.setdefault(number, []).append((min(xs), min(ys), max(xs), max(ys)))

        page.extract_text(visitor_operand_before=visit)
    return found


def test_formula_text_can_be_found_and_copied(built: Built, layout: Layout):
    """pdftotext finds the attention formula's LaTeX where the formula is, and nearly every
    formula's LaTeX (a word of it split by the extraction's reading order may not join up)."""
    layer = " ".join(w.text for w in layout.layer)
    assert layer, "no invisible formula text in the PDF"
    alts = {alttext(m.tex) for frag in built.book.fragments() for m in frag.maths}
    found = {alt for alt in alts if alt in layer}
    assert len(found) >= 0.9 * len(alts), sorted(alts - found)[:10]
    attention = [w for w in layout.layer if "softmax" in w.text and r"\sqrt{d_k}" in w.text]
    assert attention, "the attention formula's LaTeX is not findable"
    assert any(r"\operatorname{Attention}" in w.text for w in layout.layer if w.page == attention[0].page)


def test_formula_text_lies_inside_its_picture(built: Built, layout: Layout):
    """Every word of the invisible layer lies inside a formula picture on its page (so inside the
    text block, never past the margin), and the layer does not touch the layout: the visible words
    are where pdftotext would put them without it (checked by the make-up tests)."""
    boxes = _formula_boxes(built.reader, layout.size[1])
    assert layout.layer
    tolerance = 0.5
    outside = [(w.page, w.text[:40], round(w.x0), round(w.x1)) for w in layout.layer
               if not any(x0 - tolerance <= w.x0 and w.x1 <= x1 + tolerance
                          and y0 - tolerance <= w.y0 and w.y1 <= y1 + tolerance
                          for x0, y0, x1, y1 in boxes.get(w.page, []))]
    assert not outside, outside[:10]
    past = []
    for w in layout.layer:
        # The text block (book.css.j2: the inner margin is on the left of a right-hand, odd page),
        # 10 mm wider on either side on a page whose visible text shows a wide table does so.
        left = INNER_MARGIN if w.page % 2 else layout.size[0] - INNER_MARGIN - MEASURE
        right = left + MEASURE
        if any(v.x0 < left - 1 or v.x1 > right + 1 for v in layout.words if v.page == w.page):
            left, right = left - WIDE_TABLE_OVERHANG, right + WIDE_TABLE_OVERHANG
        if w.x0 < left - 1 or w.x1 > right + 1 or w.y0 < TOP_MARGIN or w.y1 > layout.size[1] - BOTTOM_MARGIN:
            past.append((w.page, w.text[:40]))
    assert not past, past[:10]


def test_formula_text_is_an_artifact_read_once(mini: Built):
    """A screen reader reads a formula once, from the picture's alt text: the layer's text is marked
    as an /Artifact in the content stream, and the visible text is not."""
    page = mini.reader.pages[mini.page_of("Q1. What is attention?") - 1]
    stack: list[bool] = []
    texts: list[tuple[bool, str]] = []

    def operator(op, args, cm, tm):
        if op in (b"BDC", b"BMC"):
            stack.append(args[0] == "/Artifact")
        elif op == b"EMC" and stack:
            stack.pop()

    def text(t, cm, tm, font, size):
        if t.strip():
            texts.append((any(stack), t))

    page.extract_text(visitor_operand_before=operator, visitor_text=text)
    artifact = "".join(t for a, t in texts if a)
    tagged = "".join(t for a, t in texts if not a)
    assert r"\operatorname{softmax}" in artifact and r"\sqrt{d_k}" in artifact
    assert "\\" not in tagged and "attention" in tagged.lower()


# ---------------------------------------------------------------------------------------------
# Reproducibility and failures


def test_same_source_and_epoch_give_identical_bytes(mini: Built, tmp_path: Path):
    again = build_pdf(MINI, tmp_path / "again")
    assert again.read_bytes() == mini.path.read_bytes()
    later = build_pdf(MINI, tmp_path / "later", epoch="1800000000")
    assert PdfReader(later).metadata["/CreationDate"] == "D:20270115080000Z"


def _insert_after(path: Path, marker: str, text: str) -> int:
    """Insert `text` as a paragraph after the line containing `marker`; return its line number."""
    lines = path.read_text(encoding="utf-8").split("\n")
    index = next(i for i, line in enumerate(lines) if marker in line)
    lines[index + 1:index + 1] = ["", text, ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return index + 3


def _heading_line(path: Path, heading: str) -> int:
    return next(i for i, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1)
                if line.strip() == heading)


@pytest.mark.parametrize("target", ["check", "pdf"])
def test_missing_glyph_fails_naming_the_character_and_its_line(mini_book: Path, tmp_path: Path, target: str):
    line = _insert_after(mini_book, "Softmax maps logits", "An icon-font glyph \U0010fffd slipped in.")
    out = tmp_path / "dist"
    proc = run_build(target, "--source", str(mini_book), "--out", str(out),
                     env={"SOURCE_DATE_EPOCH": EPOCH})
    assert proc.returncode == 1
    assert re.search(rf"handbook\.md:{line}: character '\\U0010fffd' \(U\+10FFFD\) has no glyph", proc.stderr), \
        proc.stderr
    assert not out.exists() or not list(out.glob("*.pdf"))


@pytest.mark.parametrize("target", ["check", "pdf"])
def test_formula_the_math_renderer_cannot_draw_fails_with_path_and_line(mini_book: Path, tmp_path: Path,
                                                                         target: str):
    # Thai: the installed fonts have it (the glyph check passes), neither the math font nor its CJK
    # fallback does.
    line = _insert_after(mini_book, "For logits", r"The word \(\text{ภาษา}\) in a formula.")
    out = tmp_path / "dist"
    proc = run_build(target, "--source", str(mini_book), "--out", str(out),
                     env={"SOURCE_DATE_EPOCH": EPOCH})
    assert proc.returncode == 1
    assert re.search(rf"handbook\.md:{line}: cannot draw formula .*ภาษา", proc.stderr), proc.stderr
    assert not out.exists() or not list(out.glob("*.pdf"))


# ---------------------------------------------------------------------------------------------
# Math, directly


def test_inline_math_sits_on_the_baseline():
    from studybook import mathtex

    plain = typeset("x", False, mathtex.to_mathml("x", False))
    deep = typeset("p_{j}", False, mathtex.to_mathml("p_{j}", False))
    assert 0 < plain.depth_em < 0.15  # only the image's margin hangs below the baseline
    assert deep.depth_em > plain.depth_em + 0.1  # a descender and a subscript reach further down
    assert plain.alt == "x"


def test_large_operators_inside_fences_keep_their_size():
    from studybook import mathtex

    tex = r"\left( \frac{a}{\sum_{u} b} \right)"
    assert typeset(tex, True, mathtex.to_mathml(tex, True)).height_em < 6


def test_unrenderable_formula_raises():
    with pytest.raises(MathRenderError):
        typeset(r"\text{ภาษา}", False, '<math><mtext>ภาษา</mtext></math>')
    with pytest.raises(MathRenderError):
        typeset("x", False, "<math><mi>x</mi")


# ---------------------------------------------------------------------------------------------
# Make-up, measured on the real pages (the handbook in both editions; the fixture book is too
# short for most of these)

MM = 72 / 25.4
TOP_MARGIN, BOTTOM_MARGIN = 22 * MM, 24 * MM  # book.css.j2 @page
INNER_MARGIN, MEASURE = 32 * MM, 124 * MM  # book.css.j2, pdf/measure.j2
WIDE_TABLE_OVERHANG = 10 * MM  # book.css.j2: table.wide


@dataclass
class Word:
    page: int
    x0: float
    y0: float
    x1: float
    y1: float
    text: str


@dataclass
class Line:
    page: int
    x0: float
    x1: float
    y0: float
    height: float  # the tallest word: the font size of the line, near enough
    text: str


# The invisible LaTeX over each formula (studybook.render.math_text) is set at most 0.4 of the text
# size; no visible text of the book is that small. Its words are kept apart from the page's lines.
LAYER_RATIO = 0.6


class Layout:
    """Every word and line of a PDF, with its box in points, from poppler's pdftotext -bbox-layout;
    the words of the formulas' invisible text layer apart (`layer`)."""

    def __init__(self, pdf: Path, tmp_path: Path):
        out = tmp_path / "layout.html"
        subprocess.run(["pdftotext", "-bbox-layout", str(pdf), str(out)], check=True)
        self.words: list[Word] = []
        self.layer: list[Word] = []
        self.lines: list[Line] = []
        self.size: tuple[float, float] = (0, 0)
        box = r'xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)"'
        lines: list[list[Word]] = []
        for number, page in enumerate(re.findall(r"<page (.*?)</page>", out.read_text(encoding="utf-8"), re.S), 1):
            self.size = (float(re.search(r'width="([\d.]+)"', page).group(1)),
                         float(re.search(r'height="([\d.]+)"', page).group(1)))
            for line in re.findall(r"<line (.*?)</line>", page, re.S):
                lines.append([Word(number, *map(float, w[:4]), html.unescape(w[4]))
                              for w in re.findall(rf"<word {box}>(.*?)</word>", line)])
        heights = [round(w.y1 - w.y0, 1) for line in lines for w in line]
        small = LAYER_RATIO * statistics.mode(heights) if heights else 0
        for line in lines:
            self.layer += [w for w in line if w.y1 - w.y0 < small]
            words = [w for w in line if w.y1 - w.y0 >= small]
            if not words:
                continue
            self.words += words
            self.lines.append(Line(words[0].page, min(w.x0 for w in words), max(w.x1 for w in words),
                                   min(w.y0 for w in words), max(w.y1 - w.y0 for w in words),
                                   " ".join(w.text for w in words)))

    def body_height(self) -> float:
        return statistics.mode(round(line.height, 1) for line in self.lines)


@pytest.fixture(scope="module")
def layout(built: Built, tmp_path_factory) -> Layout:
    return Layout(built.path, tmp_path_factory.mktemp("layout"))


def _chapter_pages(built: Built) -> tuple[list[int], int]:
    """The opener pages of the chapters, and the first page after the last chapter."""
    openers = [built.page_of(f"{t.number}. {t.title_text}") for t in built.book.topics]
    end = built.page_of(words(built.book)["bibliography"]) if built.book.bibliography else len(built.texts) + 1
    return openers, end


def _is_chinese(book: Book) -> bool:
    return book.language.lower().startswith("zh")


def test_measure_is_a_book_measure(built: Built, layout: Layout):
    """Median characters per full line of body text: 60–78 (a book wants 60–75); Chinese 30–40."""
    body = layout.body_height()
    lines = [line for line in layout.lines if abs(line.height - body) < 0.3]
    full = max(line.x1 - line.x0 for line in lines)
    counts = [len(line.text) for line in lines if line.x1 - line.x0 > 0.95 * full]
    if len(counts) < 30:
        pytest.skip("too little running text to measure")
    median = statistics.median(counts)
    low, high = (30, 40) if _is_chinese(built.book) else (60, 78)
    assert low <= median <= high, f"median {median} characters per line"


def _fullness(pdf: Path, tmp_path: Path, height: float) -> list[float]:
    """For every page, how far down the text block the lowest ink reaches (0 = empty, 1 = full)."""
    subprocess.run(["pdftoppm", "-gray", "-r", "30", str(pdf), str(tmp_path / "p")], check=True)
    result = []
    for png in sorted(tmp_path.glob("p-*.pgm")):
        image = Image.open(png)
        px, (w, h) = image.load(), image.size
        top, bottom = round(TOP_MARGIN / height * h), round((height - BOTTOM_MARGIN) / height * h)
        lowest = next((y for y in range(bottom, top, -1) if any(px[x, y] < 200 for x in range(w))), top)
        result.append((lowest - top) / (bottom - top))
    return result


def _short_table_heads(book: Book) -> list[str]:
    """The header rows (their cells' text, squashed) of the tables kept whole (six rows or fewer)."""
    heads = []
    for q in book.questions:
        text = "".join(p if isinstance(p, str) else "\x00" for p in q.answer.parts)
        for table in re.findall(r"<table\b.*?</table>", text, re.S):
            if len(re.findall(r"<tr\b", table.split("</thead>", 1)[-1])) > 6 or "<thead>" not in table:
                continue
            cells = re.findall(r"<th[^>]*>(.*?)</th>", table.split("</thead>", 1)[0], re.S)
            heads.append(squash(norm(" ".join(html.unescape(re.sub(r"<[^>]+>", "", c)) for c in cells))))
    return heads


def test_no_body_page_is_less_than_three_quarters_full(built: Built, layout: Layout, tmp_path: Path):
    """Except the last page of a chapter, and a page whose next page opens with a block that may
    not split and did not fit in the space left: a figure or a short table (six rows or fewer).
    A question's head and key points are no excuse: a list of four points or more breaks (two on
    either side). Chapter openers are one page (see below) and are not counted."""
    openers, end = _chapter_pages(built)
    fullness = _fullness(built.path, tmp_path, layout.size[1])
    w = words(built.book)
    figure_word = w["figure"].split("{n}")[0].strip()
    body_height = layout.body_height()
    table_heads = _short_table_heads(built.book)

    def opens_with_figure(page: int) -> bool:
        captions = [wd.y0 for i, wd in enumerate(layout.words)
                    if wd.page == page and re.fullmatch(r"\d+\.\d+\.", wd.text)
                    and i and layout.words[i - 1].text == figure_word]
        body = [line.y0 for line in layout.lines if line.page == page and abs(line.height - body_height) < 0.3
                and line.y0 > TOP_MARGIN]
        return bool(captions) and (not body or min(captions) < min(body))

    def opens_with_short_table(page: int) -> bool:
        first = min((line for line in layout.lines if line.page == page and line.y0 > TOP_MARGIN),
                    key=lambda line: line.y0, default=None)
        text = squash(norm(first.text)) if first is not None else ""
        return len(text) >= 3 and any(head.startswith(text) for head in table_heads)

    short = []
    for start, stop in zip(openers, [*openers[1:], end], strict=True):
        chapter = [p for p in range(start + 1, stop) if fullness[p - 1] > 0]  # blank pages before a recto are fine
        for page in chapter[:-1]:
            if fullness[page - 1] < 0.75 and not opens_with_figure(page + 1) and not opens_with_short_table(page + 1):
                short.append((page, round(fullness[page - 1], 2)))
    assert not short, f"pages less than 75 % full: {short}"


def test_a_long_key_point_box_breaks_between_points_with_a_cue(built: Built, layout: Layout):
    """A key-point box that breaks leaves two points at least on either side, and the foot of the
    page where it breaks says that the points go on."""
    cue = squash(words(built.book)["key_points_continued"])
    pages = [squash(norm("\n".join(line.text for line in layout.lines if line.page == n)))
             for n in range(1, len(built.texts) + 1)]
    broken = 0
    for q in built.book.questions:
        html_text = "".join(p if isinstance(p, str) else "\x00" for p in q.key_points.parts)
        items = [squash(norm(html.unescape(re.sub(r"<[^>]+>", "", item)).split("\x00")[0]))[:25]
                 for item in re.findall(r"<li>(.*?)</li>", html_text, re.S)]
        items = [item for item in items if len(item) > 8]
        if len(items) < 2:
            continue
        start = built.page_of(f"Q{q.number}. {q.title_text}") - 1
        where = [next((i for i in range(start, len(pages)) if item in pages[i]), None) for item in items]
        assert None not in where, (q.number, items, where)
        if where[0] == where[-1]:
            continue
        broken += 1
        assert where[1] == where[0] and where[-2] == where[-1], (q.number, where)
        assert cue in pages[where[0]], f"Q{q.number}: no cue at the foot of page {where[0] + 1}"
    assert broken or built.book.id != "llm-interview-handbook", "no key-point box breaks: the test checks nothing"
    assert sum(cue in page for page in pages) == broken, [i + 1 for i, page in enumerate(pages) if cue in page]


def test_chapter_openers_fit_one_page(built: Built):
    for topic in built.book.topics:
        opener = built.page_of(f"{topic.number}. {topic.title_text}")
        first = topic.questions[0]
        assert built.page_of(f"Q{first.number}. {first.title_text}") == opener + 1, \
            f"the opener of chapter {topic.number} runs past page {opener}"


def test_short_tables_are_never_split(built: Built):
    """A table of six body rows or fewer has its first and last rows on one page."""
    pages = [squash(norm(text)) for text in built.texts]
    checked = 0
    for q in built.book.questions:
        html_text = "".join(p if isinstance(p, str) else "\x00" for p in q.answer.parts)
        for table in re.findall(r"<tbody>(.*?)</tbody>", html_text, re.S):
            rows = re.findall(r"<tr>(.*?)</tr>", table, re.S)
            if len(rows) > 6:
                continue

            def cell(row: str) -> str:
                cells = [html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
                         for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]
                return max((c.split("\x00")[0] for c in cells), key=len)  # text before any formula

            first, last = squash(norm(cell(rows[0]))), squash(norm(cell(rows[-1])))
            start = built.page_of(f"Q{q.number}. {q.title_text}") - 1
            page_first = next(i for i in range(start, len(pages)) if first in pages[i])
            page_last = next(i for i in range(page_first, len(pages)) if last in pages[i])
            assert page_first == page_last, \
                f"Q{q.number}: a {len(rows)}-row table splits across pages {page_first + 1}–{page_last + 1}"
            checked += 1
    assert checked or built.book.id != "llm-interview-handbook"


def test_no_cross_reference_label_is_doubled(built: Built):
    text = norm(" ".join(built.texts))
    doubled = re.findall(r"Q(\d+)\s*[(（]\s*Q\1\b", text)
    assert not doubled, doubled


def _toc_pages(built: Built) -> range:
    first = built.page_of(words(built.book)["contents"])
    return range(first, built.page_of(f"1. {built.book.topics[0].title_text}"))


def test_toc_page_numbers_share_one_right_edge(built: Built, layout: Layout):
    by_side: dict[int, set[float]] = {}
    for page in _toc_pages(built):
        by_side.setdefault(page % 2, set()).update(
            round(line.x1) for line in layout.lines if line.page == page and line.y0 > TOP_MARGIN
            and line.x1 > layout.size[0] / 2 and re.fullmatch(r"\d+", line.text.split()[-1]))
    assert any(by_side.values()), "no page numbers found in the table of contents"
    for side, xs in by_side.items():
        side_name = "right" if side else "left"
        assert not xs or max(xs) - min(xs) <= 1, f"page numbers end at {sorted(xs)} on {side_name}-hand pages"


def _head(layout: Layout, page: int) -> str:
    return " ".join(wd.text for wd in layout.words if wd.page == page and wd.y1 < TOP_MARGIN)


def test_running_heads_name_the_question_in_force_at_the_top(built: Built, layout: Layout):
    openers, end = _chapter_pages(built)
    starts = {q.number: built.page_of(f"Q{q.number}. {q.title_text}") for q in built.book.questions}
    checked = 0
    for page in range(openers[0] + 1, end):
        if page % 2 == 0 or page in openers or not _head(layout, page):
            continue
        begun = [n for n, p in starts.items() if p < page]
        here = [n for n, p in starts.items() if p == page]
        # A question whose heading (its number in the heading's size) sits at the top opens the page.
        body = layout.body_height()
        top = [n for n in here if any(wd.page == page and wd.text == f"Q{n}" and wd.y1 - wd.y0 > 1.1 * body
                                      and TOP_MARGIN < wd.y0 < TOP_MARGIN + 45
                                      for wd in layout.words)]
        expected = top[0] if top else max(begun, default=None)
        if expected is None:
            continue
        assert _head(layout, page).split()[0] == f"Q{expected}", (page, _head(layout, page))
        checked += 1
    assert checked or len(built.book.questions) < 5


def test_no_running_head_on_part_and_chapter_openers(built: Built, layout: Layout):
    w = words(built.book)
    parts = [s.title_text for s in built.book.sections] + [w["contents"], w["bibliography"]]
    parts += [w["index"]] if any(q.index for q in built.book.questions) else []  # no terms, no index
    parts += [f"{t.number}. {t.title_text}" for t in built.book.topics]
    for title in parts:
        page = built.page_of(title)
        assert not _head(layout, page), f"{title} (page {page}) carries the running head {_head(layout, page)!r}"


def test_hyphenation_only_in_running_text(built: Built, layout: Layout):
    """No word is hyphenated in a heading, a key-point box or a table cell (all set in sizes other
    than the body text's), and every hyphenated break leaves three letters or more on each side."""
    body = layout.body_height()
    if sum(abs(line.height - body) < 0.3 for line in layout.lines) < 300:
        pytest.skip("too little running text to tell its size from the others")  # the fixture book
    hyphenated = [wd for wd in layout.words if wd.text.endswith("\u2010")]
    wrong = [(wd.page, wd.text) for wd in hyphenated if abs(wd.y1 - wd.y0 - body) >= 0.3]
    assert not wrong, wrong
    short = [(wd.page, wd.text) for wd in hyphenated if len(re.search(r"(\w*)\u2010$", wd.text).group(1)) < 3]
    assert not short, short


def test_no_hyphenation_ladder_of_three(built: Built, layout: Layout, tmp_path: Path):
    """No three lines in a row of one paragraph end in a hyphen (the hyphenator's or a word's own):
    WeasyPrint has no hyphenate-limit-lines; studybook.render.hyphen_ladders sets it to 2."""
    out = tmp_path / "blocks.html"
    subprocess.run(["pdftotext", "-bbox-layout", str(built.path), str(out)], check=True)
    small = LAYER_RATIO * layout.body_height()  # the formulas' invisible text is no line's end
    word = re.compile(r'<word xMin="[\d.]+" yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">(.*?)</word>')
    ladders = []
    for number, page in enumerate(re.findall(r"<page (.*?)</page>", out.read_text(encoding="utf-8"), re.S), 1):
        for block in re.findall(r"<block (.*?)</block>", page, re.S):
            run: list[str] = []
            for line in [*re.findall(r"<line (.*?)</line>", block, re.S), ""]:
                words = [html.unescape(w) for y0, y1, w in word.findall(line) if float(y1) - float(y0) >= small]
                if not words and line:
                    continue
                last = (words or [""])[-1]
                if re.search(r"\w[-\u2010]$", last):
                    run.append(last)
                    continue
                if len(run) >= 3:
                    ladders.append((number, run))
                run = []
    assert not ladders, ladders


def test_no_line_of_leader_dots_alone(built: Built, layout: Layout):
    """In the contents, the chapter openers' lists and the related questions, the page number
    comes with the title's last word: never on a line of dots of its own."""
    alone = [(line.page, line.text) for line in layout.lines if re.fullmatch(r"(?:\.\s*){3,}\d+", line.text)]
    assert not alone, alone[:10]


def test_a_page_reference_is_not_broken(built: Built, layout: Layout):
    """"(p. 63)" and "（第 63 页）" stay on one line: no line ends with the opening of one."""
    w = words(built.book)
    opening = (w["paren_open"] + w["page_before"]).strip()
    # pdftotext cuts a widely justified line in two: a part to its right on the same baseline goes on.
    broken = [(line.page, line.text[-30:]) for line in layout.lines if line.text.endswith(opening)
              and not any(other.page == line.page and abs(other.y0 - line.y0) < 2 and other.x0 > line.x1
                          for other in layout.lines)]
    assert not broken, broken[:10]


def test_hanging_numbers_hold_a_large_banks_numbers():
    """"Q5000 " and a chapter "700 " hang in the margin of the contents, the chapter lists and
    the question heads without running into their titles (a 5,000-question book printed
    "Q4715What is …" with the width that holds "Q50 ")."""
    import dataclasses

    from weasyprint.formatting_structure.boxes import LineBox, TextBox

    from studybook.render import Options, pdf

    book = read_book(FIXTURES / "mini" / "handbook.md")
    *topics, last = book.topics
    *questions, question = last.questions
    last = dataclasses.replace(last, number=700, questions=(*questions, dataclasses.replace(question, number=5000)))
    book = dataclasses.replace(book, topics=(*topics, last))
    options = Options(build_time=0)
    document = pdf.layout(pdf.build_html(book, options), book, options)
    hung = []
    for page in document.pages:
        for line in page._page_box.descendants():
            if not isinstance(line, LineBox):
                continue
            texts = [box for box in line.descendants() if isinstance(box, TextBox)]
            for number, after in itertools.pairwise(texts):
                if number.text.strip() in ("Q5000", "700"):
                    hung.append((number.text.strip(), after.position_x - (number.position_x + number.width)))
    assert {text for text, _ in hung} == {"Q5000", "700"}
    assert len(hung) >= 4  # contents (both), chapter list, question head
    assert min(gap for _, gap in hung) >= 0, hung
