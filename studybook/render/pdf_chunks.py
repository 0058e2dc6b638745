"""A large book's PDF laid out in chunks, in worker processes, and merged into one PDF.

WeasyPrint keeps the boxes of every page until the PDF is written (≈ 3.5 MiB a page for this
book's markup), so one process cannot lay out a book of thousands of pages within 2 GB. Here the
book is cut into chunks at the points where it starts a right-hand page anyway: the front matter
with the contents, groups of whole chapters, the bibliography, the index. Each chunk is its own
WeasyPrint document, laid out in a worker process that ends with it, so the memory of a process
is bounded by its chunk, not by the book.

1. Every chunk but the index is laid out with placeholder page numbers and its pages numbered
   from 1; it reports its page count, where its anchors are and how many footnotes it has. Each
   chunk starts on a right-hand page: after a chunk that ends on one, a blank page is put in, as
   WeasyPrint does inside one document. The counts give every chunk's first page, hence every
   anchor's page.
2. Every chunk is laid out again with its real first page and footnote number (the same
   placeholders, so the same breaks: checked), its page numbers filled in
   (studybook/render/page_numbers.py), and written as a PDF. The index is laid out here, with
   its literal numbers.
3. The chunk PDFs are merged with pypdf: pages in order, one name tree of destinations (a link
   names its target, so links across chunks resolve), the outline, one PDF/UA structure tree (the
   children of each chunk's Document element under one Document element, ParentTree keys and the
   pages' StructParents and the links' StructParent renumbered), the catalog entries and
   metadata the unchunked PDF has, and its permanent file identifier.

The merge writes what is not a stream (≈ 56,000 objects for 60 questions, mostly PDF/UA
structure elements) into compressed object streams of 300 and ends the file with a
cross-reference stream, as WeasyPrint does. The merged file of 60 questions in chunks of 25 is
5.18 MB against 4.74 MB for the book laid out as one document (each chunk embeds its own font
subsets); written as plain text, those objects made it 11.9 MB.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import re
import sys
import tempfile
import zlib
from array import array
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import Any, BinaryIO, TypeVar, cast

from ..diagnostics import BuildError, Location, Problem
from ..model import Book
from ..output import Spooled, discard, spool
from . import Options
from .pdf import Part
from .workers import in_workers

ENV = "STUDYBOOK_PDF_CHUNK"
# A book of more questions than this is chunked, this many questions (whole chapters) a chunk:
# about 3.2 pages a question and 3.5 MiB a page put a chunk of 120 questions near 1.3 GiB.
CHUNK_QUESTIONS = 120
# Lines of contents or bibliography in one part: ≈ 45 pages, ≈ 300 MB of WeasyPrint boxes; those
# pages are denser than a chapter's (a 5,000-question book's 204 pages of contents took 1.1 GB
# laid out in one piece, its bibliography, 182 pages, 1.3 GB).
PART_LINES = 2000
# The merge packs the objects that are not streams into compressed object streams (ISO 32000-1
# §7.5.7), as WeasyPrint does, this many (or this many bytes of PDF text) to a stream: one
# stream's text is what the merge holds before writing it out. zlib's level is fixed so that two
# builds write the same bytes.
PACKED_OBJECTS = 300
PACKED_BYTES = 1 << 20
ZLIB_LEVEL = 6


def chunk_size(book: Book) -> int:
    """Questions per chunk, or 0: the book is laid out as one document."""
    forced = os.environ.get(ENV, "").strip()
    if forced:
        return max(0, int(forced))
    return CHUNK_QUESTIONS if len(book.questions) > CHUNK_QUESTIONS else 0


def plan(book: Book, size: int, lines: int | None = None) -> list[Part]:
    """Front matter; groups of whole chapters of at most `size` questions (or one chapter);
    the bibliography; the index. The contents and the bibliography, whose length grows with the
    book, in parts of about `lines` lines each, every part going on from the one before."""
    lines = lines or PART_LINES
    contents = _runs([(topic.id, 1 + len(topic.questions)) for topic in book.topics], lines)
    chunks = [Part(front=True, contents=None if len(contents) <= 1 else contents[0]),
              *(Part(contents=group, continues=True) for group in contents[1:]),
              *(Part(topics=group) for group in topic_groups(book, size))]
    if book.bibliography:
        # An entry's lines: its reference, and its "cited in" list at about eight to a line.
        cited = [(i, 3 + len(book.cited_by[ref.key]) // 8) for i, ref in enumerate(book.bibliography)]
        runs = _runs(cited, lines)
        chunks += [Part(back=True, entries=None if len(runs) == 1 else (run[0], run[-1] + 1), continues=k > 0)
                   for k, run in enumerate(runs)]
    if any(q.index for q in book.questions):
        chunks.append(Part(index=True))
    return chunks


T = TypeVar("T")


def _runs(items: list[tuple[T, int]], lines: int) -> list[tuple[T, ...]]:
    """`items` (each with its lines) in runs of at most `lines` lines (a longer item alone)."""
    runs: list[tuple[T, ...]] = []
    run: list[T] = []
    count = 0
    for item, weight in items:
        if run and count + weight > lines:
            runs.append(tuple(run))
            run, count = [], 0
        run.append(item)
        count += weight
    if run:
        runs.append(tuple(run))
    return runs


def topic_groups(book: Book, size: int) -> list[tuple[str, ...]]:
    """The book's chapters in groups of at most `size` questions (a larger chapter alone)."""
    return _runs([(topic.id, len(topic.questions)) for topic in book.topics], size)


