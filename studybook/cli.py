"""Command line: read and validate the book once, then run the requested renderers."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

from .diagnostics import BuildError, display_path
from .output import write_atomic
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
        if not sde.isdigit():
            raise ValueError(f"SOURCE_DATE_EPOCH must be a whole number of seconds, not {sde!r}")
        return int(sde)
    root = book_source.parent
    times = [p.stat().st_mtime for p in root.rglob("*") if p.is_file()]
    return int(max(times, default=book_source.stat().st_mtime))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
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
    args = parser.parse_args(argv)
    for target in args.targets:
        if target not in TARGETS:
            parser.error(f"invalid choice: {target!r} (choose from {', '.join(TARGETS)})")
    args.targets = args.targets or ["all"]
    return args


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    targets = list(RENDERERS) if "all" in args.targets else [t for t in args.targets if t != "check"]
    targets = list(dict.fromkeys(targets))
    try:
        log(f"reading {display_path(args.source)}")
        book = read_book(args.source)
        options = Options(build_time=build_time(args.source), paper=args.paper)
    except BuildError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        log(f"{len(exc.problems)} problem(s) found; nothing was written")
        return 1
    except (ValueError, OSError) as exc:
        print(f"build.py: error: {exc}", file=sys.stderr)
        return 1
    log(f"ok: {len(book.questions)} questions in {len(book.topics)} topics")
    # Render everything before writing anything: a failing renderer leaves dist/ untouched.
    rendered: list[tuple[Path, bytes]] = []
    for target in targets:
        module = importlib.import_module(RENDERERS[target])
        log(f"rendering {target}")
        try:
            data = module.render(book, options)
        except BuildError as exc:
            for problem in exc.problems:
                print(problem, file=sys.stderr)
            log(f"{target}: {len(exc.problems)} problem(s); nothing was written")
            return 1
        name = module.output_name(book) if hasattr(module, "output_name") else f"{book.slug}.{module.EXTENSION}"
        rendered.append((args.out / name, data))
    for path, data in rendered:
        changed = write_atomic(path, data)
        log(f"{'wrote' if changed else 'unchanged'} {display_path(path)} ({len(data):,} bytes)")
    return 0

