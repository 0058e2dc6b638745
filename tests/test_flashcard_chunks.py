"""The flashcards of a large book, measured and laid out in chunks of sheets in worker processes
and merged (studybook/render/flashcards.py with pdf_chunks.merge), checked against the same deck
laid out as one document.

Chunking is forced on a small generated book ($STUDYBOOK_PDF_CHUNK: questions per chunk) so that
both the measuring batches and the sheet chunks have several joins.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import test_pdf_chunks
from pypdf import PdfReader
from test_pdf_chunks import assert_same_texts, build_chunked

pytestmark = pytest.mark.slow

PER_CHUNK = 10  # 10 questions: 2 sheets a chunk, 10 sides a measuring batch
generated = test_pdf_chunks.generated  # the same generated book (made again for this module)


@pytest.fixture(scope="module")
def pair(generated, tmp_path_factory) -> tuple[Path, Path]:
    return (build_chunked(generated, tmp_path_factory.mktemp("whole"), 0, "flashcards"),
            build_chunked(generated, tmp_path_factory.mktemp("chunked"), PER_CHUNK, "flashcards"))


def _texts(path: Path) -> list[str]:
    return [page.extract_text() for page in PdfReader(path).pages]


def test_several_chunks_were_merged(pair):
    whole, chunked = pair
    pages = len(PdfReader(whole).pages)
    assert pages >= 2 * 2 * 4, "the book should fill more than four chunks of two sheets"
    # Each chunk subsets its fonts anew: the merged file holds one font subset per chunk.
    fonts = {str(font) for page in PdfReader(chunked).pages
             for font in (page["/Resources"].get("/Font") or {}).values()}
    assert len(fonts) > len({str(font) for page in PdfReader(whole).pages
                             for font in (page["/Resources"].get("/Font") or {}).values()})


def test_same_text_on_every_page(pair):
    whole, chunked = pair
    a, b = _texts(whole), _texts(chunked)
    assert_same_texts(a, b)
    # Sheet numbers run on across chunks ("Sheet 3 of 8"), not from 1 in each chunk.
    assert f"of {len(a) // 2}" in b[-1] and f"{len(a) // 2} of" in b[-1]


def test_same_named_destinations_on_the_same_pages(pair):
    def dests(path: Path) -> dict[str, int]:
        reader = PdfReader(path)
        return {str(name): reader.get_destination_page_number(d) for name, d in reader.named_destinations.items()}

    whole, chunked = dests(pair[0]), dests(pair[1])
    assert whole and chunked == whole


def test_one_structure_tree_with_every_element(pair):
    def elements(path: Path) -> list[str]:
        root = PdfReader(path).trailer["/Root"]
        found: list[str] = []
        todo = [root["/StructTreeRoot"]["/K"][0]]
        while todo:
            node = todo.pop()
            if hasattr(node, "get_object"):
                node = node.get_object()
            if isinstance(node, dict) and "/S" in node:
                found.append(str(node["/S"]))
                kids = node.get("/K")
                todo += list(kids) if isinstance(kids, list) else [kids] if kids is not None else []
        return sorted(found)

    whole, chunked = elements(pair[0]), elements(pair[1])
    assert chunked.count("/Document") == 1
    assert chunked == whole


def test_chunked_build_is_reproducible(generated, pair, tmp_path):
    again = build_chunked(generated, tmp_path / "again", PER_CHUNK, "flashcards")
    assert again.read_bytes() == pair[1].read_bytes()
