"""Question banks as people write them for GitHub build as written (issue: one book, one policy).

tests/fixtures/gfm/ is such a bank: a UTF-8 BOM, `&` and `#` in titles, a list right after a
paragraph line and lists nested by two spaces, a bare URL, <details>, emoji, an image without
alt text whose path has a space (written as `<…>` and as `%20`), an image only in a chapter
introduction, a price written with `$`, a question with neither key points nor difficulty, and
a source and licence in the front matter. Each artifact is built once per session and checked
with the real tools.
"""

from __future__ import annotations

import re
import subprocess
import zipfile
from pathlib import Path

import pytest

from conftest import FIXTURES, run_build
from studybook.model import Math
from studybook.reader import read_book

pytestmark = pytest.mark.slow  # builds real artifacts and runs the validators

GFM = FIXTURES / "gfm" / "handbook.md"
EPOCH = "1767225600"


@pytest.fixture(scope="module")
def gfm_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("gfm-dist")
    proc = run_build("all", "--source", str(GFM), "--out", str(out), env={"SOURCE_DATE_EPOCH": EPOCH})
    return out, proc


def warnings_of(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ": warning: " in line]


def test_the_bank_builds_and_check_prints_exactly_the_builds_warnings(gfm_build):
    out, proc = gfm_build
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["gfm-bank-en.apkg", "gfm-bank-en.epub", "gfm-bank-en.pdf",
                                                     "gfm-bank-flashcards-en.pdf", "gfm-bank-quiz-en.pdf"]
    check = run_build("check", "--source", str(GFM))
    assert check.returncode == 0, check.stderr
    assert warnings_of(check.stderr) == warnings_of(proc.stderr)
    (warning,) = warnings_of(proc.stderr)
    line = GFM.read_text(encoding="utf-8-sig").split("\n").index("![](<images/my fig.png>)") + 1
    assert warning.startswith(f"{GFM.relative_to(Path.cwd()) if GFM.is_relative_to(Path.cwd()) else GFM}:{line}: "
                              "warning: image 'images/my fig.png' has no alt text")


def test_strict_turns_the_warning_into_a_failure_and_writes_nothing(tmp_path: Path):
    proc = run_build("all", "--strict", "--source", str(GFM), "--out", str(tmp_path / "out"),
                     env={"SOURCE_DATE_EPOCH": EPOCH})
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "has no alt text" in proc.stderr and "nothing was written" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_github_markdown_is_read_as_github_renders_it():
    book = read_book(GFM)
    q = book.question("what-is-csharp")
    html = "".join(p for p in q.answer.parts if isinstance(p, str))
    # A list right after a paragraph line, nested by two spaces.
    assert re.search(r"Key facts:</p>\s*<ul>", html)
    assert re.search(r"<li>managed\s*<ul>\s*<li>garbage collected</li>", html)
    assert '<a href="https://learn.microsoft.com/dotnet/csharp/">' in html  # a bare URL
    assert "<details>" in html and "<summary>Show an example</summary>" in html
    assert "$5-$10" in html  # pandoc's rule: a closing $ never stands before a digit
    assert [m.tex for m in q.answer.maths] == ["x^2"]
    assert "🚀" in html
    # Titles are real text: "&", "#" and quotes as characters, never entities.
    assert book.title == "Tips & Tricks for C# Interviews"
    assert q.title_text == "What is C#"
    assert book.question("delegates").title_text == "Q&A: what is a “delegate”?"
    assert book.topic("basics").title_text == "Basics & Setup"
    # Optional parts: no key points, no difficulty; the whole text is the answer.
    assert q.key_points.is_empty and q.difficulty == ""
    assert (book.source_title, book.license) == ("Awesome Interview Questions", "CC BY 4.0")


def test_image_paths_with_spaces_become_safe_names():
    book = read_book(GFM)
    names = set(book.images)
    assert all(re.fullmatch(r"[a-z0-9_-]+-[0-9a-f]{12}\.(png|svg)", n) for n in names), names
    # `<images/my fig.png>` and `images/my%20fig.png` are one file.
    assert len([n for n in names if n.startswith("my-fig-")]) == 1


