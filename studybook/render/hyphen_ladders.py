"""At most two hyphenated lines in a row in the PDF: CSS `hyphenate-limit-lines: 2`, which WeasyPrint lacks.

WeasyPrint 70 implements `hyphens`, `hyphenate-limit-chars` and `hyphenate-limit-zone` but not
`hyphenate-limit-lines`; the zone made ladders rarer, yet the handbook still had two of three
lines ("transla‐ / out‐ / top-"). A typesetter allows two.

WeasyPrint lays a paragraph out line by line (`iter_line_boxes`); here the number of lines in a row
that end in a hyphen — added by the hyphenator or a word's own — is counted per paragraph, and
while it is at the limit the next line is broken with `hyphens: manual` (no automatic hyphens; a
word's own hyphen and a soft hyphen still break). A documented monkeypatch of
weasyprint.layout.block and weasyprint.layout.inline, applied once per process; tests/test_pdf.py
counts the ladders on the real PDF.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from typing import Any

LIMIT = 2
HYPHENS = ("-", "\u2010")

# The number of hyphenated lines in a row just before the line being laid out, in the paragraph
# being laid out (an inline-block inside a line has its own paragraphs, hence a context variable).
_run: contextvars.ContextVar[int] = contextvars.ContextVar("hyphenated_lines", default=0)


def _last_text(box: Any) -> str:
    """The text at the end of a laid-out line: "" when the line ends with a picture or an
    inline-block (a formula), or is empty."""
    from weasyprint.formatting_structure import boxes

    if isinstance(box, boxes.TextBox):
        return box.text.rstrip()
    if not isinstance(box, (boxes.LineBox, boxes.InlineBox)):
        return ""  # an atomic inline: a formula, an image
    for child in reversed(box.children):
        if child.is_in_normal_flow() and not (isinstance(child, boxes.TextBox) and not child.text.strip()):
            return _last_text(child)
    return ""


def ends_hyphenated(line: Any) -> bool:
    text = _last_text(line)
    return len(text) > 1 and text[-2].isalnum() and text.endswith((line.style["hyphenate_character"], *HYPHENS))


def apply() -> None:
    from weasyprint.layout import block, inline

    if getattr(block, "_studybook_ladders", False):
        return
    iter_line_boxes = block.iter_line_boxes
    split_first_line = inline.split_first_line

    def counted(*args: Any, **kwargs: Any) -> Iterator[Any]:
        lines = iter_line_boxes(*args, **kwargs)
        run = 0
        while True:
            token = _run.set(run)
            try:
                item = next(lines)
            except StopIteration:
                return
            finally:
                _run.reset(token)
            run = run + 1 if ends_hyphenated(item[0]) else 0
            yield item

    def limited(text: str, style: Any, *args: Any, **kwargs: Any) -> Any:
        if _run.get() < LIMIT or style["hyphens"] != "auto":
            return split_first_line(text, style, *args, **kwargs)
        style["hyphens"] = "manual"  # for this line only: the style is shared by its element's boxes
        try:
            return split_first_line(text, style, *args, **kwargs)
        finally:
            style["hyphens"] = "auto"

    block.iter_line_boxes = counted
    inline.split_first_line = limited
    block._studybook_ladders = True
