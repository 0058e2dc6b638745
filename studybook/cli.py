"""Command line: read and validate the book once, then run the requested renderers."""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, NoReturn

from . import incremental, notelock, progress
from .diagnostics import BuildError, Problem, Problems, display_path, ordered
from .output import Data, WriteError, commit_all, discard
from .render import TEMPLATES, Options
from .render.layout_cache import LayoutCache

# The reader, the figures (matplotlib) and the formula pictures are imported only when something
# has to be built: a no-op build answers from the manifest before loading them (studybook.incremental).

RENDERERS = {"anki": "studybook.render.anki", "pdf": "studybook.render.pdf",
             "epub": "studybook.render.epub", "flashcards": "studybook.render.flashcards",
             "quiz": "studybook.render.quiz"}
TARGETS = ["all", "check", "outputs", *RENDERERS]


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
                             "'check' validates the source and writes nothing; 'outputs' lists the "
                             "artifacts' file names, which is how the Makefile knows them)")
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
    if "outputs" in args.targets:
        if args.targets != ["outputs"]:
            print("build.py: error: 'outputs' lists file names and cannot be combined with other targets",
                  file=sys.stderr)
            return 2
        return list_outputs(args.source)
    targets = list(RENDERERS) if "all" in args.targets else [t for t in args.targets if t != "check"]
    targets = list(dict.fromkeys(targets))
    plan = _plan(args, targets)
    if plan is not None and "check" not in args.targets:
        entries = {t: e for t, e in plan.fresh.items() if e is not None}
        fresh = set(entries)
        if fresh == set(targets):
            # Nothing changed: say what a full build said, without parsing the book.
            for line in sorted({w for e in entries.values() for w in e.warnings}):
                print(line, file=sys.stderr)
            for e in entries.values():
                log(f"up to date {display_path(args.out / e.file)} (no input changed)")
            return 0
    else:
        fresh = set()
    todo = [t for t in targets if t not in fresh]
    from . import figures, mathbreak, mathsvg, mathtex
    from .reader import read_book
    from .render import svg_forms

    warnings: list[Problem] = []
    try:
        log(f"reading {display_path(args.source)}")
        mathtex.use_cache(cache_dir() / "formulas")  # formulas converted to MathML before
        cache = figures.FigureCache(cache_dir() / "figures")
        book = read_book(args.source, warnings=warnings, figure_cache=cache)
        if cache.hits or cache.misses:
            log(f"figures: {cache.misses} drawn, {cache.hits} from the cache")
        options = Options(build_time=build_time(args.source), paper=args.paper,
                          note_lock=notelock.load(args.source) if "anki" in todo else None,
                          layout_cache=LayoutCache(cache_dir() / "layouts", TEMPLATES))
        # Formula pictures are drawn before any renderer: `check` finds what a build would.
        checks = Problems()
        formulas = mathsvg.FormulaCache(cache_dir() / "formulas")
        mathbreak.use_cache(cache_dir() / "formulas")  # phone line breaks: widths measured before
        svg_forms.use_cache(cache_dir() / "formulas")  # the PDF's formulas as drawn before
        mathsvg.draw_all(book, checks, cache=formulas)
        if formulas.hits or formulas.misses:
            log(f"formulas: {formulas.misses} drawn, {formulas.hits} from the cache")
        checks.raise_if_any()
    except BuildError as exc:
        return _fail(exc.problems, args.strict)
    except (ValueError, OSError) as exc:
        print(f"build.py: error: {exc}", file=sys.stderr)
        return 1
    log(f"ok: {len(book.questions)} questions in {len(book.topics)} topics")
    for t in targets:
        entry = plan.fresh.get(t) if plan is not None and t in fresh else None
        if entry is not None:
            log(f"up to date {display_path(args.out / entry.file)} (no input changed)")
    # Render everything before writing anything: a failing renderer leaves dist/ untouched, and
    # every renderer's problems are reported together.
    results = render_all(book, options, todo)
    try:
        return _commit(args, targets, plan, fresh, warnings, results)
    finally:
        discard([data for _, _, data, *_ in results if data is not None])


