"""A formula's LaTeX as invisible text over its picture in the PDF, so it can be found and copied.

A formula prints as a picture of outlines (studybook.mathsvg): no viewer can search it or copy from
it. Over each picture the PDF sets the formula's LaTeX source — the text its alt text already is,
what a reader searches for ("softmax", "\\sqrt{d_k}") and what pastes into notes, Markdown or Anki
and typesets again — in transparent ink (templates/pdf: `.math-text`). WeasyPrint has no access to
text rendering mode 3, so the ink is transparent (fill alpha 0) instead: viewers search, select and
copy it all the same.

The layer must neither move anything nor reach past its picture (an earlier attempt set it at a
fixed size and long formulas ran past the margin): it is absolutely positioned, so it takes no room
in the line, and `layer_box` sizes it so that the whole string lies inside the picture's box. The
face is monospaced (Noto Sans Mono, 0.6 em a character; a CJK character falls back to a full em),
so its width is known without measuring.

For PDF/UA the picture keeps its alt text and the layer is marked as an artifact: a screen reader
reads the formula once (the alt text), not twice. WeasyPrint tags every piece of text as a Span of
the structure tree; `apply` makes the layer's text an /Artifact in the content stream and leaves
it out of the tree — a documented monkeypatch of weasyprint.pdf.stream and weasyprint.pdf.tags
(tests/test_pdf.py checks the tagging and the positions on the real PDF).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

CLASS = "math-text"
MONO_ADVANCE = 0.6  # em per character of Noto Sans Mono
WIDE_ADVANCE = 1.0  # em per CJK character (Noto Sans CJK SC, the fallback)
ASCENT, DESCENT = 1.069, 0.293  # the layer's font, Noto Sans Mono (the Noto CJK faces: 1.16, 0.29)
# At most 0.4 of the text size: larger, it would be mistaken for the text around it by the tests
# that measure lines, and a short formula ("x") needs no more to be selected.
MAX_SIZE = 0.4


@dataclass(frozen=True)
class LayerBox:
    font_size: float  # em of the text the formula sits in
    bottom: float  # CSS `bottom` from the picture's bottom edge, in em of the layer's own font size


def advance(text: str) -> float:
    """The width of `text` in the layer's font, in em."""
    return sum(WIDE_ADVANCE if unicodedata.east_asian_width(ch) in "WF" else MONO_ADVANCE for ch in text)


def layer_box(text: str, width_em: float, height_em: float) -> LayerBox:
    """Size and place the layer so the whole line of `text` lies inside the picture's box.

    The layer is one line of line-height 1 (its glyphs' ascent and descent fit in that for the
    sizes allowed here), centred on the picture. Its containing block is an inline-block around
    the picture alone (templates/pdf), whose bottom is the picture's bottom edge: the offset does
    not depend on the text face, the line height or what else stands in the line."""
    size = min(MAX_SIZE, width_em / max(advance(text), MONO_ADVANCE), height_em / (ASCENT + DESCENT))
    size = max(round(size * 0.999, 4), 0.0001)  # rounded down: never a hair wider than the picture
    return LayerBox(size, round((height_em - size) / 2 / size, 4))


def _is_layer(box: Any) -> bool:
    element = getattr(box, "element", None)
    return element is not None and CLASS in (element.get("class") or "").split()


def apply() -> None:
    """Draw the layer's text as an artifact and keep it out of the structure tree (once)."""
    from weasyprint.layout.absolute import AbsolutePlaceholder
    from weasyprint.pdf import stream as stream_mod
    from weasyprint.pdf import tags

    if getattr(tags, "_studybook_math_text", False):
        return
    marked = stream_mod.Stream.marked

    def marked_or_artifact(self: Any, box: Any, tag: str) -> Any:
        if _is_layer(box):
            return self.artifact()
        return marked(self, box, tag)

    stream_mod.Stream.marked = marked_or_artifact

    build = tags._build_box_tree  # recursive through the module name: children pass here too

    def build_box_tree(box: Any, *args: Any) -> Any:
        inner = box._box if isinstance(box, AbsolutePlaceholder) else box
        if _is_layer(inner):
            return iter(())
        return build(box, *args)

    tags._build_box_tree = build_box_tree
    tags._studybook_math_text = True