@dataclass
class Laid:
    pages: int
    anchors: dict[str, int]  # local: the chunk's first page is 1
    footnotes: int
    key: str = ""  # in the layout cache (studybook/render/layout_cache.py), if one is used
    cached: bool = False  # taken from it, not laid out


@dataclass
class Written:
    """Round 2's result: a chunk's PDF, the warnings of its layout (the worker's copy of the
    build's problem list does not come back by itself), and whether it came from the cache."""

    path: str
    warnings: list[Problem]
    key: str = ""
    cached: bool = False


# The job of the workers: set before they are forked, so they inherit the book instead of
# receiving it pickled.
_JOB: dict[str, Any] = {}


def render(book: Book, options: Options, digits: int, size: int) -> Spooled:
    from . import pdf

    require_pypdf(book, "PDF")
    chunks = plan(book, size)
    body = [c for c in chunks if not c.index]
    _JOB.update(book=book, options=options, chunks=chunks, digits=digits)
    try:
        laid = count_pages(_lay_out, len(body), _JOB)
        starts, blanks, page = right_hand_starts([chunk_laid.pages for chunk_laid in laid],
                                                 [chunk.continues for chunk in body])
        footnotes = list(accumulate((chunk_laid.footnotes for chunk_laid in laid), initial=0))
        anchors = book_anchors(starts, laid)
        if len(chunks) > len(body):  # the index: after the last chunk, on a right-hand page
            blank = page % 2 == 0
            page += blank
            starts.append(page)
            blanks.append(blank)
            anchors["index"] = page
        with tempfile.TemporaryDirectory(prefix="studybook-pdf-") as tmp:
            _JOB.update(anchors=anchors, starts=starts, footnotes=footnotes, laid=laid, tmp=tmp)
            written = in_workers(_write, range(len(chunks)), "chunk")
            # Each chunk's layout warnings, once (the same message can come from several chunks).
            seen = {(p.location, p.message) for p in options.problems.items}
            for chunk_written in written:
                for problem in chunk_written.warnings:
                    if (problem.location, problem.message) not in seen:
                        seen.add((problem.location, problem.message))
                        options.problems.items.append(problem)
            owners = [set(chunk_laid.anchors) for chunk_laid in laid] + ([{"index"}] if len(chunks) > len(body) else [])
            merged = merge_to_spool([Path(w.path) for w in written], blanks, owners, pdf.identifier(book))
            cache_used("pdf", book, options, written, laid=laid)
            return merged
    finally:
        _JOB.clear()


# ---------------------------------------------------------------------------------------------
# The steps every chunked print output shares (this PDF, the quiz: studybook/render/quiz.py)


def require_pypdf(book: Book, what: str) -> None:
    """Fail before the layouts, not after them, when the merge cannot run."""
    try:
        import pypdf  # noqa: F401
    except ImportError:
        raise BuildError([Problem(Location(book.path, 1),
                                  f"the {what} of a book of {len(book.questions)} questions is laid out in chunks "
                                  "and merged with pypdf, which is not installed",
                                  f"install the pinned pypdf (requirements.txt), or set {ENV}=0 to lay the "
                                  "book out in one process")]) from None


def count_pages(lay_out: Callable[[int], Laid], count: int, job: dict[str, Any]) -> list[Laid]:
    """Round 1: chunks 0 … count - 1 laid out in workers with placeholders of `job["digits"]`
    digits, widened (and laid out again: a wider placeholder may move pages) until they are
    enough for the pages of all chunks and a blank page before each."""
    cache_ready(job["options"])
    while True:
        laid = in_workers(lay_out, range(count), "counting pages, chunk")
        total = sum(chunk_laid.pages + 1 for chunk_laid in laid)  # at most one blank page each
        if len(str(total)) <= job["digits"]:
            return laid
        job["digits"] = len(str(total))


def right_hand_starts(counts: list[int], continues: list[bool] | None = None) -> tuple[list[int], list[bool], int]:
    """Each chunk's first page, on a right-hand (odd) page unless it `continues` the one before,
    and whether a blank page goes before it (as WeasyPrint puts one in inside one document); and
    the page after the last chunk."""
    starts, blanks, page = [], [], 1
    for i, count in enumerate(counts):
        blank = page % 2 == 0 and not (continues and continues[i])
        page += blank
        starts.append(page)
        blanks.append(blank)
        page += count
    return starts, blanks, page