def _commit(args: argparse.Namespace, targets: list[str], plan: _Plan | None, fresh: set[str], warnings: list[Problem],
            results: list[Result]) -> int:
    """Report, then write every rendered artifact (or none), then record what was built."""
    rendered: list[tuple[Path, Data]] = []
    problems: list[Problem] = []
    own: dict[str, list[Problem]] = {}
    notes: list[str] = []
    for target, name, data, target_problems, extra, target_notes in results:
        notes += target_notes
        rendered += extra  # the Anki note lock, when the deck changed it
        problems += target_problems
        own[target] = target_problems
        if data is not None:
            rendered.append((args.out / name, data))
    problems += warnings
    if any(not p.warning for p in problems) or (args.strict and problems):
        return _fail(problems, args.strict)
    report(problems)
    if plan is not None:  # what the skipped artifacts' own renderers said when they were built
        said = {str(p) for p in problems}
        for line in sorted({w for t in fresh for w in getattr(plan.fresh.get(t), "warnings", [])} - said):
            print(line, file=sys.stderr)
    for note in notes:
        log(note)
    try:
        written = commit_all(rendered)  # every file or none: a failed write leaves the old set
    except WriteError as exc:
        print(f"build.py: error: {exc}", file=sys.stderr)
        return 1
    for path, size, changed in written:
        log(f"{'wrote' if changed else 'unchanged'} {display_path(path)} ({size:,} bytes)")
    if plan is not None and any(extra for *_, extra, _ in results):
        # The build rewrote the note lock, an input of every artifact: record what it is now.
        plan = _plan(args, targets) or plan
    if plan is not None:
        for target, name, data, *_ in results:
            assert data is not None
            kept = [str(p) for p in ordered(warnings + own[target])]
            plan.manifest.record(target, plan.digests[target], name, data, kept)
        try:
            plan.manifest.save()
        except OSError as exc:  # the artifacts are written; only the next build's shortcut is lost
            log(f"note: could not save the build manifest ({exc}); the next build renders everything")
    return 0


class _Plan:
    def __init__(self, manifest: incremental.Manifest, digests: dict[str, str]):
        self.manifest, self.digests = manifest, digests
        self.fresh = {t: manifest.up_to_date(t, d) for t, d in digests.items()}


def _plan(args: argparse.Namespace, targets: list[str]) -> _Plan | None:
    """Digest each target's inputs; None when the source is not even there (the reader says why)."""
    if not targets or not args.source.is_file():
        return None
    try:
        common = incremental.common_digest(args.source, TEMPLATES)
        when = build_time(args.source)
    except (ValueError, OSError):
        return None  # the full build reports the problem at its place
    manifest = incremental.Manifest(cache_dir(), args.out, args.source)
    return _Plan(manifest, {t: incremental.target_digest(common, t, paper=args.paper, strict=args.strict,
                                                         build_time=when) for t in targets})


# The PDF takes longest: start it first so the other artifacts fill the second core meanwhile.
_ORDER = ["pdf", "epub", "flashcards", "quiz", "anki"]
_QUEUE: Any = None
# The book and options of the renderers' pool (see render_all), set before its workers are forked.
_JOB: dict[str, Any] = {}
# (target, file name, bytes or None on failure, the renderer's problems, extra files to write,
# what the renderer has to say besides problems)
Result = tuple[str, str, Data | None, list[Problem], list[tuple[Path, bytes]], list[str]]


