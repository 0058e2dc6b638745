"""Run the hostile-input corpus (tests/hostile.py): every case's exact outcome.

Cases that could block or exhaust memory on a regression (a FIFO, /dev/zero, an alias bomb, a
megabyte heading) run build.py in a subprocess with a timeout; the others call the command line
in-process, which saves a second of start-up per case.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from conftest import FIXTURES, ROOT
from hostile import CASES, Case
from studybook import cli

PROBLEM = re.compile(r"^(\S.*?):(\d+): ")
ISOLATED_TIMEOUT = 60


def prepare(case: Case, tmp_path: Path) -> tuple[Path, dict[str, int]]:
    """The mini book with the case's edits; returns the content dir and, per edited file, the
    line where the first edit starts."""
    content = tmp_path / "content"
    shutil.copytree(FIXTURES / "mini", content)
    lines: dict[str, int] = {}
    for name, old, new in case.edits:
        path = content / name
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{case.id}: {old!r} not in {name}"
        lines.setdefault(name, text[: text.index(old)].count("\n") + 1)
        # surrogateescape: a case writes invalid UTF-8 as "\udcff" (the byte 0xFF).
        path.write_bytes(text.replace(old, new, 1).encode("utf-8", "surrogateescape"))
    if case.future:
        os.utime(content / case.future, (7_258_118_400, 7_258_118_400))  # 2200-01-01
    for name, kind in case.files:
        path = content / name
        if kind == "fifo":
            os.mkfifo(path)
        elif kind == "dir":
            path.mkdir()
        else:
            assert isinstance(kind, bytes)
            path.write_bytes(kind)
    return content, lines


def expected_lines(case: Case, content: Path, lines: dict[str, int]) -> list[str]:
    def line_of(text: str) -> int:
        name = text.split(":", 1)[0]
        return lines.get(name, 1)

    out = []
    for template in case.expected:
        base = line_of(template)
        text = re.sub(r"\{line([+-]\d+)?\}", lambda m, base=base: str(base + int(m.group(1) or 0)), template)
        out.append(text.replace("{content}", str(content)))
    return out


def run(case: Case, content: Path, out: Path) -> tuple[int, str]:
    source = case.source if case.source.startswith("/") else str(content / case.source)
    args = [case.target, "--source", source, "--out", str(out), *case.args]
    env = {"SOURCE_DATE_EPOCH": "1700000000", **dict(case.env)}
    if case.isolated or case.args:  # argparse exits the process
        proc = subprocess.run([sys.executable, str(ROOT / "build.py"), *args], cwd=ROOT, capture_output=True,
                              text=True, timeout=ISOLATED_TIMEOUT, env={**os.environ, **env})
        return proc.returncode, proc.stderr
    return cli_in_process(args, env)


def cli_in_process(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    import contextlib
    import io

    err = io.StringIO()
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        with contextlib.redirect_stderr(err):
            code = cli.main(args)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return code, err.getvalue()


def problem_lines(stderr: str, content: Path) -> list[str]:
    prefix = str(content) + "/"
    found = []
    for line in stderr.replace(prefix, "").splitlines():
        if "the Anki note lock is out of date" in line:
            continue  # every case edits the fixture book on purpose; tests/test_note_lock.py covers this
        if PROBLEM.match(line):
            found.append(line)
        elif found and line.startswith("  "):  # a message that YAML wrapped onto a second line
            found[-1] += "\n" + line
    return found


def anki_parts(out: Path) -> dict[str, str]:
    """The texts of a built deck by part: each field (all notes), deck names, deck descriptions."""
    apkg = next(out.glob("*.apkg"))
    with zipfile.ZipFile(apkg) as zf:
        (out / "c.anki2").write_bytes(zf.read("collection.anki2"))
    db = sqlite3.connect(out / "c.anki2")
    fields = ["ID", "Number", "Question", "KeyPoints", "Answer", "References", "Related", "Topic", "Difficulty"]
    parts: dict[str, list[str]] = {}
    for (flds,) in db.execute("select flds from notes"):
        for name, value in zip(fields, flds.split("\x1f"), strict=True):
            parts.setdefault(f"anki:{name}", []).append(value)
    decks = json.loads(db.execute("select decks from col").fetchone()[0])
    db.close()
    for deck in decks.values():
        parts.setdefault("anki:deck", []).append(deck["name"])
        topic = deck["name"].split("::")[-1]
        parts.setdefault(f"anki:description:{'maths' if 'Maths' in topic else 'other'}", []).append(deck["desc"])
    return {k: "\n".join(v) for k, v in parts.items()}


def test_the_corpus_has_at_least_40_cases_with_distinct_ids():
    ids = [case.id for case in CASES]
    assert len(ids) >= 40 and len(set(ids)) == len(ids)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_hostile_case(case: Case, tmp_path: Path):
    content, lines = prepare(case, tmp_path)
    out = tmp_path / "out"
    start = time.monotonic()
    code, stderr = run(case, content, out)
    elapsed = time.monotonic() - start
    assert "Traceback" not in stderr, stderr[-3000:]
    assert code == case.exit_code, stderr[-3000:]
    assert problem_lines(stderr, content) == expected_lines(case, content, lines)
    if case.message:
        assert case.message.replace("{content}", str(content)) in stderr.splitlines()
    if case.exit_code:
        # A refused book writes nothing, anywhere: not in --out, not beside it.
        assert not out.exists()
        assert not list(tmp_path.parent.rglob("zz-written-outside*"))
    assert elapsed < 30, f"{case.id} took {elapsed:.1f} s"
    if case.sanitised or case.absent:
        parts = anki_parts(out)
        for part, text in case.sanitised:
            assert text in parts[part], (part, parts[part][:2000])
        everything = "\n".join(v for k, v in parts.items() if k != "anki:deck")
        for text in case.absent:
            assert text not in everything


# -- what the PDF renderer says about content it cannot lay out -----------------------------------


def _weasyprint_error(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("weasyprint", logging.ERROR, "images.py", 1, message, args, None)


def test_an_image_the_pdf_cannot_load_is_blamed_on_its_line_with_the_real_reason(mini_book: Path):
    from weasyprint.images import ImageLoadingError

    from studybook.reader import read_book
    from studybook.render import Options, pdf

    book = read_book(mini_book)
    (name,) = [n for n in book.images if n.startswith("grid")]
    try:
        try:
            raise ValueError("unclosed token at line 3")
        except ValueError as cause:
            raise ImageLoadingError from cause  # as WeasyPrint raises it: no message of its own
    except ImageLoadingError as exc:
        error = exc
    record = _weasyprint_error("Failed to load image at %r: %s", f"studybook://image/{name}", error)
    (problem,) = pdf._log_problems([record], book, Options(build_time=0))
    assert str(problem) == (f"{book.path}:61: the PDF cannot show image 'images/grid.svg': ValueError: unclosed "
                            "token at line 3 — check that the file is a valid PNG, JPEG, GIF or SVG")


def test_a_layout_error_is_not_blamed_on_the_templates(mini_book: Path):
    from studybook.reader import read_book
    from studybook.render import Options, pdf

    book = read_book(mini_book)
    record = _weasyprint_error("No anchor #%s for internal URI reference", "nowhere")
    (problem,) = pdf._log_problems([record], book, Options(build_time=0))
    assert str(problem) == (f"{book.path}:1: the PDF cannot be laid out: No anchor #nowhere for internal URI "
                            "reference — simplify the content the message names; if the book looks right, report "
                            "it as a studybook bug")
    assert "templates" not in str(problem)