def book_anchors(starts: list[int], laid: list[Laid]) -> dict[str, int]:
    """Each anchor's page in the book, from its page in its chunk (the first chunk wins)."""
    anchors: dict[str, int] = {}
    for start, chunk_laid in zip(starts, laid, strict=True):
        for anchor, local in chunk_laid.anchors.items():
            anchors.setdefault(anchor, start + local - 1)
    return anchors


def numbered(pages: list, laid: Laid | None, anchors: dict[str, int], mark: str, book: Book, i: int) -> list:
    """Round 2: the pages of chunk `i`, laid out again with its real first page, checked against
    round 1 (`laid`; None: not laid out then) and their page numbers filled in."""
    from . import page_numbers, pdf

    local = page_numbers.anchor_pages(pages)
    if laid is not None and (len(pages), local) != (laid.pages, laid.anchors):
        raise pdf.unsettled(book, f"chunk {i + 1} broke its pages differently the second time")
    pages = page_numbers.filled(pages, anchors, mark, lambda why: pdf.unsettled(book, why), local=local)
    # A link to another chunk: WeasyPrint drops a link whose anchor is not in its document, so
    # the anchor is declared on the first page; the merge takes each anchor's destination from
    # the chunk that holds it.
    elsewhere = {target for page in pages for kind, target, *_ in page.links
                 if kind == "internal" and target not in local}
    for target in sorted(elsewhere):
        pages[0].anchors.setdefault(target, (0, 0, 0, 0))
    return pages


def cache_ready(options: Options) -> None:
    """Before the workers are forked: the layout cache's digest of the code, templates and fonts
    computed here, once, rather than in every worker."""
    if options.layout_cache is not None:
        options.layout_cache.environment  # noqa: B018 - a cached property, read for its effect


def counted(kind: str, doc: Any, book: Book, options: Options, part: Part, lay_out: Callable[[], Laid]) -> Laid:
    """Round 1 of one chunk (`doc`, with its HTML and resources): from the layout cache, or
    `lay_out()` and kept there."""
    cache = options.layout_cache
    if cache is None:
        return lay_out()
    key = cache.key(f"{kind}-count", doc.html, doc.resources, book, options.paper, first=False, part=repr(part))
    found = cache.result(key)
    if found is not None and isinstance(found[0], dict) and set(found[0]) == {"pages", "anchors", "footnotes"}:
        return Laid(**found[0], key=key, cached=True)
    laid = lay_out()
    cache.keep_result(key, {"pages": laid.pages, "anchors": laid.anchors, "footnotes": laid.footnotes}, [])
    return dataclasses.replace(laid, key=key)


def written(kind: str, i: int, doc: Any, book: Book, options: Options, path: Path, anchors: dict[str, int],
            write: Callable[[], list[Problem]], **extra: Any) -> Written:
    """Round 2 of chunk `i` (`doc`): its PDF at `path`, copied from the layout cache, or
    `write()` (which lays it out, writes it and returns its warnings) and kept there. The key
    holds the pages of the anchors the chunk links to, and `extra`."""
    cache = options.layout_cache
    if cache is None:
        return Written(str(path), write())
    key = cache.key(f"{kind}-write", doc.html, doc.resources, book, options.paper, first=i == 0, pages=anchors,
                    **extra)
    found = cache.result(key)
    if found is not None and cache.pdf(key, path):
        return Written(str(path), found[1], key, cached=True)
    warnings = write()
    cache.keep_pdf(key, path)  # before the result: a result found means its PDF was there
    cache.keep_result(key, None, warnings)
    return Written(str(path), warnings, key)


def cache_used(kind: str, book: Book, options: Options, written: list[Written], *, laid: Sequence[Laid] = (),
               measured: Sequence[tuple[str, bool]] = ()) -> None:
    """After a chunked build: the layout cache keeps what it used (the chunks `written`, their
    page counts `laid`, the flashcards' `measured` batches), and the build says how much that was."""
    cache = options.layout_cache
    if cache is None:
        return
    rounds = {"page counts": [(r.key, r.cached) for r in laid], "measured batches": list(measured),
              "laid-out chunks": [(w.key, w.cached) for w in written]}
    cache.used(kind, book, options.paper, [key for results in rounds.values() for key, _ in results if key])
    counts = [f"{sum(cached for _, cached in results)} of {len(results)} {what}"
              for what, results in rounds.items() if results]
    options.notes.append(f"{kind}: from the layout cache: {', '.join(counts)}")


