"""Incremental builds: an unchanged artifact is not rendered again, a changed input always is, the
formula cache serves pictures drawn before, and the parallel build writes the same bytes."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from conftest import run_build
from studybook import incremental
from studybook.render import TEMPLATES

SDE = {"SOURCE_DATE_EPOCH": "1700000000"}


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**SDE, "STUDYBOOK_CACHE": str(tmp_path / "cache")}


def test_a_second_build_renders_nothing_and_leaves_the_file_alone(mini_book: Path, tmp_path: Path, env):
    out = tmp_path / "out"
    # Two targets: rendered by worker processes, which is where a progress line could come from.
    first = run_build("anki", "epub", "--source", str(mini_book), "--out", str(out), env=env)
    assert first.returncode == 0, first.stderr
    deck = next(out.glob("*.apkg"))
    before = deck.stat().st_mtime_ns
    again = run_build("anki", "epub", "--source", str(mini_book), "--out", str(out), env=env)
    assert again.returncode == 0, again.stderr
    assert f"up to date {deck}" in again.stderr
    assert "reading" not in again.stderr, "a no-op build does not even parse the book"
    assert "\r" not in first.stderr + again.stderr, "no progress line when stderr is not a terminal"
    assert deck.stat().st_mtime_ns == before


def test_an_edited_answer_rebuilds_with_the_formulas_from_the_cache(mini_book: Path, tmp_path: Path, env):
    out = tmp_path / "out"
    first = run_build("anki", "--source", str(mini_book), "--out", str(out), env=env)
    assert first.returncode == 0, first.stderr
    assert "formulas: 0 from the cache" not in first.stderr
    text = mini_book.read_text(encoding="utf-8")
    mini_book.write_text(text.replace("Numbers and functions.", "Numbers and functions, edited."), encoding="utf-8")
    edited = run_build("anki", "--source", str(mini_book), "--out", str(out), env=env)
    assert edited.returncode == 0, edited.stderr
    assert "wrote" in edited.stderr and "up to date" not in edited.stderr
    assert "formulas: 0 drawn," in edited.stderr, edited.stderr


def test_an_artifact_changed_or_removed_by_hand_is_built_again(mini_book: Path, tmp_path: Path, env):
    out = tmp_path / "out"
    assert run_build("anki", "--source", str(mini_book), "--out", str(out), env=env).returncode == 0
    deck = next(out.glob("*.apkg"))
    good = deck.read_bytes()
    deck.write_bytes(b"damaged")
    again = run_build("anki", "--source", str(mini_book), "--out", str(out), env=env)
    assert again.returncode == 0 and "up to date" not in again.stderr
    assert deck.read_bytes() == good
    deck.unlink()
    again = run_build("anki", "--source", str(mini_book), "--out", str(out), env=env)
    assert again.returncode == 0 and deck.read_bytes() == good


def test_warnings_are_printed_again_when_nothing_is_rebuilt(mini_book: Path, tmp_path: Path, env):
    text = mini_book.read_text(encoding="utf-8")
    mini_book.write_text(text.replace("![A small grid of weights]", "![]"), encoding="utf-8")
    out = tmp_path / "out"
    first = run_build("anki", "--source", str(mini_book), "--out", str(out), env=env)
    assert first.returncode == 0, first.stderr
    warnings = sorted(line for line in first.stderr.splitlines() if ": warning: " in line)
    assert warnings
    again = run_build("anki", "--source", str(mini_book), "--out", str(out), env=env)
    assert "up to date" in again.stderr
    assert sorted(line for line in again.stderr.splitlines() if ": warning: " in line) == warnings
    strict = run_build("anki", "--strict", "--source", str(mini_book), "--out", str(out), env=env)
    assert strict.returncode == 1, "--strict is an option of the digest: the warnings fail it"


def test_the_digest_follows_every_input(mini_book: Path):
    content = mini_book.parent
    base = incremental.common_digest(mini_book, TEMPLATES)
    assert incremental.common_digest(mini_book, TEMPLATES) == base
    (content / "references.yaml").write_text((content / "references.yaml").read_text() + "\n", encoding="utf-8")
    after_bib = incremental.common_digest(mini_book, TEMPLATES)
    assert after_bib != base
    image = next((content / "images").iterdir())
    image.write_bytes(image.read_bytes() + b"\n")
    assert incremental.common_digest(mini_book, TEMPLATES) != after_bib

    def digest(target: str, **kw) -> str:
        return incremental.target_digest(base, target, **{"paper": "a4", "strict": False, "build_time": 1, **kw})

    assert digest("pdf") != digest("pdf", paper="letter")
    assert digest("anki") == digest("anki", paper="letter"), "the deck does not depend on the paper"
    assert digest("anki") != digest("anki", build_time=2)
    assert digest("anki") != digest("anki", strict=True)
    assert digest("anki") != digest("epub")


@pytest.mark.slow
def test_parallel_and_single_renderer_builds_write_the_same_bytes(built_mini: Path, tmp_path: Path):
    # built_mini renders all five artifacts in worker processes; one target renders in-process.
    from conftest import FIXTURES

    out = tmp_path / "out"
    proc = run_build("epub", "--source", str(FIXTURES / "mini" / "handbook.md"), "--out", str(out),
                     env={**SDE, "STUDYBOOK_CACHE": str(tmp_path / "cache")})
    assert proc.returncode == 0, proc.stderr
    epub = next(out.glob("*.epub"))
    assert hashlib.sha256(epub.read_bytes()).digest() == hashlib.sha256((built_mini / epub.name).read_bytes()).digest()


def test_the_cached_page_references_follow_added_pages():
    import pydyf

    from studybook.render import pydyf_patch

    pydyf_patch.apply()
    pdf = pydyf.PDF()

    def expected() -> tuple[bytes, ...]:
        return tuple(f"{n} 0 R".encode() for n in pdf.pages["Kids"][::3])

    for _ in range(3):
        pdf.add_page(pydyf.Dictionary({"Type": "/Page"}))
    first = pdf.page_references
    assert first == expected() and len(first) == 3
    assert pdf.page_references is first, "served from the cache while no page is added"
    pdf.add_page(pydyf.Dictionary({"Type": "/Page"}))
    assert pdf.page_references == expected() and len(pdf.page_references) == 4


def test_a_formula_used_twice_is_drawn_once_in_the_pdf(mini_book: Path, tmp_path: Path, env):
    import re

    from pypdf import PdfReader

    text = mini_book.read_text(encoding="utf-8")
    formula = r"\(\zeta_{twice} + 1\)"
    mini_book.write_text(text.replace("Numbers and functions.", f"Numbers {formula} and {formula}."),
                         encoding="utf-8")
    out = tmp_path / "out"
    proc = run_build("pdf", "--source", str(mini_book), "--out", str(out), env=env)
    assert proc.returncode == 0, proc.stderr
    reader = PdfReader(next(out.glob("*.pdf")))
    painted: list[str] = []
    for page in reader.pages:
        content = page.get_contents()
        if content is not None:
            painted += re.findall(r"/(\w+) Do", content.get_data().decode("latin-1"))
    forms = {name for name in painted if painted.count(name) >= 2}
    assert forms, "some formula form is painted at least twice (the one written twice)"
    xobjects = reader.pages[0]["/Resources"]["/XObject"]
    assert all(xobjects[name].get_object()["/Subtype"] == "/Form" for name in forms if name in xobjects)


def test_the_pdf_takes_drawn_formula_forms_from_the_cache_and_writes_the_same_bytes(mini_book: Path,
                                                                                       tmp_path: Path, env):
    """svg_forms keeps each formula form's operators in the formula cache; a warm build takes them
    from there (a row changed by hand shows in the PDF) and writes what a cold one writes."""
    import sqlite3

    def build(out: str) -> bytes:
        proc = run_build("pdf", "--source", str(mini_book), "--out", str(tmp_path / out), env=env)
        assert proc.returncode == 0, proc.stderr
        return next((tmp_path / out).glob("*.pdf")).read_bytes()

    cold = build("cold")
    db = sqlite3.connect(Path(env["STUDYBOOK_CACHE"]) / "formulas" / "formulas.sqlite")
    (kept,) = db.execute("SELECT count(*) FROM pdf_form").fetchone()
    assert kept >= 5, "the mini book's formulas are kept"
    assert build("warm") == cold
    with db:  # the same forms, each with one more (harmless) operator: only a read of the rows shows it
        db.execute("UPDATE pdf_form SET value = CAST(value || X'0A71205127' AS BLOB)")
    assert build("changed") != cold
    with db:  # a damaged row: drawn again, as if it were not there
        db.execute("UPDATE pdf_form SET value = 'damaged'")
    assert build("damaged") == cold


def test_formula_pictures_are_read_from_the_cache_file_not_kept_in_memory(mini_book: Path, tmp_path: Path):
    from studybook import mathsvg
    from studybook.formula_cache import FormulaCache
    from studybook.reader import read_book

    expected = {p.key: p.svg for p in mathsvg.draw_all(read_book(mini_book))}  # no cache: in memory
    assert expected and all(expected.values())
    for drawn_before in (False, True):  # drawn now and stored, then found in the cache
        book = read_book(mini_book)
        pictures = mathsvg.draw_all(book, cache=FormulaCache(tmp_path / "cache"))
        kept = [p.svg for p in pictures._by_key.values()]
        assert len(kept) == len(expected) and not any(kept), f"SVG held in memory (drawn before: {drawn_before})"
        assert {p.key: p.svg for p in pictures} == expected
        maths = [m for frag in book.fragments() for m in frag.maths]
        assert all(pictures[m].svg == expected[mathsvg.key(m)] for m in maths)
    # The cache removed while the build runs: each picture is drawn again when asked for.
    (tmp_path / "cache" / "formulas.sqlite").unlink()
    assert {p.key: p.svg for p in pictures} == expected


def test_a_terminal_sees_which_chunk_and_page_is_laid_out(mini_book: Path, tmp_path: Path, env):
    import os
    import shlex
    import subprocess
    import sys

    from conftest import ROOT

    # `script` gives the build a terminal; the mini book cut into chunks of one question.
    command = shlex.join([sys.executable, str(ROOT / "build.py"), "pdf", "--source", str(mini_book),
                          "--out", str(tmp_path / "out")])
    proc = subprocess.run(["script", "-qec", command, "/dev/null"], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **env, "STUDYBOOK_PDF_CHUNK": "1"})
    assert proc.returncode == 0, proc.stdout
    # (Text mode reads each carriage return of the status line as a line break.)
    states = {line.strip() for line in re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", proc.stdout).splitlines()}
    assert any(re.fullmatch(r"pdf: chunk \d+ of \d+, page \d+", s) for s in states), sorted(states)[:20]
    assert any(re.fullmatch(r"pdf: counting pages, chunk \d+ of \d+, page \d+", s) for s in states)


def test_the_renderers_pool_shares_the_book_and_its_drawn_formulas(mini_book: Path, monkeypatch):
    """Several renderers run in a pool of forked processes that get the book by the fork; given a
    pickled copy (a new object), `mathsvg.draw_all`, which remembers the pictures of each book it
    drew, drew every formula again in each renderer and in each chunk worker of a large book."""
    from studybook import cli, mathsvg
    from studybook.reader import read_book
    from studybook.render import Options

    book = read_book(mini_book)
    mathsvg.draw_all(book)

    def drawn_again(maths):
        raise AssertionError(f"a renderer drew {len(list(maths))} formulas again")

    monkeypatch.setattr(mathsvg, "_run", drawn_again)
    results = cli.render_all(book, Options(build_time=1_700_000_000), ["anki", "epub"])
    assert [target for target, _, data, *_ in results if data is not None] == ["anki", "epub"], \
        [problems for *_, problems, _, _ in results]
