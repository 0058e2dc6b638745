"""Page numbers written into a laid-out WeasyPrint document, without laying it out again.

The book is laid out once with a placeholder ("000") wherever a page number prints: the table of
contents, chapter lists, key papers, cross-references ("Q17, p. 000"), the bibliography's
"cited in". Each number is generated content (`a::after { content: … attr(data-page) }`) of a link
whose `href` names the anchor, so after the layout every such text box knows which anchor it
stands for, and the layout itself says on which page each anchor is (`Page.anchors`).

The placeholder is set in tabular figures and has as many digits as the book has pages, so the
literal number is never wider: it replaces the placeholder in its text box, and

- after a dot leader (contents, chapter lists) it is right-aligned in the placeholder's width:
  the numbers keep one right edge and the leaders end on one column, as in a set contents page;
- elsewhere the box shrinks to the number and the rest of its line moves left by the difference;
  on a justified line the difference is spread over the line's spaces, as WeasyPrint does when it
  justifies, so the line still ends on the right margin.

Nothing else moves: no line is broken again, no page changes. Link rectangles are gathered from
the boxes when a `Page` is made, so the pages are made again afterwards.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

from weasyprint.document import Document, Page
from weasyprint.formatting_structure import boxes
from weasyprint.text.line_break import create_layout, line_size


def placeholder(digits: int) -> str:
    return "0" * digits


def laid_out(lay_out: Callable[[str], Document], digits: int) -> tuple[Document, str]:
    """`lay_out(placeholder)`, again with a wider placeholder while the document has more pages
    than the placeholder has digits (a wider one may move pages); returns it and its placeholder."""
    while True:
        mark = placeholder(digits)
        document = lay_out(mark)
        if len(str(len(document.pages))) <= digits:
            return document, mark
        digits = len(str(len(document.pages)))
        del document
        gc.collect()


def filled(pages: list[Page], anchors: dict[str, int], mark: str, fail: Callable[[str], Exception],
           local: dict[str, int] | None = None) -> list[Page]:
    """`fill`, then check that nothing moved: every anchor of these pages (`local`: where they
    were, if not given by `anchors`) is still on its page. `fail(why)` is the error raised."""
    before = anchor_pages(pages) if local is None else local
    try:
        pages, _ = fill(pages, anchors, mark)
    except PageNumberError as exc:
        raise fail(str(exc)) from None
    if anchor_pages(pages) != before:
        raise fail("an anchor moved while the page numbers were filled in")
    return pages


def anchor_pages(pages: list[Page]) -> dict[str, int]:
    """Each anchor's 1-based page; the first page wins (a box split over pages has it on each)."""
    found: dict[str, int] = {}
    for number, page in enumerate(pages, 1):
        for anchor in page.anchors:
            found.setdefault(anchor, number)
    return found


def fill(pages: list[Page], anchors: dict[str, int], mark: str) -> tuple[list[Page], int]:
    """Replace `mark` by each link's target page; returns the pages (made again) and the count."""
    filled = 0
    out = []
    for page in pages:
        count = sum(_fill_line(line, anchors, mark) for line in _lines(page._page_box))
        filled += count
        out.append(Page(page._page_box) if count else page)
    return out, filled


class PageNumberError(Exception):
    """A page number that cannot be put in its place (unknown anchor, wider than the placeholder)."""


def _lines(box: Any):
    """Every line box of the page, in document order (inline blocks hold lines of their own)."""
    if isinstance(box, boxes.LineBox):
        yield box
    for child in getattr(box, "children", ()):
        yield from _lines(child)


def _number_boxes(box: Any, path: tuple, mark: str):
    """(path from the line, text box) for every page-number text box on this line."""
    for child in box.children:
        if isinstance(child, boxes.TextBox):
            if mark in child.text and _is_page_number(child):
                yield path, child
        elif isinstance(child, boxes.InlineBox) and not child.is_leader:
            yield from _number_boxes(child, (*path, child), mark)


