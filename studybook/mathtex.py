"""Validate LaTeX formulas and convert them to MathML.

latex2mathml is lenient: it passes unknown commands through as text and closes unbalanced groups
silently. A formula that would print as garbage must fail the build instead, so the structure is
checked here first and the MathML is then scanned for commands the converter did not understand.
"""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET
from html import escape
from pathlib import Path

import latex2mathml.converter

from .formula_cache import SideTable

_ENV = re.compile(r"\\(begin|end)\s*\{([^}]*)\}")
_LEFT_RIGHT = re.compile(r"\\(left|right)(?![A-Za-z])")
# A command name left in the output means the converter did not know it.
_UNKNOWN = re.compile(r">\s*(\\[A-Za-z]+)\s*<")


_WORD_OPERATOR = re.compile(r"<mo>([A-Za-z][A-Za-z\u2009 ]*[A-Za-z])</mo>")


MATHML_NS = "http://www.w3.org/1998/Math/MathML"
TOKENS = frozenset({"mi", "mn", "mo", "mtext", "ms"})


class MathError(ValueError):
    pass


def _strip_escapes(tex: str) -> str:
    # Escaped braces and backslashes are literal characters, not grouping.
    return re.sub(r"\\[\\{}]", "", tex)


# Bounds that keep one formula from stalling the build: the drawing time grows faster than the
# length (4,000 characters take 15 s), and the converter recurses once per group. The longest
# formula of the handbook has 361 characters and few levels.
MAX_LENGTH = 1000
MAX_DEPTH = 32


def check_structure(tex: str) -> None:
    if not tex.strip():
        raise MathError("empty formula")
    if len(tex) > MAX_LENGTH:
        raise MathError(f"the formula has {len(tex):,} characters, more than {MAX_LENGTH:,}; split it")
    plain = _strip_escapes(tex)
    depth = 0
    for ch in plain:
        if ch == "{":
            depth += 1
            if depth > MAX_DEPTH:
                raise MathError(f"groups {{…}} nested more than {MAX_DEPTH} deep")
        elif ch == "}":
            depth -= 1
            if depth < 0:
                raise MathError("a '}' closes a group that was never opened")
    if depth:
        raise MathError(f"{depth} unclosed '{{'")
    stack: list[str] = []
    for kind, name in _ENV.findall(tex):
        if kind == "begin":
            stack.append(name)
        elif not stack or stack.pop() != name:
            raise MathError(f"\\end{{{name}}} does not match an open \\begin")
    if stack:
        raise MathError(f"\\begin{{{stack[-1]}}} is never ended")
    balance = 0
    for kind in _LEFT_RIGHT.findall(tex):
        balance += 1 if kind == "left" else -1
        if balance < 0:
            raise MathError("\\right without a matching \\left")
    if balance:
        raise MathError("\\left without a matching \\right")


# Standard operators latex2mathml lacks, rewritten to an equivalent it knows.
_ALIASES = {r"\arg": r"\operatorname{arg}",
            # TeX's own definitions: the arrow between two thick spaces (latex2mathml drops them).
            r"\iff": r"\;\Longleftrightarrow\;", r"\implies": r"\;\Longrightarrow\;",
            r"\impliedby": r"\;\Longleftarrow\;"}
# latex2mathml cannot size these delimiters; MathML stretches them anyway, so drop the size.
_SIZED_DELIM = re.compile(r"\\(?:big|Big|bigg|Bigg)[lrm]?(?=\\(?:langle|rangle|lVert|rVert|lvert|rvert|vert|Vert))")
_ROW_GAP = re.compile(r"\\\\\s*\[[^\]\\]*\]")  # stops at a backslash: linear on "\\[\\[\\[…"
_ALIAS = re.compile("|".join(re.escape(k) + r"(?![A-Za-z])" for k in _ALIASES))


# Commands that would put links, styles, ids or raw HTML into the output (MathJax in Anki runs
# them): a formula is mathematics only.
_ACTIVE = re.compile(r"\\(href|url|style|class|cssId|html[A-Za-z]*|unicode|require|data[A-Za-z]*|"
                     r"tooltip|toggle|mathtip|texttip|action)(?![A-Za-z])")


def _fingerprint() -> str:
    from .formula_cache import renderer_fingerprint

    return renderer_fingerprint(__file__)


# Converted formulas, kept across builds once `use_cache` names the file: converting is ≈ 0.5 ms a
# formula (latex2mathml, then the repairs and TeX spacing below), ≈ 0.5 s of reading the handbook
# and a minute of reading a 5,000-question book. What fails to convert is not kept.
_MATHML = SideTable("mathml", _fingerprint)


