"""What the print study aids (flashcards, quiz) share: templates, formulas, WeasyPrint.

Both aids are WeasyPrint documents like the handbook PDF and follow its rules: formulas are the
PDF's SVG pictures, every resource is served from memory (no network, no disk), a character no
font can draw and any WeasyPrint error become build errors, and the bytes are reproducible for a
fixed build time.

Two seams are kept deliberately narrow because the core is being refactored: formula pictures
come only through `formula_drawer`, and titles only through `title_parts` (used by the single
`title` macro in templates/flashcards/macros.html.j2).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import logging
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field

import jinja2

from ..diagnostics import BuildError, Location, Problem, Problems
from ..model import Book, Math
from ..templating import environment
from . import Options

PAPERS = {"a4": (210.0, 297.0), "letter": (215.9, 279.4)}  # width, height in mm
PDF_VARIANT = "pdf/ua-1"
_TITLE_MATH = re.compile(r'<span class="arithmatex">\\\((?P<tex>.*?)\\\)</span>', re.S)
_NOTDEF = ".notdef glyph rendered"


def formula_drawer(problems: Problems, maths: Iterable[Math]):
    """The one place the print aids get formula pictures from: drawn exactly as in the PDF.

    Returns an object with `image(math) -> picture | None` (a picture has `url`, `svg`, `alt`,
    `width_em`, `height_em`, `depth_em`) and `images` (every picture used, by URL)."""
    from .pdf_math import MathRenderer

    drawer = MathRenderer(problems)
    drawer.prepare(maths)
    return drawer


def title_parts(title_html: str, location: Location) -> list[str | Math]:
    """A title's inline HTML with its `\\(…\\)` formulas lifted out, like a fragment's parts."""
    parts: list[str | Math] = []
    pos = 0
    for m in _TITLE_MATH.finditer(title_html):
        parts.append(title_html[pos:m.start()])
        parts.append(Math(tex=html.unescape(m.group("tex")).strip(), display=False, mathml="",
                          location=location))
        pos = m.end()
    parts.append(title_html[pos:])
    return [p for p in parts if p != ""]


def title_maths(book: Book) -> list[Math]:
    return [p for q in book.questions for p in title_parts(q.title_html, q.location) if isinstance(p, Math)]


def check_paper(options: Options) -> tuple[float, float]:
    if options.paper not in PAPERS:
        raise ValueError(f"paper must be one of {', '.join(PAPERS)}, not {options.paper!r}")
    return PAPERS[options.paper]


def make_environment(book: Book, options: Options, drawer, **filters) -> jinja2.Environment:
    lang = book.language.split("-")[0].lower()
    env = environment(options.templates, title_parts=title_parts,
                      xref_label=lambda target: _xref_label(book, target, lang),
                      anchor=lambda target: _anchor(book, target),
                      image_url=lambda name: f"studybook://image/{name}", **filters)
    env.globals["math"] = drawer.image
    env.globals["lang"] = lang
    env.globals["book"] = book
    timestamp = dt.datetime.fromtimestamp(options.build_time, dt.UTC)
    env.globals["timestamp"] = timestamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    return env


def _anchor(book: Book, target: str) -> str:
    try:
        return f"q-{book.question(target).id}"
    except KeyError:
        return f"t-{book.topic(target).id}"


def _xref_label(book: Book, target: str, lang: str) -> str:
    try:
        return f"Q{book.question(target).number}"
    except KeyError:
        number = book.topic(target).number
        return f"第 {number} 章" if lang == "zh" else f"Chapter {number}"


def strings(env: jinja2.Environment, template: str) -> dict:
    table = env.get_template(template).module.strings
    return table.get(env.globals["lang"], table["en"])


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


def _fetcher(resources: dict[str, tuple[bytes, str]]):
    from weasyprint.urls import FatalURLFetchingError, URLFetcher, URLFetcherResponse

    class InMemoryFetcher(URLFetcher):
        def fetch(self, url, headers=None):
            if url in resources:
                data, media_type = resources[url]
                return URLFetcherResponse(url, data, {"Content-Type": media_type})
            raise FatalURLFetchingError(f"the print aid asked for {url!r}, which the build does not provide")

    return InMemoryFetcher()


class _LogCapture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _weasyprint(doc: PrintDoc, book: Book, action):
    """Run `action(weasyprint.HTML)` with WeasyPrint's complaints turned into build errors."""
    import weasyprint

    logger = logging.getLogger("weasyprint")
    capture = _LogCapture()
    logger.addHandler(capture)
    propagate = logger.propagate
    logger.propagate = False
    try:
        result = action(weasyprint.HTML(string=doc.html, base_url="studybook://print/",
                                        url_fetcher=_fetcher(doc.resources)))
    except weasyprint.urls.FatalURLFetchingError as exc:
        raise BuildError([Problem(Location(book.source, 1), f"PDF: {exc}")]) from None
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


def write_pdf(doc: PrintDoc, book: Book, kind: str) -> bytes:
    identifier = hashlib.sha256(f"{book.id}\x1f{book.language}\x1f{kind}".encode()).hexdigest()[:32]
    return _weasyprint(doc, book, lambda html_doc: html_doc.write_pdf(
        pdf_variant=PDF_VARIANT, pdf_identifier=identifier.encode(), uncompressed_pdf=False))


def _log_problems(records: list[logging.LogRecord], book: Book, template: str) -> list[Problem]:
    from .pdf import missing_glyph_problems

    missing: dict[str, None] = {}
    errors: dict[str, None] = {}
    for record in records:
        message = record.getMessage()
        if message.startswith(_NOTDEF) and record.args:
            missing.setdefault(str(record.args[0]))
        elif record.levelno >= logging.ERROR:
            errors.setdefault(message)
        else:
            print(f"pdf: warning: {message}", file=sys.stderr)
    problems = missing_glyph_problems(book, "".join(missing))
    problems += [Problem(Location(template, 1), f"PDF layout: {message}",
                         "this is a bug in the print templates; please report it") for message in errors]
    return problems


def mm(value: float) -> str:
    """A length for the CSS, rounded so that the output does not depend on float noise."""
    return f"{round(value, 3):g}mm"


PX_PER_MM = 96 / 25.4
