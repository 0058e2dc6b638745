"""Figures drawn by code from a short spec in the book's source.

An author writes a ```figure block (YAML: id, kind, caption, alt, data, labels) in an answer;
`parse_spec` checks it, `draw` turns it into deterministic SVG, `FigureCache` skips unchanged
figures. Each kind lives in its own module under `kinds/`; `style` holds the one look they share.
"""

from __future__ import annotations

from .cache import FigureCache, cache_key
from .engine import build_figure, draw
from .kinds import KINDS
from .spec import FigureSpec, parse_spec

__all__ = ["KINDS", "FigureCache", "FigureSpec", "build_figure", "cache_key", "draw", "parse_spec"]