def use_cache(directory: Path) -> None:
    """Keep converted formulas in `directory` (the formula cache's), for this build and the next."""
    _MATHML.path = Path(directory) / "formulas.sqlite"


def to_mathml(tex: str, display: bool) -> str:
    """Return a MathML `<math>` element for `tex`, or raise MathError saying what is wrong."""
    key = f"{'display' if display else 'inline'}\0{tex}"
    known = _MATHML.get(key)
    if isinstance(known, str) and known.startswith("<math"):  # else none, or a damaged row
        return known
    mathml = _convert(tex, display)
    _MATHML.put(key, mathml)
    return mathml


def _convert(tex: str, display: bool) -> str:
    active = sorted(set(_ACTIVE.findall(tex)))
    if active:
        names = ", ".join("\\" + name for name in active)
        raise MathError(f"{names} is not allowed in a formula (it would reach the reader's screen as a "
                        "link, style or HTML)")
    check_structure(tex)
    source = _SIZED_DELIM.sub("", _ALIAS.sub(lambda m: _ALIASES[m.group(0)], tex))
    # latex2mathml prints the extra row gap of "\\[6pt]" as text; MathML has its own spacing.
    source = _ROW_GAP.sub(r"\\\\", source)
    try:
        mathml = latex2mathml.converter.convert(source, display="block" if display else "inline")
    except Exception as exc:  # the converter raises many unrelated types on bad input
        detail = f"{type(exc).__name__} {exc}".strip()
        raise MathError(f"cannot parse formula ({detail[:120]})") from None
    # \operatorname{softmax} comes out as an operator <mo>, which renderers space like "+";
    # a function name is an identifier, as latex2mathml already does for \log and \exp.
    mathml = _WORD_OPERATOR.sub(r"<mi>\1</mi>", mathml)
    unknown = sorted(set(_UNKNOWN.findall(mathml)))
    if unknown:
        raise MathError(f"unknown command {', '.join(unknown)}")
    try:
        root = ET.fromstring(mathml)
    except ET.ParseError as exc:
        raise MathError(
            f"this formula cannot be converted to MathML ({exc}); environments such as "
            "'aligned' are not supported, split it into separate display formulas"
        ) from None
    # latex2mathml nests rows inside token elements for \mathrel{+} and the like, which MathML
    # forbids; repair it here so that every consumer of the model gets valid MathML.
    repaired = any(_local(el.tag) in TOKENS and len(el) for el in root.iter())
    if repaired:
        repair(root)
    if tex_spacing(root) or repaired:
        mathml = serialize(root, {}, refs=True)
    return mathml


# TeX's classes of the symbols a sign can follow: after these (or at the start of a row) "-" is a
# sign, not a subtraction (TeX turns a binary atom into an ordinary one there).
_SIGNS = {"-", "\u2212", "+", "\u00b1", "\u2213"}
_BEFORE_SIGN = set("=<>\u2264\u2265\u2248\u2260\u2261\u221d\u2208\u2209\u223c\u2243\u2190\u2192\u21d0\u21d2"
                   "\u21d4\u27f8\u27f9\u27fa\u2223\u2225:([{\u27e8,;+-\u2212\u00b1\u2213\u00d7\u22c5\u00b7/"
                   "\u2211\u220f\u222b")
_ROWS = {"math", "mrow", "mtd", "mstyle", "msqrt", "mpadded", "menclose", "mphantom"}
# Symbols latex2mathml writes as operators that TeX sets as ordinary symbols, with no space around
# them: the MathML operator dictionary (or its default for a symbol it lacks) spaces "−∞", "1/√d"
# and "∀x" as if they were relations: "− ∞", "1 / √d".
_ORDINARY = {"\u221e", "\u2205", "\u2200", "\u2203", "/", "\u22a4"}
# Binary operators other than the signs; in TeX one becomes ordinary, without its spaces, where it
# has no left operand ("(· ∣ x)", "⟨·, ·⟩") or no right one.
_BINARY = {"\u00b7", "\u22c5", "\u00d7", "*", "\u2217", "\u2299", "\u2218", "\u2297", "\u2295"}
_INNER = {"\u2026", "\u22ef"}  # \dots, \cdots: TeX's "inner" atoms
_OPEN = set("([{\u27e8\u2308\u230a")
_CLOSE = set(")]}\u27e9\u2309\u230b")
_RELATION = set("=<>\u2264\u2265\u2248\u2260\u2261\u221d\u2208\u2209\u223c\u2243\u2190\u2192\u21d0"
                "\u21d2\u21d4\u27f8\u27f9\u27fa\u2223\u2225\u226a\u226b\u21a6\u2254:")
