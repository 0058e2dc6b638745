"""Typeset, printable PDF handbook with WeasyPrint.

The book becomes one HTML document (templates/pdf/book.html.j2 + book.css.j2) that WeasyPrint
lays out once: page numbers in the table of contents, the index and cross-references are filled
into that layout by the pipeline (see `render` and studybook/render/page_numbers.py), bookmarks
come from `bookmark-level`, running heads from `string-set`. Formulas are the shared SVG pictures
of studybook.mathsvg; images and formulas are served from memory by a URL fetcher that refuses
everything else, so the build never touches the network or the disk.

What WeasyPrint only logs is turned into build errors here: a character no installed font can
draw (it would print as a box), reported with where it occurs in the source, and any error-level
message (an image it cannot draw, a resource the build did not provide). Other warnings are
passed on to stderr.

The output is byte-for-byte reproducible for the same book and `options.build_time`: the dates
in the PDF come from the build time, the file identifier from the book, and fonts are subset by
HarfBuzz (fontTools would write the current time into them).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import hashlib
import html
import logging
import re
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePath

from markupsafe import Markup

from .. import index as index_mod
from .. import labels as labels_mod
from .. import mathsvg
from ..diagnostics import BuildError, Location, Problem
from ..model import Book, Fragment, ImageRef, Math, XRef
from ..output import Spooled
from ..templating import environment
from . import Options, breaks, math_text
from .epub_cover import edition_line, load_design, motif
from .narrow import code_lines

EXTENSION = "pdf"
PAPERS = ("a4", "letter")
PDF_VARIANT = "pdf/ua-1"  # tagged PDF with structure, alt texts and document language

_EXTERNAL_LINK = re.compile(
    r'<a href="(?P<url>(?:https?://|mailto:)[^"]*)"(?P<rest>[^>]*)>(?P<text>.*?)</a>', re.S)
_TAG = re.compile(r"<[^>]+>")
_TABLE = re.compile(r"<table\b(?P<attrs>[^>]*)>(?P<body>.*?)</table>", re.S)
_BODY_ROW = re.compile(r"<tr\b")
_CELL = re.compile(r"<t[hd]\b")
# A table of this many body rows or fewer is kept on one page (book.css.j2: table.short); one of
# this many columns or more may use part of the margins (table.wide).
SHORT_TABLE_ROWS = 6
WIDE_TABLE_COLUMNS = 3
_NOTDEF = ".notdef glyph rendered"


@dataclass
class HtmlBook:
    """The document handed to WeasyPrint, and the in-memory resources it refers to."""

    html: str
    resources: dict[str, tuple[bytes, str]] = field(default_factory=dict)


# Page references are filled in by the pipeline (studybook/render/page_numbers.py): the book is
# laid out once with placeholders of as many digits as it has pages, each anchor's page is read
# from that layout, and the numbers are written into the laid-out boxes. The index is the one
# part laid out again, on its own: it prints each page once, so its length depends on the numbers
# (it is the last part of the book, so nothing else moves). (WeasyPrint's own target-counter()
# repaginates until it settles or gives up, and then can print a stale number.)
_MIN_DIGITS = 3


def placeholder_digits(book: Book) -> int:
    """Digits of the page-number placeholder: enough for about four pages a question (this book
    averages 3.2), so a large book is not laid out a second time for a wider one."""
    return max(_MIN_DIGITS, len(str(4 * len(book.questions) + 40)))


def render(book: Book, options: Options) -> bytes | Spooled:
    """The PDF; a large book's comes laid out in chunks, spooled to a temporary file."""
    from weasyprint.text.fonts import FontConfiguration

    from . import page_numbers, pdf_chunks

    digits = placeholder_digits(book)
    size = pdf_chunks.chunk_size(book)
    if size:
        return pdf_chunks.render(book, options, digits, size)
    fonts = FontConfiguration()  # one for the book and its index, so they share their fonts
    with collector_paused():
        document, mark = page_numbers.laid_out(
            lambda mark: layout(build_html(book, options, mark=mark), book, options, fonts), digits)
        anchors = page_numbers.anchor_pages(document.pages)
        pages = document.pages
        if "index" in anchors:
            first = anchors["index"]
            index = layout(build_html(book, options, anchors, part=Part(index=True), first_page=first),
                           book, options, fonts)
            if page_numbers.anchor_pages(index.pages) != {a: n - first + 1 for a, n in anchors.items() if n >= first}:
                raise unsettled(book, "the index holds anchors other than its own")
            pages = pages[:first - 1] + index.pages
        pages = page_numbers.filled(pages, anchors, mark, lambda why: unsettled(book, why), local=anchors)
        return write_pdf(document.copy(pages), book, options)


