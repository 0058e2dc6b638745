"""Property-based fuzzing (hypothesis) of the reader, the Markdown/math layer and each renderer.

The property: whatever the text, nothing escapes but the documented error, a `BuildError` whose
problems are `path:line: …` lines (MathError / DrawError inside the math layer, which the reader
turns into problems). Text is drawn from a mix of random characters and the pieces of syntax the
build treats specially (headings, fences, math delimiters, links, images, citations, raw HTML,
YAML, control characters), so most examples reach deep into the pipeline.

Every run is bounded and reproducible: `derandomize=True` (CI sees the same examples every time),
no example database, a deadline per example and a fixed number of examples; the PDF renderer,
the slowest, gets tiny books and few examples (the print aids are PDFs too). The whole module takes
about a minute on an idle machine; the renderer part is marked slow.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FIXTURES
from studybook import markup, mathsvg, mathtex
from studybook.diagnostics import BuildError, Problems
from studybook.model import Book, Fragment
from studybook.reader import read_book
from studybook.render import Options

PROBLEM_LINE = re.compile(r"^\S.*:\d+: \S")


def bounded(max_examples: int, deadline_ms: int = 5000):
    return settings(max_examples=max_examples, deadline=deadline_ms, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


PIECES = [
    "\n", "\n\n", " ", "  ", "\t", "#", "# ", "## ", "### ", "#### ", "*", "**", "_", "`", "```", "~~~", "```yaml\n",
    "```figure\n", "```python\n", "$", "$$", "\\(", "\\)", "\\[", "\\]", "\\\\(", "{", "}", "\\frac{a}{b}", "^", "_{i}",
    "\\href{javascript:x}{y}", "\\begin{matrix}", "\\end{matrix}", "\\left(", "\\right)", "\\operatorname{f}",
    "[", "]", "(", ")", "[x](#softmax)", "[x](#missing)", "[x](https://example.com)", "[x](../x)",
    "![grid](images/grid.svg)", "![](images/none.png)", "<img src=\"images/grid.svg\" alt=\"g\">",
    "[@vaswani2017attention]", "[@unknown]", "<a title=\"t\" href=\"#attention\">", "</a>", "<div>", "</div>",
    "<script>alert(1)</script>", "<span onclick=\"x\">", "</span>", "- ", "1. ", "> ", "| a | b |\n|---|---|\n",
    "---", ":", "id: ", "&amp;", "&#92;(", "&lt;", "\x1f", "\u202e", "\x00", "\ufeff", "é", "中文", "🙂",
    "[sound:x.mp3]", "::", "'", "\"", "\\", "<!--", "-->", "*a*", "<math><mi>x</mi></math>",
]
fuzz_text = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=6)), max_size=40).map("".join)


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    """A content directory with the mini book's bibliography and images, reused by every example."""
    root = Path(tempfile.mkdtemp(prefix="studybook-fuzz-"))
    shutil.copytree(FIXTURES / "mini", root / "content")
    yield root / "content"
    shutil.rmtree(root)


def _only_documented_errors(exc: BuildError) -> None:
    assert exc.problems, "a BuildError without problems"
    for problem in exc.problems:
        assert PROBLEM_LINE.match(str(problem)), str(problem)


def _book_text(intro: str, title: str, key_points: str, answer: str) -> str:
    return (
        "---\nbook: fuzz\ntitle: Fuzz\nauthors: [A]\nlanguage: en\nversion: '1'\nbibliography: references.yaml\n---\n\n"
        f"# Chapter\n\n```yaml\ntopic: chapter\n```\n\n{intro}\n\n"
        f"## {title}\n\n```yaml\nid: softmax\n```\n\n### Key points\n\n{key_points}\n\n### Answer\n\n{answer}\n\n"
        "## Attention?\n\n```yaml\nid: attention\n```\n\n### Answer\n\nText.\n"
    )


def _read(workdir: Path, text: str) -> Book | None:
    source = workdir / "fuzz.md"
    source.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        return read_book(source)
    except BuildError as exc:
        _only_documented_errors(exc)
        return None


# -- the reader -----------------------------------------------------------------------------------


@bounded(120)
@given(text=fuzz_text)
def test_reader_on_any_text(workdir: Path, text: str):
    _read(workdir, text)


@bounded(120)
@given(intro=fuzz_text, title=fuzz_text, key_points=fuzz_text, answer=fuzz_text)
def test_reader_on_a_book_with_any_parts(workdir: Path, intro: str, title: str, key_points: str, answer: str):
    _read(workdir, _book_text(intro, title.replace("\n", " "), key_points, answer))


@bounded(60)
@given(meta=st.lists(st.one_of(st.sampled_from([
    "book: x\n", "title: T\n", "authors: [A]\n", "language: en\n", "version: 1\n", "bibliography: references.yaml\n",
    "language: ../x\n", "authors: &a [x]\n", "title: *a\n", "version: 99999999999999999999999\n", "1: x\n",
    "? [a]\n: b\n", "title: !!python/object:os.system x\n", "- x\n", "{", "book: x\nbook: y\n", ".inf\n",
]), st.text(max_size=10)), max_size=12).map("".join))
def test_reader_on_any_front_matter(workdir: Path, meta: str):
    _read(workdir, f"---\n{meta}---\n\n# C\n\n```yaml\ntopic: c\n```\n\n## Q?\n\n```yaml\nid: q\n```\n\nA.\n")