def _lay_out(i: int) -> Laid:
    from . import page_numbers, pdf

    book, options, chunk = _JOB["book"], _JOB["options"], _JOB["chunks"][i]
    doc = pdf.build_html(book, options, mark=page_numbers.placeholder(_JOB["digits"]), part=chunk)

    def lay_out() -> Laid:
        with pdf.collector_paused():
            pages = pdf.layout(doc, book, options).pages[pdf.lead_pages(chunk, 0):]
        return Laid(len(pages), page_numbers.anchor_pages(pages), _footnotes(doc.html))

    return counted("pdf", doc, book, options, chunk, lay_out)


def _footnotes(html: str) -> int:
    return len(re.findall(r'<span class="fn-url">', html))


def _write(i: int) -> Written:
    """Chunk `i` laid out with its page numbers and written."""
    from weasyprint.text.fonts import FontConfiguration

    from . import page_numbers, pdf

    book, options, chunk = _JOB["book"], _JOB["options"], _JOB["chunks"][i]
    anchors, start = _JOB["anchors"], _JOB["starts"][i]
    mark = page_numbers.placeholder(_JOB["digits"])
    doc = pdf.build_html(book, options, anchors if chunk.index else None, mark=mark, part=chunk,
                         first_page=start, footnotes_before=_JOB["footnotes"][i])
    laid = None if chunk.index else _JOB["laid"][i]
    path = Path(_JOB["tmp"]) / f"chunk-{i:04d}.pdf"

    def write() -> list[Problem]:
        known = len(options.problems.items)
        with pdf.collector_paused():
            document = pdf.layout(doc, book, options, FontConfiguration())
            pages = numbered(document.pages[pdf.lead_pages(chunk, start):], laid, anchors, mark, book, i)
            path.write_bytes(pdf.write_pdf(document.copy(pages), book, options))
        return options.problems.items[known:]

    return written("pdf", i, doc, book, options, path, anchors, write, part=repr(chunk),
                   counted=laid and (laid.pages, laid.anchors))


# ---------------------------------------------------------------------------------------------
# Merging


def merge_to_spool(paths: list[Path], blanks: list[bool], owners: list[set[str]] | None,
                   identifier: bytes) -> Spooled:
    """`merge` into a temporary file: a large book's PDF is not held in memory."""
    result = spool(".pdf")
    try:
        with open(result.path, "wb") as target:
            merge(paths, blanks, owners, identifier, target)
    except BaseException:
        discard([result])
        raise
    return result


def merge(paths: list[Path], blanks: list[bool], owners: list[set[str]] | None, identifier: bytes,
          target: BinaryIO) -> None:
    """One PDF of the chunk PDFs, written to `target`, a blank page before each chunk whose
    `blanks` entry is set; the destination of an anchor is taken from the chunk that `owners`
    says holds it (None: each chunk holds the anchors it names).

    Streamed: pypdf parses one chunk at a time and each of its objects is renumbered and written
    out at once (a stream) or into the object stream being filled, itself written out when it
    holds 300 objects; so the merge holds one chunk's objects, not the book's (pypdf's own writer
    keeps every object of the result in memory: 2.1 GiB for 1,400 pages). The chunk's catalog, page
    tree, outline, name tree and structure-tree root are left out and made once for the book."""
    merged = _Merged(identifier, target)
    with own_pdfs():
        for i, (path, blank) in enumerate(zip(paths, blanks, strict=True)):
            if blank:
                merged.blank_page()
            merged.add(read_own(path), None if owners is None else owners[i])
        merged.finish()


@contextmanager
def own_pdfs() -> Iterator[None]:
    """pypdf with every size limit lifted. They guard against hostile files; the chunks are this
    build's own, and a large book's are past them (a chunk of a 5,000-question book holds an
    array of more than pypdf's 100,000 elements)."""
    import pypdf

    limits = {field.name: sys.maxsize for field in dataclasses.fields(pypdf.Configuration)
              if field.type in (int, "int")}
    with pypdf.apply_configuration(pypdf.get_configuration().with_overwrites(**limits)):
        yield


def read_own(path: Path) -> Any:
    """A PDF this build wrote, read by pypdf (inside `own_pdfs`): the merged PDF of a
    5,000-question book has 4.6 million objects, past the 2 million pypdf's reader allows."""
    import pypdf

    return pypdf.PdfReader(path, xref_stream_maximum_entries=sys.maxsize)


