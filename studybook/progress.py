"""Progress of a long build on one status line: which artifact, which stage, pages laid out.

Only when stderr is a terminal: in CI, in a pipe or under make's output capture nothing extra is
printed, and the build log stays the same lines as before. Renderers run in worker processes
(studybook.cli); each reports to the parent through a queue, and one thread in the parent redraws
the line. The page counts come from WeasyPrint's own progress log ("Step 5 - Creating layout -
Page N"), so no renderer needs to know about this module.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from typing import Any

_PAGE = re.compile(r"Creating layout - Page (\d+)")
_STEPS = {"Step 3": "styling", "Step 4": "boxes", "Step 6": "writing PDF", "Step 7": "PDF metadata"}


def enabled() -> bool:
    return sys.stderr.isatty()


class _WeasyPrintSteps(logging.Handler):
    """Turns WeasyPrint's progress log into `stage` events; counts layout passes (page 1 again)."""

    def __init__(self, report: Any, artifact: str):
        super().__init__(logging.INFO)
        self.report, self.artifact, self.layouts = report, artifact, 0
        self.part = ""  # in a chunk worker: which chunk ("layout chunk 3 of 12")

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        m = _PAGE.search(message)
        if m:
            page = int(m.group(1))
            self.layouts += page == 1
            where = f"{self.part}, page {page}" if self.part else f"layout {self.layouts}, page {page}"
            self.report((self.artifact, where))
            return
        for step, name in _STEPS.items():
            if message.startswith(step):
                self.report((self.artifact, f"{self.part}, {name}" if self.part else name))


def follow_weasyprint(queue: Any, artifact: str) -> None:
    """In a worker: report WeasyPrint's steps for `artifact` to the parent's queue."""
    logger = logging.getLogger("weasyprint.progress")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for handler in [h for h in logger.handlers if isinstance(h, _WeasyPrintSteps)]:
        logger.removeHandler(handler)  # the artifact rendered before, in the same process
    logger.addHandler(_WeasyPrintSteps(queue.put, artifact))


def part(label: str) -> None:
    """In a worker that lays out one chunk of an artifact: say which in its reports (the pages of
    a chunk are counted from its own start)."""
    for handler in logging.getLogger("weasyprint.progress").handlers:
        if isinstance(handler, _WeasyPrintSteps):
            handler.part = label


class StatusLine:
    """Draws `artifact: stage` for every artifact under way on one line of the terminal."""

    def __init__(self, queue: Any):
        self.queue = queue
        self.states: dict[str, str] = {}
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.width = 0

    def __enter__(self) -> StatusLine:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.queue.put(None)
        self.thread.join(timeout=5)
        sys.stderr.write("\r" + " " * self.width + "\r")
        sys.stderr.flush()

    def _run(self) -> None:
        while True:
            event = self.queue.get()
            if event is None:
                return
            artifact, stage = event
            self.states[artifact] = stage
            line = " · ".join(f"{a}: {s}" for a, s in self.states.items())
            line = line[:160]
            sys.stderr.write("\r" + line.ljust(self.width))
            sys.stderr.flush()
            self.width = len(line)
