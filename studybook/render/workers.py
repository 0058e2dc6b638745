"""A function over a range of items, each item in a new forked worker process.

What bounds the memory of a large book's print outputs: each chunk is laid out by a process that
ends with it, so its WeasyPrint boxes go with the process (studybook/render/pdf_chunks.py,
flashcards.py, quiz.py).
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import multiprocessing.connection
import os
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..diagnostics import BuildError


def in_workers(function: Callable[[int], Any], items: range, stage: str = "chunk") -> list[Any]:
    """`function` over `items` in worker processes, a new process for each item (its memory goes
    with it), as many at a time as there are cores; an exception in a worker is raised here.

    Not concurrent.futures: a process per task needs `max_tasks_per_child`, which Python refuses
    with the fork start method, and fork is what shares the model with the workers unpickled."""
    if "fork" not in multiprocessing.get_all_start_methods():  # pragma: no cover - not Linux
        return [function(i) for i in items]
    ctx = multiprocessing.get_context("fork")
    results: dict[int, Any] = {}
    running: dict[int, tuple[Any, Any]] = {}
    todo = list(items)
    gc.collect()
    gc.freeze()  # the model is shared with the workers, not copied by their collector
    try:
        while todo or running:
            while todo and len(running) < (os.cpu_count() or 1):
                i = todo.pop(0)
                receive, send = ctx.Pipe(duplex=False)
                part = f"{stage} {i + 1 - items.start} of {len(items)}"  # for the status line
                process = ctx.Process(target=_worker, args=(function, i, send, os.getpid(), part, stage))
                process.start()
                send.close()
                running[i] = (process, receive)
            ready = multiprocessing.connection.wait([receive for _, receive in running.values()])
            for i, (process, receive) in list(running.items()):
                if receive not in ready:
                    continue
                try:
                    ok, value = receive.recv()
                except EOFError:
                    ok, value = False, RuntimeError(f"worker {i} died (exit code {process.exitcode})")
                process.join()
                receive.close()
                del running[i]
                if not ok:
                    raise value
                results[i] = value
    finally:
        for process, _ in running.values():
            process.kill()
            process.join()
        gc.unfreeze()
    return [results[i] for i in items]


def _worker(function: Callable[[int], Any], i: int, send: Any, parent: int, part: str, stage: str) -> None:
    from .. import progress
    from ..mathsvg import die_with_parent

    die_with_parent(parent)
    progress.part(part)
    # A name of its own in ps, top and /proc (scripts/bench.py reports the largest process by it).
    with contextlib.suppress(OSError):
        Path("/proc/self/comm").write_text(f"sb-{i}-{stage}"[:15])
    try:
        send.send((True, function(i)))
    except BaseException as exc:  # whatever it is, the build reports it
        if not isinstance(exc, BuildError):  # a bug: where it happened, in the worker
            exc.add_note(traceback.format_exc())
        send.send((False, exc))
    finally:
        send.close()
