"""Printable duplex flashcards: the question on the front, its key points on the back.

Eight cards of 3.5 × 2.5 in (88.9 × 63.5 mm) per sheet, two columns by four rows, on A4 or US
Letter (`options.paper`). Sheets come in pairs: an odd page of fronts, then an even page of backs
whose columns are swapped, so that printing double-sided and flipping on the long edge (the sheet
turns about its vertical centre line) puts every back exactly behind its front. The card grid is
centred horizontally, which is what makes the swap exact; crop marks in the margins show where to
cut. Each side carries the card number and the topic.

Nothing is ever cut off. Every side is measured first with WeasyPrint itself (one layout pass
over the sides still in question, reading the positions of anchors): text that does not fit at
the normal size is set smaller, down to a floor (`BACK_SIZES`, `FRONT_SIZES`); key points that
still do not fit are continued on a second card (split between list items or paragraphs), whose
front says "continued" rather than repeating the question. A single key point too long for a
whole card, or a title too long for a front at the floor size, is a build error at the
question's `path:line`.

Presentation is in templates/flashcards/ (sheets.html.j2, cards.css.j2, macros.html.j2).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from markupsafe import Markup

from ..diagnostics import Problems
from ..model import Book, Math, Question
from ..output import Spooled
from . import Options, pdf_chunks
from .printing import (
    PX_PER_MM,
    Formulas,
    PrintDoc,
    check_paper,
    identifier,
    layout,
    make_environment,
    mm,
    resources_of,
    write_pdf,
)
from .workers import in_workers

EXTENSION = "pdf"
CARD_W, CARD_H = 88.9, 63.5  # mm: 3.5 × 2.5 in, a standard card size
COLS, ROWS = 2, 4
PER_SHEET = COLS * ROWS
PADDING = 5.0  # mm between the cut line and any text: room for cutting and duplex tolerance
FOOT_H = 3.4  # mm reserved at the bottom of each side for its footer line
BACK_SIZES = (8.5, 8.0, 7.5, 7.0)  # pt, the last is the floor
FRONT_SIZES = (13.0, 12.0, 11.0, 10.0)
# A formula from the answer goes on the back when the key points have none and it is this short.
SHORT_FORMULA_EM = (24.0, 3.2)  # width, height in em of the back's text
TEMPLATE = "flashcards/sheets.html.j2"

INNER_W, INNER_H = CARD_W - 2 * PADDING, CARD_H - 2 * PADDING
AVAILABLE = INNER_H - FOOT_H  # mm for the head and the body of a side


def output_name(book_id: str, language: str) -> str:
    return f"{book_id}-flashcards-{language}.{EXTENSION}"


@dataclass(frozen=True)
class Block:
    """One piece of a back that may start a continuation card: a list item or a paragraph."""

    container: str  # "ul" or "ol" for a list item, "" for a block of its own
    html: str
    number: int  # the item's number in its list (for `ol start`)


@dataclass
class Card:
    question: Question
    blocks: tuple[Block, ...]
    part: int = 1
    parts: int = 1
    front_size: float = FRONT_SIZES[0]
    back_size: float = BACK_SIZES[0]
    front_offset: float = 0.0  # mm above the front's text, which centres it vertically

    @property
    def key(self) -> str:
        return f"{self.question.id}-{self.part}"


@dataclass(frozen=True)
class Placed:
    card: Card
    index: int  # 1-based card number in the deck (the order of the fronts)
    x: float
    y: float


def render(book: Book, options: Options) -> bytes | Spooled:
    """The sheets as one PDF; a large book's laid out in chunks of sheets, in worker processes
    (each ends with its chunk, so no process holds the boxes of every sheet), then merged."""
    size = pdf_chunks.chunk_size(book)
    if size:
        pdf_chunks.cache_ready(options)
    sheets = _Sheets.of(book, options, size)
    if not size:
        return write_pdf(sheets.document(book, 0, len(sheets.sheets)), book, "flashcards")
    per_chunk = max(1, -(-size // PER_SHEET))  # sheets of `size` questions' cards
    ranges = [(start, min(start + per_chunk, len(sheets.sheets))) for start in range(0, len(sheets.sheets), per_chunk)]
    with tempfile.TemporaryDirectory(prefix="studybook-flashcards-") as tmp:

        def write(i: int) -> pdf_chunks.Written:
            path = Path(tmp) / f"chunk-{i:04d}.pdf"
            doc = sheets.document(book, *ranges[i])

            def write_chunk() -> list:
                path.write_bytes(write_pdf(doc, book, "flashcards"))
                return []

            return pdf_chunks.written("flashcards", i, doc, book, options, path, {}, write_chunk)

        written = in_workers(write, range(len(ranges)), "sheets")
        # Every chunk is whole sheets, a page of fronts and a page of backs: none needs a blank page.
        merged = pdf_chunks.merge_to_spool([Path(w.path) for w in written], [False] * len(written), None,
                                           identifier(book, "flashcards"))
        pdf_chunks.cache_used("flashcards", book, options, written, measured=sheets.measured)
        return merged


def build_document(book: Book, options: Options) -> PrintDoc:
    """The whole deck of sheets as one HTML document (measured and laid out in this process)."""
    sheets = _Sheets.of(book, options, 0)
    return sheets.document(book, 0, len(sheets.sheets))


@dataclass
class _Sheets:
    """The cards measured and placed on sheets: what every chunk of the document is made from."""

    env: Any
    css: str
    drawer: Formulas
    grid: dict[str, float]
    sheets: list[tuple[list[Placed], list[Placed]]]
    measured: list[tuple[str, bool]]  # batches measured in workers: (layout cache key, taken from it)

    @classmethod
    def of(cls, book: Book, options: Options, batch: int) -> _Sheets:
        sheet_w, sheet_h = check_paper(options)
        problems = Problems()
        drawer = Formulas(book)
        env = make_environment(book, options, drawer)
        env.globals.update(body=_body, mm=mm, inner_w=INNER_W)
        labels = env.globals["labels"]
        macros = env.get_template("flashcards/macros.html.j2").make_module({})
        css = env.get_template("flashcards/cards.css.j2").render(
            paper=options.paper, sheet_w=sheet_w, sheet_h=sheet_h, card_w=CARD_W, card_h=CARD_H,
            padding=PADDING, foot_h=FOOT_H, inner_w=INNER_W, inner_h=INNER_H, mm=mm)

        cards = [Card(q, tuple(_blocks(macros, q, drawer))) for q in book.questions]
        problems.raise_if_any()
        measure = _Measurer(env, book, labels, css, drawer, batch, options)
        cards = measure.fit(cards, problems)
        problems.raise_if_any()

        x0, y0 = (sheet_w - COLS * CARD_W) / 2, (sheet_h - ROWS * CARD_H) / 2
        sheets = []
        for start in range(0, len(cards), PER_SHEET):
            fronts, backs = [], []
            for slot, card in enumerate(cards[start:start + PER_SHEET]):
                row, col = divmod(slot, COLS)
                y = y0 + row * CARD_H
                fronts.append(Placed(card, start + slot + 1, x0 + col * CARD_W, y))
                # Long-edge duplex turns the sheet about its vertical centre line: columns swap.
                backs.append(Placed(card, start + slot + 1, x0 + (COLS - 1 - col) * CARD_W, y))
            sheets.append((fronts, backs))
        grid = {"x0": x0, "y0": y0, "cols": COLS, "rows": ROWS, "w": CARD_W, "h": CARD_H,
                "sheet_w": sheet_w, "sheet_h": sheet_h}
        return cls(env, css, drawer, grid, sheets, measure.measured)

    def document(self, book: Book, start: int, stop: int) -> PrintDoc:
        """Sheets `start` to `stop` (0-based, end excluded), numbered as in the whole deck."""
        document = self.env.get_template(TEMPLATE).render(
            css=self.css, sheets=self.sheets[start:stop], sheet_offset=start, sheet_total=len(self.sheets),
            grid=self.grid)
        return PrintDoc(document, f"templates/{TEMPLATE}", resources_of(book, self.drawer))


def _maths(book: Book) -> Iterator[Math]:
    yield from (m for q in book.questions for m in q.title.maths)
    for q in book.questions:
        yield from q.key_points.maths
        if not q.key_points.maths:
            yield from (m for m in q.answer.maths if m.display)


# ---------------------------------------------------------------------------------------------
# The back's blocks

_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)\b[^>]*?(/?)>")
_VOID = {"img", "br", "hr", "wbr", "source", "col"}


def _blocks(macros, q: Question, drawer) -> Iterator[Block]:
    """The key points as blocks, then a short formula from the answer when they have none."""
    yield from split_blocks(str(macros.fragment(q.key_points)))
    if not q.key_points.maths:
        for math in q.answer.maths:
            if not math.display:
                continue
            img = drawer.image(math)
            if img is not None and img.width_em <= SHORT_FORMULA_EM[0] and img.height_em <= SHORT_FORMULA_EM[1]:
                yield Block("", str(macros.formula(math)), 0)
            break


def split_blocks(markup: str) -> list[Block]:
    """Top-level paragraphs and the items of top-level lists, each with its own markup."""
    blocks: list[Block] = []
    depth = 0
    start = 0  # where the current top-level element (or list item) began
    lists: list[str] = []  # open top-level list, if any
    loose = ""  # inline content outside any block
    counter = 0
    for m in _TAG.finditer(markup):
        closing, name, selfclosing = m.group(1) == "/", m.group(2).lower(), m.group(3) == "/"
        if name in _VOID or selfclosing:
            if depth == 0:
                loose += markup[start:m.end()]
                start = m.end()
            continue
        if not closing:
            if depth == 0:
                loose += markup[start:m.start()]
                if loose.strip():
                    blocks.append(Block("", f"<p>{loose.strip()}</p>", 0))
                loose = ""
                if name in ("ul", "ol"):
                    lists.append(name)
                    counter = 0
                start = m.start()
            elif depth == 1 and lists and name == "li":
                start = m.start()
            depth += 1
        else:
            depth -= 1
            if depth == 1 and lists and name == "li":
                counter += 1
                blocks.append(Block(lists[-1], markup[start:m.end()], counter))
            elif depth == 0:
                if lists and name == lists[-1]:
                    lists.pop()
                else:
                    blocks.append(Block("", markup[start:m.end()], 0))
                start = m.end()
    loose += markup[start:]
    if loose.strip():
        blocks.append(Block("", f"<p>{loose.strip()}</p>", 0))
    return blocks


def _body(blocks: tuple[Block, ...], ids: str = "") -> Markup:
    """Blocks back in their lists; with `ids`, every block gets the anchor `<ids>-<i>`."""
    out: list[str] = []
    open_list = ""
    for i, block in enumerate(blocks):
        html = block.html
        if ids:
            html = re.sub(r"^<(\w+)", rf'<\1 id="{ids}-{i}"', html, count=1)
        if block.container != open_list:
            if open_list:
                out.append(f"</{open_list}>")
            if block.container:
                start = f' start="{block.number}"' if block.container == "ol" and block.number > 1 else ""
                out.append(f"<{block.container}{start}>")
            open_list = block.container
        out.append(html)
    if open_list:
        out.append(f"</{open_list}>")
    return Markup("".join(out))


# ---------------------------------------------------------------------------------------------
# Measuring


class _Measurer:
    """Lays sides out on tall pages of the card's inner width and reads their heights."""

    def __init__(self, env, book: Book, labels, css: str, drawer, batch: int = 0, options: Options | None = None):
        self.template = env.get_template("flashcards/measure.html.j2")
        self.book, self.css, self.drawer = book, css, drawer
        self.batch = batch  # sides per layout, each batch in a worker process; 0: all in one, here
        self.options = options
        self.measured: list[tuple[str, bool]] = []

    def _measure(self, jobs: list[tuple[str, Card, str, float]]) -> dict[str, tuple[float, list[float]]]:
        """For each (id, card, side, size): the side's height and where each block ends, in mm
        (in the order of `jobs`)."""
        if not self.batch or len(jobs) <= self.batch:
            return self._measure_here(jobs)
        batches = [jobs[i:i + self.batch] for i in range(0, len(jobs), self.batch)]
        result: dict[str, tuple[float, list[float]]] = {}
        for heights, key, cached in in_workers(lambda i: self._measure_kept(batches[i]), range(len(batches)),
                                               "measuring"):
            result.update(heights)
            self.measured.append((key, cached))
        return result

    def _measure_kept(self, jobs: list[tuple[str, Card, str, float]]) -> tuple[dict, str, bool]:
        """`_measure_here`, from the layout cache when it has this batch (a large book's, after an
        edit: the batches the edit did not touch); with the batch's key and whether it came from it."""
        cache = self.options.layout_cache if self.options is not None else None
        if cache is None or self.options is None:
            return self._measure_here(jobs), "", False
        html = self.template.render(css=self.css, jobs=jobs)
        resources = resources_of(self.book, self.drawer)
        key = cache.key("flashcards-measure", html, resources, self.book, self.options.paper, first=False)
        found = cache.result(key)
        try:
            if found is not None:
                return {str(k): (float(height), [float(e) for e in ends]) for k, height, ends in found[0]}, key, True
        except (TypeError, ValueError):
            pass  # a damaged entry: measured again
        heights = self._measure_here(jobs, html, resources)
        cache.keep_result(key, [[k, height, ends] for k, (height, ends) in heights.items()], [])
        return heights, key, False

    def _measure_here(self, jobs: list[tuple[str, Card, str, float]], html: str | None = None,
                      resources: dict[str, tuple[bytes, str]] | None = None) -> dict[str, tuple[float, list[float]]]:
        if not jobs:
            return {}
        html = html or self.template.render(css=self.css, jobs=jobs)
        document = layout(PrintDoc(html, "templates/flashcards/measure.html.j2",
                                   resources if resources is not None else resources_of(self.book, self.drawer)),
                          self.book)
        anchors = {name: box for page in document.pages for name, box in page.anchors.items()}
        result = {}
        for key, card, side, _ in jobs:
            top = anchors[f"{key}-top"][1]
            end = anchors[f"{key}-end"][1]
            ends: list[float] = []
            if side == "back":
                starts = [anchors[f"{key}-b-{i}"][1] for i in range(len(card.blocks))]
                ends = [(y - top) / PX_PER_MM for y in starts[1:]] + [(end - top) / PX_PER_MM]
            result[key] = ((end - top) / PX_PER_MM, ends)
        return result

    def fit(self, cards: list[Card], problems: Problems) -> list[Card]:
        # Fronts: the largest size at which the title fits, then centred in the free space.
        pending = list(cards)
        for size in FRONT_SIZES:
            heights = self._measure([(f"f{i}", c, "front", size) for i, c in enumerate(pending)])
            still = []
            for i, card in enumerate(pending):
                height = heights[f"f{i}"][0]
                if height <= AVAILABLE:
                    card.front_size = size
                    card.front_offset = (AVAILABLE - height) / 2
                else:
                    still.append(card)
            pending = still
        for card in pending:
            problems.add(card.question.location,
                         f"the title of question {card.question.id!r} does not fit on a flashcard even at "
                         f"{FRONT_SIZES[-1]:g} pt", "shorten the title")

        # Backs: shrink down to the floor; what still does not fit is split over two cards.
        out: dict[str, list[Card]] = {c.question.id: [c] for c in cards}
        pending = [c for c in cards if c.blocks]
        while pending:
            first: dict[str, tuple[float, list[float]]] = {}
            todo = list(pending)
            for n, size in enumerate(BACK_SIZES):
                heights = self._measure([(f"b{i}", c, "back", size) for i, c in enumerate(todo)])
                if n == 0:
                    first = {todo[i].key: h for i, h in enumerate(heights.values())}
                still = []
                for i, card in enumerate(todo):
                    if heights[f"b{i}"][0] <= AVAILABLE:
                        card.back_size = size
                    else:
                        still.append(card)
                todo = still
            pending = []
            for card in todo:  # does not fit at the floor: continue on another card
                ends = first[card.key][1]
                keep = sum(1 for e in ends if e <= AVAILABLE)
                if keep == 0 or len(card.blocks) == 1:
                    problems.add(card.question.location,
                                 f"a key point of question {card.question.id!r} is too long for a whole "
                                 f"flashcard even at {BACK_SIZES[-1]:g} pt", "split it or shorten it")
                    continue
                card.back_size = BACK_SIZES[0]
                rest = Card(card.question, card.blocks[keep:], part=card.part + 1)
                card.blocks = card.blocks[:keep]
                rest.front_offset = AVAILABLE * 0.3  # its front only says "continued"
                out[card.question.id].append(rest)
                pending.append(rest)
        result = []
        for parts in out.values():
            for card in parts:
                card.parts = len(parts)
            result.extend(parts)
        return result
