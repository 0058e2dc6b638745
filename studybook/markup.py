"""Markdown text -> sanitised `Fragment`.

Python-Markdown with pymdown-extensions does the parsing (tables, fenced code highlighted by
Pygments into CSS classes, math kept verbatim by arithmatex). nh3 then cuts any raw HTML down to
an allow-list. Finally the few constructs each output renders differently (math, links to other
questions, citations, images) are lifted out of the HTML into typed parts.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass, field
from pathlib import Path

import markdown
import nh3

from . import mathtex
from .diagnostics import Location, Problems
from .model import Cite, Fragment, Image, ImageRef, Math, Part, XRef

EXTENSIONS = [
    "tables", "sane_lists", "smarty",
    "pymdownx.superfences", "pymdownx.highlight", "pymdownx.arithmatex",
]
EXTENSION_CONFIGS = {
    "pymdownx.highlight": {"use_pygments": True, "css_class": "highlight", "guess_lang": False},
    "pymdownx.arithmatex": {"generic": True, "preview": False},
    "smarty": {"smart_angled_quotes": False},
}

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em", "h4",
    "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s", "span", "strong", "sub",
    "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "span": {"lang"},  # lets authors mark a foreign phrase for screen readers and hyphenation
    "td": {"colspan", "rowspan", "style"},
    "th": {"colspan", "rowspan", "style"},
    "*": {"class"},
}
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
               ".gif": "image/gif", ".svg": "image/svg+xml"}

_CODE = re.compile(r"(<pre\b.*?</pre>|<code\b.*?</code>)", re.S)
_TOKEN = re.compile(
    r'<span class="arithmatex">\\\((?P<inline>.*?)\\\)</span>'
    r'|<div class="arithmatex">\\\[(?P<display>.*?)\\\]</div>'
    r'|<a href="#(?P<target>[^"]+)"(?: title="[^"]*")?>(?P<text>.*?)</a>'
    r"|\[(?P<cites>@[\w:.-]+(?:\s*;\s*@[\w:.-]+)*)\]"
    r"|(?P<figure><p><img (?P<fattrs>[^>]*?)/?></p>)"
    r"|<img (?P<attrs>[^>]*?)/?>",
    re.S,
)
_ATTR = re.compile(r'(\w+)="([^"]*)"')


@dataclass
class Context:
    """What converting one text block needs to know and where it reports problems."""

    problems: Problems
    content_root: Path
    source_dir: Path
    images: dict[str, Image] = field(default_factory=dict)
    _by_source: dict[Path, str] = field(default_factory=dict)


_MD: markdown.Markdown | None = None


def _markdown(text: str) -> str:
    # Building the converter loads every extension; one instance, reset per block, is reused.
    global _MD
    if _MD is None:
        _MD = markdown.Markdown(extensions=EXTENSIONS, extension_configs=EXTENSION_CONFIGS)
    return _MD.reset().convert(text)


def sanitize(raw_html: str) -> str:
    return nh3.clean(
        raw_html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel=None,
        strip_comments=True,
        filter_style_properties={"text-align"},
    )


def inline_html(text: str) -> str:
    """Render a one-line title: inline Markdown only, no surrounding paragraph."""
    out = sanitize(_markdown(text)).strip()
    return re.sub(r"^<p>(.*)</p>$", r"\1", out, flags=re.S)


@dataclass
class _Cursor:
    """Finds source lines for lifted constructs, which appear in the same order as in the text.

    Searching onwards from the previous hit keeps a repeated formula such as \\(Q\\) from being
    reported at its first occurrence every time."""

    lines: list[str]
    start: int
    index: int = 0

    def line_of(self, *needles: str) -> int:
        for needle in needles:
            first = needle.strip().splitlines()[0] if needle.strip() else ""
            if not first:
                continue
            for i in range(self.index, len(self.lines)):
                if first in self.lines[i]:
                    self.index = i
                    return self.start + i
        return self.start + self.index


def _image(attrs: dict[str, str], ctx: Context, loc: Location) -> str | None:
    src = html.unescape(attrs.get("src", ""))
    if not src or re.match(r"^[a-z][a-z0-9+.-]*:", src, re.I) or src.startswith("//"):
        ctx.problems.add(loc, f"image {src!r} is not a file inside content/",
                         "copy the image into content/ and use a relative path")
        return None
    path = (ctx.source_dir / src).resolve()
    root = ctx.content_root.resolve()
    if not path.is_relative_to(root):
        ctx.problems.add(loc, f"image path {src!r} resolves outside {ctx.content_root}",
                         "keep images inside the content directory")
        return None
    media_type = IMAGE_TYPES.get(path.suffix.lower())
    if media_type is None:
        ctx.problems.add(loc, f"image {src!r} has an unsupported type",
                         f"use one of {', '.join(sorted(IMAGE_TYPES))}")
        return None
    if path in ctx._by_source:
        return ctx._by_source[path]
    try:
        data = path.read_bytes()
    except OSError:
        ctx.problems.add(loc, f"missing image {src!r}", "check the path; it is relative to the source file")
        return None
    name = f"{path.stem}-{hashlib.sha256(data).hexdigest()[:12]}{path.suffix.lower()}"
    ctx.images[name] = Image(name=name, source=str(path.relative_to(root)), data=data,
                             media_type=media_type)
    ctx._by_source[path] = name
    return name


def to_fragment(text: str, start_line: int, path: str, ctx: Context) -> Fragment:
    """Convert one block of Markdown that starts at `start_line` of `path`."""
    cursor = _Cursor(text.split("\n"), start_line)
    clean = sanitize(_markdown(text))
    parts: list[Part] = []
    for chunk in _CODE.split(clean):
        if chunk.startswith(("<pre", "<code")):
            parts.append(chunk)
            continue
        pos = 0
        for m in _TOKEN.finditer(chunk):
            parts.append(chunk[pos:m.start()])
            pos = m.end()
            part = _lift(m, cursor, path, ctx)
            parts.append(part if part is not None else "")
        parts.append(chunk[pos:])
    merged: list[Part] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        elif part != "":
            merged.append(part)
    return Fragment(tuple(merged))


def _lift(m: re.Match, cursor: _Cursor, path: str, ctx: Context) -> Part | None:
    if m.group("inline") is not None or m.group("display") is not None:
        display = m.group("display") is not None
        tex = html.unescape(m.group("display") if display else m.group("inline")).strip()
        delimited = (f"\\[{tex}", f"$${tex}") if display else (f"\\({tex}\\)", f"${tex}$")
        loc = Location(path, cursor.line_of(*delimited, tex))
        try:
            mathml = mathtex.to_mathml(tex, display)
        except mathtex.MathError as exc:
            ctx.problems.add(loc, f"malformed LaTeX in {tex!r}: {exc}",
                             "fix the formula (standard LaTeX/AMS macros only)")
            return None
        return Math(tex=tex, display=display, mathml=mathml, location=loc)
    if m.group("target") is not None:
        target = html.unescape(m.group("target"))
        loc = Location(path, cursor.line_of(f"(#{target})"))
        return XRef(target=target, text_html=m.group("text"), location=loc)
    if m.group("cites") is not None:
        keys = tuple(k.strip().lstrip("@") for k in m.group("cites").split(";"))
        loc = Location(path, cursor.line_of(f"@{keys[0]}"))
        return Cite(keys=keys, location=loc)
    attrs = dict(_ATTR.findall(m.group("fattrs") or m.group("attrs") or ""))
    loc = Location(path, cursor.line_of(html.unescape(attrs.get("src", ""))))
    name = _image(attrs, ctx, loc)
    if name is None:
        return None
    figure = m.group("figure") is not None
    return ImageRef(name=name, alt=attrs.get("alt", ""),
                    caption_html=attrs.get("title", "") if figure else "", figure=figure)


def word_count(fragment: Fragment) -> int:
    text = " ".join(p if isinstance(p, str) else " x " for p in fragment.parts)
    return len(re.sub(r"<[^>]+>", " ", text).split())
