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

import concurrent.futures
import hashlib
import multiprocessing
import os
import re
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass

from .. import mathtex
from ..diagnostics import Location, Problems
from ..model import Math

# ziamath lays out at this many px per em; the SVG is then scaled to the text's em box.
_SIZE = 20.0
# STIX Two has a smaller x-height than Noto Serif: enlarge math slightly so letters match.
SCALE = 1.1
_ROW_GAP = re.compile(r"\\\\\[[^\]]*\]")
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
    """Typesets formulas once each and remembers them; problems are collected, not raised.

    `prepare` typesets a batch in parallel worker processes first (ziamath is pure Python and
    the formulas are independent); `image` then only looks results up. The result of a formula
    does not depend on which process drew it, so the PDF stays reproducible.
    """

    def __init__(self, problems: Problems):
        self.problems = problems
        self.images: dict[str, MathImage] = {}
        self._cache: dict[tuple[str, bool], MathImage | MathRenderError] = {}
        self._reported: set[tuple[str, bool, Location]] = set()

    def prepare(self, maths: Iterable[Math]) -> None:
        jobs = {(m.tex, m.display): m for m in maths if (m.tex, m.display) not in self._cache}
        workers = min(os.cpu_count() or 1, 8, len(jobs) // _PER_WORKER)
        if workers < 2:
            return  # not worth starting processes: `image` typesets on demand
        ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=ctx) as pool:
            keys = list(jobs)
            args = [(m.tex, m.display, m.mathml) for m in jobs.values()]
            for key, result in zip(keys, pool.map(_typeset_or_error, args, chunksize=16), strict=True):
                self._cache[key] = result

    def image(self, math: Math) -> MathImage | None:
        key = (math.tex, math.display)
        if key not in self._cache:
            self._cache[key] = _typeset_or_error((math.tex, math.display, math.mathml))
        result = self._cache[key]
        if isinstance(result, MathRenderError):
            if (*key, math.location) not in self._reported:
                self._reported.add((*key, math.location))
                self.problems.add(math.location, f"cannot typeset formula {math.tex!r} for the PDF: {result}",
                                  "simplify the formula or use standard LaTeX/AMS macros ziamath supports")
            return None
        self.images[result.url] = result
        return result


_PER_WORKER = 40  # below this many formulas per process, starting processes costs more than it saves


def _typeset_or_error(job: tuple[str, bool, str]) -> MathImage | MathRenderError:
    tex, display, mathml = job
    try:
        # latex2mathml prints the row gap of `\\[6pt]` as text: convert without it.
        cleaned = _ROW_GAP.sub(r"\\\\", tex)
        if cleaned != tex or not mathml:
            mathml = mathtex.to_mathml(cleaned, display)
        return typeset(tex, display, mathml)
    except mathtex.MathError as exc:
        return MathRenderError(str(exc))
    except MathRenderError as exc:
        return exc


class MathRenderError(ValueError):
    pass


# What ziamath's own LaTeX front end does to latex2mathml's output before drawing it: arrows and
# angle brackets that TeX never stretches, and accents drawn with the font's combining glyphs.
_MATHML_FIXES = [
    (re.compile(r">&#x02191;"), r' stretchy="false">&#x02191;'),
    (re.compile(r">&#x02193;"), r' stretchy="false">&#x02193;'),
    (re.compile(r"<mi>&#x027E8;"), r'<mi stretchy="false">&#x027E8;'),
    (re.compile(r"<mi>&#x027E9;"), r'<mi stretchy="false">&#x027E9;'),
    (re.compile(r'<mo stretchy="false">&#x0005E;'), r'<mo stretchy="false">&#710;'),
    (re.compile(r"<mo>&#x0005E;"), r"<mo>&#x00302;"),
    (re.compile(r"<mo>&#x0007E;"), r"<mo>&#x00303;"),
    (re.compile(r'columnspacing="0em 2em"'), r'columnspacing="0em 0.3em"'),
    # ziamath's operator table makes large operators stretchy: next to \left…\right fences a
    # subscripted sum then grows to the row's height, the row grows with it, and so on (a 100 em
    # tall formula). TeX never stretches them; display style still picks the large variant.
    (re.compile(r"<mo>(&#x0220[F];|&#x0221[01];|&#x0222[B-F];|&#x0223[0-3];|&#x022C[0-3];|&#x02A0[0-6];)</mo>"),
     r'<mo stretchy="false">\1</mo>'),
]


def typeset(tex: str, display: bool, mathml: str) -> MathImage:
    """Draw `mathml` (the validated MathML of `tex`) as SVG; `tex` becomes the alt text."""
    with warnings.catch_warnings():  # ziamath locates its font with the deprecated pkg_resources
        warnings.simplefilter("ignore", DeprecationWarning)
        import ziamath  # imported lazily: loading the math font takes a moment

    ziamath.config.precision = _PRECISION
    for pattern, replacement in _MATHML_FIXES:
        mathml = pattern.sub(replacement, mathml)
    try:
        unknown = sorted(set(_UNKNOWN.findall(mathml)))
        if unknown:
            raise MathRenderError(f"unknown command {', '.join(unknown)}")
        formula = ziamath.Math(mathml, size=_SIZE, title=tex, margin=0.5)
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