def _is_page_number(box: boxes.TextBox) -> bool:
    element = box.element
    return ((box.element_tag or "").endswith("::after") and element is not None
            and element.get("data-page") is not None and _target(element).startswith("#"))


def _target(element: Any) -> str:
    # A link's own href, or for the title tail that carries a contents entry's leader and
    # number (breaks.leader_tail), the href of the link it stands in.
    return str(element.get("href") or element.get("data-href") or "")


def _fill_line(line: Any, anchors: dict[str, int], mark: str) -> int:
    found = list(_number_boxes(line, (line,), mark))
    for path, text_box in found:
        anchor = _target(text_box.element)[1:]
        if anchor not in anchors:
            raise PageNumberError(f"a page number refers to #{anchor}, which is on no page")
        number = str(anchors[anchor])
        if len(number) > len(mark):
            raise PageNumberError(f"page {number} is wider than its placeholder {mark!r}")
        head, _, tail = text_box.text.rpartition(mark)
        text = head + number + tail
        style = text_box.style
        spacing = text_box.justification_spacing
        # The same measure WeasyPrint used for the box: the difference is exact, whatever
        # justification spacing the box already carries (its spaces are the same).
        shrink = _width(text_box.text, style, spacing) - _width(text, style, spacing)
        layout = create_layout(text, style, None, None, spacing)
        layout.deactivate()  # as WeasyPrint keeps laid-out text: made live again when drawn
        text_box.text, text_box.pango_layout = text, layout
        text_box.width -= shrink
        inner = path[-1]
        if any(sibling.is_leader for sibling in inner.children):
            text_box.position_x += shrink  # right-aligned on the placeholder's right edge
            continue
        _close_gap(path, text_box, shrink)
        if spacing and shrink:
            spaces = _count_spaces(line)
            if spaces:
                _add_spacing(line, shrink / spaces, 0.0)
    return len(found)


def _width(text: str, style: Any, spacing: float) -> float:
    layout = create_layout(text, style, None, None, spacing)
    width, _ = line_size(layout.get_first_line()[0], style)
    return width


def _close_gap(path: tuple, box: Any, shrink: float) -> None:
    """Move everything after `box` on its line left by `shrink`; its inline ancestors shrink."""
    child = box
    for parent in reversed(path):
        index = next(i for i, c in enumerate(parent.children) if c is child)
        for sibling in parent.children[index + 1:]:
            sibling.translate(-shrink, 0)
        if not isinstance(parent, boxes.LineBox):
            parent.width -= shrink
        child = parent


def _count_spaces(box: Any) -> int:
    # WeasyPrint's own count (layout/inline.py count_expandable_spaces), so the spacing it
    # gave the line and the spacing added here are shared out the same way.
    if isinstance(box, boxes.TextBox):
        return box.text.count(" ") + box.text.count("\u00a0")
    if isinstance(box, (boxes.LineBox, boxes.InlineBox)):
        return sum(_count_spaces(child) for child in box.children)
    return 0


def _add_spacing(box: Any, extra: float, advance: float) -> float:
    """Add `extra` to the justification spacing of every space on the line (layout/inline.py
    add_word_spacing, which sets the spacing rather than adding to it)."""
    if isinstance(box, boxes.TextBox):
        box.justification_spacing += extra
        box.position_x += advance
        spaces = _count_spaces(box)
        if spaces:
            layout = create_layout(box.text, box.style, None, None, box.justification_spacing)
            layout.deactivate()
            box.pango_layout = layout
            box.width += extra * spaces
            advance += extra * spaces
    elif isinstance(box, (boxes.LineBox, boxes.InlineBox)):
        box.position_x += advance
        before = advance
        for child in box.children:
            if child.is_in_normal_flow():
                advance = _add_spacing(child, extra, advance)
        box.width += advance - before
    else:
        box.translate(advance, 0)
    return advance