_THIN = "0.1667em"
# Arrows latex2mathml writes as identifiers, set by every renderer without space: relations in TeX.
_ARROWS = set("\u27f8\u27f9\u27fa\u27f5\u27f6\u27f7\u21d0\u21d2\u21d4\u2190\u2192\u2194\u21a6")
_SCRIPTED = {"msub", "msup", "msubsup", "munder", "mover", "munderover"}


def _is_name(el: ET.Element | None) -> bool:
    """An operator name ("log", "softmax", a scripted "max_i"): a word latex2mathml writes as one
    identifier (\\mathrm{KL} comes out letter by letter, with a mathvariant)."""
    while el is not None and _local(el.tag) in _SCRIPTED and len(el):
        el = el[0]
    if el is None or _local(el.tag) != "mi" or "mathvariant" in el.attrib:
        return False
    text = (el.text or "").strip()
    return len(text) > 1 and text.isalpha()


def _name_spaces(row: ET.Element) -> bool:
    """Thin spaces around operator names where TeX puts them: between a name and an ordinary symbol,
    a closing fence or another name, and after punctuation ("a log b", "β log σ", "cos π s"); none
    next to an opening fence, a relation or a binary operator, which bring their own space. MathML
    renderers set an identifier without any space ("βlogσ")."""
    kids = list(row)
    changed = False
    for i in range(len(kids) - 1, -1, -1):
        if not _is_name(kids[i]):
            continue
        after = kids[i + 1] if i + 1 < len(kids) else None
        before = kids[i - 1] if i else None
        if after is not None and (_is_name(after) or _tex_class(_first(after)) == "ord"):
            row.insert(i + 1, ET.Element(f"{{{MATHML_NS}}}mspace", {"width": _THIN}))
            changed = True
        if (before is not None and not _is_name(before)
                and _tex_class(_last(before)) in ("ord", "close", "punct")):
            row.insert(i, ET.Element(f"{{{MATHML_NS}}}mspace", {"width": _THIN}))
            changed = True
    return changed


def _first(el: ET.Element) -> ET.Element | None:
    """The atom of `el` that touches what stands before it (a space is nothing to space from)."""
    if _local(el.tag) == "mspace":
        return el
    if _local(el.tag) in _ROWS | _SCRIPTED and len(el):
        return _first(el[0])
    return el


def _last(el: ET.Element) -> ET.Element | None:
    if _local(el.tag) == "mspace":
        return el
    if _local(el.tag) in _ROWS and len(el):
        return _last(el[-1])
    if _local(el.tag) in _SCRIPTED and len(el):
        return _last(el[0])
    return el


def _tex_class(el: ET.Element | None) -> str:
    """TeX's class of a neighbouring atom, as far as the spacing of a binary or inner atom next to
    it depends on it: none (the edge of the row), open, close, punct, rel, bin or ord."""
    if el is None:
        return "none"
    tag, text = _local(el.tag), (el.text or "").strip()
    if tag == "mspace":
        return "space"
    if tag not in ("mo", "mi") or len(text) != 1:
        return "ord"
    if text in _OPEN:
        return "open"
    if text in _CLOSE:
        return "close"
    if tag == "mi":
        return "ord"
    if text in ",;":
        return "punct"
    if text in _RELATION:
        return "rel"
    if (text in _SIGNS and el.get("form") != "prefix") or text in _BINARY:
        return "bin"
    return "ord"


