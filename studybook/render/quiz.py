"""The self-test edition: each chapter's questions without their answers, then the answers.

Every chapter starts its question list on a right-hand page and its answers (the key points,
formulas drawn as in the PDF) on a left-hand page, so printed double-sided the answers are never
in view while you answer: they start overleaf. Each answer refers back to the page of its
question, and each question list says where its answers begin.

The page numbers come from the pipeline, as in the handbook PDF (studybook/render/pdf.py): the
quiz is laid out once with placeholders, each anchor's page is read from that layout and the
numbers are written into the laid-out boxes (studybook/render/page_numbers.py). A large book is
laid out in chunks (the title page with the contents, then groups of whole chapters) in worker
processes and merged, with studybook/render/pdf_chunks.py, so that no process holds the boxes of
the whole book.

Presentation is in templates/quiz/ (quiz.html.j2, quiz.css.j2, strings.j2); rich text and titles
go through the macros the flashcards use (templates/flashcards/macros.html.j2).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..model import Book, Math
from ..output import Spooled
from . import Options, pdf_chunks
from .pdf import Part
from .printing import (
    Formulas,
    PrintDoc,
    check_paper,
    make_environment,
    resources_of,
)

EXTENSION = "pdf"
TEMPLATE = "quiz/quiz.html.j2"
KIND = "quiz"
# The placeholder has enough digits for a page a question and four a chapter (the handbook's quiz
# prints half a page a question, 26 pages for 50 questions in 7 chapters); a quiz of more pages
# is laid out again with a wider one.
_MIN_DIGITS = 2


def output_name(book_id: str, language: str) -> str:
    return f"{book_id}-quiz-{language}.{EXTENSION}"


def placeholder_digits(book: Book) -> int:
    return max(_MIN_DIGITS, len(str(len(book.questions) + 4 * len(book.topics) + 8)))


def render(book: Book, options: Options) -> bytes | Spooled:
    """The quiz PDF; a large book's comes laid out in chunks, spooled to a temporary file."""
    size = pdf_chunks.chunk_size(book)
    if size:
        return _render_chunks(book, options, size)
    return _render_whole(book, options)


def build_document(book: Book, options: Options, *, mark: str = "00", part: Part | None = None,
                   first_page: int = 0, notes_page: bool = False) -> PrintDoc:
    """The quiz as one HTML document, every page number the placeholder `mark`; with `part`, only
    that part, its pages numbered from `first_page`; with `notes_page`, only a page left blank."""
    check_paper(options)
    drawer = Formulas(book)
    env = make_environment(book, options, drawer, page=lambda anchor: mark)
    context = {"paper": options.paper, "part": part, "first_page": first_page, "notes_page": notes_page}
    context["css"] = env.get_template("quiz/quiz.css.j2").render(context)
    document = env.get_template(TEMPLATE).render(context)
    return PrintDoc(document, f"templates/{TEMPLATE}", resources_of(book, drawer))


def _render_whole(book: Book, options: Options) -> bytes:
    from . import page_numbers, pdf
    from .printing import render_pdf, write_pages

    digits = placeholder_digits(book)
    with pdf.collector_paused():
        document, mark = page_numbers.laid_out(
            lambda mark: render_pdf(build_document(book, options, mark=mark), book, KIND), digits)
        anchors = page_numbers.anchor_pages(document.pages)
        pages = page_numbers.filled(document.pages, anchors, mark, lambda why: pdf.unsettled(book, why))
        return write_pages(document, pages, book, KIND)


# ---------------------------------------------------------------------------------------------
# A large book: in chunks (studybook/render/pdf_chunks.py describes the two rounds and the merge)

# The job of the workers: set before they are forked, so they inherit the book unpickled.
_JOB: dict[str, Any] = {}


def plan(book: Book, size: int) -> list[Part]:
    """The title page with the contents; groups of whole chapters of at most `size` questions."""
    return [Part(front=True), *(Part(topics=group) for group in pdf_chunks.topic_groups(book, size))]


