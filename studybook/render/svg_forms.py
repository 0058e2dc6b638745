"""Each formula picture drawn once per PDF, then placed wherever it is used (a Form XObject).

WeasyPrint parses an SVG image once per document but draws it again for every use: it re-walks
the tree and re-parses every path into PDF operators at each of a formula's uses (781 uses of 510
formulas in the handbook: a quarter of the drawing time). Here the first use of a formula draws
it into a Form XObject, and every use, the first included, paints that form with one `Do`
operator: less work, and a smaller PDF since the paths are written once.

Scoped to the formula pictures (`studybook://math/…`): plain filled paths that depend on nothing
but their own size (no text, patterns, opacity groups or marked content, which would need the
page's context). Other images go through WeasyPrint's code unchanged. A form lives in the
resources dictionary of the stream that drew it; it is reused only from streams that share those
resources (all pages do; a nested transparency group has its own and gets its own form).

The form's operators are kept across builds too (`use_cache`: a table of the formula cache's
SQLite file), keyed by the SVG's bytes, the size it is drawn at, and the versions of WeasyPrint
and pydyf and this module: walking the SVG tree and parsing its paths was a quarter of the
handbook's PDF time, and an edit leaves every other formula as it was. Only a form whose drawing
touched nothing outside its own operators (no resource, font, image or tag) is kept, so that
taking one from the cache has no side effect to reproduce.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
from pathlib import Path
from typing import Any

import pydyf  # type: ignore[import-untyped]

from ..formula_cache import SideTable

MATH_PREFIX = "studybook://math/"


def _fingerprint() -> str:
    versions = "".join(f"{dist}={importlib.metadata.version(dist)}\0" for dist in ("weasyprint", "pydyf"))
    return hashlib.sha256(versions.encode() + Path(__file__).read_bytes()).hexdigest()


_FORMS = SideTable("pdf_form", _fingerprint)
_DIGESTS: dict[str, str] = {}  # the sha256 of each formula picture, by its URL


def use_cache(directory: Path) -> None:
    """Keep the forms' operators in `directory` (the formula cache's), for this build and the next."""
    _FORMS.path = Path(directory) / "formulas.sqlite"


def know(resources: dict[str, tuple[bytes, str]]) -> None:
    """The bytes of the formula pictures a document is about to be laid out with: their digests
    are the forms' keys (WeasyPrint keeps the parsed SVG, not its bytes)."""
    for url, (data, _) in resources.items():
        if url.startswith(MATH_PREFIX):
            _DIGESTS[url] = hashlib.sha256(data).hexdigest()


def apply() -> None:
    from weasyprint import images

    if getattr(images.SVGImage, "_studybook_forms", False):
        return
    draw_directly = images.SVGImage.draw

    def draw(self: Any, stream: Any, width: float, height: float, style: Any) -> None:
        if not str(self._base_url).startswith(MATH_PREFIX):
            return draw_directly(self, stream, width, height, style)
        resources = stream._resources
        forms: dict[tuple[int, float, float], tuple[Any, str]] = self.__dict__.setdefault("_forms", {})
        key = (id(resources), round(width, 6), round(height, 6))
        # The resources object is kept with the name, so its id cannot be reused by another.
        entry = forms.get(key)
        if entry is None or entry[0] is not resources:
            # A generous bounding box: the picture's own clip, not the form's, decides what shows.
            form = stream.add_group(-width, -height, 3 * width, 3 * height)
            del form.extra["Group"]  # a plain form, not a transparency group
            digest = _DIGESTS.get(str(self._base_url))
            kept_key = f"{digest}\0{width!r}\0{height!r}" if digest else None
            kept = _FORMS.get(kept_key) if kept_key else None
            if not (kept is not None and _restore(form, kept)):
                before = _outside(form)
                draw_directly(self, form, width, height, style)
                states = _plain_states(form)
                if kept_key and states is not None and _outside(form) == before:
                    _FORMS.put(kept_key, json.dumps(states).encode() + b"\n"
                               + b"\n".join(_bytes(item) for item in form.stream))
            entry = forms[key] = (resources, form.id)
        stream.draw_x_object(entry[1])
        return None

    images.SVGImage.draw = draw
    images.SVGImage._studybook_forms = True


def _plain_states(form: Any) -> list[tuple[str, list[tuple[str, Any]]]] | None:
    """The graphics states a drawing added to the form's own resources (the SVG's opacity: "a1.0",
    {"ca": 1.0}), if those are all it added and they hold plain numbers and names; else None."""
    resources = form._resources
    if any(resources[name] for name in ("XObject", "Pattern", "Shading")):
        return None
    states = [(str(name), list(state.items())) for name, state in resources["ExtGState"].items()]
    plain = all(isinstance(value, int | float | str) and not isinstance(value, bool)
                for _, entries in states for _, value in entries)
    return states if plain else None


def _restore(form: Any, kept: Any) -> bool:
    """Fill `form` from a kept row (its graphics states, a newline, its operators); False, and the
    form left as it was, when the row is not one (a damaged cache is drawn again)."""
    try:
        header, operators = kept.split(b"\n", 1)
        states = [(str(name), dict(entries)) for name, entries in json.loads(header)]
    except (AttributeError, TypeError, ValueError):
        return False
    for name, entries in states:
        form._resources["ExtGState"][name] = pydyf.Dictionary(entries)
    form.stream = [operators]
    return True


def _outside(form: Any) -> tuple[int, ...]:
    """What a drawing could add outside the form's operators: fonts, images, tags."""
    return tuple(len(getattr(form, name) or ()) for name in ("_fonts", "_images", "_tags"))


def _bytes(item: Any) -> bytes:
    return bytes(pydyf._to_bytes(item))
