"""The self-test edition: each chapter's questions without their answers, then the answers.

Every chapter starts its question list on a right-hand page and its answers (the key points,
formulas drawn as in the PDF) on a left-hand page, so printed double-sided the answers are never
in view while you answer: they start overleaf. Each answer refers back to the page of its
question, and each question list says where its answers begin; the page numbers come from the
layout engine (`target-counter`), as in the handbook PDF.

Presentation is in templates/quiz/ (quiz.html.j2, quiz.css.j2, strings.j2); rich text and titles
go through the macros the flashcards use (templates/flashcards/macros.html.j2).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..diagnostics import Problems
from ..model import Book, Math
from . import Options
from .printing import (
    Formulas,
    PrintDoc,
    check_paper,
    make_environment,
    resources_of,
    write_pdf,
)

EXTENSION = "pdf"
TEMPLATE = "quiz/quiz.html.j2"


def output_name(book_id: str, language: str) -> str:
    return f"{book_id}-quiz-{language}.{EXTENSION}"


def render(book: Book, options: Options) -> bytes:
    return write_pdf(build_document(book, options), book, "quiz")


def build_document(book: Book, options: Options) -> PrintDoc:
    check_paper(options)
    problems = Problems()
    drawer = Formulas(book)
    env = make_environment(book, options, drawer)
    context = {"paper": options.paper}
    context["css"] = env.get_template("quiz/quiz.css.j2").render(context)
    document = env.get_template(TEMPLATE).render(context)
    problems.raise_if_any()
    return PrintDoc(document, f"templates/{TEMPLATE}", resources_of(book, drawer))


def _maths(book: Book) -> Iterator[Math]:
    yield from (m for q in book.questions for m in q.title.maths)
    for q in book.questions:
        yield from q.key_points.maths