# -- the Markdown and math layer ------------------------------------------------------------------


@bounded(200)
@given(text=fuzz_text, inline=st.booleans())
def test_markdown_layer_reports_problems_and_returns_a_fragment(workdir: Path, text: str, inline: bool):
    problems = Problems()
    ctx = markup.Context(problems, workdir, workdir)
    fragment = markup.to_fragment(text, 1, "fuzz.md", ctx, inline=inline)
    assert isinstance(fragment, Fragment)
    for problem in problems.items:
        assert PROBLEM_LINE.match(str(problem)), str(problem)


TEX = st.lists(st.sampled_from([
    "x", "y_1", "^2", "{", "}", "\\frac", "\\sqrt", "\\sum_{i=1}^{n}", "\\left(", "\\right)", "\\begin{pmatrix}",
    "\\end{pmatrix}", "&", "\\\\", "\\mathbf{q}", "\\operatorname{softmax}", "\\href{x}{y}", "\\unknown", "+", "=",
    "\\alpha", "\\cdot", "\\,", "\\text{ab}", "\\{", "\\}", "\\mathrm{d}", "'", "!", "\\big", "\\langle", "\\rangle",
]), max_size=16).map("".join) | st.text(max_size=20)


@bounded(150, deadline_ms=10_000)
@given(tex=TEX, display=st.booleans())
def test_math_layer_raises_only_its_own_errors(tex: str, display: bool):
    try:
        mathml = mathtex.to_mathml(tex, display)
    except mathtex.MathError as exc:
        assert str(exc)
        return
    try:
        picture = mathsvg.draw(tex, display, mathml)
    except mathsvg.DrawError as exc:
        assert str(exc)
        return
    assert picture.svg.startswith(b"<?xml") and picture.width_em >= 0


# -- the renderers --------------------------------------------------------------------------------


def _render(book: Book, name: str) -> None:
    import importlib

    module = importlib.import_module(f"studybook.render.{name}")
    try:
        data = module.render(book, Options(build_time=1_700_000_000))
    except BuildError as exc:
        _only_documented_errors(exc)
        return
    assert isinstance(data, bytes) and data


# Pieces a valid book may contain, hostile ones included (the sanitiser takes care of those), so
# that most generated books pass the reader and reach the renderers.
VALID_INLINE = [
    " ", "word ", "*a*", "**b**", "`c`", "$x^2$", " \\(y_1\\) ", "[x](#softmax)", "[y](https://example.com)",
    "[@vaswani2017attention]", "<span onclick=\"x\">s</span>", "<script>alert(1)</script>", "é", "中文",
    "[sound:x.mp3]", "::", "&amp;", " < ", " > ", "\"", "'", "<b>bold</b>", "H~2~O", "a_b", "1.", "🙂",
]
VALID_BLOCKS = [
    "\n\n", "\n\n- item\n- item\n\n", "\n\n1. one\n2. two\n\n", "\n\n> quote\n\n",
    "\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n", "\n\n```python\nx = 1\n```\n\n", "\n\n$$\n\\frac{a}{b}\n$$\n\n",
    "\n\n![grid](images/grid.svg)\n\n", "\n\n#### Sub-heading\n\n", "\n\n<div>raw <em>html</em></div>\n\n",
]
valid_line = st.lists(st.sampled_from(VALID_INLINE), min_size=1, max_size=12).map("".join)
valid_text = st.lists(st.one_of(st.sampled_from(VALID_INLINE), st.sampled_from(VALID_BLOCKS)),
                      min_size=1, max_size=25).map("".join)


def _run_renderer(workdir: Path, renderer: str, examples: int, line, text) -> None:
    outcomes = {"rendered": 0, "refused": 0}

    @bounded(examples, deadline_ms=60_000)
    @given(intro=text, title=line, key_points=text, answer=text)
    def run(intro: str, title: str, key_points: str, answer: str):
        book = _read(workdir, _book_text(intro, title, key_points, answer))
        if book is None:
            outcomes["refused"] += 1
            return
        _render(book, renderer)
        outcomes["rendered"] += 1

    run()
    # Most examples must reach the renderer, or the property would hold vacuously.
    assert outcomes["rendered"] >= examples // 2, outcomes


@pytest.mark.slow
@pytest.mark.parametrize(("renderer", "examples"), [("anki", 10), ("epub", 10), ("flashcards", 4), ("quiz", 4)])
def test_renderers_on_any_valid_book(workdir: Path, renderer: str, examples: int):
    _run_renderer(workdir, renderer, examples, valid_line, valid_text)


@pytest.mark.slow
def test_pdf_renderer_on_tiny_books(workdir: Path):
    tiny = st.lists(st.sampled_from(VALID_INLINE + VALID_BLOCKS), min_size=1, max_size=4).map("".join)
    _run_renderer(workdir, "pdf", 3, valid_line, tiny)
