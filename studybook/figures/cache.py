"""A content-addressed cache of drawn figures, so an unchanged figure is not drawn again.

The key is the sha256 of everything that can change the bytes: the source code of the figure's
kind module, of the shared style, of the kind helpers and of the drawing engine; the spec's data
and labels; the language; the matplotlib version; and the path and size of each font file used.
The caption, alt text and id are not drawn, so editing them does not redraw the figure.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import inspect
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from . import engine, kinds, style
from .kinds import _common
from .spec import FigureSpec


def _plain(value: Any) -> Any:
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def cache_key(spec: FigureSpec, lang: str) -> str:
    module = kinds.get(spec.kind)
    if module is None:
        raise ValueError(f"unknown figure kind {spec.kind!r}")
    fonts = [[str(p), p.stat().st_size if p.is_file() else None] for p in engine.font_files(lang)]
    payload = {
        "kind": spec.kind,
        "kind_source": inspect.getsource(module),
        "style_source": inspect.getsource(style),
        "common_source": inspect.getsource(_common),
        "engine_source": inspect.getsource(engine),
        "data": _plain(spec.data),
        "labels": _plain(spec.labels),
        "lang": lang,
        # Its installed version, read without importing it (≈ 0.5 s): a build whose figures are
        # all cached never imports matplotlib.
        "matplotlib": importlib.metadata.version("matplotlib"),
        "fonts": fonts,
    }
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()


class FigureCache:
    """`get_or_draw` returns cached SVG bytes, or draws, stores and returns them."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.hits = 0
        self.misses = 0

    def path_for(self, spec: FigureSpec, lang: str) -> Path:
        return self.directory / f"{spec.id}.{lang}.{cache_key(spec, lang)[:32]}.svg"

    def get_or_draw(self, spec: FigureSpec, lang: str = "en") -> bytes:
        path = self.path_for(spec, lang)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            pass
        else:
            self.hits += 1
            return data
        self.misses += 1
        data = engine.draw(spec, lang=lang)
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=f".{spec.id}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return data