def unsettled(book: Book, why: str) -> BuildError:
    return BuildError([Problem(Location(book.path, 1), f"PDF layout: page numbers: {why}",
                               "report it as a studybook bug, with the source")])


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No automatic garbage collection while WeasyPrint lays out and draws.

    WeasyPrint allocates millions of small objects that live until the PDF is written; the
    collector's automatic passes re-scan them again and again (14 % of the PDF's CPU time measured
    on the handbook) and find next to nothing. Collection runs explicitly between layouts instead,
    when a whole discarded layout can be freed. Output bytes do not depend on it.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# ---------------------------------------------------------------------------------------------
# HTML


@dataclass(frozen=True)
class Part:
    """A part of the book laid out on its own (the whole book: no part)."""

    front: bool = False  # cover, colophon, front sections, contents
    topics: tuple[str, ...] = ()  # these chapters
    back: bool = False  # the bibliography
    index: bool = False
    # A large book's contents and bibliography are cut into parts too (studybook/render/pdf_chunks.py):
    contents: tuple[str, ...] | None = None  # the chapters its contents lists (None: all, if any)
    entries: tuple[int, int] | None = None  # the bibliography's entries [start, stop) (None: all)
    continues: bool = False  # goes on from the part before on the next page, without a heading


def lead_pages(part: Part | None, first_page: int) -> int:
    """Pages a part that `continues` lays out before its own and drops: WeasyPrint starts every
    document on a right-hand page and a part may go on on a left-hand one; and the running head
    is set on them, so that the part's first page carries it (the head is left off the page where
    it is set)."""
    if part is None or not part.continues:
        return 0
    return 2 if first_page % 2 else 1