class _Merged:
    # Objects of the book made here; the chunks' objects are numbered after them.
    CATALOG, PAGES, TREE_ROOT, DOCUMENT, OUTLINES, DESTS, INFO, PARENT_TREE = range(1, 9)

    def __init__(self, identifier: bytes, out: BinaryIO) -> None:
        self.out = out
        self.out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        self.xref = _Xref()
        self.packing: _ObjectStream | None = None  # the object stream being filled
        self.next = self.PARENT_TREE + 1
        self.identifier = identifier
        self.pages: list[int] = []
        self.kids: list[int] = []  # children of the Document structure element
        self.tree_nodes: list[tuple[int, int, int]] = []  # ParentTree leaves: (first key, last key, object)
        self.key = 0  # next ParentTree key
        self.names: list[tuple[str, Any]] = []
        self.outline: list[tuple[int, str, int, Any, bool]] = []  # depth, title, page object, XYZ, open
        self.catalog: dict[str, Any] = {}
        self.info: Any = None
        self.size: tuple[float, float] = (0.0, 0.0)
        self.pending_blank: list[tuple[int, Any]] = []
        self.chunks = 0  # chunks merged so far
        self._first_mapping: Callable[[int], int] = lambda n: n

    # -- writing

    def _object(self, number: int, value: Any, renumber: Callable[[int], int] = lambda n: n) -> None:
        """A stream is written at once; any other object goes into the object stream being
        filled, which is written when full."""
        if not _is_stream(value):
            if self.packing is None:
                self.packing = _ObjectStream(self._new())
            self.xref.packed(number, self.packing.number, self.packing.add(number, value, renumber))
            if self.packing.full():
                self._flush()
        else:
            self._direct(number, value, renumber)

    def _direct(self, number: int, value: Any, renumber: Callable[[int], int] = lambda n: n) -> None:
        self.xref.direct(number, self.out.tell())
        self.out.write(b"%d 0 obj\n" % number)
        _serialize(self.out, value, renumber)
        self.out.write(b"\nendobj\n")

    def _flush(self) -> None:
        if self.packing is not None:
            self.xref.direct(self.packing.number, self.out.tell())
            self.packing.write(self.out)
            self.packing = None

    def _new(self) -> int:
        self.next += 1
        return self.next - 1

    # -- the chunks

    def blank_page(self) -> None:
        from pypdf.generic import FloatObject, NameObject, NumberObject

        number = self._new()
        page = dict({
            NameObject("/Type"): NameObject("/Page"),
            NameObject("/Parent"): _Ref(self.PAGES),
            NameObject("/MediaBox"): list([NumberObject(0), NumberObject(0),
                                                  FloatObject(self.size[0]), FloatObject(self.size[1])]),
            NameObject("/Resources"): dict(),
            # Like WeasyPrint's blank pages: a ParentTree entry with no content.
            NameObject("/StructParents"): NumberObject(self.key)})
        self._object(number, page)
        self.pages.append(number)
        self.pending_blank.append((self.key, list()))
        self.key += 1

    def add(self, reader: Any, owned: set[str] | None) -> None:
        from pypdf.generic import IndirectObject, NumberObject

        root = reader.trailer.raw_get("/Root")
        catalog = root.get_object()
        structure = catalog["/StructTreeRoot"]
        chunk_document = structure.raw_get("/K")[0]
        left_out = {root.idnum, catalog.raw_get("/Pages").idnum, catalog.raw_get("/StructTreeRoot").idnum,
                    chunk_document.idnum}
        for key in ("/Outlines", "/Names"):  # a chunk without bookmarks or links has neither
            if key in catalog and isinstance(catalog.raw_get(key), IndirectObject):
                left_out.add(catalog.raw_get(key).idnum)
        names = catalog.get("/Names")
        if names is not None and isinstance(names.raw_get("/Dests"), IndirectObject):
            left_out.add(names.raw_get("/Dests").idnum)
        if isinstance(structure.raw_get("/ParentTree"), IndirectObject):
            left_out.add(structure.raw_get("/ParentTree").idnum)
        left_out |= _outline_objects(catalog)
        info = reader.trailer.raw_get("/Info")
        if isinstance(info, IndirectObject):
            left_out.add(info.idnum)
        first = self.info is None
        if first:
            self.info = reader.trailer["/Info"]
            self.catalog = {k: catalog.raw_get(k) for k in ("/Lang", "/ViewerPreferences", "/MarkInfo", "/Metadata")
                            if k in catalog}
        elif isinstance(catalog.raw_get("/Metadata"), IndirectObject):
            left_out.add(catalog.raw_get("/Metadata").idnum)
        numbers = sorted(set(reader.xref.get(0, {})) | set(reader.xref_objStm))
        kept = [n for n in numbers if n not in left_out and n != 0]
        mapping = {n: self.next + i for i, n in enumerate(kept)}
        self.next += len(kept)

        # What WeasyPrint links to the chunk's own tree roots (the structure elements of running
        # heads name the Document element as parent without being its children) goes to the book's.
        redirect = {root.idnum: self.CATALOG, catalog.raw_get("/Pages").idnum: self.PAGES,
                    catalog.raw_get("/StructTreeRoot").idnum: self.TREE_ROOT, chunk_document.idnum: self.DOCUMENT}

        def renumber(n: int) -> int:
            return mapping[n] if n in mapping else redirect[n]

        if first:
            self._first_mapping = renumber

        offset = self.key
        overrides: dict[int, dict[str, Any]] = {}
        page_refs = [page.indirect_reference.idnum for page in reader.pages]
        for page in reader.pages:
            change: dict[str, Any] = {"/Parent": _Ref(self.PAGES)}
            if "/StructParents" in page:
                change["/StructParents"] = NumberObject(int(page["/StructParents"]) + offset)
            overrides[page.indirect_reference.idnum] = change
            for annot in page.get("/Annots") or []:
                if "/StructParent" in annot.get_object():
                    overrides[annot.idnum] = {"/StructParent": NumberObject(
                        int(annot.get_object()["/StructParent"]) + offset)}
        for kid in chunk_document.get_object()["/K"]:
            overrides[kid.idnum] = {"/P": _Ref(self.DOCUMENT)}
            self.kids.append(mapping[kid.idnum])
        self.pages += [mapping[n] for n in page_refs]
        last = reader.pages[-1].mediabox
        self.size = (float(last.width), float(last.height))
        for name, dest in reader.named_destinations.items():
            if owned is None or str(name) in owned:
                self.names.append((str(name), list([_Ref(mapping[dest.page.idnum]), *dest.dest_array[1:]])))
        self._outline(reader, reader.outline, 0, mapping)
        nums = structure["/ParentTree"]["/Nums"]
        keys = [int(k) for k in nums[::2]]
        leaf: list[Any] = []
        for blank_key, nothing in self.pending_blank:
            leaf += [NumberObject(blank_key), nothing]
        for chunk_key, elements in zip(keys, nums[1::2], strict=True):
            leaf += [NumberObject(chunk_key + offset), _Renumbered(elements, renumber)]
        first_key = self.pending_blank[0][0] if self.pending_blank else offset
        self.pending_blank = []
        self.key = offset + max(keys, default=-1) + 1
        for n in kept:
            value: Any = reader.get_object(n)
            if isinstance(value, dict) and value.get("/Type") in ("/ObjStm", "/XRef"):
                continue
            change = overrides.get(n, {})
            if not first and isinstance(value, dict):
                change = {**change, **_retagged(value, self.chunks)}
            if change:
                value = dict({**value, **{_name(k): v for k, v in change.items()}})
            self._object(mapping[n], value, renumber)
            reader.resolved_objects.pop((0, n), None)  # the chunk's objects are not kept
        self.chunks += 1
        number = self._new()
        self._object(number, dict({
            _name("/Limits"): list([NumberObject(first_key), NumberObject(self.key - 1)]),
            _name("/Nums"): leaf}), renumber)
        self.tree_nodes.append((first_key, self.key - 1, number))

    def _outline(self, reader: Any, items: list, depth: int, mapping: dict[int, int]) -> None:
        for item in items:
            if isinstance(item, list):
                self._outline(reader, item, depth + 1, mapping)
            else:
                self.outline.append((depth, item.title, mapping[item.page.idnum], item.dest_array[1:],
                                     bool(item.get("/%is_open%", True))))

    # -- the book's own objects

    def finish(self) -> None:
        from pypdf.generic import NameObject, NumberObject, TextStringObject

        d = dict
        self._object(self.PAGES, d({_name("/Type"): NameObject("/Pages"),
                                    _name("/Kids"): list([_Ref(n) for n in self.pages]),
                                    _name("/Count"): NumberObject(len(self.pages))}))
        self._object(self.TREE_ROOT, d({_name("/Type"): NameObject("/StructTreeRoot"),
                                        _name("/ParentTree"): _Ref(self.PARENT_TREE),
                                        _name("/K"): list([_Ref(self.DOCUMENT)])}))
        self._object(self.DOCUMENT, d({_name("/Type"): NameObject("/StructElem"), _name("/S"): NameObject("/Document"),
                                       _name("/K"): list([_Ref(n) for n in self.kids]),
                                       _name("/P"): _Ref(self.TREE_ROOT)}))
        self._object(self.PARENT_TREE, d({_name("/Kids"): list([_Ref(n) for *_, n in self.tree_nodes])}))
        dests = list()
        for title, dest in sorted(self.names, key=lambda item: item[0]):
            dests += [TextStringObject(title), dest]
        self._object(self.DESTS, d({_name("/Names"): dests}))
        self._write_outline()
        self._object(self.INFO, _Renumbered(self.info, self._first_mapping))
        catalog = d({_name("/Type"): NameObject("/Catalog"), _name("/Pages"): _Ref(self.PAGES),
                     _name("/Outlines"): _Ref(self.OUTLINES),
                     _name("/Names"): d({_name("/Dests"): _Ref(self.DESTS)}),
                     _name("/StructTreeRoot"): _Ref(self.TREE_ROOT)})
        first_mapping = self._first_mapping
        for key, value in self.catalog.items():
            catalog[_name(key)] = _Renumbered(value, first_mapping)
        self._object(self.CATALOG, catalog)
        self._flush()
        self._write_xref()

    def _write_xref(self) -> None:
        """The cross-reference stream (ISO 32000-1 §7.5.8), which is also the trailer; it lists
        itself. Numbers not written (a chunk's object streams and cross-reference stream) are free."""
        from pypdf.generic import ByteStringObject, NameObject, NumberObject, StreamObject

        number = self._new()
        start = self.out.tell()
        self.xref.direct(number, start)  # before the table is encoded: it lists itself
        size = self.next
        widths, data = self.xref.encoded(size)
        stream = StreamObject()
        stream.update({_name("/Type"): NameObject("/XRef"), _name("/Size"): NumberObject(size),
                       _name("/Index"): list([NumberObject(0), NumberObject(size)]),
                       _name("/W"): list([NumberObject(w) for w in widths]),
                       _name("/Root"): _Ref(self.CATALOG), _name("/Info"): _Ref(self.INFO),
                       _name("/ID"): list([ByteStringObject(self.identifier)] * 2),
                       _name("/Filter"): NameObject("/FlateDecode")})
        cast(Any, stream)._data = data  # _serialize writes its /Length
        self._direct(number, stream)
        self.out.write(b"startxref\n%d\n%%%%EOF\n" % start)

    def _write_outline(self) -> None:
        from pypdf.generic import NumberObject, TextStringObject

        # A tree of (entry, children) from the flat (depth, …) list.
        root: list = []
        stack = [(-1, root)]
        for entry in self.outline:
            while stack[-1][0] >= entry[0]:
                stack.pop()
            children: list = []
            stack[-1][1].append((entry, children))
            stack.append((entry[0], children))
        numbers: dict[int, int] = {}

        def number(node: Any) -> int:
            if id(node) not in numbers:
                numbers[id(node)] = self._new()
            return numbers[id(node)]

        def visible(nodes: list) -> int:
            return sum(1 + (visible(kids) if entry[4] else 0) for entry, kids in nodes)

        def write(nodes: list, parent: int) -> None:
            for i, node in enumerate(nodes):
                (_, title, page, xyz, is_open), kids = node
                item = dict({_name("/Title"): TextStringObject(title), _name("/Parent"): _Ref(parent),
                                         _name("/Dest"): list([_Ref(page), *xyz])})
                if i > 0:
                    item[_name("/Prev")] = _Ref(number(nodes[i - 1]))
                if i + 1 < len(nodes):
                    item[_name("/Next")] = _Ref(number(nodes[i + 1]))
                if kids:
                    item[_name("/First")] = _Ref(number(kids[0]))
                    item[_name("/Last")] = _Ref(number(kids[-1]))
                    item[_name("/Count")] = NumberObject(visible(kids) if is_open else -len(kids))
                self._object(number(node), item)
                write(kids, number(node))

        outlines = dict({_name("/Type"): _name("/Outlines"), _name("/Count"): NumberObject(visible(root))})
        if root:
            outlines[_name("/First")] = _Ref(number(root[0]))
            outlines[_name("/Last")] = _Ref(number(root[-1]))
        self._object(self.OUTLINES, outlines)
        write(root, self.OUTLINES)