def render_all(book: Any, options: Options, targets: list[str]) -> list[Result]:
    """Run the renderers, in parallel worker processes when there are several and cores to spare.

    Workers are forked after the book is read and its formulas drawn, so each starts with the model
    in (shared, copy-on-write) memory and none re-parses anything. Output is the same bytes as a
    sequential build: a renderer's result does not depend on the process it ran in.

    The book and the options reach the workers through `_JOB`, by the fork, not as arguments:
    the pool would pickle those, and a worker's unpickled copy is a new object, for which
    `mathsvg.draw_all` (which remembers its pictures by the book's identity) drew every formula
    again, without the cache, in the renderer and in every chunk worker of a large book.
    """
    global _QUEUE
    from .mathsvg import die_with_parent

    workers = min(len(targets), os.cpu_count() or 1)
    if "fork" not in multiprocessing.get_all_start_methods():  # pragma: no cover - not Linux
        return [_render_one(book, options, t) for t in targets]
    ctx = multiprocessing.get_context("fork")
    if workers < 2:  # one artifact: rendered here (a large book's chunk workers still report)
        _QUEUE = ctx.SimpleQueue() if progress.enabled() else None
        try:
            with progress.StatusLine(_QUEUE) if _QUEUE is not None else contextlib.nullcontext():
                return [_render_reporting(book, options, t) for t in targets]
        finally:
            _QUEUE = None
    # Imported once here rather than once per worker: the forked workers share the loaded code.
    for target in targets:
        importlib.import_module(RENDERERS[target])
    if {"pdf", "flashcards", "quiz"} & set(targets):
        importlib.import_module("weasyprint")
    _QUEUE = ctx.SimpleQueue() if progress.enabled() else None
    status = progress.StatusLine(_QUEUE) if _QUEUE is not None else None
    # Frozen objects are never scanned by the collector, so the workers do not touch (and copy)
    # the pages that hold the model; it lives until the end of the build anyway.
    gc.freeze()
    try:
        if status is not None:
            status.__enter__()
        # Workers die with the build (a killed build cannot shut its pool down), as mathsvg's do.
        _JOB.update(book=book, options=options)
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=die_with_parent,
                                 initargs=(os.getpid(),)) as pool:
            futures = {t: pool.submit(_render_in_worker, t) for t in sorted(targets, key=_ORDER.index)}
            results = {t: f.result() for t, f in futures.items()}
    finally:
        if status is not None:
            status.__exit__()
        gc.unfreeze()
        _QUEUE = None
        _JOB.clear()
    return [results[t] for t in targets]


def _render_in_worker(target: str) -> Result:
    return _render_reporting(_JOB["book"], _JOB["options"], target)


def _render_reporting(book: Any, options: Options, target: str) -> Result:
    """`_render_one`, saying on the status line (if any) what it is doing."""
    if _QUEUE is not None:
        progress.follow_weasyprint(_QUEUE, target)
        _QUEUE.put((target, "rendering"))
    result = _render_one(book, options, target)
    if _QUEUE is not None:
        _QUEUE.put((target, "done"))
    return result


def _render_one(book: Any, options: Options, target: str) -> Result:
    """(target, file name, bytes or None on failure, this renderer's problems)."""
    module = importlib.import_module(RENDERERS[target])
    if _QUEUE is None:
        log(f"rendering {target}")
    # A renderer reports warnings into options.problems: give each its own list.
    own = Options(build_time=options.build_time, templates=options.templates, paper=options.paper,
                  note_lock=options.note_lock, layout_cache=options.layout_cache)
    name = output_name(target, book.id, book.language)
    try:
        data = module.render(book, own)
    except BuildError as exc:
        return target, name, None, [*exc.problems, *own.problems.items], [], own.notes
    return target, name, data, own.problems.items, own.extra_files, own.notes


def output_name(target: str, book_id: str, language: str) -> str:
    """The file a renderer writes; a renderer may name it (the print aids: <book>-quiz-<lang>.pdf)."""
    module = importlib.import_module(RENDERERS[target])
    if hasattr(module, "output_name"):
        return str(module.output_name(book_id, language))
    return f"{book_id}-{language}.{module.EXTENSION}"


def list_outputs(source: Path) -> int:
    """`build.py outputs`: the artifacts' file names, one per line, from the front matter alone."""
    from .reader import artifact_stem

    try:
        book_id, language = artifact_stem(source)
    except BuildError as exc:
        report(exc.problems)
        return 1
    for target in RENDERERS:
        print(output_name(target, book_id, language))
    return 0


def _fail(problems: list[Problem], strict: bool) -> int:
    report(problems)
    counted = len(problems) if strict else sum(1 for p in problems if not p.warning)
    log(f"{counted} problem(s) found{' (--strict: warnings count)' if strict else ''}; nothing was written")
    return 1
