"""LaTeX -> SVG for the PDF, with ziamath (pure Python, no TeX installation).

ziamath draws every glyph of the bundled STIX Two Math font as an SVG path, so the PDF needs no
math font and the formula is vector graphics at any zoom. Each formula becomes an `<img>` sized
in `em`, so it scales with the surrounding text, and shifted down by its depth so that the
formula's baseline sits on the line's baseline. The LaTeX source is the image's alt text (the
tagged PDF's /Alt), which is what a screen reader or a copy-paste gets.

A formula ziamath cannot typeset (a parse error, an unknown command, a character the math font
lacks) is reported at its `path:line` instead of printing a box or raw TeX.
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from ..diagnostics import Problems
from ..model import Math

# ziamath lays out at this many px per em; the SVG is then scaled to the text's em box.
_SIZE = 20.0
# STIX Two has a smaller x-height than Noto Serif: enlarge math slightly so letters match.
SCALE = 1.1
_NOTDEF = re.compile(r'<symbol id="[^"]*_0"')
_UNKNOWN = re.compile(r">\s*(\\[A-Za-z]+)\s*<")
# ziamath's glyph coordinates have three decimals; more would only add noise.
_PRECISION = 3


@dataclass(frozen=True)
class MathImage:
    url: str
    svg: bytes
    alt: str
    display: bool
    width_em: float
    height_em: float
    depth_em: float  # distance from the baseline down to the image's bottom edge


class MathRenderer:
    """Typesets formulas once each and remembers them; problems are collected, not raised."""

    def __init__(self, problems: Problems):
        self.problems = problems
        self.images: dict[str, MathImage] = {}
        self._cache: dict[tuple[str, bool], MathImage | None] = {}

    def image(self, math: Math) -> MathImage | None:
        key = (math.tex, math.display)
        if key not in self._cache:
            try:
                self._cache[key] = result = typeset(math.tex, math.display)
            except MathRenderError as exc:
                self.problems.add(math.location, f"cannot typeset formula {math.tex!r} for the PDF: {exc}",
                                  "simplify the formula or use standard LaTeX/AMS macros ziamath supports")
                self._cache[key] = result = None
            if result is not None:
                self.images[result.url] = result
        return self._cache[key]


class MathRenderError(ValueError):
    pass


def typeset(tex: str, display: bool) -> MathImage:
    import ziamath  # imported lazily: loading the math font takes a moment

    ziamath.config.precision = _PRECISION
    try:
        formula = ziamath.Latex(tex, size=_SIZE, inline=not display, title=tex, margin=0.5)
        unknown = sorted(set(_UNKNOWN.findall(formula.mathmlstr())))
        if unknown:
            raise MathRenderError(f"unknown command {', '.join(unknown)}")
        svg = formula.svg()
        ymin = formula.node.bbox.ymin
    except MathRenderError:
        raise
    except Exception as exc:  # ziamath and latex2mathml raise many unrelated types on bad input
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise MathRenderError(detail) from None
    if _NOTDEF.search(svg):
        raise MathRenderError(f"the math font has no glyph for {_missing_chars(tex)}")
    root = ET.fromstring(svg)
    width, height = float(root.attrib["width"]), float(root.attrib["height"])
    # The viewBox starts at -(ymax + margin): the baseline is `margin - ymin` above the bottom.
    depth = 0.5 - ymin
    data = svg.encode("utf-8")
    digest = hashlib.sha256(data).hexdigest()[:16]
    em = _SIZE / SCALE
    return MathImage(
        url=f"studybook://math/{digest}.svg",
        svg=data,
        alt=tex,
        display=display,
        width_em=round(width / em, 4),
        height_em=round(height / em, 4),
        depth_em=round(depth / em, 4),
    )


def _missing_chars(tex: str) -> str:
    """Best guess at which characters were missing, for the message."""
    import ziamath

    font = ziamath.zmath.loadedfonts["default"]
    text = re.sub(r"\\[A-Za-z]+", "", tex)
    missing = sorted({ch for ch in text if not ch.isspace() and font.glyphindex(ch) == 0})
    if not missing:
        return "a character in it"
    return ", ".join(f"{ch!r} (U+{ord(ch):04X})" for ch in missing)
