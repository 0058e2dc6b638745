"""Shared fixtures: a small book that uses every source feature, and a way to build it for real."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
BOOK = ROOT / "content" / "handbook.md"


def run_build(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT,
              unset: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """Run build.py as a user would, returning the finished process (never raises on failure)."""
    full_env = {k: v for k, v in {**os.environ, **(env or {})}.items() if k not in unset}
    return subprocess.run([sys.executable, str(ROOT / "build.py"), *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=900)


@pytest.fixture
def mini_book(tmp_path: Path) -> Path:
    """A private copy of the fixture book, safe to edit: returns its handbook.md."""
    target = tmp_path / "content"
    shutil.copytree(FIXTURES / "mini", target)
    return target / "handbook.md"


HANDBOOK_EPOCH = "1700000000"


@pytest.fixture(scope="session")
def handbook_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The handbook built once per session into every format, --strict as CI builds it."""
    out = tmp_path_factory.mktemp("handbook-dist")
    proc = run_build("all", "--strict", "--out", str(out), env={"SOURCE_DATE_EPOCH": HANDBOOK_EPOCH})
    assert proc.returncode == 0, proc.stderr
    return out


BOOK_ZH = ROOT / "content" / "handbook.zh-CN.md"


@pytest.fixture(scope="session")
def handbook_zh_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Chinese edition of the handbook, built once per session, --strict."""
    out = tmp_path_factory.mktemp("handbook-zh-dist")
    proc = run_build("all", "--strict", "--source", str(BOOK_ZH), "--out", str(out),
                     env={"SOURCE_DATE_EPOCH": HANDBOOK_EPOCH})
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="session")
def built_mini(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture book built once per session into every format, with a fixed SOURCE_DATE_EPOCH."""
    out = tmp_path_factory.mktemp("mini-dist")
    proc = run_build("all", "--source", str(FIXTURES / "mini" / "handbook.md"), "--out", str(out),
                     env={"SOURCE_DATE_EPOCH": "1700000000"})
    assert proc.returncode == 0, proc.stderr
    return out
