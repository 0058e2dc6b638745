"""Draw a spec to deterministic SVG bytes.

Determinism: no date, creator or format metadata; a fixed ``svg.hashsalt`` so clip-path and glyph
ids are the same on every run; text converted to glyph paths from font files found by path (not
by whatever fonts the machine happens to have), and the DOCTYPE and generator comment removed.
Python's hash seed, the time and the working directory play no part.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from . import kinds, style
from .spec import FigureSpec

if TYPE_CHECKING:  # matplotlib is imported when a figure is drawn, not when a cached one is read
    from matplotlib.figure import Figure

NOTO = Path("/usr/share/fonts/truetype/noto")
NOTO_CJK = Path("/usr/share/fonts/opentype/noto")
FONT_FILES = {
    "Noto Sans": (NOTO / "NotoSans-Regular.ttf", NOTO / "NotoSans-Bold.ttf", NOTO / "NotoSans-Italic.ttf"),
    "Noto Sans Math": (NOTO / "NotoSansMath-Regular.ttf",),
    "Noto Sans CJK SC": (NOTO_CJK / "NotoSansCJK-Regular.ttc", NOTO_CJK / "NotoSansCJK-Bold.ttc"),
}
_registered: set[Path] = set()


class FontMissing(RuntimeError):
    pass


def families(lang: str) -> list[str]:
    """Font families for a language, first choice first; later ones fill in missing glyphs."""
    if lang.lower().startswith("zh"):
        return ["Noto Sans CJK SC", "Noto Sans", "Noto Sans Math"]
    return ["Noto Sans", "Noto Sans Math"]


def font_files(lang: str) -> list[Path]:
    return [path for family in families(lang) for path in FONT_FILES[family]]


def register_fonts(lang: str) -> None:
    from matplotlib import font_manager

    for path in font_files(lang):
        if path in _registered:
            continue
        if not path.is_file():
            raise FontMissing(f"{path} is missing — install Debian's fonts-noto-core and fonts-noto-cjk "
                              "(`make setup` does)")
        font_manager.fontManager.addfont(path)
        _registered.add(path)


@contextmanager
def _drawing(spec: FigureSpec, lang: str) -> Iterator[Figure]:
    """The drawn figure, inside the style's rcParams (saving must happen in the same context)."""
    import matplotlib

    module = kinds.get(spec.kind)
    if module is None:
        raise ValueError(f"unknown figure kind {spec.kind!r}")
    register_fonts(lang)
    # Bold text asks every fallback family for a bold face; Noto Sans Math has none, which is fine.
    font_log = logging.getLogger("matplotlib.font_manager")
    level = font_log.level
    font_log.setLevel(logging.ERROR)
    try:
        with matplotlib.rc_context(style.rc(families(lang))):  # type: ignore[arg-type]
            fig = style.new_figure(module.HEIGHT)
            module.draw(fig, spec.data, spec.labels)
            style.check_text_sizes(fig)
            yield fig
    finally:
        font_log.setLevel(level)


def build_figure(spec: FigureSpec, lang: str = "en") -> Figure:
    """The drawn matplotlib Figure, for tests that inspect its artists; `draw` is the public path."""
    with _drawing(spec, lang) as fig:
        return fig


_DOCTYPE = re.compile(rb"<!DOCTYPE[^>]*>\s*")
_COMMENT = re.compile(rb"<!--.*?-->\s*", re.S)


def draw(spec: FigureSpec, *, lang: str = "en") -> bytes:
    """The figure as SVG (UTF-8 bytes), identical for identical inputs on any run."""
    buffer = io.BytesIO()
    with _drawing(spec, lang) as fig:
        fig.savefig(buffer, format="svg", dpi=200,
                    metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    return _COMMENT.sub(b"", _DOCTYPE.sub(b"", buffer.getvalue()))
