"""EPUB 3 with an EPUB 2 NCX: one XHTML file per chapter, MathML with picture fallbacks.

The package is written here rather than with a library so that every byte is ours: `mimetype`
comes first and uncompressed, the other entries follow in sorted order with the fixed date of
`options.build_time` (SOURCE_DATE_EPOCH), and nothing reads the clock. Markup lives in
templates/epub/ (package document, NCX, navigation and page templates, CSS, cover design,
localised labels); this module only decides file names, anchors and link targets.

Layout of the package::

    mimetype
    META-INF/container.xml
    OEBPS/content.opf  toc.ncx  nav.xhtml
    OEBPS/cover.xhtml  title.xhtml  <section>.xhtml  chapter-NN.xhtml  bibliography.xhtml
    OEBPS/css/book.css
    OEBPS/images/cover.png  images/<book images>
    OEBPS/math/m-<hash>.svg      fallback pictures of the formulas (see epub_math)
    OEBPS/fonts/STIXTwoMath-Regular.ttf  STIXTwoMath-OFL.txt   the math font and its licence
"""

from __future__ import annotations

import html
import importlib.util
import io
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from markupsafe import Markup

from .. import index as index_mod
from .. import labels as labels_mod
from ..labels import Labels
from ..model import Book, ImageRef, Question
from ..output import write_zip
from ..templating import environment
from . import Options
from .epub_cover import render_cover
from .epub_math import MathTable
from .epub_xhtml import check_well_formed, to_xhtml
from .narrow import code_lines, label_table_cells

EXTENSION = "epub"
# MathML is drawn with the reading system's math font, and where it has none (Chromium, under
# many Android readers and Thorium) square roots vanish and braces do not stretch. The book
# carries STIX Two Math (SIL OFL 1.1), unmodified: the font ziamath draws the formula pictures
# with, so the MathML and its fallback picture match, and the line breaks measured for a phone
# hold. Only books with formulas carry it.
MATH_FONT = "STIXTwoMath-Regular.ttf"
MATH_FONT_LICENCE = "STIXTwoMath-OFL.txt"
MIMETYPE = b"application/epub+zip"
ROOT = "OEBPS"
# Fixed once: the identifier of a book is uuid5(ID_NAMESPACE, "<book id>/<language>"), so every
# build of one edition has the same identifier and two editions never share one.
ID_NAMESPACE = uuid.UUID("0b0c5f2e-6a63-5c4e-9d1e-5e2f8b9a7c31")
# Front sections whose id names a DPUB-ARIA section type get that type and role.
SECTION_TYPES = {"preface": "preface", "foreword": "foreword", "introduction": "introduction",
                 "acknowledgments": "acknowledgments", "dedication": "dedication",
                 "prologue": "prologue", "epigraph": "epigraph"}
RESERVED = {"cover", "title", "nav", "bibliography", "index", "toc", "content"}


def identifier(book: Book) -> str:
    return f"urn:uuid:{uuid.uuid5(ID_NAMESPACE, f'{book.id}/{book.language}')}"


def _ncname(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)


@dataclass
class Page:
    href: str  # file name inside OEBPS/
    id: str  # manifest id
    title: str  # plain text, for <title>, the NCX and landmarks
    template: str
    landmark: str = ""  # epub:type in the landmarks nav, if any
    context: dict = field(default_factory=dict)
    linear: bool = True


class Links:
    """Anchors and hrefs: every link target in the book is decided here, and only here."""

    def __init__(self, book: Book, chapter_files: dict[str, str], labels: Labels):
        self.book = book
        self.labels = labels
        self.topic_file = chapter_files
        self.question_file = {q.id: chapter_files[q.topic_id] for q in book.questions}
        self._ref_ids: dict[str, str] = {}
        taken: set[str] = set()
        for key in sorted(book.references):
            anchor = f"ref-{_ncname(key)}"
            n = 2
            while anchor in taken:
                anchor, n = f"ref-{_ncname(key)}-{n}", n + 1
            taken.add(anchor)
            self._ref_ids[key] = anchor

    @staticmethod
    def question_anchor(qid: str) -> str:
        return f"q-{qid}"

    @staticmethod
    def topic_anchor(tid: str) -> str:
        return f"t-{tid}"

    def ref_anchor(self, key: str) -> str:
        return self._ref_ids[key]

    def _href(self, file: str, anchor: str, here: str) -> str:
        return f"#{anchor}" if file == here else f"{file}#{anchor}"

    def question(self, qid: str, here: str) -> str:
        return self._href(self.question_file[qid], self.question_anchor(qid), here)

    def topic(self, tid: str, here: str) -> str:
        return self._href(self.topic_file[tid], self.topic_anchor(tid), here)

    def xref(self, target: str, here: str) -> str:
        if target in self.question_file:
            return self.question(target, here)
        return self.topic(target, here)

    def ref(self, key: str, here: str = "") -> str:
        return self._href("bibliography.xhtml", self.ref_anchor(key), here)


