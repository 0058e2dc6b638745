#!/usr/bin/env python3
"""Benchmark the PDF build against WeasyPrint alone on the same HTML (a script, not a test).

Each measurement runs in a fresh child process so that peak memory (max RSS, which includes
Pango, HarfBuzz and the other C libraries) belongs to that measurement only:

  pipeline    read + validate the Markdown, build the HTML (formulas typeset by ziamath), then
              WeasyPrint and the missing-glyph check: what `build.py pdf` does
  weasyprint  `HTML(string).write_pdf()` with the same HTML, resources and PDF options

Usage: .venv/bin/python scripts/bench_pdf.py [--source content/handbook.md] [--runs 1]
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
EPOCH = 1_700_000_000


def _clock() -> tuple[float, float]:
    """Wall time, and CPU time of this process plus its finished children (formula workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    return time.perf_counter(), cpu


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def child_pipeline(source: Path, paper: str, html_out: Path) -> dict:
    import weasyprint  # noqa: F401  imported before the clock starts, as in the other child

    from studybook.reader import read_book
    from studybook.render import Options, pdf

    t0, c0 = _clock()
    book = read_book(source)
    t1, _ = _clock()
    options = Options(build_time=EPOCH, paper=paper)
    doc = pdf.build_html(book, options)
    t2, _ = _clock()
    data = pdf.render(book, options)  # the layouts that fix the page numbers, then the PDF
    t3, c3 = _clock()
    html_out.write_bytes(pickle.dumps((doc, book.id, book.language)))
    import io

    from pypdf import PdfReader

    pages = len(PdfReader(io.BytesIO(data)).pages)
    return {"wall": t3 - t0, "cpu": c3 - c0, "peak_mb": _peak_mb(), "read": t1 - t0,
            "html": t2 - t1, "pdf": t3 - t2, "pages": pages, "bytes": len(data),
            "questions": len(book.questions), "formulas": sum(1 for u in doc.resources if "/math/" in u)}


def child_weasyprint(html_in: Path) -> dict:
    import hashlib

    import weasyprint

    from studybook.render import pdf

    doc, book_id, language = pickle.loads(html_in.read_bytes())
    t0, c0 = _clock()
    data = weasyprint.HTML(string=doc.html, base_url="studybook://book/",
                           url_fetcher=pdf._fetcher(doc.resources)).write_pdf(
        pdf_variant=pdf.PDF_VARIANT,
        pdf_identifier=hashlib.sha256(f"{book_id}\x1f{language}".encode()).hexdigest()[:32].encode(),
    )
    t1, c1 = _clock()
    return {"wall": t1 - t0, "cpu": c1 - c0, "peak_mb": _peak_mb(), "bytes": len(data)}


def run_child(*args: str) -> dict:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        sys.exit(f"benchmark child failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = ROOT / "content" / "handbook.md"
    if not default.exists():
        default = ROOT / "tests" / "fixtures" / "mini" / "handbook.md"
    parser.add_argument("--source", type=Path, default=default)
    parser.add_argument("--paper", choices=["a4", "letter"], default="a4")
    parser.add_argument("--runs", type=int, default=1, help="repeat and report the median (default 1)")
    parser.add_argument("--child", choices=["pipeline", "weasyprint"], help=argparse.SUPPRESS)
    parser.add_argument("--html", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child == "pipeline":
        print(json.dumps(child_pipeline(args.source.resolve(), args.paper, args.html)))
        return
    if args.child == "weasyprint":
        print(json.dumps(child_weasyprint(args.html)))
        return

    pipelines, alones = [], []
    with tempfile.TemporaryDirectory() as tmp:
        html = Path(tmp) / "doc.pickle"
        for run in range(args.runs):
            print(f"run {run + 1}/{args.runs}: pipeline …", file=sys.stderr, flush=True)
            pipelines.append(run_child("--child", "pipeline", "--source", str(args.source.resolve()),
                                       "--paper", args.paper, "--html", str(html)))
            print(f"run {run + 1}/{args.runs}: WeasyPrint alone …", file=sys.stderr, flush=True)
            alones.append(run_child("--child", "weasyprint", "--html", str(html)))

    def med(rows: list[dict], key: str) -> float:
        return statistics.median(r[key] for r in rows)

    p, _w = pipelines[0], alones[0]
    print(f"source: {os.path.relpath(args.source)} — {p['questions']} questions, {p['formulas']} distinct "
          f"formulas, {p['pages']} pages, {p['bytes'] / 1e6:.2f} MB PDF ({args.paper}); "
          f"median of {args.runs} run(s)")
    print(f"{'':34}{'wall':>9}{'cpu':>9}{'peak RSS':>11}")
    print(f"{'pipeline (build.py pdf)':34}{med(pipelines, 'wall'):8.2f}s{med(pipelines, 'cpu'):8.2f}s"
          f"{med(pipelines, 'peak_mb'):8.0f} MB")
    print(f"{'  read + validate Markdown':34}{med(pipelines, 'read'):8.2f}s")
    print(f"{'  HTML + formulas (ziamath)':34}{med(pipelines, 'html'):8.2f}s")
    print(f"{'  WeasyPrint + glyph check':34}{med(pipelines, 'pdf'):8.2f}s")
    print(f"{'WeasyPrint alone, same HTML':34}{med(alones, 'wall'):8.2f}s{med(alones, 'cpu'):8.2f}s"
          f"{med(alones, 'peak_mb'):8.0f} MB")
    overhead = med(pipelines, "wall") / med(alones, "wall") - 1
    memory = med(pipelines, "peak_mb") / med(alones, "peak_mb") - 1
    print(f"pipeline overhead on top of WeasyPrint: {overhead:+.1%} time, {memory:+.1%} peak memory "
          f"(target ≤ +20 % time)")


if __name__ == "__main__":
    main()
