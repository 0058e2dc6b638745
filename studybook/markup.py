"""Markdown text -> sanitised `Fragment`.

markdown-it-py parses the text the way GitHub does (CommonMark plus tables, strikethrough and bare
URLs), so question banks written for GitHub build as written. Math (`$…$`, `$$…$$`, `\\(…\\)`,
`\\[…\\]`; a `$` followed by a digit closes nothing, as in pandoc, so prices stay text), links to
other questions, `[@key]` citations and images are lifted out of the token stream into typed parts,
each with the source line of its token; a private-use placeholder marks their place in the HTML.
nh3 then cuts the HTML, raw HTML included, down to an allow-list, and the placeholders are swapped
back for the parts. Code is highlighted by Pygments into CSS classes.
"""

from __future__ import annotations

import hashlib
import html
import io
import re
import urllib.parse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.texmath.index import make_block_func
from mdit_py_plugins.texmath.index import rules as texmath_rules
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

from . import figures, inputs, mathtex, svgcheck
from .diagnostics import Location, Problems
from .model import Cite, Fragment, Image, ImageRef, Math, Part, XRef

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl", "dt", "em",
    "h4", "h5", "h6", "hr", "i", "kbd", "li", "ol", "p", "pre", "s", "span", "strong", "sub",
    "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "ol": {"start"},
    "span": {"lang"},  # lets authors mark a foreign phrase for screen readers and hyphenation
    "td": {"colspan", "rowspan", "style"},
    "th": {"colspan", "rowspan", "style"},
    "details": {"open"},
    "*": {"class"},
}
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
               ".gif": "image/gif", ".svg": "image/svg+xml"}
# The first bytes each type must start with: a renamed text file is refused here, not by a reader.
_MAGIC = {"image/png": (b"\x89PNG\r\n\x1a\n",), "image/jpeg": (b"\xff\xd8\xff",),
          "image/gif": (b"GIF87a", b"GIF89a")}

