"""What the print study aids (flashcards, quiz) share: templates, formulas, WeasyPrint.

Both aids are WeasyPrint documents like the handbook PDF and follow its rules: formulas are the
PDF's SVG pictures, every resource is served from memory (no network, no disk), a character no
font can draw and any WeasyPrint error become build errors, and the bytes are reproducible for a
fixed build time.

Formula pictures are the book's shared drawings (studybook.mathsvg) and the words come from
templates/labels.yaml, so the aids print exactly what the handbook prints.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import sys
from dataclasses import dataclass, field

import jinja2

from .. import labels as labels_mod
from .. import mathsvg
from ..diagnostics import BuildError, Location, Problem
from ..model import Book, Math
from ..templating import environment
from . import Options
from .pdf import LogCapture, fetcher

PAPERS = {"a4": (210.0, 297.0), "letter": (215.9, 279.4)}  # width, height in mm
PDF_VARIANT = "pdf/ua-1"
_NOTDEF = ".notdef glyph rendered"


@dataclass(frozen=True)
class Picture:
    """A formula picture (studybook.mathsvg) with the URL the print templates load it from."""

    url: str
    svg: bytes
    alt: str
    width_em: float
    height_em: float
    depth_em: float


class Formulas:
    """The one place the print aids get formula pictures from: the book's shared drawings."""

    def __init__(self, book: Book):
        self._pictures = mathsvg.draw_all(book)
        self.images: dict[str, Picture] = {}

    def image(self, m: Math) -> Picture:
        pic = self._pictures[m]
        url = f"studybook://math/{pic.key}.svg"
        self.images[url] = Picture(url, pic.svg, pic.alt, pic.width_em, pic.height_em, pic.depth_em)
        return self.images[url]


def check_paper(options: Options) -> tuple[float, float]:
    if options.paper not in PAPERS:
        raise ValueError(f"paper must be one of {', '.join(PAPERS)}, not {options.paper!r}")
    return PAPERS[options.paper]


def make_environment(book: Book, options: Options, drawer: Formulas, **filters) -> jinja2.Environment:
    labels = labels_mod.load(options.templates, book.language)
    env = environment(options.templates,
                      anchor=lambda target: _anchor(book, target),
                      image_url=lambda name: f"studybook://image/{name}", **filters)
    env.globals.update(math=drawer.image, book=book, labels=labels, lang=book.language.split("-")[0].lower(),
                       xref=lambda xref: labels.xref(book, xref))
    timestamp = dt.datetime.fromtimestamp(options.build_time, dt.UTC)
    env.globals["timestamp"] = timestamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    return env


def _anchor(book: Book, target: str) -> str:
    try:
        return f"q-{book.question(target).id}"
    except KeyError:
        return f"t-{book.topic(target).id}"


@dataclass
class PrintDoc:
    """An HTML document for WeasyPrint and the in-memory resources it refers to."""

    html: str
    template: str  # for messages about layout bugs
    resources: dict[str, tuple[bytes, str]] = field(default_factory=dict)


def resources_of(book: Book, drawer) -> dict[str, tuple[bytes, str]]:
    resources = {f"studybook://image/{name}": (image.data, image.media_type) for name, image in book.images.items()}
    resources.update((img.url, (img.svg, "image/svg+xml")) for img in drawer.images.values())
    return resources


def _weasyprint(doc: PrintDoc, book: Book, action):
    """Run `action(weasyprint.HTML)` with WeasyPrint's complaints turned into build errors."""
    import weasyprint

    from . import pydyf_patch

    pydyf_patch.apply()  # tagging in linear time; see the module
    logger = logging.getLogger("weasyprint")
    capture = LogCapture()
    logger.addHandler(capture)
    propagate = logger.propagate
    logger.propagate = False
    try:
        result = action(weasyprint.HTML(string=doc.html, base_url="studybook://print/",
                                        url_fetcher=fetcher(doc.resources)))
    except weasyprint.urls.FatalURLFetchingError as exc:
        raise BuildError([Problem(Location(book.path, 1), f"PDF: {exc}")]) from None
    finally:
        logger.removeHandler(capture)
        logger.propagate = propagate
    problems = _log_problems(capture.records, book, doc.template)
    if problems:
        raise BuildError(problems)
    return result


def layout(doc: PrintDoc, book: Book):
    """Lay the document out without writing it (for measuring); returns WeasyPrint's Document."""
    return _weasyprint(doc, book, lambda html_doc: html_doc.render())


def identifier(book: Book, kind: str) -> bytes:
    """The PDF's file identifier: from the book and the kind of aid, so the same book gives the
    same bytes."""
    return hashlib.sha256(f"{book.id}\x1f{book.language}\x1f{kind}".encode()).hexdigest()[:32].encode()


def _pdf_options(book: Book, kind: str) -> dict:
    return {"pdf_variant": PDF_VARIANT, "pdf_identifier": identifier(book, kind), "uncompressed_pdf": False}


def write_pdf(doc: PrintDoc, book: Book, kind: str) -> bytes:
    return _weasyprint(doc, book, lambda html_doc: html_doc.write_pdf(**_pdf_options(book, kind)))


def render_pdf(doc: PrintDoc, book: Book, kind: str):
    """The document laid out with the options of the PDF it becomes (`write_pages`)."""
    return _weasyprint(doc, book, lambda html_doc: html_doc.render(**_pdf_options(book, kind)))


def write_pages(document, pages: list, book: Book, kind: str) -> bytes:
    """`document` (from `render_pdf`) written as a PDF of `pages` (its pages, made again)."""
    return document.copy(pages).write_pdf(**_pdf_options(book, kind))


def _log_problems(records: list[logging.LogRecord], book: Book, template: str) -> list[Problem]:
    from .pdf import missing_glyph_problems

    missing: dict[str, None] = {}
    errors: dict[str, None] = {}
    for record in records:
        message = record.getMessage()
        if message.startswith(_NOTDEF) and isinstance(record.args, tuple) and record.args:
            missing.setdefault(str(record.args[0]))
        elif record.levelno >= logging.ERROR:
            errors.setdefault(message)
        else:
            print(f"{template}: warning: PDF layout: {message}", file=sys.stderr)
    problems = missing_glyph_problems(book, "".join(missing))
    problems += [Problem(Location(template, 1), f"PDF layout: {message}",
                         "this is a bug in the print templates; please report it") for message in errors]
    return problems


def mm(value: float) -> str:
    """A length for the CSS, rounded so that the output does not depend on float noise."""
    return f"{round(value, 3):g}mm"


PX_PER_MM = 96 / 25.4
