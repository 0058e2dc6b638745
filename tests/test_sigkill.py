"""SIGKILL at random moments: the previous artifacts survive whole, no process is left behind, and
the next build removes what the killed ones left.

The fixture book's v1 artifacts are built into dist/; then builds of an edited v2 are killed 22
times: 12 while worker processes typeset formulas (a copy of v2 with 100 more formulas, as the
pool starts at 80), 4 while the artifacts are being written (temporary files present) and 6 at
any moment of the build; delays are random but seeded. After each kill every file in dist/ must
be byte-identical to its v1 (or, had all renames happened, its v2) form, and every worker of the
killed build must be gone. The surviving set is then checked once with the real tools, and one
more build must leave exactly the v2 set and no temporary file.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from anki.collection import Collection, ImportAnkiPackageOptions, ImportAnkiPackageRequest
from pypdf import PdfReader
from test_epub import epubcheck_messages

from conftest import FIXTURES, ROOT

pytestmark = pytest.mark.slow

EPOCH = "1700000000"
TEMP = re.compile(r"^\..+\.tmp$")
POOL = min(2, os.cpu_count() or 1)  # mathsvg's pool on this book: 2 workers (none with one CPU)
KILLS = {"typesetting": 12, "writing": 4, "anytime": 6}


def _books(root: Path) -> tuple[Path, Path]:
    """The fixture book (v1, edited to v2 by the test) and a v2 copy with 100 more formulas."""
    source = root / "content" / "handbook.md"
    shutil.copytree(FIXTURES / "mini", source.parent)
    text = source.read_text(encoding="utf-8")
    assert "Numbers and functions." in text and "Softmax maps logits" in text
    text = text.replace("Softmax maps logits", "Softmax turns logits")
    formulas = " ".join(rf"\(x_{{{i}}} + \frac{{{i}}}{{y}}\)" for i in range(100))
    heavy = source.with_name("heavy.md")
    heavy.write_text(text.replace("Numbers and functions.", f"Numbers and functions. {formulas}", 1),
                     encoding="utf-8")
    return source, heavy


def _start(source: Path, out: Path, cache: Path, log=subprocess.DEVNULL) -> subprocess.Popen:
    # No pipes: an orphaned worker would hold them open, and reading them would never end.
    env = {**os.environ, "SOURCE_DATE_EPOCH": EPOCH, "STUDYBOOK_CACHE": str(cache)}
    return subprocess.Popen([sys.executable, str(ROOT / "build.py"), "all", "--source", str(source),
                             "--out", str(out)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)


def _build(source: Path, out: Path, cache: Path) -> float:
    start = time.monotonic()
    log = cache.with_suffix(".log")
    with log.open("w") as fh:
        proc = _start(source, out, cache, fh)
        proc.wait(timeout=600)
    assert proc.returncode == 0, log.read_text()
    return time.monotonic() - start


def _processes() -> dict[int, tuple[int, str, str]]:
    """pid → (parent pid, state, command line) of every process, from /proc."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # ended meanwhile
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        found[int(entry.name)] = (int(ppid), state, cmdline)
    return found


def _workers(pid: int) -> list[int]:
    return [p for p, (ppid, state, _) in _processes().items() if ppid == pid and state != "Z"]


def _survivors(marker: str) -> list[str]:
    """Live processes (zombies are dead) whose command line names this test's book."""
    return [f"{pid} {cmd}" for pid, (_, state, cmd) in _processes().items()
            if marker in cmd and state != "Z" and pid != os.getpid()]