class Notes:
    """The numbered references of one question, and the citations in its text that point at them.

    An inline citation is a noteref to the question's own reference list (readers show it as a
    pop-up); each list entry links on to the bibliography and back to its first citation.
    """

    def __init__(self, question: Question):
        self.question = question
        self._index = {key: i + 1 for i, key in enumerate(question.cited)}
        self._first_cite: dict[str, str] = {}
        self._count = 0
        self.heading_id = f"q-{question.id}-refs"

    def note_id(self, key: str) -> str:
        return f"n-{self.question.id}-{self._index[key]}"

    def cite_id(self, key: str) -> str:
        self._count += 1
        cid = f"c-{self.question.id}-{self._count}"
        self._first_cite.setdefault(key, cid)
        return cid

    def backlink(self, key: str) -> str:
        return self._first_cite.get(key, "")


class Figures:
    """Figure numbers: the book's own per-chapter numbering (Book.figure_numbers), shared by every output."""

    def __init__(self, book: Book):
        self._book = book

    def number(self, part: ImageRef) -> str:
        return self._book.figure_number(part)


def _sequence(labels: Labels, items: list[str]) -> str:
    return labels["list_sep"].join(items)


def _plain(html_text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", html_text)).strip()


def _pages(book: Book, labels: Labels) -> tuple[list[Page], dict[str, str]]:
    pages = [
        Page("cover.xhtml", "cover", labels["cover"], "epub/cover.xhtml.j2", "cover"),
        Page("title.xhtml", "titlepage", labels["title_page"], "epub/title.xhtml.j2", "titlepage"),
        Page("nav.xhtml", "nav", labels["contents"], "epub/nav.xhtml.j2", "toc"),
    ]
    used = {p.href for p in pages}
    for i, section in enumerate(book.sections, start=1):
        slug = re.sub(r"[^a-z0-9]+", "-", section.id.lower()).strip("-") or f"front-{i}"
        href = f"{slug}.xhtml"
        if slug in RESERVED or slug.startswith("chapter-") or href in used:
            href = f"front-{i:02d}-{slug}.xhtml"
        used.add(href)
        kind = SECTION_TYPES.get(section.id, "")
        pages.append(Page(href, f"s{i:02d}-{slug}", section.title_text, "epub/section.xhtml.j2",
                          kind or ("frontmatter" if i == 1 else ""),
                          {"section": section, "kind": kind, "anchor": f"s-{slug}"}))
    chapter_files: dict[str, str] = {}
    for topic in book.topics:
        href = f"chapter-{topic.number:02d}.xhtml"
        chapter_files[topic.id] = href
        pages.append(Page(href, f"c{topic.number:02d}", topic.title_text, "epub/chapter.xhtml.j2",
                          "bodymatter" if topic.number == 1 else "", {"topic": topic}))
    if book.bibliography:
        pages.append(Page("bibliography.xhtml", "bibliography", labels["bibliography"],
                          "epub/bibliography.xhtml.j2", "bibliography"))
    groups = index_mod.build(book)
    if groups:
        pages.append(Page("index.xhtml", "index", labels["index"], "epub/index.xhtml.j2", "index",
                          {"groups": groups}))
    return pages, chapter_files


def _cover_alt(book: Book, labels: Labels) -> str:
    return labels["cover_alt"].format(title=book.title, subtitle=book.subtitle,
                                      subtitle_sep=labels["colon"] if book.subtitle else "",
                                      authors=_sequence(labels, list(book.authors)))


def _iso(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def render(book: Book, options: Options) -> bytes:
    labels = labels_mod.load(options.templates, book.language)
    pages, chapter_files = _pages(book, labels)
    links = Links(book, chapter_files, labels)
    maths = MathTable(book)
    env = environment(options.templates, xhtml=lambda s: Markup(to_xhtml(s)), plain=_plain)
    env.globals.update(
        book=book, labels=labels, links=links, maths=maths, figures=Figures(book),
        new_notes=Notes, cover_alt=_cover_alt(book, labels), pages=pages, identifier=identifier(book),
        modified=_iso(options.build_time), build_time=options.build_time,
        date=_iso(options.build_time)[:10], sequence=lambda items: _sequence(labels, list(items)),
    )

    files: dict[str, bytes] = {}
    page_props: dict[str, list[str]] = {}
    for page in pages:
        text = env.get_template(page.template).render(page=page, here=page.href, **page.context)
        text = code_lines(label_table_cells(text))
        data = text.encode("utf-8")
        check_well_formed(page.href, data)
        files[f"{ROOT}/{page.href}"] = data
        props = []
        if "<math" in text:
            props.append("mathml")
        if page.id == "nav":
            props.append("nav")
        page_props[page.href] = props

    images = [(f"images/{name}", img.media_type, img.data) for name, img in sorted(book.images.items())]
    cover = render_cover(book, options.templates)
    files[f"{ROOT}/images/cover.png"] = cover
    for href, _, data in images:
        files[f"{ROOT}/{href}"] = data
    for formula in maths.formulas:
        files[f"{ROOT}/{formula.image}"] = formula.svg
    files[f"{ROOT}/css/book.css"] = env.get_template("epub/book.css.j2").render(
        math_font=f"../fonts/{MATH_FONT}" if maths.formulas else "").encode("utf-8")
    fonts = []
    if maths.formulas:
        fonts = [(f"fonts/{MATH_FONT}", "font/ttf", _math_font()),
                 (f"fonts/{MATH_FONT_LICENCE}", "text/plain",
                  (options.templates / "epub" / "fonts" / MATH_FONT_LICENCE).read_bytes())]
    for href, _, data in fonts:
        files[f"{ROOT}/{href}"] = data

    manifest = [{"id": p.id, "href": p.href, "media_type": "application/xhtml+xml",
                 "properties": " ".join(page_props[p.href])} for p in pages]
    manifest += [
        {"id": "ncx", "href": "toc.ncx", "media_type": "application/x-dtbncx+xml", "properties": ""},
        {"id": "css", "href": "css/book.css", "media_type": "text/css", "properties": ""},
        {"id": "cover-image", "href": "images/cover.png", "media_type": "image/png",
         "properties": "cover-image"},
    ]
    manifest += [{"id": f"img-{_ncname(href[len('images/'):])}", "href": href, "media_type": media_type,
                  "properties": ""} for href, media_type, _ in images]
    manifest += [{"id": _ncname(Path(href).name), "href": href, "media_type": media_type, "properties": ""}
                 for href, media_type, _ in fonts]
    manifest += [{"id": _ncname(Path(f.image).stem), "href": f.image, "media_type": "image/svg+xml",
                  "properties": ""} for f in maths.formulas]

    for name, template in (("content.opf", "epub/content.opf.j2"), ("toc.ncx", "epub/toc.ncx.j2")):
        data = env.get_template(template).render(
            manifest=manifest, accessibility=_accessibility(book, maths)).encode("utf-8")
        check_well_formed(name, data)
        files[f"{ROOT}/{name}"] = data
    container = env.get_template("epub/container.xml.j2").render(opf=f"{ROOT}/content.opf").encode("utf-8")
    check_well_formed("META-INF/container.xml", container)
    files["META-INF/container.xml"] = container

    entries = [("mimetype", MIMETYPE, False)]
    entries += [(name, files[name], not name.endswith(".png")) for name in sorted(files)]
    buf = io.BytesIO()
    write_zip(entries, options.build_time, buf)
    return buf.getvalue()


def _math_font() -> bytes:
    """The font ziamath draws with (it ships it; the pinned version fixes the bytes), found
    without importing ziamath, which loads and parses its font (≈ 0.3 s) on import."""
    spec = importlib.util.find_spec("ziamath")  # a pinned requirement: always there
    assert spec is not None and spec.origin is not None
    return (Path(spec.origin).parent / "fonts" / MATH_FONT).read_bytes()


def _accessibility(book: Book, maths: MathTable) -> dict[str, list[str]]:
    """schema.org accessibility properties, derived from what the book actually contains."""
    image_refs = [p for frag in book.fragments() for p in frag.parts_of(ImageRef)]
    has_images = bool(image_refs)
    all_alt = all(p.alt.strip() for p in image_refs)
    features = ["structuralNavigation", "tableOfContents", "readingOrder", "displayTransformability"]
    if has_images and all_alt:
        features.append("alternativeText")
    if maths.formulas:
        features += ["MathML", "describedMath"]
    modes = ["textual", "visual"] if has_images else ["textual"]
    sufficient = ["textual,visual"] if has_images else []
    if not has_images or all_alt:
        sufficient.insert(0, "textual")
    return {"accessMode": modes, "accessModeSufficient": sufficient, "accessibilityFeature": features,
            "accessibilityHazard": ["none"]}

