"""Is an author's SVG image inert? Pictures only: no script, no handlers, nothing fetched.

An SVG is a document, not a picture: it can carry `<script>`, `onload=` handlers, links that run
`javascript:`, HTML inside `<foreignObject>`, stylesheets and images fetched from a server (a
tracking pixel in every learner's deck), and entity declarations that expand to gigabytes. The
outputs ship the author's SVG byte for byte (the EPUB and the deck show it as it is), so instead of
rewriting it the build refuses an SVG with any of these, naming the first one found; the author
removes it (vector editors export without them) and the bytes that ship are exactly the ones
checked. References inside the file (`href="#id"`, `url(#id)`) and embedded rasters
(`data:image/png;base64,…`) are fine.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

FIX = "remove it from the SVG (export it again as plain SVG, without scripts, links or external files)"

# Elements that run code, show HTML or embed other documents.
_ACTIVE = {"script", "foreignObject", "iframe", "embed", "object", "handler", "listener", "audio", "video"}
_DECLARATION = re.compile(rb"<!(DOCTYPE|ENTITY)", re.I)
_PI = re.compile(rb"<\?(?!xml[\s?])", re.I)  # <?xml-stylesheet …?> loads a stylesheet
_LOCAL = re.compile(r"^#[^\s]*$")
_RASTER = re.compile(r"^data:image/(png|jpeg|gif);base64,[A-Za-z0-9+/=\s]*$")
_CSS_URL = re.compile(r"url\(\s*(['\"]?)([^)'\"]*)\1\s*\)", re.I)
_CSS_IMPORT = re.compile(r"@import", re.I)


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1]


def _css_problem(css: str) -> str:
    if _CSS_IMPORT.search(css):
        return "a stylesheet @import"
    for m in _CSS_URL.finditer(css):
        if not (_LOCAL.match(m.group(2).strip()) or _RASTER.match(m.group(2).strip())):
            return f"a stylesheet url({m.group(2)[:60]!r})"
    return ""


def problem(data: bytes) -> str:
    """What makes this SVG unsafe to ship, or "" when it is a plain picture."""
    declaration = _DECLARATION.search(data)
    if declaration:
        return f"it has a <!{declaration.group(1).decode().upper()} …> declaration (entities can expand without bound)"
    if _PI.search(data):
        return "it has a processing instruction such as <?xml-stylesheet?>"
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        return f"it is not well-formed XML ({exc})"
    if root.tag != "{http://www.w3.org/2000/svg}svg":
        return f"its root element is <{_local(root.tag)}>, not an SVG <svg> in the SVG namespace"
    for el in root.iter():
        tag = _local(str(el.tag))
        if tag in _ACTIVE:
            return f"it has a <{tag}> element"
        if tag == "style":
            found = _css_problem("".join(el.itertext()))
            if found:
                return f"it has {found}"
        target = el.get("attributeName", "").rsplit(":", 1)[-1].lower()  # "xlink:href" too
        if tag in ("set", "animate") and (target in ("href", "src") or target.startswith("on")):
            return f"it has <{tag} attributeName=\"{el.get('attributeName')}\">, which changes a link or handler"
        for name, value in el.attrib.items():
            attr = _local(name)
            if attr.lower().startswith("on"):
                return f"it has an event handler {attr}="
            if attr in ("href", "src") and not (_LOCAL.match(value.strip()) or _RASTER.match(value.strip())):
                return f"it refers to {value.strip()[:60]!r} (only #ids inside the file and embedded PNG/JPEG/GIF)"
            if attr == "style" or "url(" in value.lower():  # fill="url(https://…)" fetches too
                found = _css_problem(value)
                if found:
                    return f"it has {found}"
            if "javascript:" in value.lower().replace(" ", ""):
                return f"its attribute {attr}= contains 'javascript:'"
    return ""