def _wait_for(condition, proc: subprocess.Popen, timeout: float = 120) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        if condition():
            return True
        time.sleep(0.001)
    return False


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if not TEMP.match(p.name)}


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
def test_sigkill_at_random_moments_leaves_the_previous_set(tmp_path: Path):
    source, heavy = _books(tmp_path)
    out = tmp_path / "dist"
    _build(source, out, tmp_path / "cache-v1")
    v1 = _snapshot(out)
    text = source.read_text(encoding="utf-8")
    source.write_text(text.replace("Softmax maps logits", "Softmax turns logits"), encoding="utf-8")
    duration = _build(source, tmp_path / "v2", tmp_path / "cache-v2")
    v2 = _snapshot(tmp_path / "v2")
    assert v1.keys() == v2.keys() and all(v1[n] != v2[n] for n in v1)

    rng = random.Random(15)
    plan = [(phase, i) for phase, n in KILLS.items() for i in range(n)]
    rng.shuffle(plan)
    killed = {phase: 0 for phase in KILLS}
    with_workers = left_temps = 0
    for run, (phase, _) in enumerate(plan):
        # A fresh cache each time: formulas and figures are drawn, whatever a cache would keep.
        proc = _start(heavy if phase == "typesetting" else source, out, tmp_path / f"cache-{run}")
        if phase == "typesetting" and POOL >= 2:
            # Both workers running: the case that left them blocked forever (each holds the other's
            # end of the work queue open). The pool lives ≈ 50 ms on this book.
            _wait_for(lambda pid=proc.pid: len(_workers(pid)) >= POOL, proc)
            time.sleep(rng.uniform(0, 0.01))
        elif phase == "writing":
            # Killed as soon as a temporary file is seen: the writes take a few milliseconds, and
            # a random pause here let every kill land after the renames (no temporary file left,
            # so the clean-up of a killed build's temporaries went untested).
            _wait_for(lambda: any(TEMP.match(n) for n in os.listdir(out)), proc)
        else:
            time.sleep(rng.uniform(0, duration * 0.9))
        workers = _workers(proc.pid)
        if proc.poll() is not None:  # finished before the kill: not counted
            for name, data in v1.items():
                (out / name).write_bytes(data)
            continue
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed[phase] += 1
        with_workers += len(workers) >= 2

        # No worker outlives its build.
        end = time.monotonic() + 10
        while _survivors(str(tmp_path)) and time.monotonic() < end:
            time.sleep(0.05)
        assert _survivors(str(tmp_path)) == [], f"run {run} ({phase}): orphaned processes"

        # Each artifact is whole: its previous bytes, or (every rename done) its new bytes.
        now = _snapshot(out)
        assert now.keys() == v1.keys(), f"run {run} ({phase})"
        for name, data in now.items():
            assert data in (v1[name], v2[name]), f"run {run} ({phase}): {name} is damaged"
            if data != v1[name]:
                (out / name).write_bytes(v1[name])  # keep v1 in place for the next kill
        left_temps += any(TEMP.match(n) for n in os.listdir(out))

    assert sum(killed.values()) >= 20, killed
    assert killed["writing"] >= 3 and left_temps >= 1, (killed, left_temps)
    if (os.cpu_count() or 1) >= 2:  # one CPU: formulas are drawn without a pool
        assert with_workers >= 6, (killed, with_workers)

    # The surviving set is loadable by the real tools.
    assert _snapshot(out) == v1
    (tmp_path / "anki").mkdir()
    col = Collection(str(tmp_path / "anki" / "collection.anki2"))
    try:
        request = ImportAnkiPackageRequest(package_path=str(out / "mini-bank-en.apkg"),
                                           options=ImportAnkiPackageOptions())
        assert len(col.import_anki_package(request).log.new) == 2
    finally:
        col.close()
    assert epubcheck_messages(out / "mini-bank-en.epub") == []
    for pdf in out.glob("*.pdf"):
        assert len(PdfReader(pdf).pages) >= 1 and PdfReader(pdf).pages[0].extract_text().strip()

    # The next build completes the set and removes every temporary file the killed ones left.
    _build(source, out, tmp_path / "cache-last")
    assert sorted(os.listdir(out)) == sorted(v2) and _snapshot(out) == v2
