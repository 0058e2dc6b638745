"""Every mistake an author can make: one line `path:line: what — fix`, exit 1, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import FIXTURES, run_build
from studybook.diagnostics import BuildError
from studybook.model import Cite, ImageRef, Math, XRef
from studybook.reader import read_book

FIXTURE_TEXT = (FIXTURES / "mini" / "handbook.md").read_text(encoding="utf-8")


def edit(book: Path, old: str, new: str, count: int = 1) -> None:
    text = book.read_text(encoding="utf-8")
    assert text.count(old) >= count, f"fixture no longer contains {old!r}"
    book.write_text(text.replace(old, new, count), encoding="utf-8")


def line_of(book: Path, needle: str, nth: int = 1) -> int:
    hits = [i for i, line in enumerate(book.read_text(encoding="utf-8").split("\n"), 1) if needle in line]
    return hits[nth - 1]


def check(book: Path) -> list[str]:
    proc = run_build("check", "--source", str(book))
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().split("\n")
    assert lines[-1].endswith("nothing was written")
    return [line for line in lines if not line.startswith(("reading ", "ok:")) and "problem(s)" not in line]


SOFTMAX = "## What does softmax do?"
SOFTMAX_ANSWER = (FIXTURE_TEXT.split("### Answer")[2])
CASES = [
    # (name, old, new, (needle, nth occurrence, offset) of the line to report, message fragment)
    ("malformed front matter", "title: Mini Question Bank", "title: [unclosed", ("subtitle:", 1, 0),
     "malformed YAML in front matter"),
    ("malformed question yaml", "difficulty: easy", "difficulty: easy: nope", ("difficulty: easy: nope", 1, 0),
     "malformed YAML in metadata block"),
    ("missing id", "id: softmax\n", "", (SOFTMAX, 1, 2), "missing 'id'"),
    ("duplicate id", "id: softmax", "id: attention", (SOFTMAX, 1, 0), "duplicate question id 'attention'"),
    ("question outside a topic", "# Basics\n\n```yaml\ntopic: basics\nkey_papers: [vaswani2017attention]\n```\n",
     "", ("## What is attention?", 1, 0), "is outside any topic"),
    ("chapter without topic id", "topic: maths", "title: Maths", ("title: Maths", 1, -1), "has no 'topic' id"),
    ("unknown reference key", "references: [vaswani2017attention]\nrelated: [softmax]",
     "references: [nobody2099]\nrelated: [softmax]", ("references: [nobody2099]", 1, 0),
     "unknown reference key 'nobody2099'"),
    ("unknown key paper", "key_papers: [vaswani2017attention]", "key_papers: [nobody2099]",
     ("key_papers: [nobody2099]", 1, 0), "unknown reference key 'nobody2099' in key_papers"),
    ("unknown citation", "[@vaswani2017attention].", "[@nobody2099].", ("[@nobody2099]", 1, 0),
     "citation [@nobody2099] names an unknown reference"),
    ("link to missing question", "[softmax](#softmax)", "[softmax](#no-such-question)",
     ("(#no-such-question)", 1, 0), "link to missing question '#no-such-question'"),
    ("related to missing question", "related: [attention]", "related: [ghost]", ("related: [ghost]", 1, 0),
     "related to missing question 'ghost'"),
    ("missing image", "images/grid.svg", "images/nothing.svg", ("images/nothing.svg", 1, 0),
     "missing image 'images/nothing.svg'"),
    ("image outside content", "images/grid.svg", "../../etc/passwd.png", ("../../etc/passwd.png", 1, 0),
     "resolves outside"),
    ("remote image", "images/grid.svg", "https://example.com/x.png", ("https://example.com/x.png", 1, 0),
     "is not a file inside content/"),
    ("unclosed brace in math", r"\sum_{j=1}^{n}\exp(z_j)}", r"\sum_{j=1}^{n}\exp(z_j)",
     (r"\operatorname{softmax}(\mathbf{z})", 1, 0), "malformed LaTeX"),
    ("unknown macro in math", r"$s_{ij} = \mathbf{q}_i", r"$s_{ij} = \mathbf{q}_i \notamacro", (r"\notamacro", 1, 0),
     r"unknown command \notamacro"),
    ("unbalanced left/right", r"\left(\frac{QK^\top}{\sqrt{d_k}}\right)", r"\left(\frac{QK^\top}{\sqrt{d_k}}",
     (r"\left(\frac{QK^\top}{\sqrt{d_k}}", 1, 0), r"\left without a matching \right"),
    ("empty answer", SOFTMAX_ANSWER, "", ("### Answer", 2, 0), "has an empty or missing '### Answer'"),
    ("empty key points", "Softmax maps logits to a probability distribution.", "", ("### Key points", 2, 0),
     "has an empty or missing '### Key points'"),
    ("unknown difficulty", "difficulty: easy", "difficulty: trivial", ("difficulty: trivial", 1, 0),
     "unknown difficulty 'trivial'"),
    ("missing metadata block", "```yaml\nid: softmax", "```text\nid: softmax", (SOFTMAX, 1, 0),
     "has no metadata block"),
    ("unknown field", "difficulty: easy", "difficulty: easy\ncolour: red", ("colour: red", 1, 0),
     "unknown field 'colour' in a question"),
    ("stray third-level heading", "### Answer\n\n$$\n\\operatorname{softmax}",
     "### Answer\n\n### Notes\n\n$$\n\\operatorname{softmax}", ("### Notes", 1, 0), "unexpected heading '### Notes'"),
    ("bad tag", "tags: [softmax]", "tags: [soft max]", ("tags: [soft max]", 1, 0), "tag 'soft max' contains spaces"),
]


@pytest.mark.parametrize(("name", "old", "new", "where", "message"), CASES, ids=[c[0] for c in CASES])
def test_author_error_is_one_clear_line(mini_book: Path, name, old, new, where, message):
    edit(mini_book, old, new)
    problems = check(mini_book)
    assert len(problems) == 1, problems
    (line,) = problems
    path, lineno, rest = line.split(":", 2)
    assert Path(path).resolve() == mini_book.resolve()
    needle, nth, offset = where
    assert int(lineno) == line_of(mini_book, needle, nth) + offset, line
    assert message in rest, line
    assert " — " in rest, "every message says how to fix it"


def test_each_occurrence_of_a_repeated_formula_has_its_own_line(mini_book: Path):
    edit(mini_book, "A short chapter introduction.", "A short chapter introduction with \\(\\badmacro\\).")
    edit(mini_book, "| \\(Q\\) |", "| \\(\\badmacro\\) |")
    problems = check(mini_book)
    lines = [int(p.split(":")[1]) for p in problems]
    assert lines == [line_of(mini_book, "\\(\\badmacro\\)", 1), line_of(mini_book, "\\(\\badmacro\\)", 2)]


def test_bibliography_entry_without_url(mini_book: Path):
    bib = mini_book.parent / "references.yaml"
    bib.write_text(bib.read_text().replace("  URL: https://arxiv.org/abs/1706.03762\n", ""))
    problems = check(mini_book)
    assert problems == [
        f"{problems[0].split(':')[0]}:1: bibliography entry 'vaswani2017attention' lacks a valid URL — "
        "see docs/authoring.md, 'Bibliography'"
    ]
    assert problems[0].split(":")[0].endswith("references.yaml")


def test_all_problems_reported_in_one_run(mini_book: Path):
    edit(mini_book, "difficulty: easy", "difficulty: trivial")
    edit(mini_book, "[softmax](#softmax)", "[softmax](#nowhere)")
    problems = check(mini_book)
    assert len(problems) == 2
    numbers = [int(p.split(":")[1]) for p in problems]
    assert numbers == sorted(numbers)


def test_exact_message_text(mini_book: Path):
    edit(mini_book, "difficulty: easy", "difficulty: trivial")
    line = line_of(mini_book, "difficulty: trivial")
    rel = run_build("check", "--source", str(mini_book), cwd=mini_book.parent).stderr
    assert f"handbook.md:{line}: unknown difficulty 'trivial' — use one of easy, medium, hard" in rel


def test_failed_build_keeps_the_previous_artifact(mini_book: Path, tmp_path: Path):
    out = tmp_path / "dist"
    assert run_build("anki", "--source", str(mini_book), "--out", str(out)).returncode == 0
    deck = out / "mini-bank-en.apkg"
    before = deck.read_bytes()
    edit(mini_book, "id: softmax", "id: attention")
    assert run_build("anki", "--source", str(mini_book), "--out", str(out)).returncode == 1
    assert deck.read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["mini-bank-en.apkg"], "no temporary files left behind"


def test_check_writes_nothing(mini_book: Path, tmp_path: Path):
    out = tmp_path / "dist"
    proc = run_build("check", "--source", str(mini_book), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert not out.exists()


def test_command_line_defaults_and_help():
    from studybook.cli import parse_args
    assert parse_args([]).targets == ["all"]
    assert parse_args(["anki", "epub"]).targets == ["anki", "epub"]
    proc = run_build("--help")
    assert proc.returncode == 0 and "check" in proc.stdout and "--paper" in proc.stdout
    proc = run_build("nonsense")
    assert proc.returncode == 2 and "invalid choice" in proc.stderr and "Traceback" not in proc.stderr


def test_missing_source_file(tmp_path: Path):
    proc = run_build("check", "--source", str(tmp_path / "nope.md"))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "nope.md:1: source file not found" in proc.stderr


def test_model_lifts_math_links_citations_and_figures(mini_book: Path):
    book = read_book(mini_book)
    attention = book.question("attention")
    kinds = {type(p) for p in attention.answer.parts}
    assert {Math, XRef, Cite, ImageRef} <= kinds
    (figure,) = attention.answer.parts_of(ImageRef)
    assert figure.figure and figure.caption == "Attention weights for one query"
    assert book.images[figure.name].data.startswith(b"<svg")
    display = [m for m in attention.answer.maths if m.display]
    assert display and display[0].mathml.startswith("<math") and 'display="block"' in display[0].mathml
    assert [q.number for q in book.questions] == [1, 2]
    assert book.question("softmax").topic_id == "maths"


def test_raw_html_is_sanitised(mini_book: Path):
    edit(mini_book, "Raw HTML is cleaned:",
         'Raw HTML is cleaned: <iframe src="https://evil.example"></iframe><img src=x onerror="alert(1)">'
         '<a href="javascript:alert(2)" onmouseover="x()">y</a>')
    with pytest.raises(BuildError):
        # the <img src=x> is a missing image: sanitising never hides a broken reference
        read_book(mini_book)
    edit(mini_book, '<img src=x onerror="alert(1)">', "")
    html = "".join(p for p in read_book(mini_book).question("attention").answer.parts if isinstance(p, str))
    for bad in ("<iframe", "<script", "onerror", "onmouseover", "onclick", "javascript:"):
        assert bad not in html
    assert "kept text" in html


def test_titles_are_rich_text_checked_like_any_other(mini_book: Path):
    edit(mini_book, "## What does softmax do?", r"## Why divide by $\sqrt{d_k}$ & what does softmax do?")
    q = read_book(mini_book).question("softmax")
    assert [m.tex for m in q.title.maths] == [r"\sqrt{d_k}"]
    assert q.title_text == r"Why divide by \sqrt{d_k} & what does softmax do?"  # real characters, no &amp;
    edit(mini_book, r"$\sqrt{d_k}$", r"$\frac{1}{$")
    line = mini_book.read_text(encoding="utf-8").split("\n").index(r"## Why divide by $\frac{1}{$ & what does "
                                                                  "softmax do?") + 1
    proc = run_build("check", "--source", str(mini_book))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"handbook.md:{line}: malformed LaTeX in '\\\\frac{{1}}{{'" in proc.stderr, proc.stderr


def test_key_points_are_optional_but_come_first_when_given(mini_book: Path):
    edit(mini_book, "### Key points\n\nSoftmax maps logits to a probability distribution.\n\n", "")
    assert read_book(mini_book).question("softmax").key_points.is_empty
    edit(mini_book, "For logits", "### Key points\n\n- Late.\n\nFor logits")
    proc = run_build("check", "--source", str(mini_book))
    assert proc.returncode == 1 and "'### Key points' comes after '### Answer'" in proc.stderr
