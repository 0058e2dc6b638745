"""The print study aids, measured on the real PDFs that `build.py flashcards quiz` writes.

Card boxes are read from the PDF's named destinations (`card-<n>-<side>` at a card's top left,
`card-<n>-<side>-end` at its bottom right), words and their boxes from poppler's
`pdftotext -bbox`, and every check ties the two together: the text of card n must lie in card n's
box. Each artifact is built once per session (handbook and fixture book, A4 and US Letter).
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pytest
from pypdf import PdfReader

from conftest import BOOK, FIXTURES, run_build
from studybook import cli
from studybook.model import Book
from studybook.reader import read_book

pytestmark = pytest.mark.slow  # lays out real PDFs

EPOCH = "1700000000"
MINI = FIXTURES / "mini" / "handbook.md"
PT_PER_MM = 72 / 25.4
TOLERANCE_MM = 0.5
PAPER_PT = {"a4": (595.28, 841.89), "letter": (612.0, 792.0)}
_TAG = re.compile(r"<[^>]+>")


def build(source: Path, out: Path, *targets: str, paper: str = "a4") -> subprocess.CompletedProcess:
    return run_build(*targets, "--source", str(source), "--out", str(out), "--paper", paper,
                     env={"SOURCE_DATE_EPOCH": EPOCH})


@dataclass(frozen=True)
class Word:
    page: int  # 0-based
    x0: float
    y0: float  # from the top of the page, in pt
    x1: float
    y1: float
    text: str


@dataclass(frozen=True)
class Box:
    page: int
    x0: float
    y0: float
    x1: float
    y1: float

    def contains(self, w: Word, inset: float = 0.0) -> bool:
        return (w.page == self.page and self.x0 + inset - 0.1 <= w.x0 and w.x1 <= self.x1 - inset + 0.1
                and self.y0 + inset - 0.1 <= w.y0 and w.y1 <= self.y1 - inset + 0.1)


class Pdf:
    def __init__(self, path: Path):
        self.path = path
        self.reader = PdfReader(path)
        self.sizes = [(float(p.mediabox.width), float(p.mediabox.height)) for p in self.reader.pages]

    @cached_property
    def dests(self) -> dict[str, tuple[int, float, float]]:
        """Named destination -> (0-based page, x, y from the top), in pt."""
        out = {}
        for name, dest in self.reader.named_destinations.items():
            page = self.reader.get_destination_page_number(dest)
            out[name] = (page, float(dest.left), self.sizes[page][1] - float(dest.top))
        return out

    @cached_property
    def words(self) -> list[Word]:
        assert shutil.which("pdftotext"), "install poppler-utils (make setup-test)"
        proc = subprocess.run(["pdftotext", "-bbox", str(self.path), "-"], check=True, capture_output=True, text=True)
        words = []
        for number, page in enumerate(re.findall(r"<page .*?</page>", proc.stdout, re.S)):
            for x0, y0, x1, y1, text in re.findall(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" '
                                                   r'yMax="([\d.]+)">(.*?)</word>', page):
                words.append(Word(number, float(x0), float(y0), float(x1), float(y1), html.unescape(text)))
        return words

    @cached_property
    def texts(self) -> list[str]:
        return [page.extract_text() or "" for page in self.reader.pages]


class Cards(Pdf):
    @cached_property
    def boxes(self) -> dict[tuple[int, str], Box]:
        """(card number, "front" | "back") -> the card's box."""
        out = {}
        for name, (page, x, y) in self.dests.items():
            m = re.fullmatch(r"card-(\d+)-(front|back)", name)
            if m:
                end_page, x1, y1 = self.dests[f"{name}-end"]
                assert end_page == page
                out[int(m.group(1)), m.group(2)] = Box(page, x, y, x1, y1)
        return out

    def card_text(self, n: int, side: str) -> str:
        """The card's words in reading order: lines top to bottom, words left to right."""
        box = self.boxes[n, side]
        lines: list[list[Word]] = []
        for w in sorted((w for w in self.words if box.contains(w)), key=lambda w: w.y1):
            if lines and abs(w.y1 - lines[-1][0].y1) < 2:
                lines[-1].append(w)
            else:
                lines.append([w])
        return " ".join(w.text for line in lines for w in sorted(line, key=lambda w: w.x0))

    def label(self, n: int, side: str = "front") -> str:
        """The card number its head prints, e.g. "Q12"."""
        return re.search(r"\bQ\d+\b", self.card_text(n, side)).group(0)

    @property
    def count(self) -> int:
        return max(n for n, _ in self.boxes)


