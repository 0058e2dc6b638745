"""Line breaks for display formulas too wide for a phone.

MathML in reading systems and MathJax 3 in Anki cannot break a formula, and paginated readers
clip what does not fit instead of scrolling it. A formula wider than the screen's measure is
therefore broken where a typesetter would break it for a narrow column, in this order of
preference, and only as far as needed:

1. between independent formulas set side by side (`,\\qquad`), dropping the space;
2. between the parts of a list of conditions (`,\\quad`), dropping the space;
3. before an arrow that joins two statements (`\\Longrightarrow`, `\\iff`, …);
4. before a relation (`=`, `\\approx`, `\\le`, …);
5. before a binary `+` or `-`;
6. before the `\\cdots` of a long product, which then opens the next line;
7. before a binary `+` or `-` or a relation (`\\parallel` too) inside `\\big`-sized brackets
   (which, unlike `\\left…\\right`, may open on one line and close on the next);
8. after a comma between arguments inside `\\big`-sized brackets.

Apart from 7 and 8, breaks are only made at the formula's top level: never inside braces,
parentheses, `\\left…\\right` or an environment. The TeX is split (so the same breaks serve
MathML and MathJax); every line is measured with ziamath and the STIX Two Math font, the same
font the EPUB embeds.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .formula_cache import SideTable
from .mathtex import to_mathml

# Relations TeX spaces as \mathrel; an arrow set between \quad's joins two statements.
_RELATIONS = frozenset({
    r"\approx", r"\le", r"\leq", r"\ge", r"\geq", r"\neq", r"\ne", r"\sim", r"\simeq", r"\equiv",
    r"\propto", r"\to", r"\rightarrow", r"\Rightarrow", r"\Longrightarrow", r"\Longleftrightarrow",
    r"\iff", r"\implies", r"\mapsto", r"\ll", r"\gg", r"\leftarrow", r"\coloneqq", r"\in",
})
_ARROWS = frozenset({r"\Rightarrow", r"\Longrightarrow", r"\Longleftrightarrow", r"\iff", r"\implies",
                     r"\Leftrightarrow"})
# Inside \\big-sized brackets a relation of the bracket's own content may start a line too.
_BRACKET_RELATIONS = _RELATIONS | {"=", "<", ">", r"\parallel"}
_LAST_LEVEL = 8
_SIDE_BY_SIDE = 2  # levels 1 and 2 separate formulas: their lines are not continuations
_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|.", re.S)
_SHORT = 3.0  # em


@dataclass(frozen=True)
class Line:
    tex: str
    indent: bool  # a continuation of the previous line (after a relation or operator break)


_SIZED = frozenset({r"\big", r"\Big", r"\bigg", r"\Bigg", r"\bigl", r"\Bigl", r"\biggl", r"\Biggl",
                    r"\bigr", r"\Bigr", r"\biggr", r"\Biggr"})


def _tokens(tex: str) -> list[tuple[int, str, int, bool]]:
    """(offset, token, depth before the token, inside sized brackets only): depth counts braces,
    brackets, parentheses, \\left…\\right and environments, and only depth 0 is a place to break,
    except, as a last resort, inside brackets that are all \\big-sized: they are single symbols,
    and a line may end inside them."""
    out = []
    hard = 0
    soft: list[bool] = []  # open brackets and parentheses: sized with \big… or not
    tokens = list(_TOKEN.finditer(tex))
    i = 0
    prev = ""
    while i < len(tokens):
        m = tokens[i]
        tok = m.group(0)
        out.append((m.start(), tok, hard + len(soft), hard == 0 and bool(soft) and all(soft)))
        if tok in ("{", r"\left", r"\begin"):
            hard += 1
        elif tok in ("}", r"\right", r"\end"):
            hard = max(0, hard - 1)
        elif tok in ("(", "[", r"\{", r"\langle"):
            soft.append(prev in _SIZED)
        elif tok in (")", "]", r"\}", r"\rangle") and soft:
            soft.pop()
        if tok in (r"\begin", r"\end", r"\left", r"\right"):
            # \begin{name} / \left( are one opening: skip the name's braces or the delimiter.
            if tok in (r"\begin", r"\end"):
                while i + 1 < len(tokens) and tokens[i + 1].group(0) != "}":
                    out.append((tokens[i + 1].start(), tokens[i + 1].group(0), hard + len(soft), False))
                    i += 1
                i += 1  # the closing brace
            else:
                i += 1
        if not tok.isspace():
            prev = tok
        i += 1
    return out


def _cut_points(tex: str, level: int) -> list[tuple[int, int]]:
    """Where the formula may break at this level: (end of the line before, start of the next)."""
    toks = _tokens(tex)
    cuts = []
    prev = ""
    for k, (pos, tok, depth, sized) in enumerate(toks):
        binary = tok in ("+", "-") and prev not in ("", "^", "_", "(", "[", "=", "{", ",") \
            and prev not in _RELATIONS and prev not in _SIZED and k > 0
        if level == 7 and sized and (binary or tok in _BRACKET_RELATIONS):
            cuts.append((pos, pos))
        elif level == 8 and sized and tok == ",":
            cuts.append((pos + 1, pos + 1))
        if depth:
            prev = tok if not tok.isspace() else prev
            continue
        if (level == 1 and tok == r"\qquad") or (level == 2 and tok == r"\quad" and prev == ","):
            end = pos + len(tok)
            cuts.append((pos, end))
        elif ((level == 3 and tok in _ARROWS) or (level == 4 and (tok in ("=", "<", ">") or tok in _RELATIONS))) \
                and k > 0:
            start = pos
            # Keep what belongs to the relation with it: \mathrel{+}=, \;=, \quad\Longrightarrow.
            back = tex[:start].rstrip()
            while True:
                m = re.search(r"(\\mathrel\{[^{}]*\}|\\[,;:!]|\\quad|\\qquad)\s*$", back)
                if not m:
                    break
                back = back[:m.start()].rstrip()
            if back.strip() and not back.rstrip().endswith(("=", "&")):
                cuts.append((len(back), len(back)))
        elif (level == 5 and binary) or (level == 6 and tok == r"\cdots" and k > 0):
            cuts.append((pos, pos))
        if not tok.isspace():
            prev = tok
    return cuts


_EDGE_SPACE = re.compile(r"^(?:\s|\\[,;:!]|\\q?quad(?![A-Za-z]))+|(?:\s|\\[,;:!]|\\q?quad)+$")


def _trim(tex: str) -> str:
    """A line neither starts nor ends with space: the layout of the lines spaces them."""
    return _EDGE_SPACE.sub("", tex)


def _width_fingerprint() -> str:
    from . import mathspacing, mathsvg
    from .formula_cache import renderer_fingerprint

    return renderer_fingerprint(__file__, mathsvg.__file__, mathspacing.__file__)


# Measured widths, kept across builds: measuring is a full ziamath layout (≈ 40 ms a piece), and
# breaking the handbook's display formulas for the deck and the EPUB measures ≈ 700 pieces, most
# of a warm build's time.
_WIDTHS = SideTable("width", _width_fingerprint)


def use_cache(directory: Path) -> None:
    """Keep measured widths in `directory` (the formula cache's), for this build and the next."""
    _WIDTHS.path = Path(directory) / "formulas.sqlite"


@lru_cache(maxsize=4096)
def width_em(tex: str) -> float:
    """The width of `tex` set in display style, in em of the math font (ziamath, STIX Two Math)."""
    known = _WIDTHS.get(tex)
    if isinstance(known, int | float):  # else none, or a damaged row
        return float(known)
    width = _measure(tex)
    _WIDTHS.put(tex, width)
    return width


def _measure(tex: str) -> float:
    import ziamath

    from .mathsvg import prepare  # the drawing's own set-up: the same spacing and fonts

    mathml = prepare(to_mathml(tex, display=True))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        width, _ = ziamath.Math(mathml, size=20).getsize()
    return width / 20


# How far past the measure a line that cannot be broken further may run: the measures (19 em in
# the EPUB, 14 em on an Anki card) leave at least this much of the 390 px screen to spare.
OVERHANG = 0.5


def _greedy(pieces: list[tuple[str, str]], limit: float, backwards: bool = False) -> list[str]:
    """Each line takes as many pieces (text, separator to the next) as fit, filled from the
    first piece on or, `backwards`, from the last one back."""
    order = range(len(pieces) - 1, -1, -1) if backwards else range(len(pieces))
    texts: list[str] = []
    current = ""
    for i in order:
        body = pieces[i][0]
        if not current:
            current = body  # raw: its leading space matters if a piece joins it from before
            continue
        if backwards:
            sep = pieces[i][1]
            candidate = f"{body}{sep} {current}" if sep else f"{body} {current}"
        else:
            sep = pieces[i - 1][1]
            candidate = f"{current}{sep} {body}" if sep else f"{current} {body}"
        if width_em(_trim(candidate)) <= limit:
            current = candidate
        else:
            texts.append(_trim(current))
            current = body
    texts.append(_trim(current))
    return texts[::-1] if backwards else texts


def _fill(tex: str, limit: float, level: int, indent: bool) -> list[Line]:
    if level > _LAST_LEVEL or width_em(tex) <= limit:
        return [Line(tex, indent)]
    cuts = _cut_points(tex, level)
    if not cuts:
        return _fill(tex, limit, level + 1, indent)
    pieces = []
    start = 0
    for end, nxt in cuts:
        pieces.append((tex[start:end].strip(), tex[end:nxt]))
        start = nxt
    pieces.append((tex[start:].strip(), ""))
    # A piece keeps the space it starts with ("\\quad\\Longleftrightarrow"): pieces that stay on
    # one line are set as written; only the edges of a line lose their space.
    pieces = [(body, sep) for body, sep in pieces if _trim(body)]
    texts = _greedy(pieces, limit)
    if level > _SIDE_BY_SIDE and len(texts) > 1 and width_em(texts[-1]) < _SHORT:
        # "≥ 0," alone on the last line: fill the lines from the end instead, so that the short
        # line, if any, is the first ("D_KL(P‖Q)" before "= …"), where it reads as the subject.
        backwards = _greedy(pieces, limit, backwards=True)
        if len(backwards) == len(texts) and width_em(backwards[-1]) >= _SHORT:
            texts = backwards
    # A line of a few letters ("L", "\\eta_t") before a break helps nobody: keep it with the next
    # line, which the next level may break elsewhere.
    # (unless only the break lets the next line fit).
    def fit(text: str, margin: float = 0.0) -> bool:
        return all(width_em(line.tex) <= limit + margin for line in _fill(text, limit, level + 1, False))

    for i in range(len(texts) - 2, -1, -1):
        if level > _SIDE_BY_SIDE and width_em(texts[i]) < _SHORT:
            merged = f"{texts[i]} {texts[i + 1]}"
            # Kept together when that fits, or when the next line would not fit even within the
            # measure's margin: the break would not help (p̃(v) before a `cases` that does fit it).
            if fit(merged) or not fit(texts[i + 1], OVERHANG):
                texts[i:i + 2] = [merged]
    # Side-by-side formulas each start a line of their own; a broken formula goes on indented.
    lines = [(text, indent if i == 0 else level > _SIDE_BY_SIDE) for i, text in enumerate(texts)]
    return [deeper for text, ind in lines for deeper in _fill(text, limit, level + 1, ind)]


def break_lines(tex: str, limit: float) -> list[Line]:
    """The formula as lines no wider than `limit` em where it can be broken; one line when it fits
    (or cannot be measured: then the reader's own layout has the last word)."""
    try:
        if width_em(tex) <= limit:
            return [Line(tex, False)]
        # A line that starts with "+" keeps the binary operator's spacing ("{}+"), as in TeX.
        lines = [Line("{}" + line.tex if line.indent and line.tex[:1] in "+-" else line.tex, line.indent)
                 for line in _fill(tex, limit, 1, False)]
        for line in lines:
            to_mathml(line.tex, display=True)  # every line must stand as a formula of its own
        return lines
    except Exception:  # a formula ziamath cannot measure keeps its one line
        return [Line(tex, False)]


def inline_pieces(tex: str) -> list[str]:
    """An inline formula cut where TeX may end a line inside one: after a relation at its top
    level. Each piece but the last ends with its relation and an empty group after it, so that
    the pieces set side by side keep the relation's space on both sides."""
    pieces: list[str] = []
    start = 0
    toks = _tokens(tex)
    for k, (pos, tok, depth, _) in enumerate(toks):
        if depth or not (tok in ("=", "<", ">") or tok in _RELATIONS) or k == 0:
            continue
        rest = tex[pos + len(tok):]
        if not rest.strip() or rest.lstrip().startswith(("=", r"\\", "&")):
            continue
        pieces.append(tex[start:pos + len(tok)] + "{}")
        start = pos + len(tok)
    pieces.append(tex[start:])
    return [piece for piece in pieces if piece.strip()]


def aligned(lines: list[Line]) -> str:
    """The lines as TeX for MathJax: one line as it is, more in a left-aligned `aligned`."""
    if len(lines) == 1:
        return lines[0].tex
    rows = [("&\\quad " if line.indent else "&") + line.tex for line in lines]
    return "\\begin{aligned}" + r"\\".join(rows) + "\\end{aligned}"