class _ObjectStream:
    """Objects that are not streams, serialized one after another for one /ObjStm (§7.5.7)."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.numbers: list[int] = []
        self.offsets: list[int] = []  # of each object in `text`
        self.text = io.BytesIO()

    def add(self, number: int, value: Any, renumber: Callable[[int], int]) -> int:
        """`value` appended as object `number`; its index in the stream."""
        self.numbers.append(number)
        self.offsets.append(self.text.tell())
        _serialize(self.text, value, renumber)
        self.text.write(b"\n")
        return len(self.numbers) - 1

    def full(self) -> bool:
        return len(self.numbers) >= PACKED_OBJECTS or self.text.tell() >= PACKED_BYTES

    def write(self, out: BinaryIO) -> None:
        header = b" ".join(b"%d %d" % pair for pair in zip(self.numbers, self.offsets, strict=True)) + b"\n"
        data = zlib.compress(header + self.text.getvalue(), ZLIB_LEVEL)
        out.write(b"%d 0 obj\n<</Type /ObjStm /N %d /First %d /Filter /FlateDecode /Length %d>>\nstream\n"
                  % (self.number, len(self.numbers), len(header), len(data)))
        out.write(data)
        out.write(b"\nendstream\nendobj\n")


class _Xref:
    """The cross-reference entries of the merged file by object number (§7.5.8.3): type 0 free,
    1 at an offset in the file, 2 the i-th object of an object stream. In arrays of machine
    integers, not a dict: a book of 5,000 questions has millions of objects."""

    def __init__(self) -> None:
        # Object 0 heads the list of free objects, as in every PDF; the numbers never written
        # are free too (type 0, the default).
        self.kind = bytearray(1)
        self.field2 = array("q", [0])  # offset, or object stream number
        self.field3 = array("q", [65535])  # index in the object stream, or a free number's generation

    def _set(self, number: int, kind: int, field2: int, field3: int) -> None:
        missing = number + 1 - len(self.kind)
        if missing > 0:
            self.kind.extend(bytes(missing))
            self.field2.frombytes(bytes(8 * missing))
            self.field3.frombytes(bytes(8 * missing))
        self.kind[number], self.field2[number], self.field3[number] = kind, field2, field3

    def direct(self, number: int, offset: int) -> None:
        self._set(number, 1, offset, 0)

    def packed(self, number: int, stream: int, index: int) -> None:
        self._set(number, 2, stream, index)

    def encoded(self, size: int) -> tuple[list[int], bytes]:
        """The /W widths and the compressed table of objects 0 to size - 1 (the last one, the
        cross-reference stream, is set)."""
        w2, w3 = (max(1, (max(field[:size]).bit_length() + 7) // 8) for field in (self.field2, self.field3))
        compressor = zlib.compressobj(ZLIB_LEVEL)
        parts = []
        for low in range(0, size, 4096):
            rows = b"".join(((kind << 8 * (w2 + w3)) | (f2 << 8 * w3) | f3).to_bytes(1 + w2 + w3, "big")
                            for kind, f2, f3 in zip(self.kind[low:low + 4096], self.field2[low:low + 4096],
                                                    self.field3[low:low + 4096], strict=True))
            parts.append(compressor.compress(rows))
        parts.append(compressor.flush())
        return [1, w2, w3], b"".join(parts)


def _is_stream(value: Any) -> bool:
    from pypdf.generic import StreamObject

    while isinstance(value, _Renumbered):
        value = value.value
    return isinstance(value, StreamObject)


_SUBSET_TAG = re.compile(r"/([A-Z]{6})\+")


def _retagged(value: dict, chunk: int) -> dict[str, Any]:
    """New subset tags for a font of chunk `chunk` (> 0): each chunk subsets the fonts anew, and
    two different subsets must not share a name ("ABCDEF+Noto-Serif") in one file."""
    from pypdf.generic import NameObject

    change: dict[str, Any] = {}
    for key in ("/BaseFont", "/FontName"):
        name = value.get(key)
        m = _SUBSET_TAG.match(str(name)) if isinstance(name, str) else None
        if m:
            digest = hashlib.sha256(f"{m.group(1)}/{chunk}".encode()).digest()
            tag = "".join(chr(ord("A") + b % 26) for b in digest[:6])
            change[key] = NameObject(f"/{tag}+{str(name)[8:]}")
    return change


class _Ref:
    """A reference to an object of the merged file, written as it is."""

    def __init__(self, number: int) -> None:
        self.number = number


class _Renumbered:
    """A value of a chunk, written with that chunk's numbering."""

    def __init__(self, value: Any, renumber: Callable[[int], int]) -> None:
        self.value, self.renumber = value, renumber


