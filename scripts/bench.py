#!/usr/bin/env python3
"""`make bench`: every figure of docs/performance.md in one run (a script, not a test).

Each measurement is `build.py` (or pandoc, or WeasyPrint alone) in a fresh child process, timed by
the kernel through GNU time: CPU is user + system time of the child and all its descendants, so
worker processes count and other users' load on a shared machine does not; wall time is printed
too but is noisy there. Peak RSS is the largest resident set of any single process of the run
(the target is per process): the kernel's maxrss, and /proc sampled every 0.2 s (which also
enforces the caps).

1. The handbook, per artifact and for `all`: a clean build (empty output directory, empty figure
   and formula caches), a no-op (the same build again), and a one-answer edit (one word changed
   in one answer; caches warm).
2. pandoc (pypandoc-binary) converting the same Markdown to EPUB 3 with MathML.
3. The floor: WeasyPrint alone on a plain-text book of about the handbook PDF's page count
   (same page size and body font), as ms of CPU per page.
4. Scaling: synthetic books of 50, 500 and 5,000 questions (scripts/generate_book.py): `check`
   with empty caches (reading the book, drawing its formulas and figures: what every artifact
   shares), then every artifact on its own with those caches warm; the growth of CPU time from
   each size to ten times it. Each run is capped in CPU time and memory (--cap-seconds,
   --cap-mb): a run over a cap is killed and reported with the CPU time and memory it had
   reached. The 5,000-question book takes about an hour of CPU; --sizes 50,500 skips it.

Usage: .venv/bin/python scripts/bench.py [--sizes 50,500,5000] [--cap-seconds 7200] [--cap-mb 4096]
       [--json results.json] [--skip-handbook] [--skip-scaling]
"""

from __future__ import annotations

import argparse
import contextlib
import html as html_mod
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PY = sys.executable
TIME = shutil.which("time", path="/usr/bin:/bin") or "/usr/bin/time"  # GNU time (Debian package `time`)
TARGETS = ["anki", "pdf", "epub", "flashcards", "quiz"]
EPOCH = "1700000000"


@dataclass
class Run:
    label: str
    cpu: float
    wall: float
    peak_mb: float
    ok: bool
    note: str = ""
    pages: int | None = None
    largest: str = ""  # the process that peaked, as sampled


_TICK = os.sysconf("SC_CLK_TCK")


def _tree_state(root_pid: int) -> tuple[float, float, str]:
    """(largest VmRSS in MiB, CPU seconds so far, the name of the largest process) of the
    processes of the session of `root_pid` (a build's workers name themselves: "sb-3-chunk").

    CPU counts live processes and the children they have reaped (cutime/cstime), which is how
    the caps are applied: in CPU time, so a loaded machine does not kill a run that is merely slow.
    """
    peak, cpu, name = 0.0, 0.0, ""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                comm, rest = fh.read().split("(", 1)[1].rsplit(")", 1)
                fields = rest.split()
            if int(fields[3]) != root_pid:  # the session id (field 6) is fields[3] after the name
                continue
            cpu += sum(int(x) for x in fields[11:15]) / _TICK  # utime stime cutime cstime
            with open(f"/proc/{entry}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:") and int(line.split()[1]) / 1024 > peak:
                        peak, name = int(line.split()[1]) / 1024, comm
        except (OSError, IndexError, ValueError):
            continue
    return peak, cpu, name


