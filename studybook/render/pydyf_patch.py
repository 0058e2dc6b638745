"""A scoped fix for quadratic PDF/UA tagging in pydyf 0.13 (reported upstream; see docs/performance.md).

`pydyf.PDF.page_references` rebuilds the tuple of every page's reference on each access, and
WeasyPrint's tagging (weasyprint/pdf/tags.py) reads it once per structure element: with elements
proportional to pages, tagging a book costs pages² (0.7 s at 123 pages, 6.5 s at 429, hours at
10,000). The same tuple is returned here, rebuilt only when a page has been added since. Output is
byte-identical: the values are the same, only computed once.

Applied only when pydyf is the version this was written against; a newer pydyf keeps its own
code (and, once the fix is released upstream, this module can go).
"""

from __future__ import annotations

import pydyf  # type: ignore[import-untyped]

_FIXED_VERSION = "0.13.0"


def _page_references(self: pydyf.PDF) -> tuple[bytes, ...]:
    kids = self.pages["Kids"]
    cached = self.__dict__.get("_studybook_page_references")
    # Kids only ever grows (add_page extends it by three items): its identity and length tell
    # whether the cached tuple is still complete.
    if cached is None or cached[0] is not kids or cached[1] != len(kids):
        refs = tuple(f"{number} 0 R".encode("ascii") for number in kids[::3])
        cached = (kids, len(kids), refs)
        self.__dict__["_studybook_page_references"] = cached
    return cached[2]


def apply() -> None:
    if getattr(pydyf, "__version__", None) == _FIXED_VERSION and not getattr(pydyf.PDF, "_studybook_patched", False):
        pydyf.PDF.page_references = property(_page_references)
        pydyf.PDF._studybook_patched = True