@dataclass
class Built:
    book: Book
    cards: Cards
    quiz: Pdf
    letter: Cards


def _build_all(source: Path, out: Path) -> Built:
    proc = build(source, out / "a4", "flashcards", "quiz")
    assert proc.returncode == 0, proc.stderr
    assert "warning" not in proc.stderr.lower(), proc.stderr
    proc = build(source, out / "letter", "flashcards", paper="letter")
    assert proc.returncode == 0, proc.stderr
    book = read_book(source)
    return Built(book, Cards(out / "a4" / f"{book.id}-flashcards-{book.language}.pdf"),
                 Pdf(out / "a4" / f"{book.id}-quiz-{book.language}.pdf"),
                 Cards(out / "letter" / f"{book.id}-flashcards-{book.language}.pdf"))


@pytest.fixture(scope="session")
def mini_aids(tmp_path_factory) -> Built:
    return _build_all(MINI, tmp_path_factory.mktemp("aids-mini"))


@pytest.fixture(scope="session")
def handbook_aids(tmp_path_factory) -> Built:
    if not BOOK.exists():
        pytest.skip(f"{BOOK} does not exist yet")
    return _build_all(BOOK, tmp_path_factory.mktemp("aids-handbook"))


@pytest.fixture(params=["mini", "handbook"])
def aids(request) -> Built:
    return request.getfixturevalue(f"{request.param}_aids")


@pytest.fixture(params=["a4", "letter"])
def sheets(request, aids: Built) -> Cards:
    return aids.cards if request.param == "a4" else aids.letter


def squash(text: str) -> str:
    """Text without whitespace or line-end hyphens: compares wrapped lines with the source."""
    return re.sub(r"\s+", "", text.replace("\u2010", "-"))


def plain_title(title_text: str) -> str:
    pieces = re.split(r"\\\(.*?\\\)|\$[^$]*\$", title_text)
    return max((p.strip() for p in pieces), key=len)


def key_point_words(book: Book, q) -> set[str]:
    text = " ".join(_TAG.sub(" ", html.unescape(p)) for p in q.key_points.parts if isinstance(p, str))
    return {w for w in re.findall(r"[A-Za-z]{5,}", text)}


# ---------------------------------------------------------------------------------------------
# Flashcards: geometry


def test_file_names_paper_and_cli(aids: Built):
    assert aids.cards.path.name == f"{aids.book.id}-flashcards-{aids.book.language}.pdf"
    assert aids.quiz.path.name == f"{aids.book.id}-quiz-{aids.book.language}.pdf"
    for pdf, paper in [(aids.cards, "a4"), (aids.quiz, "a4"), (aids.letter, "letter")]:
        assert {(round(w, 2), round(h, 2)) for w, h in pdf.sizes} == {PAPER_PT[paper]}
    assert {"flashcards", "quiz"} <= set(cli.RENDERERS)  # so `all` builds them too


