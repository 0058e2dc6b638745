"""Write failures: a full disk, a read-only or missing output folder, an output path that is a file.

Each failing build must print one clear line, exit 1 and leave every previous artifact
byte-identical (no new deck beside an old PDF), with no temporary file left behind. The fixture
book is built once (v1) into a reference folder; each test copies that set into its output
folder, edits the book (v2, which changes every artifact) and builds again under the fault.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conftest import FIXTURES, ROOT
from studybook import output
from studybook.output import WriteError, commit_all

EPOCH = "1700000000"


def build(source: Path, out: Path, *targets: str, cache: Path, limit: Callable[[], None] | None = None,
          ) -> subprocess.CompletedProcess:
    env = {**os.environ, "SOURCE_DATE_EPOCH": EPOCH, "STUDYBOOK_CACHE": str(cache)}
    return subprocess.run([sys.executable, str(ROOT / "build.py"), *targets, "--source", str(source),
                           "--out", str(out)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600, preexec_fn=limit)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file of the folder, hidden ones (temporary files) included."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def error_lines(stderr: str) -> list[str]:
    progress = ("reading ", "figures: ", "formulas: ", "ok: ", "rendering ", "up to date ")
    # The edit makes the note lock out of date: that warning is expected beside the error.
    return [line for line in stderr.splitlines()
            if line.strip() and not line.startswith(progress) and ": warning: " not in line]


class Books:
    def __init__(self, root: Path):
        self.cache = root / "cache"
        self.source = root / "content" / "handbook.md"
        shutil.copytree(FIXTURES / "mini", self.source.parent)
        v1 = root / "v1"
        proc = build(self.source, v1, "all", cache=self.cache)
        assert proc.returncode == 0, proc.stderr
        self.v1 = snapshot(v1)
        self.v1_dir = v1
        self.lock = self.source.with_name("handbook.lock.yaml")
        self.lock_v1 = self.lock.read_bytes()  # v2 changes a note: a build would update the lock
        text = self.source.read_text(encoding="utf-8")
        assert "Softmax maps logits" in text
        # Key points and answer: every artifact (deck, book, EPUB, flashcards, quiz) shows them.
        self.source.write_text(text.replace("Softmax maps logits", "Softmax turns logits"), encoding="utf-8")

    def previous_set(self, out: Path) -> Path:
        shutil.copytree(self.v1_dir, out, dirs_exist_ok=True)
        return out


@pytest.fixture(scope="module")
def books(tmp_path_factory: pytest.TempPathFactory) -> Books:
    return Books(tmp_path_factory.mktemp("faults"))


def assert_one_line_and_untouched(proc: subprocess.CompletedProcess, out: Path, books: Books, expected: str):
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = error_lines(proc.stderr)
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("build.py: error: ") and expected in lines[0], lines[0]
    assert snapshot(out) == books.v1  # byte-identical, and no temporary file beside them
    assert books.lock.read_bytes() == books.lock_v1 and snapshot(books.lock.parent).keys() == {
        "handbook.md", "handbook.zh-CN.md", "references.yaml", "handbook.lock.yaml", "handbook.zh-CN.lock.yaml"}


@pytest.mark.slow
def test_a_file_size_limit_mid_build_leaves_the_previous_set(books: Books, tmp_path: Path):
    """RLIMIT_FSIZE: the deck (20 KB) would fit, the PDF (116 KB) does not — before, the new
    deck was written beside the old PDF and EPUB."""
    out = books.previous_set(tmp_path / "dist")
    assert len(books.v1["mini-bank-en.apkg"]) < 100_000 < len(books.v1["mini-bank-en.pdf"])

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))

    proc = build(books.source, out, "all", cache=books.cache, limit=limit)
    assert_one_line_and_untouched(proc, out, books, "mini-bank-en.pdf: cannot write: File too large")
    assert "free some space" in proc.stderr and "previous files" in proc.stderr


@pytest.fixture
def mounted(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """Mount a file system for one test (root only); skip where mounting is not allowed."""
    mounts: list[Path] = []

    def mount(*args: str, target: Path) -> Path:
        target.mkdir(exist_ok=True)
        proc = subprocess.run(["mount", *args, str(target)], capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.skip(f"cannot mount here: {proc.stderr.strip()}")
        mounts.append(target)
        return target

    yield mount
    for target in reversed(mounts):
        subprocess.run(["umount", "-l", str(target)], check=False)


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_a_full_disk_leaves_the_previous_set(books: Books, tmp_path: Path, mounted):
    """A real full disk (ENOSPC): a tmpfs holding the previous set and 64 KB more."""
    size = sum(len(data) for data in books.v1.values()) + 64 * 1024
    out = books.previous_set(mounted("-t", "tmpfs", "-o", f"size={size}", "tmpfs", target=tmp_path / "disk"))
    proc = build(books.source, out, "all", cache=books.cache)
    assert_one_line_and_untouched(proc, out, books, "cannot write: No space left on device")


@pytest.mark.slow
def test_a_read_only_out_dir_gives_one_line(books: Books, tmp_path: Path, mounted):
    out = books.previous_set(tmp_path / "dist")
    if os.geteuid() == 0:  # root writes through file modes: make the folder a read-only mount
        mounted("--bind", str(out), target=out)
        mounted("-o", "remount,bind,ro", str(out), target=out)
        expected = "cannot write there: Read-only file system"
    else:
        out.chmod(0o555)
        expected = "cannot write there: Permission denied"
    try:
        proc = build(books.source, out, "anki", "quiz", cache=books.cache)
    finally:
        if os.geteuid() != 0:
            out.chmod(0o755)
    assert_one_line_and_untouched(proc, out, books, expected)
    assert "make the folder writable or choose another --out" in proc.stderr


@pytest.mark.slow
def test_an_out_path_that_is_a_file_gives_one_line(books: Books, tmp_path: Path):
    out = tmp_path / "dist"
    out.write_bytes(b"not a folder\n")
    proc = build(books.source, out, "anki", "quiz", cache=books.cache)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert error_lines(proc.stderr) == [f"build.py: error: {out}: is a file, not a folder — remove it or "
                                        "choose another --out; nothing was written"]
    assert out.read_bytes() == b"not a folder\n"


@pytest.mark.slow
def test_a_missing_out_dir_is_created_with_its_parents(books: Books, tmp_path: Path):
    out = tmp_path / "new" / "nested" / "dist"
    proc = build(books.source, out, "anki", cache=books.cache)
    assert proc.returncode == 0, proc.stderr
    assert [p.name for p in out.iterdir()] == ["mini-bank-en.apkg"]


# -- commit_all itself -------------------------------------------------------------------------

def _three(tmp_path: Path) -> tuple[Path, list[Path]]:
    out = tmp_path / "dist"
    out.mkdir()
    paths = [out / name for name in ("a.apkg", "b.pdf", "c.epub")]
    for path in paths:
        path.write_bytes(b"old " + path.name.encode())
    return out, paths


def test_a_rename_failing_half_way_is_rolled_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    out, paths = _three(tmp_path)
    before = snapshot(out)
    real_replace = os.replace
    calls: list[str] = []

    def flaky_replace(src, dst):
        calls.append(Path(dst).name)
        if Path(dst) == paths[2]:
            raise OSError(5, "Input/output error")
        return real_replace(src, dst)

    monkeypatch.setattr(output.os, "replace", flaky_replace)
    with pytest.raises(WriteError, match=r"c\.epub: cannot write: Input/output error"):
        commit_all([(p, b"new " + p.name.encode()) for p in paths])
    monkeypatch.undo()
    assert calls[:3] == ["a.apkg", "b.pdf", "c.epub"]  # two were renamed before the failure
    assert snapshot(out) == before  # …and are back, with no temporary or backup file left


def test_only_changed_files_are_written_and_unchanged_ones_keep_their_time(tmp_path: Path):
    out, paths = _three(tmp_path)
    os.utime(paths[0], (1_000_000_000, 1_000_000_000))
    result = commit_all([(paths[0], b"old a.apkg"), (paths[1], b"new"), (out / "sub" / "d.pdf", b"d")])
    assert [(p.name, size, changed) for p, size, changed in result] == [
        ("a.apkg", 10, False), ("b.pdf", 3, True), ("d.pdf", 1, True)]
    assert paths[0].stat().st_mtime == 1_000_000_000 and paths[1].read_bytes() == b"new"
    assert oct(paths[1].stat().st_mode & 0o777) == "0o644"


def test_a_directory_where_an_artifact_goes_is_reported(tmp_path: Path):
    out, paths = _three(tmp_path)
    (out / "x.pdf").mkdir()
    before = snapshot(out)
    with pytest.raises(WriteError, match=r"x\.pdf: is a directory or special file"):
        commit_all([(paths[0], b"new"), (out / "x.pdf", b"pdf")])
    assert snapshot(out) == before and {p.name for p in out.iterdir()} == {"a.apkg", "b.pdf", "c.epub", "x.pdf"}


def test_stale_temporary_files_of_dead_builds_are_removed(tmp_path: Path):
    out, paths = _three(tmp_path)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = os.getppid()  # a running process: a concurrent build's file must stay
    leftovers = {
        f".a.apkg.{dead.pid}-0a1b2c3d.tmp": False,
        ".b.pdf.k3j_9zqa.tmp": False,  # what builds before commit_all left (tempfile.mkstemp)
        f".c.epub.{alive}-0a1b2c3d.tmp": True,
        "notes.tmp": True,  # not ours
        ".hidden": True,
    }
    for name in leftovers:
        (out / name).write_bytes(b"partial")
    commit_all([(paths[0], b"new")])
    assert {p.name for p in out.iterdir()} == {p.name for p in paths} | {n for n, kept in leftovers.items() if kept}
