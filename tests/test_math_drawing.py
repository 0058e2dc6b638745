"""The shared formula drawing (studybook.mathsvg), measured in the SVG it produces: Chinese words in
formulas, and the spacing of the glyphs."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

from studybook import mathsvg, mathtex

SVG = "{http://www.w3.org/2000/svg}"
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def draw(tex: str, display: bool = False) -> mathsvg.MathPicture:
    return mathsvg.draw(tex, display, mathtex.to_mathml(tex, display))


def glyphs(pic: mathsvg.MathPicture) -> list[tuple[float, float, int]]:
    """(left, right, number of drawing commands) of every glyph path, left to right."""
    out = []
    for path in ET.fromstring(pic.svg).iter(f"{SVG}path"):
        d = path.get("d") or ""
        xs = [float(x) for x in re.findall(r"[ML] (-?[\d.]+) ", d)]
        out.append((min(xs), max(xs), len(re.findall(r"[MLQCZ]", d))))
    return sorted(out)


# ---------------------------------------------------------------------------------------------
# Chinese inside \text{…}


def test_chinese_text_in_a_formula_is_drawn_with_real_glyphs():
    pic = draw(r"\text{中文}=x")
    drawn = glyphs(pic)
    assert len(drawn) == 4  # 中, 文, =, x: one outline each, none left out
    size = mathsvg._SIZE
    for left, right, commands in drawn[:2]:
        # An ideograph nearly fills its em and has many strokes; a missing glyph would be a bare box.
        assert 0.6 * size < right - left < 1.05 * size and commands > 12
    assert drawn[1][0] >= drawn[0][1]  # side by side, not on top of each other


def test_a_character_no_font_has_is_reported():
    with pytest.raises(mathsvg.DrawError, match=r"U\+0E20"):
        draw(r"\text{ภาษา}")


@pytest.mark.slow
def test_chinese_formulas_of_the_zh_edition_are_drawn_in_its_epub(handbook_zh_dist: Path):
    epub = next(handbook_zh_dist.glob("*-zh-CN.epub"))
    with zipfile.ZipFile(epub) as z:
        pictures = {n: z.read(n) for n in z.namelist() if n.endswith(".svg")}
    chinese = {n: svg for n, svg in pictures.items()
               if CJK.search(ET.fromstring(svg).findtext(f"{SVG}title") or "")}
    assert len(chinese) >= 5, sorted(pictures)
    for name, svg in chinese.items():
        title = ET.fromstring(svg).findtext(f"{SVG}title") or ""
        words = "".join(re.findall(r"\\text\{([^{}]*)\}", title))
        ideographs = [ch for ch in words if "\u4e00" <= ch <= "\u9fff"]
        wide = [g for g in glyphs(mathsvg.MathPicture("", svg, title, False, 0, 0, 0))
                if g[1] - g[0] > 0.6 * mathsvg._SIZE and g[2] > 12]
        assert len(wide) >= len(ideographs) > 0, name
