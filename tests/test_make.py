"""`make` builds real files with real prerequisites: an up-to-date tree runs no build at all.

Runs the project's Makefile on a private copy of the fixture book (its own output and state
directories), so the checks below see exactly what an author's `make` would do.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import FIXTURES, ROOT

pytestmark = pytest.mark.slow


def _make(tmp: Path, *args: str, epoch: str = "1700000000") -> subprocess.CompletedProcess:
    source = tmp / "content" / "handbook.md"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    return subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), f"OUT={tmp / 'out'}",
                           f"STATE={tmp / 'state'}", f"SOURCES={source}", f"SOURCE_DATE_EPOCH={epoch}",
                           *args], capture_output=True, text=True, env=env, timeout=900)


def _builds(tmp: Path, epoch: str = "1700000000") -> bool:
    """Whether `make` would run the build (dry run: what it would execute)."""
    proc = _make(tmp, "-n", epoch=epoch)
    assert proc.returncode == 0, proc.stderr
    return "build.py all --source" in proc.stdout


def _newer(path: Path, out: Path) -> None:
    # mtimes decide for make: age the artifacts rather than date the edit in the future.
    for artifact in out.iterdir():
        os.utime(artifact, (time.time() - 60, time.time() - 60))
    path.touch()


def test_make_targets_are_real_files(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "mini", tmp_path / "content")
    assert _builds(tmp_path), "nothing built yet, yet make would not build"

    first = _make(tmp_path)
    assert first.returncode == 0, first.stderr
    names = subprocess.run([sys.executable, str(ROOT / "build.py"), "outputs", "--source",
                            str(tmp_path / "content" / "handbook.md")],
                           capture_output=True, text=True, check=True).stdout.split()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(names)
    assert not _builds(tmp_path), "make would rebuild an up-to-date edition"
    again = _make(tmp_path)
    assert "build.py" not in again.stdout and "wrote" not in again.stderr

    # Any file of the book directory is an input (the build reads images, bibliography, overlay).
    image = next((tmp_path / "content").rglob("*.svg"), None) or (tmp_path / "content" / "handbook.md")
    _newer(image, tmp_path / "out")
    assert _builds(tmp_path)
    assert _make(tmp_path).returncode == 0
    assert not _builds(tmp_path)

    # So are the options: a new SOURCE_DATE_EPOCH rebuilds, the same one does not.
    assert _builds(tmp_path, epoch="1700000001")
    rebuilt = _make(tmp_path, epoch="1700000001")
    assert rebuilt.returncode == 0 and "build.py all" in rebuilt.stdout
    assert not _builds(tmp_path, epoch="1700000001")


def test_outputs_names_the_artifacts_of_each_edition() -> None:
    def outputs(source: Path) -> list[str]:
        proc = subprocess.run([sys.executable, str(ROOT / "build.py"), "outputs", "--source", str(source)],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.split()

    assert outputs(ROOT / "content" / "handbook.md") == [
        "llm-interview-handbook-en.apkg", "llm-interview-handbook-en.pdf", "llm-interview-handbook-en.epub",
        "llm-interview-handbook-flashcards-en.pdf", "llm-interview-handbook-quiz-en.pdf"]
    # A translation is named by its original's book id and its own language.
    assert outputs(ROOT / "content" / "handbook.zh-CN.md")[0] == "llm-interview-handbook-zh-CN.apkg"


def test_outputs_of_a_file_without_front_matter_is_one_clear_line(tmp_path: Path) -> None:
    source = tmp_path / "notes.md"
    source.write_text("# Notes\n\ntext\n")
    proc = subprocess.run([sys.executable, str(ROOT / "build.py"), "outputs", "--source", str(source)],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"{source}:1: missing YAML front matter — start the file with '---', the book fields, and '---'"]
