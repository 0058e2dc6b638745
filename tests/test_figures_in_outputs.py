"""Every figure of the handbook reaches the deck, the PDF and the EPUB, and an unchanged figure is
not drawn again on the next build."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
from pypdf import PdfReader

from conftest import BOOK, run_build
from studybook.model import ImageRef
from studybook.reader import read_book

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def figures() -> list[ImageRef]:
    book = read_book(BOOK)
    found = [ref for frag in book.fragments() for ref in frag.parts_of(ImageRef) if ref.name.startswith("fig-")]
    assert len(found) >= 12
    return found


def _squash(text: str) -> str:
    return re.sub(r"[\s\u00ad-]+", "", text).casefold()


def test_every_figure_is_in_all_three_outputs(figures: list[ImageRef], handbook_dist: Path):
    with zipfile.ZipFile(handbook_dist / "llm-interview-handbook-en.apkg") as zf:
        media = set(json.loads(zf.read("media")).values())
    with zipfile.ZipFile(handbook_dist / "llm-interview-handbook-en.epub") as zf:
        names = set(zf.namelist())
        images = {img.get("src"): img.get("alt") for n in names if n.startswith("OEBPS/chapter-")
                  for img in ET.fromstring(zf.read(n)).iter("{http://www.w3.org/1999/xhtml}img")}
        opf = zf.read("OEBPS/content.opf").decode()
    pdf = _squash(" ".join(page.extract_text() or "" for page in PdfReader(
        handbook_dist / "llm-interview-handbook-en.pdf").pages))
    for ref in figures:
        assert ref.name in media, ref.name
        assert f"OEBPS/images/{ref.name}" in names and f'href="images/{ref.name}"' in opf
        assert images[f"images/{ref.name}"] == ref.alt
        assert _squash(ref.caption)[:60] in pdf, ref.caption


def test_the_second_build_takes_every_figure_from_the_cache(figures: list[ImageRef], tmp_path: Path):
    env = {"STUDYBOOK_CACHE": str(tmp_path / "cache")}
    first = run_build("check", env=env)
    second = run_build("check", env=env)
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    n = len(figures)
    assert f"figures: {n} drawn, 0 from the cache" in first.stderr
    assert f"figures: 0 drawn, {n} from the cache" in second.stderr