def measure(label: str, cmd: list[str], env: dict[str, str] | None = None, cap_s: float = 1e9,
            cap_mb: float = 1e9, cwd: Path = ROOT) -> Run:
    full_env = {**os.environ, "SOURCE_DATE_EPOCH": EPOCH, **(env or {})}
    # GNU time (a small C program) reports the child's rusage: measuring from this Python process
    # would not do, since on Linux a forked child inherits its parent's RSS high-water mark.
    fd, timing = tempfile.mkstemp(prefix="bench-time-")
    os.close(fd)
    start = time.perf_counter()
    proc = subprocess.Popen([TIME, "-f", "%U %S %M", "-o", timing, *cmd], cwd=cwd, env=full_env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    peak = [0.0]
    largest = [""]
    _last_cpu = [float("nan")]
    killed: list[str] = []
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.2):
            rss, cpu, name = _tree_state(proc.pid)
            if rss > peak[0]:
                peak[0], largest[0] = rss, name
            _last_cpu[0] = max(_last_cpu[0], cpu) if _last_cpu[0] == _last_cpu[0] else cpu
            # CPU time is the cap; wall time only as a backstop (3x) on a heavily shared machine.
            over = ("CPU time" if cpu > cap_s else "wall time (3x)" if time.perf_counter() - start > 3 * cap_s
                    else "memory" if peak[0] > cap_mb else "")
            if over and not killed:
                killed.append(f"killed: over the {over} cap ({cap_s:.0f} s CPU / {cap_mb:.0f} MiB) "
                              f"after {cpu:.0f} s CPU at {peak[0]:.0f} MiB")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    stderr = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
    proc.wait()
    done.set()
    watcher.join()
    wall = time.perf_counter() - start
    try:
        user, system, max_kb = Path(timing).read_text().split()[-3:]
        cpu, peak_mb = float(user) + float(system), max(peak[0], int(max_kb) / 1024)
    except (OSError, ValueError):  # killed: GNU time wrote no figures
        cpu, peak_mb = _last_cpu[0], peak[0]
    Path(timing).unlink(missing_ok=True)
    ok = proc.returncode == 0 and not killed
    last = stderr.strip().splitlines()[-1][:120] if stderr.strip() else "failed"
    note = killed[0] if killed else "" if ok else last
    if ok:  # what a chunked output took from the layout cache
        note = "; ".join(re.findall(r"^\w+: from the layout cache: .*$", stderr, re.M))
    return Run(label, cpu, wall, peak_mb, ok, note, largest=largest[0])


class Results(list[Run]):
    """The runs so far, written to the JSON file after each one: a run of hours that is cut short
    still leaves what it measured."""

    def __init__(self, path: Path | None, machine: str) -> None:
        super().__init__()
        self.path, self.machine = path, machine

    def append(self, run: Run) -> None:
        self.extend([run])

    def extend(self, runs: Iterable[Run]) -> None:
        super().extend(runs)
        if self.path:
            self.path.write_text(json.dumps({"machine": self.machine, "runs": [asdict(r) for r in self]}, indent=1))


def pdf_pages(path: Path) -> int | None:
    try:
        from studybook.render import pdf_chunks

        with pdf_chunks.own_pdfs():  # a 5,000-question PDF is past pypdf's default limits
            return len(pdf_chunks.read_own(path).pages)
    except Exception:
        return None


def show(run: Run) -> None:
    pages = f"{run.pages:5d} p  {1000 * run.cpu / run.pages:6.0f} ms/p" if run.pages else ""
    status = "; ".join(filter(None, [run.note, f"largest: {run.largest}" if run.largest else ""]))
    status = f"  ({status})" if status else ""
    print(f"{run.label:44} {run.cpu:8.2f} {run.wall:8.2f} {run.peak_mb:8.0f}  {pages}{status}", flush=True)


def header(title: str) -> None:
    print(f"\n{title}\n{'':44} {'CPU s':>8} {'wall s':>8} {'peak MiB':>8}", flush=True)


def handbook(tmp: Path, results: list[Run]) -> None:
    content = tmp / "content"
    shutil.copytree(ROOT / "content", content)
    source = content / "handbook.md"
    header("1. The handbook (content/handbook.md): clean build, no-op, one-answer edit")
    for target in [*TARGETS, "all"]:
        cache, out = tmp / f"cache-{target}", tmp / f"out-{target}"
        env = {"STUDYBOOK_CACHE": str(cache)}
        cmd = [PY, str(ROOT / "build.py"), target, "--source", str(source), "--out", str(out)]
        clean = measure(f"{target}: clean", cmd, env)
        if target in ("pdf", "all"):
            clean.pages = pdf_pages(out / "llm-interview-handbook-en.pdf")
        show(clean)
        noop = measure(f"{target}: no-op", cmd, env)
        show(noop)
        # One word of one answer (the first question's), as an author's typo fix would.
        original = _edited(source)
        edit = measure(f"{target}: one-answer edit", cmd, env)
        source.write_text(original, encoding="utf-8")
        if target in ("pdf", "all"):  # caches warm: the ms/page an author's rebuild costs
            edit.pages = pdf_pages(out / "llm-interview-handbook-en.pdf")
        show(edit)
        results.extend([clean, noop, edit])