def _render_chunks(book: Book, options: Options, size: int) -> Spooled:
    from .printing import identifier
    from .workers import in_workers

    pdf_chunks.require_pypdf(book, "quiz")
    chunks = plan(book, size)
    _JOB.update(book=book, options=options, chunks=chunks, digits=placeholder_digits(book))
    try:
        laid = pdf_chunks.count_pages(_lay_out, len(chunks), _JOB)
        starts, blanks, _ = pdf_chunks.right_hand_starts([chunk_laid.pages for chunk_laid in laid])
        anchors = pdf_chunks.book_anchors(starts, laid)
        with tempfile.TemporaryDirectory(prefix="studybook-quiz-") as tmp:
            _JOB.update(anchors=anchors, starts=starts, laid=laid, tmp=tmp)
            # One more item, when a blank page goes in: that page, which one document heads for
            # notes (quiz.css.j2 `@page :blank`); the merge's own blank page would be empty.
            written = in_workers(_write, range(len(chunks) + any(blanks)))
            paths: list[Path] = []
            owners: list[set[str]] = []
            for chunk_written, blank, chunk_laid in zip(written[:len(chunks)], blanks, laid, strict=True):
                if blank:
                    paths.append(Path(written[len(chunks)].path))
                    owners.append(set())
                paths.append(Path(chunk_written.path))
                owners.append(set(chunk_laid.anchors))
            merged = pdf_chunks.merge_to_spool(paths, [False] * len(paths), owners, identifier(book, KIND))
            pdf_chunks.cache_used(KIND, book, options, written, laid=laid)
            return merged
    finally:
        _JOB.clear()


def _lay_out(i: int) -> pdf_chunks.Laid:
    from . import page_numbers, pdf
    from .printing import render_pdf

    book, options, chunk = _JOB["book"], _JOB["options"], _JOB["chunks"][i]
    doc = build_document(book, options, mark=page_numbers.placeholder(_JOB["digits"]), part=chunk)

    def lay_out() -> pdf_chunks.Laid:
        with pdf.collector_paused():
            document = render_pdf(doc, book, KIND)
        return pdf_chunks.Laid(len(document.pages), page_numbers.anchor_pages(document.pages), 0)

    return pdf_chunks.counted(KIND, doc, book, options, chunk, lay_out)


def _write(i: int) -> pdf_chunks.Written:
    """Chunk `i` laid out with its page numbers and written (past the last chunk: the page left
    blank for notes)."""
    from . import page_numbers, pdf
    from .printing import render_pdf, write_pages

    book, options, chunks = _JOB["book"], _JOB["options"], _JOB["chunks"]
    mark = page_numbers.placeholder(_JOB["digits"])
    path = Path(_JOB["tmp"]) / f"chunk-{i:04d}.pdf"
    anchors = _JOB["anchors"]
    if i == len(chunks):
        doc = build_document(book, options, notes_page=True)

        def write_notes() -> list:
            notes = render_pdf(doc, book, KIND)
            path.write_bytes(write_pages(notes, notes.pages, book, KIND))
            return []

        return pdf_chunks.written(KIND, i, doc, book, options, path, anchors, write_notes, part="notes page")
    start, laid = _JOB["starts"][i], _JOB["laid"][i]
    doc = build_document(book, options, mark=mark, part=chunks[i], first_page=start if start > 1 else 0)

    def write() -> list:
        with pdf.collector_paused():
            document = render_pdf(doc, book, KIND)
            pages = pdf_chunks.numbered(document.pages, laid, anchors, mark, book, i)
            path.write_bytes(write_pages(document, pages, book, KIND))
        return []

    return pdf_chunks.written(KIND, i, doc, book, options, path, anchors, write, part=repr(chunks[i]),
                              counted=(laid.pages, laid.anchors))


def _maths(book: Book) -> Iterator[Math]:
    yield from (m for q in book.questions for m in q.title.maths)
    for q in book.questions:
        yield from q.key_points.maths