def test_sheets_alternate_fronts_and_backs_eight_cards_each(sheets: Cards):
    pages = len(sheets.sizes)
    assert pages % 2 == 0 and pages == 2 * -(-sheets.count // 8)
    for (n, side), box in sheets.boxes.items():
        sheet = (n - 1) // 8
        assert box.page == 2 * sheet + (side == "back"), (n, side, box.page)
        assert abs((box.x1 - box.x0) / PT_PER_MM - 88.9) < 0.1 and abs((box.y1 - box.y0) / PT_PER_MM - 63.5) < 0.1


def test_each_back_is_behind_its_front_for_long_edge_duplex(sheets: Cards):
    """Long-edge duplex turns the sheet about its vertical centre line: x -> width - x."""
    worst = 0.0
    for n in range(1, sheets.count + 1):
        front, back = sheets.boxes[n, "front"], sheets.boxes[n, "back"]
        assert back.page == front.page + 1
        width = sheets.sizes[front.page][0]
        assert sheets.sizes[back.page][0] == width
        errors = [back.x0 - (width - front.x1), back.x1 - (width - front.x0), back.y0 - front.y0, back.y1 - front.y1]
        worst = max(worst, *(abs(e) / PT_PER_MM for e in errors))
        # The box is this card's: the same card number heads both sides.
        assert sheets.label(n, "back") == sheets.label(n)
    assert worst <= TOLERANCE_MM, f"a back is {worst:.3f} mm away from behind its front"


def test_cards_do_not_overlap_and_stay_on_the_sheet(sheets: Cards):
    for (n, side), box in sheets.boxes.items():
        width, height = sheets.sizes[box.page]
        assert box.x0 >= 10 * PT_PER_MM and box.x1 <= width - 10 * PT_PER_MM
        assert box.y0 >= 10 * PT_PER_MM and box.y1 <= height - 10 * PT_PER_MM
        for (m, other_side), other in sheets.boxes.items():
            if (m, other_side) != (n, side) and other.page == box.page:
                overlap_x = min(box.x1, other.x1) - max(box.x0, other.x0)
                overlap_y = min(box.y1, other.y1) - max(box.y0, other.y0)
                assert overlap_x <= 0.01 or overlap_y <= 0.01, (n, m)


def test_no_text_outside_its_card(sheets: Cards):
    """Card text stays inside the card, clear of the cut (the 5 mm padding, less 1 mm); the only
    other text is the sheet labels, in the margins above and below the grid."""
    inset = 4 * PT_PER_MM
    for w in sheets.words:
        boxes = [box for box in sheets.boxes.values() if box.page == w.page]
        if any(box.contains(w, inset) for box in boxes):
            continue
        grid_top, grid_bottom = min(b.y0 for b in boxes), max(b.y1 for b in boxes)
        _, height = sheets.sizes[w.page]
        in_margin = w.y1 <= grid_top - 2 * PT_PER_MM or w.y0 >= grid_bottom + 2 * PT_PER_MM
        assert in_margin, f"{w.text!r} on page {w.page + 1} is outside every card"
        assert w.y0 >= 3 * PT_PER_MM and w.y1 <= height - 3 * PT_PER_MM, f"sheet label {w.text!r} too near the edge"


# ---------------------------------------------------------------------------------------------
# Flashcards: content


def test_every_question_is_on_exactly_one_front(sheets: Cards):
    fronts = [squash(sheets.card_text(n, "front")) for n in range(1, sheets.count + 1)]
    for q in _book_of(sheets).questions:
        title = squash(plain_title(q.title_text))
        holders = [n for n, text in enumerate(fronts, 1) if title in text]
        assert len(holders) == 1, (q.title_text, holders)
        assert sheets.label(holders[0]) == f"Q{q.number}"


def test_backs_carry_all_the_key_points(sheets: Cards):
    book = _book_of(sheets)
    backs: dict[str, str] = {}
    for n in range(1, sheets.count + 1):
        backs[sheets.label(n)] = backs.get(sheets.label(n), "") + " " + sheets.card_text(n, "back")
    for q in book.questions:
        raw = backs[f"Q{q.number}"]
        # A word hyphenated at a line end reads "ex- actly": accept it joined with or without "-".
        joined, kept = re.sub(r"[-\u2010] ", "", raw), re.sub(r"([-\u2010]) ", r"\1", raw)
        missing = {w for w in key_point_words(book, q) if w not in joined and w not in kept}
        text = raw
        assert not missing, (q.id, sorted(missing))
        topic = book.topic(q.topic_id)
        assert plain_title(topic.title_text).split()[0] in text  # the topic, on the back too


_BOOKS: dict[Path, Book] = {}


def _book_of(sheets: Cards) -> Book:
    source = MINI if "aids-mini" in str(sheets.path) else BOOK
    if source not in _BOOKS:
        _BOOKS[source] = read_book(source)
    return _BOOKS[source]


@pytest.fixture(scope="session")
def overflowing(tmp_path_factory) -> Cards:
    """The fixture book with key points far too long for one card: they must continue."""
    content = tmp_path_factory.mktemp("overflow") / "content"
    shutil.copytree(FIXTURES / "mini", content)
    source = content / "handbook.md"
    items = "\n".join(f"- Point marker{i:02d}: a deliberately long key point that keeps going so that the "
                      f"card cannot hold all of them even when the text is set at its smallest size."
                      for i in range(14))
    text = source.read_text(encoding="utf-8")
    text = text.replace("Softmax maps logits to a probability distribution.", items)
    source.write_text(text, encoding="utf-8")
    proc = build(source, content.parent / "dist", "flashcards")
    assert proc.returncode == 0, proc.stderr
    return Cards(content.parent / "dist" / "mini-bank-flashcards-en.pdf")


def test_text_that_does_not_fit_continues_on_another_card(overflowing: Cards):
    labels = [overflowing.label(n) for n in range(1, overflowing.count + 1)]
    assert labels.count("Q2") >= 2, labels
    backs = " ".join(overflowing.card_text(n, "back") for n in range(1, overflowing.count + 1)
                     if overflowing.label(n) == "Q2")
    assert [int(m) for m in re.findall(r"marker(\d\d)", backs)] == list(range(14))  # all, once, in order
    fronts = [overflowing.card_text(n, "front") for n in range(1, overflowing.count + 1)]
    assert sum("softmax do?" in f for f in fronts) == 1
    parts = len([lab for lab in labels if lab == "Q2"])
    assert f"1/{parts}" in overflowing.card_text(labels.index("Q2") + 1, "back")
    inset = 4 * PT_PER_MM
    for w in overflowing.words:
        boxes = [b for b in overflowing.boxes.values() if b.page == w.page]
        assert any(b.contains(w, inset) for b in boxes) or w.y1 < min(b.y0 for b in boxes) \
            or w.y0 > max(b.y1 for b in boxes), w


# ---------------------------------------------------------------------------------------------
# Quiz


def _quiz_page(aids: Built, anchor: str) -> int:
    return aids.quiz.dests[anchor][0] + 1


def test_quiz_answers_refer_back_to_their_question_pages(aids: Built):
    for q in aids.book.questions:
        q_page = _quiz_page(aids, f"q-{q.id}")
        a_page = _quiz_page(aids, f"a-{q.id}")
        assert squash(plain_title(q.title_text)) in squash(aids.quiz.texts[q_page - 1])
        text = squash(aids.quiz.texts[a_page - 1])
        assert f"Q{q.number}" in text
        m = re.search(re.escape(squash(plain_title(q.title_text))) + r"\(questiononp\.(\d+)\)", text)
        assert m, (q.id, a_page)
        assert int(m.group(1)) == q_page, (q.id, m.group(1), q_page)


def test_quiz_answers_are_never_in_view_with_their_questions(aids: Built):
    for topic in aids.book.topics:
        questions = {_quiz_page(aids, f"q-{q.id}") for q in topic.questions}
        answers = {_quiz_page(aids, f"a-{q.id}") for q in topic.questions}
        first_answers = _quiz_page(aids, f"answers-{topic.id}")
        assert first_answers % 2 == 0, "answers start on a left-hand page"
        # Never on a question page, nor on the page facing one (spreads are pages 2k, 2k+1).
        spreads = {p // 2 for p in questions}
        assert not {p // 2 for p in answers} & spreads, (topic.id, questions, answers)
        for q in topic.questions:  # and the question lists hold no answers
            words = sorted(key_point_words(aids.book, q), key=len)[-3:]
            page = aids.quiz.texts[_quiz_page(aids, f"q-{q.id}") - 1]
            assert not all(w in page for w in words), q.id


def test_quiz_lists_every_question_and_where_its_answers_are(aids: Built):
    for topic in aids.book.topics:
        page = _quiz_page(aids, f"t-{topic.id}")
        assert f"Answers from page {_quiz_page(aids, f'answers-{topic.id}')}" in " ".join(
            aids.quiz.texts[page - 1].split())


# ---------------------------------------------------------------------------------------------
# Reproducibility and failures


def test_same_source_and_epoch_give_identical_bytes(mini_aids: Built, tmp_path: Path):
    proc = build(MINI, tmp_path, "flashcards", "quiz")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / mini_aids.cards.path.name).read_bytes() == mini_aids.cards.path.read_bytes()
    assert (tmp_path / mini_aids.quiz.path.name).read_bytes() == mini_aids.quiz.path.read_bytes()


def test_missing_glyph_fails_the_flashcards_naming_the_place(mini_book: Path, tmp_path: Path):
    text = mini_book.read_text(encoding="utf-8")
    mini_book.write_text(text.replace("Softmax maps logits", "Softmax \U0010fffd maps logits"), encoding="utf-8")
    line = mini_book.read_text(encoding="utf-8").split("\n").index("Softmax \U0010fffd maps logits to a probability "
                                                                   "distribution.") + 1
    proc = build(mini_book, tmp_path / "dist", "flashcards")
    assert proc.returncode == 1
    assert re.search(rf"handbook\.md:{line}: character '\\U0010fffd' \(U\+10FFFD\) has no glyph", proc.stderr), \
        proc.stderr
    assert not (tmp_path / "dist").exists() or not list((tmp_path / "dist").glob("*.pdf"))