def pandoc(tmp: Path, results: list[Run]) -> None:
    import pypandoc

    header("2. pandoc on the same Markdown (EPUB 3, MathML)")
    exe = pypandoc.get_pandoc_path()
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    run = measure(f"pandoc -t epub3 --mathml ({version})",
                  [exe, "content/handbook.md", "-t", "epub3", "--mathml", "--resource-path", "content",
                   "-o", str(tmp / "pandoc.epub")])
    show(run)
    results.append(run)


CHARS_PER_PAGE = 3300  # of the prose below, in this page and font (measured)
FLOOR_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><style>
@page {{ size: A4; margin: 22mm 20mm 24mm; @bottom-center {{ content: counter(page); }} }}
body {{ font-family: "Noto Serif"; font-size: 10.5pt; line-height: 1.45; hyphens: auto; text-align: justify; }}
</style></head><body>{body}</body></html>"""


def floor(tmp: Path, pages: int, results: list[Run]) -> None:
    header(f"3. The floor: WeasyPrint alone on plain text, about {pages} pages")
    # The handbook's own prose (markup stripped): real word lengths, hyphenation and line breaking.
    prose = [re.sub(r"\[@[^\]]*\]|\]\([^)]*\)|[*_`\[\]]|\\\(.*?\\\)", "", line).strip()
             for line in (ROOT / "content" / "handbook.md").read_text(encoding="utf-8").splitlines()
             if len(line) > 200 and line[0].isalpha()]
    paras, chars = [], 0
    while chars < pages * CHARS_PER_PAGE:
        paras.append(html_mod.escape(prose[len(paras) % len(prose)]))
        chars += len(paras[-1])
    html = FLOOR_PAGE.format(body="\n".join(f"<p>{p}</p>" for p in paras))
    (tmp / "floor.html").write_text(html, encoding="utf-8")
    script = (f"import weasyprint; weasyprint.HTML(filename={str(tmp / 'floor.html')!r})"
              f".write_pdf({str(tmp / 'floor.pdf')!r}, pdf_variant='pdf/ua-1')")
    run = measure("WeasyPrint alone, plain text", [PY, "-c", script])
    run.pages = pdf_pages(tmp / "floor.pdf")
    show(run)
    results.append(run)


def scaling(tmp: Path, sizes: list[int], edit_sizes: set[int], cap_s: float, cap_mb: float,
            results: list[Run]) -> None:
    header(f"4. Scaling: synthetic books; formulas drawn once, then each artifact "
           f"(caps: {cap_s:.0f} s CPU, {cap_mb:.0f} MiB)")
    for n in sizes:
        book = tmp / f"q{n}"
        subprocess.run([PY, str(ROOT / "scripts" / "generate_book.py"), str(n), "--out", str(book)],
                       check=True, capture_output=True)
        source = book / "handbook.md"
        # `check` reads the book and draws its formulas and figures into the caches (empty here):
        # the part of a clean build every artifact shares. Each artifact is then built on its own
        # with those caches warm, so its figure is its own cost (reading the book included), and
        # the ≈ 10 formulas a question are not drawn five times over.
        env = {"STUDYBOOK_CACHE": str(tmp / f"cache-q{n}")}
        run = measure(f"{n} questions: read + draw formulas", [PY, str(ROOT / "build.py"), "check", "--source",
                                                               str(source)], env, cap_s, cap_mb)
        show(run)
        results.append(run)
        for target in TARGETS:
            out = tmp / f"out-q{n}-{target}"
            cmd = [PY, str(ROOT / "build.py"), target, "--source", str(source), "--out", str(out)]
            run = measure(f"{n} questions: {target}", cmd, env, cap_s, cap_mb)
            if target == "pdf" and run.ok:
                run.pages = pdf_pages(next(out.glob("*-en.pdf")))
            files = [p for p in out.iterdir() if p.is_file()] if run.ok else []
            if files:
                run.note = f"{sum(p.stat().st_size for p in files) / 2**20:.1f} MiB written"
            show(run)
            results.append(run)
            # Laid out in chunks above 120 questions: an edit then shows the layout cache at work.
            if target in ("pdf", "quiz") and run.ok and n > 120 and n in edit_sizes:
                results.append(_chunked_edit(n, target, source, cmd, env, cap_s, cap_mb))
            shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(tmp / f"cache-q{n}", ignore_errors=True)
        shutil.rmtree(book, ignore_errors=True)
        _ratios(results, sizes, n)


# One word of the first answer (each copy of the handbook in a generated book has this sentence).
EDIT = ("A language model reads integers", "A language model reads whole numbers")


def _edited(source: Path) -> str:
    """Edit one word of the first answer of `source`; returns the original text."""
    original = source.read_text(encoding="utf-8")
    edited = original.replace(*EDIT, 1)
    assert edited != original
    source.write_text(edited, encoding="utf-8")
    return original


def _chunked_edit(n: int, target: str, source: Path, cmd: list[str], env: dict[str, str], cap_s: float,
                  cap_mb: float) -> Run:
    """A large book's PDF or quiz built again after a one-word edit of one answer, into the same
    output directory: the chunks the edit did not change come from the layout cache."""
    original = _edited(source)
    try:
        run = measure(f"{n} questions: {target} one-answer edit", cmd, env, cap_s, cap_mb)
    finally:
        source.write_text(original, encoding="utf-8")
    show(run)
    return run


def _ratios(results: list[Run], sizes: list[int], n: int) -> None:
    """CPU time at `n` questions over the CPU time at a tenth of it, per artifact (target ≤ 11×)."""
    smaller = n // 10
    if smaller not in sizes:
        return
    cpu = {r.label: r.cpu for r in results if r.ok}
    parts = []
    for target in ["read + draw formulas", *TARGETS]:
        a, b = cpu.get(f"{smaller} questions: {target}"), cpu.get(f"{n} questions: {target}")
        if a and b:
            parts.append(f"{target} {b / a:.1f}x")
    print(f"{'':4}{smaller} -> {n} questions, CPU time grew: " + ", ".join(parts), flush=True)


def machine() -> str:
    cpuinfo, meminfo = Path("/proc/cpuinfo").read_text(), Path("/proc/meminfo").read_text()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), "?")
    mem = next((int(line.split()[1]) / 2**20 for line in meminfo.splitlines() if line.startswith("MemTotal")), 0)
    load = Path("/proc/loadavg").read_text().split()[:3]
    return (f"{platform.system()} {platform.release()}, {os.cpu_count()} CPUs ({cpu}), {mem:.1f} GiB RAM, "
            f"Python {platform.python_version()}, load average {' '.join(load)} at start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="50,500,5000")
    parser.add_argument("--cap-seconds", type=float, default=7200)
    parser.add_argument("--cap-mb", type=float, default=4096)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--skip-handbook", action="store_true")
    parser.add_argument("--skip-scaling", action="store_true")
    # The 5,000-question edits add ≈ 20 minutes to a run of ≈ 2.5 hours and show what 500 shows.
    parser.add_argument("--edit-sizes", default="500",
                        help="sizes whose chunked PDF and quiz are also built after a one-answer edit")
    args = parser.parse_args()
    if not Path(TIME).exists():
        sys.exit("bench.py: error: GNU time is needed to measure child processes — install it: apt-get install time")
    host = machine()  # its load average is the one at the start
    print(f"machine: {host}")
    print("CPU = user + system seconds of the process and all its children (kernel accounting); "
          "peak = largest RSS of one process")
    results = Results(args.json, host)
    with tempfile.TemporaryDirectory(prefix="studybook-bench-") as name:
        tmp = Path(name)
        if not args.skip_handbook:
            handbook(tmp, results)
            pandoc(tmp, results)
            pages = next((r.pages for r in results if r.label == "pdf: clean" and r.pages), 120)
            floor(tmp, pages, results)
        if not args.skip_scaling:
            scaling(tmp, [int(s) for s in args.sizes.split(",")],
                    {int(s) for s in args.edit_sizes.split(",") if s}, args.cap_seconds, args.cap_mb, results)


if __name__ == "__main__":
    main()