def _name(key: str) -> Any:
    from pypdf.generic import NameObject

    return NameObject(key)


def _serialize(out: BinaryIO, value: Any, renumber: Callable[[int], int]) -> None:
    """`value` in PDF syntax, its references to the chunk's objects renumbered."""
    from pypdf.generic import IndirectObject, NameObject, StreamObject

    if isinstance(value, _Ref):
        out.write(b"%d 0 R" % value.number)
    elif isinstance(value, _Renumbered):
        _serialize(out, value.value, value.renumber)
    elif isinstance(value, IndirectObject):
        out.write(b"%d 0 R" % renumber(value.idnum))
    elif isinstance(value, dict):
        stream = isinstance(value, StreamObject)
        out.write(b"<<")
        for key, item in dict.items(value):
            if (key.startswith("/%") and key.endswith("%")) or (stream and key == "/Length"):
                continue
            NameObject(key).write_to_stream(out)
            out.write(b" ")
            _serialize(out, item, renumber)
            out.write(b"\n")
        if stream:
            data = cast(Any, value)._data
            out.write(b"/Length %d>>\nstream\n" % len(data))
            out.write(data)
            out.write(b"\nendstream")
        else:
            out.write(b">>")
    elif isinstance(value, list):
        out.write(b"[")
        for item in value:
            out.write(b" ")
            _serialize(out, item, renumber)
        out.write(b" ]")
    else:
        value.write_to_stream(out)


def _outline_objects(catalog: Any) -> set[int]:
    """The object numbers of a chunk's outline (its root and every item)."""
    from pypdf.generic import IndirectObject

    found: set[int] = set()
    todo = [catalog.raw_get("/Outlines")] if "/Outlines" in catalog else []
    while todo:
        ref = todo.pop()
        if not isinstance(ref, IndirectObject) or ref.idnum in found:
            continue
        found.add(ref.idnum)
        item: Any = ref.get_object()
        todo += [item.raw_get(key) for key in ("/First", "/Next") if key in item]
    return found
