"""HTML → XHTML for the EPUB: the model's fragments are HTML, EPUB content documents are XML.

The sanitised HTML in a `Fragment` uses HTML serialisation (`<br>`, `&nbsp;`, unquoted boolean
attributes). Each string part is re-serialised token by token as XML; parts are cut only between
tags, never inside one, so a streaming rewrite is exact even though a part may open an element
that a later part closes.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from html import escape
from html.parser import HTMLParser

VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                  "param", "source", "track", "wbr"})


class _ToXhtml(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []

    def _attrs(self, attrs: list[tuple[str, str | None]]) -> str:
        return "".join(f' {name}="{escape(value if value is not None else name, quote=True)}"'
                       for name, value in attrs)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.out.append(f"<{tag}{self._attrs(attrs)}{' /' if tag in VOID else ''}>")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.out.append(f"<{tag}{self._attrs(attrs)} />" if tag in VOID
                        else f"<{tag}{self._attrs(attrs)}></{tag}>")

    def handle_endtag(self, tag: str) -> None:
        if tag not in VOID:
            self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        self.out.append(escape(data, quote=False))

    def handle_comment(self, data: str) -> None:
        pass  # the sanitiser already strips comments

    def handle_decl(self, decl: str) -> None:
        pass

    def handle_pi(self, data: str) -> None:
        pass


def to_xhtml(html_text: str) -> str:
    """Re-serialise an HTML snippet as XML: void elements closed, entities resolved to characters."""
    parser = _ToXhtml()
    parser.feed(html_text)
    parser.close()
    return "".join(parser.out)


def check_well_formed(name: str, data: bytes) -> ET.Element:
    """Parse an XML document of the package, naming the file when it is not well-formed."""
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        line = exc.position[0]
        snippet = data.decode("utf-8", "replace").splitlines()[line - 1][:200] if line else ""
        raise RuntimeError(f"EPUB renderer produced malformed XML in {name}: {exc}: {snippet!r}") from None