def test_anki_deck_names_are_text_and_intro_images_survive_the_import(gfm_build, tmp_path: Path):
    from anki.collection import Collection, ImportAnkiPackageOptions, ImportAnkiPackageRequest

    out, proc = gfm_build
    assert proc.returncode == 0, proc.stderr
    col = Collection(str(tmp_path / "collection.anki2"))
    try:
        col.import_anki_package(ImportAnkiPackageRequest(package_path=str(out / "gfm-bank-en.apkg"),
                                                         options=ImportAnkiPackageOptions()))
        names = {d.name for d in col.decks.all_names_and_ids()}
        assert "Tips & Tricks for C# Interviews::01 Basics & Setup" in names
        media = {p.name for p in Path(col.media.dir()).iterdir()}
        intro = next(n for n in read_book(GFM).images if n.startswith("intro-"))
        assert "_" + intro in media, media
        deck = col.decks.by_name("Tips & Tricks for C# Interviews::01 Basics & Setup")
        assert f'src="_{intro}"' in deck["desc"] and "CC BY 4.0" in deck["desc"]
        cards = {col.get_card(cid).note()["ID"]: col.get_card(cid) for cid in col.find_cards("")}
        plain = cards["what-is-csharp"]
        assert "What is C#" in plain.question()
        answer = plain.answer().split("</style>", 1)[-1]
        assert "Key points" not in answer and "garbage collected" in answer
        assert "Key points" in cards["delegates"].answer()
    finally:
        col.close()


def test_pdf_bookmarks_and_text_show_real_characters(gfm_build):
    from pypdf import PdfReader

    out, _ = gfm_build
    reader = PdfReader(out / "gfm-bank-en.pdf")

    def titles(items) -> list[str]:
        found = []
        for item in items:
            if isinstance(item, list):
                found += titles(item)
            else:
                found.append(item.title)
        return found

    marks = titles(reader.outline)
    assert "1. Basics & Setup" in marks and "Q1. What is C#" in marks, marks
    assert not any("&amp;" in m or "&nbsp;" in m for m in marks)
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "$5-$10" in text and "Awesome Interview Questions" in text and "CC BY 4.0" in text
    fonts = {str(f.get("/BaseFont")) for page in reader.pages
             for f in (page.get("/Resources", {}).get("/Font", {}) or {}).values()
             for f in [f.get_object()]}
    assert any("Emoji" in f for f in fonts), fonts  # the emoji are drawn by the emoji font


def test_epub_is_valid_and_keeps_source_and_licence(gfm_build):
    out, _ = gfm_build
    epub = out / "gfm-bank-en.epub"
    with zipfile.ZipFile(epub) as zf:
        opf = zf.read("OEBPS/content.opf").decode()
        names = zf.namelist()
        chapter = zf.read("OEBPS/chapter-01.xhtml").decode()
    assert "<dc:rights>CC BY 4.0</dc:rights>" in opf and "Awesome Interview Questions" in opf
    assert not any(" " in n or "%" in n for n in names), names
    assert 'role="presentation"' in chapter or 'alt=""' in chapter
    assert "Tips &amp; Tricks" in opf
    from test_epub import epubcheck_messages

    assert epubcheck_messages(epub) == []


def test_a_file_without_questions_is_an_error(tmp_path: Path):
    source = tmp_path / "content" / "handbook.md"
    source.parent.mkdir()
    source.write_text("---\nbook: empty\ntitle: Empty\nauthors: [A]\nlanguage: en\nversion: '1'\n---\n\n"
                      "# Notes\n\n```yaml\nsection: notes\n```\n\nJust prose, no questions.\n", encoding="utf-8")
    proc = run_build("all", "--source", str(source), "--out", str(tmp_path / "out"))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert re.search(r"handbook\.md:\d+: the book has no questions — write each question as", proc.stderr)
    assert not (tmp_path / "out").exists()


def test_an_answer_whose_only_image_is_missing_is_one_problem_not_two(tmp_path: Path):
    source = tmp_path / "content" / "handbook.md"
    source.parent.mkdir()
    source.write_text("---\nbook: one\ntitle: One\nauthors: [A]\nlanguage: en\nversion: '1'\n---\n\n"
                      "# Basics\n\n```yaml\ntopic: basics\n```\n\nIntro.\n\n## Q?\n\n```yaml\nid: q\n```\n\n"
                      "![a chart](missing.png)\n", encoding="utf-8")
    proc = run_build("check", "--source", str(source))
    assert proc.returncode == 1
    problems = [line for line in proc.stderr.splitlines() if "handbook.md:" in line]
    assert len(problems) == 1 and "missing image 'missing.png'" in problems[0], problems


def test_heading_keeps_a_trailing_hash_but_drops_a_closing_sequence():
    from studybook.reader import heading_of

    assert heading_of("## What is C#") == (2, "What is C#")
    assert heading_of("## Closed heading ##") == (2, "Closed heading")


def test_prices_stay_text_and_formulas_stay_formulas(mini_book: Path):
    text = mini_book.read_text(encoding="utf-8").replace(
        "Softmax maps logits to a probability distribution.",
        "Softmax maps logits to a probability distribution; a GPU hour costs $2 or $3, and $p_i$ sums to one.")
    mini_book.write_text(text, encoding="utf-8")
    kp = read_book(mini_book).question("softmax").key_points
    assert [m.tex for m in kp.parts if isinstance(m, Math)] == ["p_i"]
    assert "costs $2 or $3" in "".join(p for p in kp.parts if isinstance(p, str))
