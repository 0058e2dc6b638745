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
"""

from __future__ import annotations

from typing import Any

MATH_PREFIX = "studybook://math/"


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
            draw_directly(self, form, width, height, style)
            entry = forms[key] = (resources, form.id)
        stream.draw_x_object(entry[1])
        return None

    images.SVGImage.draw = draw
    images.SVGImage._studybook_forms = True