# Placeholders for lifted parts: private-use characters no author text may contain (the reader
# refuses them), which the sanitiser keeps as text.
_PART, _END, _XREF, _XREF_END = "\ue000", "\ue001", "\ue002", "\ue003"
RESERVED_CHARS = re.compile("[\ue000-\ue003]")
_PLACEHOLDER = re.compile(f"{_PART}(\\d+){_END}|{_XREF}(\\d+){_END}|{_XREF_END}")
_CITE = re.compile(r"\[(@[\w:.-]+(?:\s*;\s*@[\w:.-]+)*)\]")
# The raw-HTML tags the build looks at itself; the end of each is found with str.find, so a
# megabyte of "<img" without a ">" is scanned once, not once per "<img" (as `<img[^>]*>` would).
_RAW_TAG = re.compile(r"<(img|a)(?![\w-])|</a\s*>", re.I)
# An attribute starts after a character that cannot be part of its name: one attempt per name.
_RAW_ATTR = re.compile(r"""(?<![\w-])([\w-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")
# Anki typesets \(…\) and \[…\] wherever they stand in a field's text: written as text (an escaped
# "\\(" in Markdown) they would be a formula that skipped the formula check.
_LITERAL_MATH = re.compile(r"\\[(\[]")
# Lists and quotes inside each other; markdown-it silently drops what lies deeper than its own
# recursion guard (about ten lists), so the build stops well before that, at the line.
MAX_BLOCK_DEPTH = 8
# Elements inside each other in the sanitised HTML (raw <div>s included): deep enough for any
# real answer (eight lists are sixteen levels), shallow enough for every renderer's recursion.
MAX_HTML_DEPTH = 32
_TAG_START = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)")
MAX_PIXELS = 25_000_000  # an image larger than this is a decompression bomb, not an illustration
# Elements whose end tag HTML lets an author leave out: unclosed, they do not nest.
_OPTIONAL_END = frozenset({"p", "li", "dt", "dd", "tr", "td", "th", "thead", "tbody", "tfoot", "option",
                           "colgroup", "rt", "rp", "optgroup", "caption"})
_VOID = frozenset({"br", "hr", "img", "wbr", "col", "area", "input", "meta", "link", "source"})


@dataclass
class Context:
    """What converting one text block needs to know and where it reports problems."""

    problems: Problems
    content_root: Path
    source_dir: Path
    images: dict[str, Image] = field(default_factory=dict)
    _by_source: dict[Path, str] = field(default_factory=dict)
    language: str = "en"  # of the words drawn in figures
    figure_cache: figures.FigureCache | None = None  # None: draw every figure afresh
    figure_ids: dict[str, Location] = field(default_factory=dict)


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


# -- the parser ---------------------------------------------------------------------------------

_MD: MarkdownIt | None = None


def _parser() -> MarkdownIt:
    # Building the parser compiles every rule; one instance serves the whole book.
    global _MD
    if _MD is None:
        md = MarkdownIt("commonmark", {"html": True, "linkify": True, "typographer": True})
        # Smart quotes only: the "replacements" rule would turn an enumeration's "(c)" into ©.
        md.enable(["table", "strikethrough", "linkify", "smartquotes"])
        md.use(dollarmath_plugin, allow_space=False, allow_digits=False, allow_labels=False,
               double_inline=True)
        brackets = texmath_rules["brackets"]
        block = {**brackets["block"][1], "name": "math_block_bracket"}
        md.inline.ruler.before("escape", "math_inline_bracket", _inline_bracket_math)
        md.block.ruler.before("fence", "math_block_bracket", make_block_func(block))  # type: ignore[arg-type]
        for name, rule in _RULES.items():
            md.add_render_rule(name, rule)
        _MD = md
    return _MD


def _inline_bracket_math(state: StateInline, silent: bool) -> bool:
    """`\\(…\\)`: what mdit-py-plugins' texmath rule does, in linear time.

    Its regex copies the rest of the paragraph and scans it to the end at every `\\(` that is
    never closed (50,000 of them took 42 s). Here the closing `\\)` is found with str.find, and a
    search that failed is remembered: no later `\\(` of the same text can be closed either.
    """
    src, pos = state.src, state.pos
    if not src.startswith("\\(", pos):
        return False
    failed = state.env.get("_unclosed_bracket_math")
    if failed is not None and failed[0] is src and pos + 3 >= failed[1]:
        return False
    close = src.find("\\)", pos + 3)  # like the regex: at least one character inside
    if close < 0:
        state.env["_unclosed_bracket_math"] = (src, pos + 3)
        return False
    if not silent:
        token = state.push("math_inline_bracket", "math", 0)
        token.content = src[pos + 2:close]
        token.markup = "\\("
    state.pos = close + 2
    return True


# -- render rules: typed parts become placeholders ----------------------------------------------


def _add(env: dict, part: Part | None) -> str:
    if part is None:
        return ""
    env["parts"].append(part)
    return f"{_PART}{len(env['parts']) - 1}{_END}"


def _math(self: Any, tokens: Sequence[Token], idx: int, _options: Any, env: dict) -> str:
    token = tokens[idx]
    display = token.type in ("math_block", "math_block_bracket", "math_inline_double")
    line = token.meta.get("line", 0)
    if token.block and token.map and env["lines"][token.map[0]].strip() in ("$$", "\\["):
        line += 1  # blame the formula's first line, not its opening delimiter
    loc = env["loc"](line)
    tex = token.content.strip()
    try:
        mathml = mathtex.to_mathml(tex, display)
    except mathtex.MathError as exc:
        env["ctx"].problems.add(loc, f"malformed LaTeX in {_short(tex)!r}: {exc}",
                                "fix the formula (standard LaTeX/AMS macros only)")
        return ""
    placeholder = _add(env, Math(tex=tex, display=display, mathml=mathml, location=loc))
    return placeholder + ("\n" if token.block else "")


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _xref(href: str, loc: Location, env: dict) -> str:
    env["xrefs"].append((urllib.parse.unquote(href[1:]), loc))
    return f"{_XREF}{len(env['xrefs']) - 1}{_END}"


def _bad_link(href: str, loc: Location, env: dict) -> bool:
    """Report a link that is neither absolute nor a `#id` in the book.

    A relative address ("../x", "notes.html", "%20javascript:…") points at a file no output
    contains, and readers resolve it differently. An absolute one is left to the sanitiser, which
    keeps http, https and mailto and drops the address of any other scheme (javascript:, data:).
    """
    try:
        scheme = urllib.parse.urlsplit(href).scheme.lower()
    except ValueError:  # "http://[" and the like
        scheme = ""
    if (href.startswith("#") and len(href) > 1) or scheme:
        return False
    env["ctx"].problems.add(loc, f"link to {_short(href, 60)!r} is not a web address or a question",
                            "link to https://…, mailto:… or #question-id")
    return True


def _link_open(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: dict) -> str:
    token = tokens[idx]
    href = str(token.attrGet("href") or "")
    loc = env["loc"](token.meta.get("line", 0))
    env.setdefault("links", []).append(href.startswith("#") and len(href) > 1)
    if href.startswith("#") and len(href) > 1:
        return _xref(href, loc, env)
    _bad_link(href, loc, env)
    return self.renderToken(tokens, idx, options, env)


def _link_close(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: dict) -> str:
    links = env.setdefault("links", [])
    if links and links.pop():
        return _XREF_END
    return self.renderToken(tokens, idx, options, env)


def _image(self: Any, tokens: Sequence[Token], idx: int, _options: Any, env: dict) -> str:
    token = tokens[idx]
    alt = self.renderInlineAsText(token.children or [], {}, env)
    src = urllib.parse.unquote(str(token.attrGet("src") or ""))
    return _image_part(src, alt, str(token.attrGet("title") or ""), bool(token.meta.get("figure")),
                       env["loc"](token.meta.get("line", 0)), env)


def _image_part(src: str, alt: str, title: str, figure: bool, loc: Location, env: dict) -> str:
    ctx: Context = env["ctx"]
    name = _load_image(src, ctx, loc)
    if name is None:
        return ""
    if not alt.strip():
        ctx.problems.warn(loc, f"image {src!r} has no alt text; it is marked decorative",
                          "describe what it shows between the brackets: ![what it shows](path)")
    return _add(env, ImageRef(name=name, alt=alt.strip(), caption=title.strip() if figure else "",
                              figure=figure, location=loc))


def _raw_html(self: Any, tokens: Sequence[Token], idx: int, _options: Any, env: dict) -> str:
    """Raw HTML passes to the sanitiser, except what the build must see for itself: <img> is
    checked like a Markdown image, and <a href> like a Markdown link (a "#id" becomes a link to
    that question), whatever the order of the attributes."""
    token = tokens[idx]
    content = token.content
    first = token.meta.get("line", 0)
    links: list[bool] = env.setdefault("links", [])
    out: list[str] = []
    pos = 0
    for m in _RAW_TAG.finditer(content):
        if m.start() < pos:
            continue  # inside a tag already handled
        loc = env["loc"](first + content.count("\n", 0, m.start()))
        out.append(content[pos:m.start()])
        if m.group(1) is None:  # </a>
            out.append(_XREF_END if links and links.pop() else m.group(0))
            pos = m.end()
            continue
        end = content.find(">", m.end())
        if end < 0:
            out.append(content[m.start():])
            pos = len(content)
            break
        attrs = {k.lower(): html.unescape(a if a is not None else b if b is not None else c)
                 for k, a, b, c in _RAW_ATTR.findall(content, m.end(), end)}
        pos = end + 1
        if m.group(1).lower() == "img":
            out.append(_image_part(urllib.parse.unquote(attrs.get("src", "")), attrs.get("alt", ""),
                                   attrs.get("title", ""), False, loc, env))
            continue
        href = attrs.get("href")
        lifted = href is not None and href.startswith("#") and len(href) > 1
        links.append(lifted)
        if lifted:
            out.append(_xref(str(href), loc, env))
        elif href is not None and _bad_link(href, loc, env):
            out.append("<a>")
        else:
            out.append(content[m.start():pos])
    out.append(content[pos:])
    return "".join(out)


def _text(self: Any, tokens: Sequence[Token], idx: int, _options: Any, env: dict) -> str:
    token = tokens[idx]
    if _LITERAL_MATH.search(token.content):
        _literal_math(env["loc"](token.meta.get("line", 0)), env)
    out, pos = [], 0
    for m in _CITE.finditer(token.content):
        out.append(escapeHtml(token.content[pos:m.start()]))
        keys = tuple(k.strip().lstrip("@") for k in m.group(1).split(";"))
        out.append(_add(env, Cite(keys=keys, location=env["loc"](token.meta.get("line", 0)))))
        pos = m.end()
    out.append(escapeHtml(token.content[pos:]))
    return "".join(out)


def _literal_math(loc: Location, env: dict) -> None:
    if not env.get("literal_math"):
        env["literal_math"] = True
        env["ctx"].problems.add(loc, "a math delimiter \\( or \\[ written as text (Anki would typeset it as an "
                                "unchecked formula)", "write the formula as \\(…\\), or put the characters in `code`")


_FORMATTER = HtmlFormatter(cssclass="highlight", wrapcode=True)


def _code(self: Any, tokens: Sequence[Token], idx: int, _options: Any, env: dict) -> str:
    token = tokens[idx]
    lang = token.info.strip().split()[0] if token.info.strip() else ""
    if lang == "figure" and token.type == "fence":
        return _add(env, _figure(token, env)) + "\n"
    try:
        lexer = get_lexer_by_name(lang) if lang else None
    except ClassNotFound:
        lexer = None
    if lexer is None:
        return f'<div class="highlight"><pre><span></span><code>{escapeHtml(token.content)}</code></pre></div>\n'
    return highlight(token.content, lexer, _FORMATTER)


_RULES = {
    "math_inline": _math, "math_inline_double": _math, "math_block": _math,
    "math_inline_bracket": _math, "math_block_bracket": _math,
    "link_open": _link_open, "link_close": _link_close, "image": _image,
    "html_block": _raw_html, "html_inline": _raw_html, "text": _text,
    "fence": _code, "code_block": _code,
}


def _figure(token: Token, env: dict) -> ImageRef | None:
    """A ```figure block: the spec is checked, the figure drawn (or taken from the cache) and
    added to the book's images; it then travels like any other figure."""
    ctx: Context = env["ctx"]
    fence_line = token.meta.get("line", 0)
    spec, problems = figures.parse_spec(token.content)
    for offset, message in problems:
        what, _, fix = message.partition(" — ")
        ctx.problems.add(env["loc"](fence_line + 1 + offset), f"figure: {what}", fix)
    if spec is None or problems:
        return None
    loc = env["loc"](fence_line)
    if spec.id in ctx.figure_ids:
        ctx.problems.add(loc, f"duplicate figure id {spec.id!r} (first at line {ctx.figure_ids[spec.id].line})",
                         "give each figure its own id")
        return None
    ctx.figure_ids[spec.id] = loc
    try:
        data = (ctx.figure_cache.get_or_draw(spec, ctx.language) if ctx.figure_cache
                else figures.draw(spec, lang=ctx.language))
    except Exception as exc:  # matplotlib and the kinds raise many types on bad data
        ctx.problems.add(loc, f"figure {spec.id!r} cannot be drawn: {type(exc).__name__}: {exc}",
                         "check the figure's data against its kind (see docs/authoring.md, Figures)")
        return None
    name = f"fig-{spec.id}-{hashlib.sha256(data).hexdigest()[:12]}.svg"
    ctx.images[name] = Image(name=name, source=f"figure {spec.id}", data=data, media_type="image/svg+xml")
    return ImageRef(name=name, alt=spec.alt, caption=spec.caption, figure=True, location=loc)


# -- lines and figures ----------------------------------------------------------------------------


def _annotate(tokens: list[Token], start_line: int) -> None:
    """Give every token the source line it starts on, and mark images that stand alone."""
    for i, token in enumerate(tokens):
        line = start_line + (token.map[0] if token.map else 0)
        token.meta["line"] = line
        if token.type != "inline" or not token.children:
            continue
        for child in token.children:
            child.meta["line"] = line
            if child.type in ("softbreak", "hardbreak"):
                line += 1
            elif child.type != "image":
                line += child.content.count("\n")
        solid = [c for c in token.children if not (c.type == "text" and not c.content.strip())]
        if (len(solid) == 1 and solid[0].type == "image" and 0 < i < len(tokens) - 1
                and tokens[i - 1].type == "paragraph_open"):
            solid[0].meta["figure"] = True
            tokens[i - 1].hidden = tokens[i + 1].hidden = True


# -- images ---------------------------------------------------------------------------------------


def _load_image(src: str, ctx: Context, loc: Location) -> str | None:
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
        data = inputs.read_bytes(path, inputs.IMAGE_LIMIT)
    except FileNotFoundError:
        ctx.problems.add(loc, f"missing image {src!r}", "check the path; it is relative to the source file")
        return None
    except inputs.InputError as exc:
        ctx.problems.add(loc, f"image {src!r} {exc}", "name an image file of a sensible size")
        return None
    except OSError as exc:
        ctx.problems.add(loc, f"cannot read image {src!r} ({exc.strerror})", "check the file's permissions")
        return None
    magic = _MAGIC.get(media_type)
    if (magic and not data.startswith(magic)) or (media_type == "image/svg+xml" and b"<svg" not in data[:4096]):
        ctx.problems.add(loc, f"image {src!r} is not a valid {media_type.split('/')[1].upper()} file",
                         "export the image again, or fix its file extension")
        return None
    if media_type != "image/svg+xml" and (broken := _raster_problem(data, media_type)):
        ctx.problems.add(loc, f"image {src!r} cannot be read as {media_type.split('/')[1].upper()}: {broken}",
                         "export the image again")
        return None
    if media_type == "image/svg+xml":
        unsafe = svgcheck.problem(data)
        if unsafe:
            ctx.problems.add(loc, f"SVG image {src!r}: {unsafe}", svgcheck.FIX)
            return None
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", path.stem).strip("-").lower() or "image"
    name = f"{stem}-{hashlib.sha256(data).hexdigest()[:12]}{path.suffix.lower()}"
    ctx.images[name] = Image(name=name, source=str(path.relative_to(root)), data=data, media_type=media_type)
    ctx._by_source[path] = name
    return name


def _raster_problem(data: bytes, media_type: str) -> str:
    """Why Pillow cannot decode a PNG, JPEG or GIF ("" when it can): a file with the right first
    bytes may still be cut short or corrupt, and then no reader, PDF or deck could show it."""
    import warnings

    from PIL import Image as PILImage
    from PIL import ImageFile

    # WeasyPrint sets this process-wide when imported; the check must not depend on import order.
    tolerant, ImageFile.LOAD_TRUNCATED_IMAGES = ImageFile.LOAD_TRUNCATED_IMAGES, False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            with PILImage.open(io.BytesIO(data), formats=[media_type.split("/")[1].upper()]) as img:
                if img.width * img.height > MAX_PIXELS:
                    return f"{img.width} × {img.height} pixels is more than {MAX_PIXELS // 1_000_000} million"
                img.load()
    except (PILImage.DecompressionBombWarning, PILImage.DecompressionBombError):
        return f"it would decode to more than {MAX_PIXELS // 1_000_000} million pixels"
    except Exception:  # Pillow raises many types, and words them by what it happened to read
        return "the data after its first bytes cannot be decoded (the file is cut short or corrupt)"
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = tolerant
    return ""


# -- assembly -------------------------------------------------------------------------------------


def _assemble(clean: str, env: dict) -> Fragment:
    """Swap the placeholders in sanitised HTML back for the parts they stand for."""
    stack: list[tuple[list[Part], int | None]] = [([], None)]
    pos = 0
    for m in _PLACEHOLDER.finditer(clean):
        stack[-1][0].append(clean[pos:m.start()])
        pos = m.end()
        if m.group(1) is not None:
            stack[-1][0].append(env["parts"][int(m.group(1))])
        elif m.group(2) is not None:
            stack.append(([], int(m.group(2))))
        elif len(stack) > 1:
            inner, n = stack.pop()
            target, loc = env["xrefs"][n]
            stack[-1][0].append(XRef(target=target, text=_merge(inner), location=loc))
    stack[-1][0].append(clean[pos:])
    while len(stack) > 1:  # an unclosed link (cut by the sanitiser): keep its text
        inner, _ = stack.pop()
        stack[-1][0].extend(inner)
    return _mark_parentheses(_merge(stack[0][0]))


def _merge(parts: list[Part]) -> Fragment:
    merged: list[Part] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        elif part != "":
            merged.append(part)
    return Fragment(tuple(merged))


def _mark_parentheses(frag: Fragment) -> Fragment:
    # A link that closes the author's own parentheses — "(see [tokenization](#q1))", Chinese
    # "（见[分词](#q1)）" — takes its label after a comma, not in a second pair of parentheses;
    # one further inside them takes it in brackets, as parentheses within parentheses are set.
    parts = list(frag.parts)
    for i, part in enumerate(parts):
        if isinstance(part, XRef):
            before = parts[i - 1] if i > 0 else ""
            after = parts[i + 1] if i + 1 < len(parts) else ""
            if isinstance(before, str) and _open_parenthesis(before):
                closes = isinstance(after, str) and after.lstrip().startswith((")", "）"))
                parts[i] = XRef(part.target, part.text, part.location, parenthesized=closes,
                                nested=not closes)
    return Fragment(tuple(parts))


def _open_parenthesis(text: str) -> bool:
    """Whether `text` ends inside a parenthesis it opened (half or full width)."""
    depth = 0
    for char in reversed(text):
        if char in ")）":
            depth += 1
        elif char in "(（":
            if depth == 0:
                return True
            depth -= 1
    return False


def to_fragment(text: str, start_line: int, path: str, ctx: Context, *, inline: bool = False) -> Fragment:
    """Convert one block of Markdown that starts at `start_line` of `path`; `inline` for titles."""
    md = _parser()
    env: dict[str, Any] = {"parts": [], "xrefs": [], "ctx": ctx, "lines": text.split("\n"),
                           "loc": lambda line: Location(path, line or start_line)}
    tokens = md.parseInline(text, env) if inline else md.parse(text, env)
    _annotate(tokens, start_line)
    if _too_deep(tokens, env):
        return Fragment(())
    rendered = md.renderer.render(tokens, md.options, env)
    # Before the sanitiser too: html5ever takes quadratic time on deep nesting (80,000 raw <div>s
    # took 70 s). Unclosed tags count here, so the bound is looser than the exact one below.
    depth = html_depth(rendered, skip=_OPTIONAL_END)
    if depth <= 4 * MAX_HTML_DEPTH:
        clean = sanitize(rendered).strip()
        depth = html_depth(clean)
    if depth > MAX_HTML_DEPTH:
        ctx.problems.add(env["loc"](start_line), f"HTML elements nested {depth} deep",
                         f"nest at most {MAX_HTML_DEPTH} elements (lists, quotes, <div>s) inside each other")
        return Fragment(())
    if _LITERAL_MATH.search(_outside_code(clean)):
        _literal_math(env["loc"](start_line), env)  # raw HTML, or a delimiter split by markup
    return _assemble(clean, env)


def _too_deep(tokens: list[Token], env: dict) -> bool:
    depth = 0
    for token in tokens:
        if token.type in ("bullet_list_open", "ordered_list_open", "blockquote_open"):
            depth += 1
            if depth > MAX_BLOCK_DEPTH:
                env["ctx"].problems.add(env["loc"](token.meta.get("line", 0)),
                                        f"lists or quotes nested more than {MAX_BLOCK_DEPTH} deep",
                                        f"nest at most {MAX_BLOCK_DEPTH} lists or quotes inside each other")
                return True
        elif token.type in ("bullet_list_close", "ordered_list_close", "blockquote_close"):
            depth -= 1
    return False


def _tags(markup: str) -> Iterator[tuple[int, int, bool, str, bool]]:
    """(start, end, is_end_tag, name, self_closing) of each tag, in linear time: the end of a tag
    is found with str.find, and a "<" inside a tag already found is not a new tag."""
    pos = 0
    for m in _TAG_START.finditer(markup):
        if m.start() < pos:
            continue
        end = markup.find(">", m.end())
        if end < 0:
            return
        pos = end + 1
        yield m.start(), pos, bool(m.group(1)), m.group(2).lower(), markup[end - 1] == "/"


def html_depth(markup: str, skip: frozenset[str] = frozenset()) -> int:
    """How deep elements nest in HTML (exact for sanitised HTML, which is balanced); tags in
    `skip` are not counted."""
    depth = deepest = 0
    for _, _, closing, name, self_closing in _tags(markup):
        if name in _VOID or name in skip or self_closing:
            continue
        if closing:
            depth = max(depth - 1, 0)
        else:
            depth += 1
            deepest = max(deepest, depth)
    return deepest


def _outside_code(markup: str) -> str:
    """The text of sanitised HTML outside <code> and <pre>, which MathJax leaves alone."""
    out, depth = [], 0
    pos = 0
    for start, end, closing, name, _ in _tags(markup):
        if depth == 0:
            out.append(markup[pos:start])
        if name in ("code", "pre"):
            depth = max(depth + (-1 if closing else 1), 0)
        pos = end
    if depth == 0:
        out.append(markup[pos:])
    return html.unescape("".join(out))


def word_count(fragment: Fragment) -> int:
    text = " ".join(p if isinstance(p, str) else " x " for p in fragment.parts)
    return len(re.sub(r"<[^>]+>", " ", text).split())
