"""Line-break hooks for the PDF templates: short compounds kept whole, leaders kept with a word.

`keep_short_compounds`: no line break at a word's own hyphen that would leave one or two
characters on a line. `leader_tail`: a contents entry's last word goes down with its dot leader
and page number (see its docstring).

The hyphenator keeps three letters either side of a break it adds (book.css.j2:
hyphenate-limit-chars), but a line may still break at a hyphen the word has: "top-" / "p",
"GPT-" / "4", "in-" / "context". A compound whose first or last part is shorter than three
characters is kept on one line (a `nowrap` span, so the text stays as written for search and copy).
Code, external links (their text may be a URL) and the formulas' text layer are left alone.
"""

from __future__ import annotations

import re

from markupsafe import Markup

SHORTEST = 3
_COMPOUND = re.compile(r"(?<![\w\-/.@])\w+(?:-\w+)+(?![\w/@]|-\w)")
_PIECES = re.compile(r"(<[^>]*>)")
# Elements whose text is not running prose: nothing inside them is touched.
_SKIP = re.compile(r'<(?:pre|code)\b|<a\b(?![^>]*href="#)|<span class="(?:math-text|fn-url)"')
_TAG_NAME = re.compile(r"</?([a-zA-Z0-9]+)")


def _wrap(text: str) -> str:
    def one(m: re.Match) -> str:
        parts = m.group(0).split("-")
        if min(len(parts[0]), len(parts[-1])) >= SHORTEST:
            return m.group(0)
        return f'<span class="compound">{m.group(0)}</span>'

    return _COMPOUND.sub(one, text)


def keep_short_compounds(markup: str) -> str:
    out: list[str] = []
    skipping: list[str] = []  # the names of the open elements being skipped
    for piece in _PIECES.split(str(markup)):
        if piece.startswith("<"):
            match = _TAG_NAME.match(piece)
            name = match.group(1).lower() if match else ""
            if skipping:
                if piece.startswith("</") and name == skipping[-1]:
                    skipping.pop()
                elif not piece.startswith("</") and name == skipping[-1] and not piece.endswith("/>"):
                    skipping.append(name)
            elif _SKIP.match(piece):
                skipping.append(name)
            out.append(piece)
        else:
            out.append(piece if skipping else _wrap(piece))
    return Markup("".join(out))


_LAST_WORD = re.compile(r"(\S+)(\s*)$")
# Chinese has no spaces: its "last word" is the last two characters (an ideograph and a mark).
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
_CJK_TAIL = 2


def leader_tail(markup: str, page: str, target: str) -> str:
    """An entry's title with its last word joined to the dot leader and page number that follow it.

    Where the number does not fit after the title, the leader went down alone and filled a line of
    dots; a typesetter brings the title's last word down with it. The leader is drawn after the
    `toc-tail` span (book.css.j2), which does not break inside. The span names the link's
    `target` (`data-href`) so that its page number is filled in like a link's (page_numbers.py)."""
    text = str(markup)
    head, sep, tail = text.rpartition(">")
    match = _LAST_WORD.search(tail)
    if match is None:  # the title ends with markup (a formula): the leader follows it
        return Markup(f'{text}<span class="toc-tail" data-page="{page}" data-href="{target}"></span>')
    start = match.start()
    if _CJK.search(match.group(1)):
        start = max(start, match.end(1) - _CJK_TAIL)
    return Markup(f'{head}{sep}{tail[:start]}<span class="toc-tail" data-page="{page}" data-href="{target}">'
                  f'{tail[start:match.end(1)]}</span>{match.group(2)}')
