"""Command line: read and validate the book once, then run the requested renderers."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path
from typing import NoReturn

from . import figures, mathsvg, notelock
from .diagnostics import BuildError, Problem, Problems, display_path, ordered
from .output import WriteError, commit_all
from .reader import read_book
from .render import Options

RENDERERS = {"anki": "studybook.render.anki", "pdf": "studybook.render.pdf",
             "epub": "studybook.render.epub", "flashcards": "studybook.render.flashcards",
             "quiz": "studybook.render.quiz"}
TARGETS = ["all", "check", *RENDERERS]


def build_time(book_source: Path) -> int:
    """SOURCE_DATE_EPOCH when set (reproducible builds), else the newest content file's mtime.

    The fallback makes an edited source yield notes with a newer modification time, which is
    what Anki's importer needs to update them, even when the edit is not committed yet.
    """
    sde = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if sde:
        if not sde.isdigit() or len(sde) > 12:
            raise ValueError(f"SOURCE_DATE_EPOCH must be a whole number of seconds, not {sde[:20]!r}")
        if int(sde) > LATEST_TIME:
            raise ValueError(f"SOURCE_DATE_EPOCH={sde} is after 2107, the last date a zip file (the deck, "
                             "the EPUB) can record")
        return int(sde)
    root = book_source.parent
    # Not the note locks: the build writes them, and they are not content.
    times = {p: p.stat().st_mtime for p in root.rglob("*")
             if p.is_file() and not p.name.endswith(notelock.SUFFIX)}
    newest = max(times, key=lambda p: times[p], default=book_source)
    when = times.get(newest, book_source.stat().st_mtime)
    if when > LATEST_TIME:
        raise ValueError(f"{display_path(newest)} is dated after 2107, the last date a zip file can record; "
                         "give it the current time (touch it)")
    return int(when)


# 2107-12-31 23:59:59 UTC: the zip entries of the deck and the EPUB record dates up to this one.
LATEST_TIME = 4_354_819_199


def cache_dir() -> Path:
    """Where drawn figures are kept between builds: $STUDYBOOK_CACHE, else the user's cache."""
    if os.environ.get("STUDYBOOK_CACHE"):
        return Path(os.environ["STUDYBOOK_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "studybook"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, like every other error, instead of the usage text; `--help` still shows it.
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = _Parser(
        prog="build.py",
        description="Build the Anki deck, PDF and EPUB of a Markdown question bank.",
    )
    # Checked below rather than with `choices`: Python 3.11's argparse rejects an empty list there.
    parser.add_argument("targets", nargs="*", metavar="TARGET",
                        help=f"one or more of: {', '.join(TARGETS)} (default: all; "
                             "'check' validates the source and writes nothing)")
    parser.add_argument("--source", type=Path, default=Path("content/handbook.md"),
                        help="the book's Markdown file (default: content/handbook.md)")
    parser.add_argument("--out", type=Path, default=Path("dist"),
                        help="output directory (default: dist)")
    parser.add_argument("--paper", choices=["a4", "letter"], default="a4",
                        help="PDF paper size (default: a4)")
    parser.add_argument("--strict", action="store_true",
                        help="treat warnings as errors (CI builds the handbook this way)")
    args = parser.parse_args(argv)
    for target in args.targets:
        if target not in TARGETS:
            parser.error(f"invalid choice: {target!r} (choose from {', '.join(TARGETS)})")
    args.targets = args.targets or ["all"]
    return args


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def report(problems: list[Problem]) -> None:
    for problem in ordered(problems):
        print(problem, file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    targets = list(RENDERERS) if "all" in args.targets else [t for t in args.targets if t != "check"]
    targets = list(dict.fromkeys(targets))
    warnings: list[Problem] = []
    try:
        log(f"reading {display_path(args.source)}")
        cache = figures.FigureCache(cache_dir() / "figures")
        book = read_book(args.source, warnings=warnings, figure_cache=cache)
        if cache.hits or cache.misses:
            log(f"figures: {cache.misses} drawn, {cache.hits} from the cache")
        options = Options(build_time=build_time(args.source), paper=args.paper,
                          note_lock=notelock.load(args.source) if "anki" in targets else None)
        # Formula pictures are drawn before any renderer: `check` finds what a build would.
        checks = Problems()
        mathsvg.draw_all(book, checks)
        checks.raise_if_any()
    except BuildError as exc:
        return _fail(exc.problems, args.strict)
    except (ValueError, OSError) as exc:
        print(f"build.py: error: {exc}", file=sys.stderr)
        return 1
    log(f"ok: {len(book.questions)} questions in {len(book.topics)} topics")
    # Render everything before writing anything: a failing renderer leaves dist/ untouched, and
    # every renderer's problems are reported together.
    rendered: list[tuple[Path, bytes]] = []
    problems: list[Problem] = []
    for target in targets:
        module = importlib.import_module(RENDERERS[target])
        log(f"rendering {target}")
        try:
            data = module.render(book, options)
        except BuildError as exc:
            problems += exc.problems
            continue
        # A renderer may name its file (the print aids: <book>-flashcards-<lang>.pdf).
        name = module.output_name(book) if hasattr(module, "output_name") else f"{book.slug}.{module.EXTENSION}"
        rendered.append((args.out / name, data))
    rendered += options.extra_files  # the Anki note lock, when the deck changed it
    problems += warnings + options.problems.items
    if any(not p.warning for p in problems) or (args.strict and problems):
        return _fail(problems, args.strict)
    report(problems)
    try:
        written = commit_all(rendered)  # every file or none: a failed write leaves the old set
    except WriteError as exc:
        print(f"build.py: error: {exc}", file=sys.stderr)
        return 1
    for path, size, changed in written:
        log(f"{'wrote' if changed else 'unchanged'} {display_path(path)} ({size:,} bytes)")
    return 0


def _fail(problems: list[Problem], strict: bool) -> int:
    report(problems)
    counted = len(problems) if strict else sum(1 for p in problems if not p.warning)
    log(f"{counted} problem(s) found{' (--strict: warnings count)' if strict else ''}; nothing was written")
    return 1
