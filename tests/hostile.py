"""The hostile-input corpus: one table of edits to the mini fixture book and their exact outcomes.

Each case copies tests/fixtures/mini, applies its edits (text replaced in a file, files added,
special files such as a FIFO created), runs build.py and compares the problem lines it prints,
all of them, with the expected ones; or, for input that is made harmless rather than refused,
compares the exact sanitised text in the built artifact. `{line}` in an expected line is the line
where the case's first edit starts in that file. tests/test_hostile.py runs the table; the artifact
scan (tests/test_artifact_scan.py) builds a book from the accepted hostile cases.
"""

from __future__ import annotations

from dataclasses import dataclass

PNG_1PX = bytes.fromhex(  # one red pixel, as Pillow writes it
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c63f8cfc0f01f00050001ff89993d1d0000000049454e44ae426082")
SVG = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10" width="10" height="10">{}</svg>'
FIX_LINK = "link to https://…, mailto:… or #question-id"
FIX_CONTROL = ("delete it (control and bidirectional-override characters can hide or reorder what a "
               "reader sees)")
FIX_LATEX = "fix the formula (standard LaTeX/AMS macros only)"
ACTIVE_LATEX = "is not allowed in a formula (it would reach the reader's screen as a link, style or HTML)"
FIX_SVG = "remove it from the SVG (export it again as plain SVG, without scripts, links or external files)"
FIX_YAML = "fix the YAML syntax (indentation, ':' after keys, quotes)"
FIX_BIB_YAML = "fix the YAML syntax (indentation, quotes around titles with ':')"
PARAGRAPH = "Numbers and functions."  # the Maths chapter's introduction, line 73 of the mini book
BIB_TITLE = "  title: Attention Is All You Need"
QUESTION_META = "id: softmax\ndifficulty: easy\n"


@dataclass(frozen=True)
class Case:
    id: str
    edits: tuple[tuple[str, str, str], ...] = ()  # (file under content/, old text, new text)
    expected: tuple[str, ...] = ()  # exact problem lines, path relative to content/
    files: tuple[tuple[str, bytes | str], ...] = ()  # extra files: bytes, or "fifo", "dir"
    target: str = "check"
    source: str = "handbook.md"  # --source, relative to content/ (or absolute: a device)
    exit_code: int = 1
    sanitised: tuple[tuple[str, str], ...] = ()  # (artifact part, exact text it must contain)
    absent: tuple[str, ...] = ()  # text the artifact part must not contain
    isolated: bool = False  # run in a subprocess with a timeout (may block or use much memory)
    env: tuple[tuple[str, str], ...] = ()  # environment variables for the build
    args: tuple[str, ...] = ()  # more command-line arguments
    future: str = ""  # a file under content/ dated in the year 2200
    message: str = ""  # an exact line of stderr that is not a path:line problem


def prose(new: str, *expected: str, **kw) -> Case:
    """A case that replaces the Maths chapter's one-line introduction."""
    return Case(kw.pop("id"), (("handbook.md", PARAGRAPH, new),), tuple(expected), **kw)


def front(old: str, new: str, *expected: str, **kw) -> Case:
    return Case(kw.pop("id"), (("handbook.md", old, new),), tuple(expected), **kw)


def bib(old: str, new: str, *expected: str, **kw) -> Case:
    return Case(kw.pop("id"), (("references.yaml", old, new),), tuple(expected), **kw)


def svg_image(case_id: str, body: str, reason: str, prolog: str = "") -> Case:
    return Case(case_id, (("handbook.md", PARAGRAPH, "![x](images/evil.svg)"),),
                (f"handbook.md:{{line}}: SVG image 'images/evil.svg': {reason} — {FIX_SVG}",),
                files=(("images/evil.svg", (prolog + SVG.format(body)).encode()),))


def formula(case_id: str, tex: str, command: str) -> Case:
    return prose(f"A formula \\({tex}\\) here.",
                 f"handbook.md:{{line}}: malformed LaTeX in {tex!r}: {command} {ACTIVE_LATEX} — {FIX_LATEX}",
                 id=case_id)


def control(case_id: str, char: str) -> Case:
    return prose(f"Numbers{char} and functions.",
                 f"handbook.md:{{line}}: invisible control character U+{ord(char):04X} in the text — {FIX_CONTROL}",
                 id=case_id)


NESTED_LIST = "\n".join("  " * i + "- item" for i in range(1000))
BOMB = "".join(f"  - &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]\n" for i in range(1, 10))
LONG_FORMULA = "x+" * 10_000
CASES: list[Case] = [
    # -- where artifacts are written --------------------------------------------------------------
    front("language: en", "language: x/../../../../zz-written-outside",
          "handbook.md:{line}: language 'x/../../../../zz-written-outside' is not a BCP 47 tag — write a tag such "
          "as en, en-GB or zh-CN", id="language-path-traversal", target="all"),
    front("language: en", "language: 'en\" onload=\"alert(1)'",
          "handbook.md:{line}: language 'en\" onload=\"alert(1)' is not a BCP 47 tag — write a tag such as en, "
          "en-GB or zh-CN", id="language-quotes", target="all"),
    # -- formulas: one allow-list wherever they stand ---------------------------------------------
    formula("formula-href-javascript", r"\href{javascript:alert(1)}{x}", r"\href"),
    formula("formula-style", r"\style{color:red}{x}", r"\style"),
    formula("formula-class", r"\class{evil}{x}", r"\class"),
    formula("formula-cssid", r"\cssId{a}{x}", r"\cssId"),
    formula("formula-unicode", r"\unicode{x41}", r"\unicode"),
    front("## What does softmax do?", r"## What does \(\url{https://e.com}\) do?",
          f"handbook.md:{{line}}: malformed LaTeX in '\\\\url{{https://e.com}}': \\url {ACTIVE_LATEX} — {FIX_LATEX}",
          id="formula-in-question-title"),
    front("# Maths", r"# Maths \(\htmlData{x=1}{y}\)",
          f"handbook.md:{{line}}: malformed LaTeX in '\\\\htmlData{{x=1}}{{y}}': \\htmlData {ACTIVE_LATEX} — "
          f"{FIX_LATEX}", id="formula-in-chapter-title"),
    prose(r"Escaped \\(\href{javascript:alert(1)}{x}\\) in prose.",
          "handbook.md:{line}: a math delimiter \\( or \\[ written as text (Anki would typeset it as an unchecked "
          "formula) — write the formula as \\(…\\), or put the characters in `code`", id="escaped-delimiters-in-prose"),
    prose(r"<div>\(x\)</div>",
          "handbook.md:{line}: a math delimiter \\( or \\[ written as text (Anki would typeset it as an unchecked "
          "formula) — write the formula as \\(…\\), or put the characters in `code`", id="delimiters-in-raw-html"),
    prose(f"\\({LONG_FORMULA}\\)",
          f"handbook.md:{{line}}: malformed LaTeX in '{'x+' * 39}x…': the formula has 20,000 characters, more "
          f"than 1,000; split it — {FIX_LATEX}", id="formula-20000-characters"),
    prose("\\(" + "{" * 100 + "x" + "}" * 100 + "\\)",
          f"handbook.md:{{line}}: malformed LaTeX in '{'{' * 79}…': groups {{…}} nested more than 32 deep — "
          f"{FIX_LATEX}", id="formula-braces-100-deep"),
    # -- images wherever they stand, bytes matching the type --------------------------------------
    prose("[<img src=\"https://e.com/px.png\" alt=\"\">](https://example.com)",
          "handbook.md:{line}: image 'https://e.com/px.png' is not a file inside content/ — copy the image into "
          "content/ and use a relative path", id="img-inside-link-text"),
    prose("[![pixel](https://e.com/px.png)](https://example.com)",
          "handbook.md:{line}: image 'https://e.com/px.png' is not a file inside content/ — copy the image into "
          "content/ and use a relative path", id="markdown-image-inside-link-text"),
    prose("<img alt=\"x\" src=\"../../../../etc/passwd.png\">",
          "handbook.md:{line}: image path '../../../../etc/passwd.png' resolves outside {content} — keep images "
          "inside the content directory", id="img-path-traversal"),
    prose("![x](images/text.png)",
          "handbook.md:{line}: image 'images/text.png' is not a valid PNG file — export the image again, or fix "
          "its file extension", id="text-file-named-png", files=(("images/text.png", b"hello, I am text\n"),)),
    prose("![x](images/cut.png)",
          "handbook.md:{line}: image 'images/cut.png' cannot be read as PNG: the data after its first bytes "
          "cannot be decoded (the file is cut short or corrupt) — export the image again", id="png-cut-short",
          files=(("images/cut.png", PNG_1PX[:40]),)),
    prose("![x](images/cut.png)",
          "handbook.md:{line}: image 'images/cut.png' cannot be read as PNG: the data after its first bytes "
          "cannot be decoded (the file is cut short or corrupt) — export the image again",
          id="png-pixel-data-cut-short", files=(("images/cut.png", PNG_1PX[:-24]),)),
    prose("![x](images/pipe.png)",
          "handbook.md:{line}: image 'images/pipe.png' is a named pipe (FIFO), not a regular file — name an "
          "image file of a sensible size", id="image-is-a-fifo", files=(("images/pipe.png", "fifo"),),
          isolated=True),
    prose("![x](images/folder.png)",
          "handbook.md:{line}: image 'images/folder.png' is a directory, not a regular file — name an image file "
          "of a sensible size", id="image-is-a-directory", files=(("images/folder.png", "dir"),)),
    svg_image("svg-script", "<script>alert(1)</script>", "it has a <script> element"),
    svg_image("svg-onload", '<rect width="5" height="5" onload="alert(1)"/>', "it has an event handler onload="),
    svg_image("svg-external-image",
              '<image href="https://tracker.example/px.png" width="1" height="1"/>',
              "it refers to 'https://tracker.example/px.png' (only #ids inside the file and embedded PNG/JPEG/GIF)"),
    svg_image("svg-entities", "<text>&a;</text>",
              "it has a <!DOCTYPE …> declaration (entities can expand without bound)",
              prolog='<!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa">]>\n'),
    svg_image("svg-foreign-object", "<foreignObject><p>hi</p></foreignObject>", "it has a <foreignObject> element"),
    svg_image("svg-animation-sets-a-link",
              '<image width="1" height="1"><set attributeName="xlink:href" to="https://tracker.example/px.png"/></image>',
              'it has <set attributeName="xlink:href">, which changes a link or handler'),
    svg_image("svg-css-import", "<style>@import url(https://e.com/x.css);</style>", "it has a stylesheet @import"),
    # -- links, whatever their attribute order ----------------------------------------------------
    prose('<a title="t" href="#missing">x</a>',
          "handbook.md:{line}: link to missing question '#missing' — link to an existing question id, e.g. "
          "[text](#question-id)", id="raw-link-title-before-href"),
    prose("[x](%20javascript:alert(1))",
          f"handbook.md:{{line}}: link to '%20javascript:alert(1)' is not a web address or a question — {FIX_LINK}",
          id="relative-javascript-link"),
    prose("[x](../x)", f"handbook.md:{{line}}: link to '../x' is not a web address or a question — {FIX_LINK}",
          id="relative-parent-link"),
    prose('<a class="c" href="../x">x</a>',
          f"handbook.md:{{line}}: link to '../x' is not a web address or a question — {FIX_LINK}",
          id="raw-relative-link"),
    # -- control characters -----------------------------------------------------------------------
    control("unit-separator-u001f", "\x1f"),
    control("bidi-override-u202e", "\u202e"),
    control("bidi-isolate-u2066", "\u2066"),
    control("nul", "\x00"),
    control("vertical-tab", "\x0b"),
    control("noncharacter-ufffe", "\ufffe"),
    # -- YAML -------------------------------------------------------------------------------------
    front(QUESTION_META, "id: softmax\nid: other\ndifficulty: easy\n",
          f"handbook.md:{{line+1}}: malformed YAML in metadata block: the key 'id' is written twice — {FIX_YAML}",
          id="duplicate-id-key"),
    front(QUESTION_META, "id: softmax\ndifficulty: &d easy\ntags: *d\n",
          f"handbook.md:{{line+2}}: malformed YAML in metadata block: aliases (*name) are not allowed here — "
          f"{FIX_YAML}", id="metadata-alias"),
    front("authors: [Test Author]\n", "authors:\n  - &a0 [lol]\n" + BOMB,
          f"handbook.md:{{line+2}}: malformed YAML in front matter: aliases (*name) are not allowed here — "
          f"{FIX_YAML}", id="alias-bomb-in-authors", isolated=True),
    # libyaml hands over an alias as the node it names: the line is the anchor's (&a0).
    bib(BIB_TITLE + "\n", "  title: &a0 [lol]\n  note:\n" + BOMB.replace("  - ", "    - "),
        f"references.yaml:{{line}}: malformed YAML: aliases (*name) are not allowed here — {FIX_BIB_YAML}",
        id="alias-bomb-in-bibliography", isolated=True),
    front("version: 0.0.1", "version: " + "9" * 5000,
          "handbook.md:{line}: malformed YAML in front matter: the number 99999999999999999999… is too large "
          f"(5000 digits) — {FIX_YAML}", id="huge-integer-front-matter"),
    bib("[[2017]]", "[[" + "2" * 5000 + "]]",
        "references.yaml:{line}: malformed YAML: the number 22222222222222222222… is too large (5000 digits) — "
        f"{FIX_BIB_YAML}", id="huge-integer-bibliography"),
    front(QUESTION_META, "id: softmax\n1: x\ndifficulty: easy\n",
          f"handbook.md:{{line+1}}: malformed YAML in metadata block: the key 1 is not text — {FIX_YAML}",
          id="non-text-key"),
    bib("issued: {date-parts: [[2017]]}", "issued: {date-parts: [[.inf]]}",
        "references.yaml:1: bibliography entry 'vaswani2017attention' lacks a valid issued — see "
        "docs/authoring.md, 'Bibliography'", id="issued-infinity"),
    bib("  author:\n", "  author: 5\n  x-author:\n",
        "references.yaml:1: bibliography entry 'vaswani2017attention' lacks a valid author — see "
        "docs/authoring.md, 'Bibliography'", id="author-is-a-number"),
    bib(BIB_TITLE, "  title: Attention \x00 Is All You Need",
        "references.yaml:{line}: the character U+0000 is not allowed in YAML — delete it", id="nul-in-bibliography"),
    # -- files at the edge ------------------------------------------------------------------------
    Case("invalid-utf8-source", (("handbook.md", PARAGRAPH, "Numbers \udcff and functions."),),
         ("handbook.md:{line}: the file is not valid UTF-8 (byte 0xFF) — save it as UTF-8",)),
    Case("invalid-utf8-bibliography", (("references.yaml", BIB_TITLE, "  title: Attention \udcfe"),),
         ("references.yaml:{line}: the bibliography is not valid UTF-8 (byte 0xFE) — save it as UTF-8",)),
    Case("source-is-a-fifo", files=(("pipe.md", "fifo"),), source="pipe.md", isolated=True,
         expected=("pipe.md:1: the source is a named pipe (FIFO), not a regular file — pass a Markdown file "
                   "with --source",)),
    Case("source-is-dev-zero", source="/dev/zero", isolated=True,
         expected=("/dev/zero:1: the source is a device, not a regular file — pass a Markdown file with "
                   "--source",)),
    Case("source-is-a-directory", files=(("book.md", "dir"),), source="book.md",
         expected=("book.md:1: the source is a directory, not a regular file — pass a Markdown file with "
                   "--source",)),
    Case("source-too-large", (("handbook.md", PARAGRAPH, PARAGRAPH + "\n\n" + "word " * 13_500_000),),
         ("handbook.md:1: the source is 64.4 MiB, more than the limit of 64 MiB — pass a Markdown file with "
          "--source",)),
    front("bibliography: references.yaml", "bibliography: pipe.yaml",
          "handbook.md:{line}: the bibliography 'pipe.yaml' is a named pipe (FIFO), not a regular file — check the "
          "'bibliography' path in the front matter", id="bibliography-is-a-fifo", files=(("pipe.yaml", "fifo"),),
          isolated=True),
    # -- size and depth ---------------------------------------------------------------------------
    front("## What does softmax do?", "## What" + " " * 1_000_000 + "does softmax do?",
          "handbook.md:{line}: heading of 1,000,020 characters — keep a title under 300 characters; put the rest "
          "in the text", id="heading-of-1-mb", isolated=True),
    prose(NESTED_LIST, "handbook.md:{line+8}: lists or quotes nested more than 8 deep — nest at most 8 lists or "
          "quotes inside each other", id="lists-1000-deep"),
    prose(">" * 1000 + " deep", "handbook.md:{line}: lists or quotes nested more than 8 deep — nest at most 8 lists "
          "or quotes inside each other", id="quotes-1000-deep"),
    prose("<div>" * 1000 + "x" + "</div>" * 1000,
          "handbook.md:{line}: HTML elements nested 1000 deep — nest at most 32 elements (lists, quotes, <div>s) "
          "inside each other", id="divs-1000-deep"),
    # Linear time: each of these took minutes when a scan restarted at every opening.
    # (An unclosed "\\(" is Markdown's escaped parenthesis: 50,000 of them are plain text.)
    prose("\\(" * 50_000, id="50000-unclosed-math-openings", isolated=True, exit_code=0),
    prose("<div>\n" * 100_000, "handbook.md:{line}: HTML elements nested 100000 deep — nest at most 32 elements "
          "(lists, quotes, <div>s) inside each other", id="100000-raw-div-lines", isolated=True),
    # -- identity ---------------------------------------------------------------------------------
    front("id: softmax\n", "id: attention\n",
          "handbook.md:{line-3}: duplicate question id 'attention' (first used at line 29) — ids must be unique and "
          "never reused", id="duplicate-question-id"),
    prose("Spacing \\(\\,\\) only.",
          "handbook.md:{line}: cannot draw formula '\\\\,': the formula draws nothing (only spacing or phantoms) — "
          "simplify the formula or use standard LaTeX/AMS macros", id="formula-that-draws-nothing"),
    # -- the command line and the clock -----------------------------------------------------------
    Case("source-date-epoch-after-2107", env=(("SOURCE_DATE_EPOCH", "99999999999"),),
         message="build.py: error: SOURCE_DATE_EPOCH=99999999999 is after 2107, the last date a zip file (the deck, "
                 "the EPUB) can record"),
    Case("file-dated-after-2107", future="references.yaml", env=(("SOURCE_DATE_EPOCH", ""),),
         message="build.py: error: {content}/references.yaml is dated after 2107, the last date a zip file can "
                 "record; give it the current time (touch it)"),
    Case("paper-size-a5", args=("--paper", "a5"), exit_code=2,
         message="build.py: error: argument --paper: invalid choice: 'a5' (choose from 'a4', 'letter') "
                 "(see build.py --help)"),
    # -- made harmless rather than refused (exact sanitised output) -------------------------------
    prose("Numbers [sound:evil.mp3] and functions.", id="anki-sound-tag", target="anki", exit_code=0,
          sanitised=(("anki:Topic", "Maths"), ("anki:description:maths", "Numbers &#91;sound:evil.mp3] and")),
          absent=("[sound:",)),
    front("Softmax maps logits", "Softmax [anki:tts lang=en_US]maps[/anki:tts] logits", id="anki-tts-tag",
          target="anki", exit_code=0, sanitised=(("anki:KeyPoints", "Softmax &#91;anki:tts lang=en_US]maps"),),
          absent=("[anki:",)),
    front("# Maths", "# Maths :: Sub", id="deck-separator-in-topic-title", target="anki", exit_code=0,
          sanitised=(("anki:deck", "Mini Question Bank::02 Maths : Sub"),)),
    # A deck name is plain text in Anki's model (its screens escape it): the title is kept as written.
    front("# Maths", "# Maths &lt;img src=x onerror=alert(1)&gt;", id="markup-in-topic-title", target="anki",
          exit_code=0, sanitised=(("anki:Topic", "Maths &lt;img src=x onerror=alert(1)&gt;"),
                                  ("anki:deck", "Mini Question Bank::02 Maths <img src=x onerror=alert(1)>")),
          absent=("<img src=x",)),
    prose('Raw <a title="t" href="#softmax">link</a> and <a href="javascript:alert(1)" title="j">bad</a>.',
          id="raw-links-lifted-and-cleaned", target="anki", exit_code=0,
          sanitised=(("anki:description:maths", '<a title="j">bad</a>'),), absent=("javascript:",)),
    prose("Text <span onmouseover=\"x()\" style=\"color:red\">kept</span><script>alert(1)</script>.",
          id="raw-html-handlers-and-script", target="anki", exit_code=0,
          sanitised=(("anki:description:maths", "Text <span>kept</span>."),),
          absent=("onmouseover", "<script")),
    Case("byte-order-mark", (("handbook.md", "---\nbook:", "\ufeff---\nbook:"),), exit_code=0),
]