def tex_spacing(root: ET.Element) -> bool:
    """Set, in the MathML itself, the spaces TeX would put where the MathML operator dictionary
    differs; return whether anything changed. Every MathML renderer then agrees with TeX:

    - a sign ("= −∞", "(−1)", "−x") is a prefix operator, set close to its operand;
    - ∂ and ∇ take no space after them (the dictionary gives them a gap, so "∂ x" and "∇ _θ");
    - a comma or a semicolon is followed by a thin space, not a thick one or none;
    - the two columns of `cases` are a quad apart (latex2mathml leaves the renderer's default);
    - ∞, ∅, ∀, ∃, "/" and ⊤ are ordinary symbols: no space around them ("−∞", "1/√d");
    - a binary operator without an operand on one side is ordinary ("(· ∣ x)");
    - `\\dots` and `\\cdots` take a thin space only next to an ordinary symbol ("1, …, n");
    - `\\sim` is the relation ∼ (latex2mathml writes an identifier "~", the ASCII tilde, unspaced),
      and ⟹, ⟺, → and their kin are relations, not identifiers;
    - operator names ("log", "softmax") take a thin space next to an ordinary symbol ("β log σ").
    """
    changed = False
    for el in root.iter():
        if _local(el.tag) == "mi" and (el.text or "").strip() == "~":
            el.tag = el.tag[:-2] + "mo"
            el.text = "\u223c"
            changed = True
        elif _local(el.tag) == "mi" and (el.text or "").strip() in _ARROWS | {";"}:
            el.tag = el.tag[:-2] + "mo"  # an arrow is a relation, ";" punctuation (spaced below)
            changed = True
    for row in [el for el in root.iter() if _local(el.tag) in _ROWS]:
        changed = _name_spaces(row) or changed
    for row in root.iter():
        if _local(row.tag) not in _ROWS:
            continue
        kids = list(row)
        for i, el in enumerate(kids):
            text = (el.text or "").strip()
            if _local(el.tag) != "mo" or "lspace" in el.attrib or "rspace" in el.attrib:
                continue
            before = _tex_class(kids[i - 1] if i else None)
            after = _tex_class(kids[i + 1] if i + 1 < len(kids) else None)
            if text in _ORDINARY or (text in _BINARY and (before in ("none", "open", "punct", "rel", "bin")
                                                          or after in ("none", "close", "punct", "rel"))):
                el.set("lspace", "0em")
                el.set("rspace", "0em")
                changed = True
            elif text in _INNER:
                el.set("lspace", _THIN if before in ("ord", "close") else "0em")
                el.set("rspace", _THIN if after in ("ord", "open") else "0em")
                changed = True
    for row in root.iter():
        if _local(row.tag) not in _ROWS:
            continue
        kids = list(row)
        for i, el in enumerate(kids):
            if _local(el.tag) != "mo" or el.attrib.get("form"):
                continue
            text = (el.text or "").strip()
            prev = kids[i - 1] if i else None
            if text in _SIGNS and (prev is None or (_local(prev.tag) == "mo"
                                                     and (prev.text or "").strip() in _BEFORE_SIGN)):
                el.set("form", "prefix")
                changed = True
    for el in root.iter():
        tag, text = _local(el.tag), (el.text or "").strip()
        if tag == "mo" and text in ("\u2202", "\u2207") and "rspace" not in el.attrib:
            el.set("lspace", "0em")
            el.set("rspace", "0em")
            changed = True
        elif tag == "mo" and text in (",", ";") and "rspace" not in el.attrib:
            el.set("rspace", "0.1667em")
            changed = True
        elif tag in _ROWS:
            kids = list(el)
            for fence, table in itertools.pairwise(kids):
                if (_local(fence.tag) == "mo" and (fence.text or "").strip() == "{" and _local(table.tag) == "mtable"
                        and "columnspacing" not in table.attrib):
                    table.set("columnspacing", "1em")
                    changed = True
    return changed


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def repair(root: ET.Element) -> ET.Element:
    """Flatten element content inside token elements to its text; the rest is left as it is."""
    for el in root.iter():
        if _local(el.tag) in TOKENS and len(el):
            text = "".join(el.itertext())
            for child in list(el):
                el.remove(child)
            el.text = text
    return root


def _encode(tag: str, text: str) -> str:
    """Token text written as latex2mathml writes it (operators and non-ASCII symbols as character
    references), so that the MathML reads the same whether or not it was re-serialised here."""
    if tag == "mo":
        return "".join(ch if ch.isalnum() and ch.isascii() else f"&#x{ord(ch):05X};" for ch in text)
    if tag in ("mi", "mn"):
        return "".join(escape(ch, quote=False) if ch.isascii() else f"&#x{ord(ch):05X};" for ch in text)
    return escape(text, quote=False)


def serialize(el: ET.Element, extra: dict[str, str] | None = None, refs: bool = False) -> str:
    """MathML without namespace prefixes; with `extra` (attributes, possibly none) it is the root
    and declares the default namespace. With `refs`, symbols are written as character references,
    as latex2mathml writes them (the form the formula drawing's own fixes look for)."""
    attrs = dict(extra or {})
    if extra is not None:
        attrs["xmlns"] = MATHML_NS
    attrs.update((_local(k), v) for k, v in el.attrib.items())
    head = _local(el.tag) + "".join(f' {k}="{escape(v, quote=True)}"' for k, v in attrs.items())
    text = el.text or ""
    inner = (_encode(_local(el.tag), text) if refs else escape(text, quote=False)) + "".join(
        serialize(child, None, refs) + escape(child.tail or "", quote=False) for child in el)
    return f"<{head}>{inner}</{_local(el.tag)}>" if inner else f"<{head}/>"
