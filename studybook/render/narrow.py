"""Markup hooks that let the EPUB and Anki stylesheets reflow tables and code on a phone.

The styles decide what a narrow screen does (templates/epub/book.css.j2, templates/anki/
card.css.j2); these rewrites only give them something to hold on to, without changing what the
text says:

* a table of three or more columns gets `class="reflow"` and each body cell a `data-label` with
  its column's heading, so under ~30em every row can be set as a stacked block, each value under
  its heading;
* each source line of a code block becomes a `<span class="line">`, so a line too long for the
  screen wraps with a hanging indent and a mark that it goes on.

Both work on the HTML the renderers produce (markdown-it tables, Pygments code), as text: the
rewrite touches only start tags and line ends, so XHTML stays XHTML.
"""

from __future__ import annotations

import html
import re

_TABLE = re.compile(r"<table>(.*?)</table>", re.S)
_HEAD = re.compile(r"<thead>(.*?)</thead>", re.S)
_TH = re.compile(r"<th\b[^>]*>(.*?)</th>", re.S)
_ROW = re.compile(r"<tr>(.*?)</tr>", re.S)
_TD = re.compile(r"<td\b")
_TAG = re.compile(r"<[^>]+>")
_MATH = re.compile(r"<math\b[^>]*\balttext=\"([^\"]*)\"[^>]*>.*?</math>", re.S)
_ANKI_MATH = re.compile(r"\\\((.*?)\\\)", re.S)
MIN_COLUMNS = 3  # two columns fit a phone as they are


def _label(cell: str) -> str:
    """A heading as plain text for an attribute: formulas by their source, tags dropped."""
    text = _MATH.sub(lambda m: html.unescape(m.group(1)), cell)
    text = _ANKI_MATH.sub(lambda m: m.group(1), text)
    return " ".join(html.unescape(_TAG.sub("", text)).split())


def _table(match: re.Match[str]) -> str:
    body = match.group(1)
    head = _HEAD.search(body)
    labels = [_label(c) for c in _TH.findall(head.group(1))] if head else []
    if len(labels) < MIN_COLUMNS:
        return match.group(0)

    def row(r: re.Match[str]) -> str:
        cells = iter(labels)
        return "<tr>" + _TD.sub(lambda _: f'<td data-label="{html.escape(next(cells, ""), quote=True)}"',
                                r.group(1)) + "</tr>"

    rest = body[head.end():] if head else body
    return f'<table class="reflow">{body[:head.end()] if head else ""}{_ROW.sub(row, rest)}</table>'


def label_table_cells(text: str) -> str:
    """Mark wide tables for reflow and label their body cells with the column headings."""
    return _TABLE.sub(_table, text)


_PRE = re.compile(r"(<pre\b[^>]*>(?:<span></span>)?(?:<code\b[^>]*>)?)(.*?)((?:</code>)?</pre>)", re.S)


def _lines(inner: str) -> str:
    # Pygments' spans may run across a line end (a docstring, a comment block): close them at the
    # end of a line and open them again on the next, so every line is a well-formed span.
    body = inner.rstrip("\n")
    out: list[str] = ['<span class="line">']
    stack: list[str] = []
    pos = 0
    for m in re.finditer(r"<span\b[^>]*>|</span>|\n", body):
        out.append(body[pos:m.start()])
        token = m.group(0)
        if token == "\n":
            # The line end stays inside its line: between two block-level lines it would be
            # a blank line of its own.
            out.append("</span>" * len(stack) + "\n</span>" + '<span class="line">' + "".join(stack))
        elif token == "</span>":
            if stack:
                stack.pop()
            out.append(token)
        else:
            stack.append(token)
            out.append(token)
        pos = m.end()
    out.append(body[pos:] + "</span>" * len(stack) + inner[len(body):] + "</span>")
    return "".join(out)


def code_lines(text: str) -> str:
    """Wrap each line of every `<pre>` block in `<span class="line">`."""
    return _PRE.sub(lambda m: m.group(1) + _lines(m.group(2)) + m.group(3), text)