def build_html(book: Book, options: Options, pages: dict[str, int] | None = None, *, mark: str = "000",
               part: Part | None = None, first_page: int = 0, footnotes_before: int = 0) -> HtmlBook:
    """The book as one HTML document; `pages` gives each anchor's page (None: the placeholder
    `mark`). With `part`, only that part, its pages numbered from `first_page` and its footnotes
    from `footnotes_before` + 1."""
    if options.paper not in PAPERS:
        raise ValueError(f"paper must be one of {', '.join(PAPERS)}, not {options.paper!r}")
    pictures = mathsvg.draw_all(book)
    labels = labels_mod.load(options.templates, book.language)
    lang = book.language.split("-")[0].lower()
    cover = load_design(options.templates)

    used: dict[str, mathsvg.MathPicture] = {}  # a chunk of a large book draws only its own formulas

    def math(part: Math) -> mathsvg.MathPicture:
        picture = used.get(mathsvg.key(part))
        if picture is None:
            picture = used[mathsvg.key(part)] = pictures[part]
        return picture

    env = environment(
        options.templates,
        anchor=lambda target: _anchor(book, target),
        xref_label=lambda xref: labels.xref(book, xref),
        image_url=lambda name: f"studybook://image/{name}",
        math_url=lambda pic: f"studybook://math/{pic.key}.svg",
        math_layer=lambda pic, scale=1: math_text.layer_box(pic.alt, pic.width_em * scale, pic.height_em),
        print_links=_print_links,
        keep_short_tables=_keep_short_tables,
        keep_short_compounds=breaks.keep_short_compounds,
        leader_tail=breaks.leader_tail,
        page=lambda anchor: str(pages[anchor]) if pages is not None else mark,
        deco_class=lambda name: re.sub(r"[^A-Za-z0-9_-]", "_", name),
    )
    env.globals["math"] = math
    context = {
        "book": book,
        "lang": lang,
        "labels": labels,
        "paper": options.paper,
        "build_date": labels.date(options.build_time),
        "timestamp": dt.datetime.fromtimestamp(options.build_time, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "keywords": sorted({tag for q in book.questions for tag in q.tags}),
        "index": index_mod.build(book),
        # One cover design for every edition: the EPUB cover's, set here in CSS (see book.css.j2).
        "cover": cover,
        "cover_motif": [["#{:02x}{:02x}{:02x}".format(*rgb) for rgb in row] for row in motif(book, cover)],
        "cover_edition": edition_line(book),
        "part": part,
        "first_page": first_page,
        "lead": lead_pages(part, first_page),
        "footnotes_before": footnotes_before,
        "decorative": sorted({p.name for f in book.fragments() for p in f.parts_of(ImageRef) if not p.alt}),
    }
    context["css"] = env.get_template("pdf/book.css.j2").render(context)
    # Each source line of a code block becomes a block of its own (narrow.code_lines), so a line
    # too long for the measure goes on under a hanging indent instead of back at column 0.
    document = code_lines(env.get_template("pdf/book.html.j2").render(context))

    resources = {f"studybook://image/{name}": (image.data, image.media_type)
                 for name, image in book.images.items()}
    for pic in used.values():
        resources[f"studybook://math/{pic.key}.svg"] = (pic.svg, "image/svg+xml")
    return HtmlBook(document, resources)


def _anchor(book: Book, target: str) -> str:
    try:
        return f"q-{book.question(target).id}"
    except KeyError:
        return f"t-{book.topic(target).id}"


def _print_links(markup: str) -> str:
    """Keep a link's text as written and print its URL in a footnote, where paper can show it."""

    def replace(m: re.Match) -> str:
        url, rest, text = m.group("url"), m.group("rest"), m.group("text")
        shown = url.removeprefix("mailto:")
        if html.unescape(_TAG.sub("", text)).strip() in (html.unescape(url), html.unescape(shown)):
            return f'<a class="url" href="{url}"{rest}>{text}</a>'
        return (f'<a class="ext" href="{url}"{rest}>{text}</a>'
                f'<span class="fn-url"><a href="{url}">{shown}</a></span>')

    return Markup(_EXTERNAL_LINK.sub(replace, str(markup)))


def _keep_short_tables(markup: str) -> str:
    """Mark short tables (kept whole) and wide ones (allowed into the margins) for the stylesheet."""

    def mark(m: re.Match) -> str:
        body = m.group("body")
        classes = []
        if len(_BODY_ROW.findall(body.split("</thead>", 1)[-1])) <= SHORT_TABLE_ROWS:
            classes.append("short")
        first_row = body.split("</tr>", 1)[0]
        if len(_CELL.findall(first_row)) >= WIDE_TABLE_COLUMNS:
            classes.append("wide")
        if not classes:
            return m.group(0)
        return f'<table class="{" ".join(classes)}"{m.group("attrs")}>{body}</table>'

    return Markup(_TABLE.sub(mark, str(markup)))


# ---------------------------------------------------------------------------------------------
# PDF


def fetcher(resources: dict[str, tuple[bytes, str]]):
    from weasyprint.urls import FatalURLFetchingError, URLFetcher, URLFetcherResponse

    class InMemoryFetcher(URLFetcher):
        """Serves the book's images and formulas; refuses the network and the file system."""

        def fetch(self, url, headers=None):
            if url in resources:
                data, media_type = resources[url]
                return URLFetcherResponse(url, data, {"Content-Type": media_type})
            if url.startswith("data:"):
                # Self-contained (a drawn figure's raster inside its SVG): decoded here, no I/O.
                with urllib.request.urlopen(url) as response:
                    return URLFetcherResponse(url, response.read(),
                                              {"Content-Type": response.headers.get_content_type()})
            raise FatalURLFetchingError(f"the PDF asked for {url!r}, which the build does not provide")

    return InMemoryFetcher()


class LogCapture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _options(book: Book) -> dict:
    return {"pdf_variant": PDF_VARIANT, "uncompressed_pdf": False,
            "pdf_identifier": hashlib.sha256(f"{book.id}\x1f{book.language}".encode()).hexdigest()[:32].encode()}


def layout(doc: HtmlBook, book: Book, options: Options, fonts=None):
    """Lay the document out with WeasyPrint; its complaints become build problems."""
    import weasyprint

    from . import hyphen_ladders, math_text, pydyf_patch, svg_forms

    pydyf_patch.apply()  # tagging in linear time; see the module
    svg_forms.apply()  # each formula drawn once per PDF; see the module
    math_text.apply()  # the formulas' invisible LaTeX is an artifact, not a second reading
    hyphen_ladders.apply()  # at most two hyphenated lines in a row; see the module
    svg_forms.know(doc.resources)
    logger = logging.getLogger("weasyprint")
    capture = LogCapture()
    logger.addHandler(capture)
    propagate = logger.propagate
    logger.propagate = False  # the problems are reported below, as build errors
    # Everything built so far (model, HTML, formulas) lives until the end: keep the collector
    # from re-scanning it through WeasyPrint's many allocations.
    gc.freeze()
    try:
        html_doc = weasyprint.HTML(string=doc.html, base_url="studybook://book/",
                                   url_fetcher=fetcher(doc.resources))
        document = html_doc.render(font_config=fonts, **_options(book))
    except weasyprint.urls.FatalURLFetchingError as exc:
        raise BuildError([Problem(Location(book.path, 1), f"PDF: {exc}")]) from None
    finally:
        gc.unfreeze()
        logger.removeHandler(capture)
        logger.propagate = propagate
    problems = _log_problems(capture.records, book, options)
    if problems:
        raise BuildError(problems)
    return document


def write_pdf(document, book: Book, options: Options) -> bytes:
    return document.write_pdf(**_options(book))


def identifier(book: Book) -> bytes:
    """The PDF's file identifier: from the book, so the same book gives the same bytes."""
    return _options(book)["pdf_identifier"]


def _log_problems(records: list[logging.LogRecord], book: Book, options: Options) -> list[Problem]:
    """Missing glyphs and WeasyPrint errors become problems; other warnings are only shown."""
    missing: dict[str, None] = {}
    errors: dict[str, logging.LogRecord] = {}
    for record in records:
        message = record.getMessage()
        if message.startswith(_NOTDEF) and isinstance(record.args, tuple) and record.args:
            missing.setdefault(str(record.args[0]))
        elif record.levelno >= logging.ERROR:
            errors.setdefault(message, record)
        else:
            options.problems.warn(Location(book.path, 1), f"PDF layout: {message[:200]}")
    problems = missing_glyph_problems(book, "".join(missing))
    for message, record in errors.items():
        image = next((img for name, img in book.images.items() if f"studybook://image/{name}" in message), None)
        if image is not None:
            problems.append(Problem(_image_location(book, image.name),
                                    f"the PDF cannot show image {image.source!r}: {_reason(record)}",
                                    "check that the file is a valid PNG, JPEG, GIF or SVG"))
        else:
            # Not attributable to one place: say what WeasyPrint said, at the book, without
            # guessing that the templates are to blame (the content usually is).
            problems.append(Problem(Location(book.path, 1), f"the PDF cannot be laid out: {message[:200]}",
                                    "simplify the content the message names; if the book looks right, "
                                    "report it as a studybook bug"))
    return problems


def _image_location(book: Book, name: str) -> Location:
    """Where the source first shows an image (its file, for an image no text shows)."""
    for frag in book.fragments():
        for ref in frag.parts_of(ImageRef):
            if ref.name == name:
                return ref.location
    return Location(str(PurePath(book.path).parent / book.images[name].source), 1)


def _reason(record: logging.LogRecord) -> str:
    """Why WeasyPrint could not load an image: its message names no reason when the error was
    raised from another one (ImageLoadingError from Pillow's or the SVG parser's)."""
    args = record.args if isinstance(record.args, tuple) else ()
    exc = next((a for a in args if isinstance(a, BaseException)), None)
    while exc is not None and not str(exc) and exc.__cause__ is not None:
        exc = exc.__cause__
    if exc is None:
        return "it cannot be drawn"
    return f"{type(exc).__name__}: {exc}"[:200] if str(exc) else type(exc).__name__


# ---------------------------------------------------------------------------------------------
# Where a missing character occurs


def missing_glyph_problems(book: Book, chars: str) -> list[Problem]:
    """One problem per (place, character) for characters no installed font can draw."""
    if not chars:
        return []
    found: dict[tuple[Location, str], list[str]] = {}
    for location, where, text in _texts(book):
        for ch in dict.fromkeys(c for c in text if c in chars):
            found.setdefault((location, ch), []).append(where)
    placed = {ch for (_, ch) in found}
    problems = [
        Problem(loc, f"character {ch!r} (U+{ord(ch):04X}) in {', '.join(dict.fromkeys(wheres))} has no "
                     "glyph in the PDF fonts and would print as a box",
                "replace it, or install a font that has it (Noto Serif/Sans/Mono, Noto CJK)")
        for (loc, ch), wheres in found.items()
    ]
    for ch in chars:
        if ch not in placed:
            problems.append(Problem(Location(book.path, 1),
                                    f"character {ch!r} (U+{ord(ch):04X}) printed by the PDF templates has "
                                    "no glyph in the PDF fonts",
                                    "fix templates/pdf or install the missing font"))
    return sorted(problems, key=lambda p: (p.location.path, p.location.line, p.message))


def _plain(markup: str) -> str:
    return html.unescape(_TAG.sub("", markup))


def _texts(book: Book) -> Iterator[tuple[Location, str, str]]:
    """Every piece of source text the PDF prints, with the place to blame for it."""
    head = Location(book.path, 1)
    yield head, "the front matter", " ".join([book.title, book.subtitle, book.edition, book.version,
                                              book.source_title, book.license, *book.authors])
    for s in book.sections:
        yield s.location, f"section {s.id!r}", s.title_text + " " + _text(s.body)
    for t in book.topics:
        yield t.location, f"the title or introduction of topic {t.id!r}", t.title_text + " " + _text(t.intro)
        for q in t.questions:
            yield q.location, f"the title or tags of question {q.id!r}", q.title_text + " " + " ".join(q.tags)
            yield q.location, f"the key points of question {q.id!r}", _text(q.key_points)
            yield q.location, f"the answer of question {q.id!r}", _text(q.answer)
    for ref in book.references.values():
        yield ref.location, f"bibliography entry {ref.key!r}", " ".join([ref.title, ref.venue, ref.url, *ref.authors])
    for image in book.images.values():
        if image.media_type == "image/svg+xml":
            text = _plain(image.data.decode("utf-8", "replace"))
            path = str(PurePath(book.path).parent / image.source)
            yield Location(path, 1), f"the text of image {image.source!r}", text


def _text(frag: Fragment) -> str:
    """The characters the PDF sets in the book's fonts: formulas are pictures, captions are text."""
    out: list[str] = []
    for p in frag.parts:
        if isinstance(p, str):
            out.append(_plain(p))
        elif isinstance(p, ImageRef):
            out.append(p.caption + " " + p.alt)
        elif isinstance(p, XRef):
            out.append(_text(p.text))
    return " ".join(out)
