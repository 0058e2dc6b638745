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

The merged file is larger than the unchunked one (11.0 MB against 4.5 MB for 60 questions):
WeasyPrint packs its objects into one compressed object stream, pypdf writes each object as
plain text (47,000 objects, mostly structure elements: 7.2 MB); the streams themselves are the
same size (3.8 MB against 4.4 MB with the object stream).

Used when a book has more than CHUNK_QUESTIONS questions, or when $STUDYBOOK_PDF_CHUNK is set
(a number of questions per chunk; 0 never chunks), so that the tests can chunk a small book.
"""

from __future__ import annotations

import gc
import io
import multiprocessing
import multiprocessing.connection
import os
import re
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from ..diagnostics import BuildError, Location, Problem
from ..model import Book
from . import Options
from .pdf import Part

ENV = "STUDYBOOK_PDF_CHUNK"
# A book of more questions than this is chunked, this many questions (whole chapters) a chunk:
# about 3.2 pages a question and 3.5 MiB a page put a chunk of 120 questions near 1.3 GiB.
CHUNK_QUESTIONS = 120


def chunk_size(book: Book) -> int:
    """Questions per chunk, or 0: the book is laid out as one document."""
    forced = os.environ.get(ENV, "").strip()
    if forced:
        return max(0, int(forced))
    return CHUNK_QUESTIONS if len(book.questions) > CHUNK_QUESTIONS else 0


def plan(book: Book, size: int) -> list[Part]:
    """Front matter; groups of whole chapters of at most `size` questions (or one chapter);
    the bibliography; the index."""
    chunks = [Part(front=True)]
    group: list[str] = []
    count = 0
    for topic in book.topics:
        if group and count + len(topic.questions) > size:
            chunks.append(Part(topics=tuple(group)))
            group, count = [], 0
        group.append(topic.id)
        count += len(topic.questions)
    if group:
        chunks.append(Part(topics=tuple(group)))
    if book.bibliography:
        chunks.append(Part(back=True))
    if any(q.index for q in book.questions):
        chunks.append(Part(index=True))
    return chunks


@dataclass
class Laid:
    pages: int
    anchors: dict[str, int]  # local: the chunk's first page is 1
    footnotes: int


# The job of the workers: set before they are forked, so they inherit the book instead of
# receiving it pickled.
_JOB: dict[str, Any] = {}


def render(book: Book, options: Options, digits: int, size: int) -> bytes:
    from . import pdf

    try:
        import pypdf  # noqa: F401 - the merge needs it: fail before the layouts, not after
    except ImportError:
        raise BuildError([Problem(Location(book.path, 1),
                                  f"the PDF of a book of {len(book.questions)} questions is laid out in chunks "
                                  "and merged with pypdf, which is not installed",
                                  f"install the pinned pypdf (requirements.txt), or set {ENV}=0 to lay the "
                                  "book out in one process")]) from None
    chunks = plan(book, size)
    body = [c for c in chunks if not c.index]
    _JOB.update(book=book, options=options, chunks=chunks, digits=digits)
    try:
        while True:
            laid = _map(_lay_out, range(len(body)))
            total = sum(chunk_laid.pages + 1 for chunk_laid in laid)  # at most one blank page each
            if len(str(total)) <= _JOB["digits"]:
                break
            _JOB["digits"] = len(str(total))  # a wider placeholder may move pages: lay out again
        # Every chunk starts on a right-hand (odd) page.
        starts, blanks, footnotes, page = [], [], [], 1
        notes = 0
        for chunk_laid in laid:
            blank = page % 2 == 0
            page += blank
            starts.append(page)
            blanks.append(blank)
            footnotes.append(notes)
            page += chunk_laid.pages
            notes += chunk_laid.footnotes
        anchors: dict[str, int] = {}
        for start, chunk_laid in zip(starts, laid, strict=True):
            for anchor, local in chunk_laid.anchors.items():
                anchors.setdefault(anchor, start + local - 1)
        if len(chunks) > len(body):  # the index: after the last chunk, on a right-hand page
            blank = page % 2 == 0
            page += blank
            starts.append(page)
            blanks.append(blank)
            footnotes.append(notes)
            anchors["index"] = page
        with tempfile.TemporaryDirectory(prefix="studybook-pdf-") as tmp:
            _JOB.update(anchors=anchors, starts=starts, footnotes=footnotes, laid=laid, tmp=tmp)
            paths = _map(_write, range(len(chunks)))
            owners = [set(chunk_laid.anchors) for chunk_laid in laid] + ([{"index"}] if len(chunks) > len(body) else [])
            return merge([Path(p) for p in paths], blanks, owners, pdf.identifier(book))
    finally:
        _JOB.clear()


def _map(function: Callable[[int], Any], items: range) -> list[Any]:
    """`function` over `items` in worker processes, a new process for each item (its memory goes
    with it), as many at a time as there are cores; an exception in a worker is raised here."""
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
                process = ctx.Process(target=_worker, args=(function, i, send, os.getpid()))
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
                    ok, value = False, RuntimeError(f"PDF chunk worker {i} died (exit code {process.exitcode})")
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


def _worker(function: Callable[[int], Any], i: int, send: Any, parent: int) -> None:
    from ..mathsvg import die_with_parent

    die_with_parent(parent)
    try:
        send.send((True, function(i)))
    except BaseException as exc:  # whatever it is, the build reports it
        if not isinstance(exc, BuildError):  # a bug: where it happened, in the worker
            exc.add_note(traceback.format_exc())
        send.send((False, exc))
    finally:
        send.close()


def _lay_out(i: int) -> Laid:
    from . import page_numbers, pdf

    book, options, chunk = _JOB["book"], _JOB["options"], _JOB["chunks"][i]
    doc = pdf.build_html(book, options, mark=page_numbers.placeholder(_JOB["digits"]), part=chunk)
    with pdf._collector_paused():
        document = pdf.layout(doc, book, options)
    return Laid(len(document.pages), page_numbers.anchor_pages(document.pages), _footnotes(doc.html))


def _footnotes(html: str) -> int:
    return len(re.findall(r'<span class="fn-url">', html))


def _write(i: int) -> str:
    from weasyprint.text.fonts import FontConfiguration

    from . import page_numbers, pdf

    book, options, chunk = _JOB["book"], _JOB["options"], _JOB["chunks"][i]
    anchors, start = _JOB["anchors"], _JOB["starts"][i]
    mark = page_numbers.placeholder(_JOB["digits"])
    doc = pdf.build_html(book, options, anchors if chunk.index else None, mark=mark, part=chunk,
                         first_page=start, footnotes_before=_JOB["footnotes"][i])
    with pdf._collector_paused():
        document = pdf.layout(doc, book, options, FontConfiguration())
        local = page_numbers.anchor_pages(document.pages)
        if not chunk.index:
            laid = _JOB["laid"][i]
            if (len(document.pages), local) != (laid.pages, laid.anchors):
                raise pdf._unsettled(book, f"chunk {i + 1} broke its pages differently the second time")
        try:
            pages, _ = page_numbers.fill(document.pages, anchors, mark)
        except page_numbers.PageNumberError as exc:
            raise pdf._unsettled(book, str(exc)) from None
        # A link to another chunk: WeasyPrint drops a link whose anchor is not in its document, so
        # the anchor is declared on the first page; the merge takes each anchor's destination from
        # the chunk that holds it.
        elsewhere = {target for page in pages for kind, target, *_ in page.links
                     if kind == "internal" and target not in local}
        for target in sorted(elsewhere):
            pages[0].anchors.setdefault(target, (0, 0, 0, 0))
        data = pdf.write_pdf(document.copy(pages), book, options)
    path = Path(_JOB["tmp"]) / f"chunk-{i:04d}.pdf"
    path.write_bytes(data)
    return str(path)


# ---------------------------------------------------------------------------------------------
# Merging


def merge(paths: list[Path], blanks: list[bool], owners: list[set[str]], identifier: bytes) -> bytes:
    """One PDF of the chunk PDFs, a blank page before each chunk whose `blanks` entry is set; the
    destination of an anchor is taken from the chunk that `owners` says holds it."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import (
        ArrayObject,
        ByteStringObject,
        DictionaryObject,
        Fit,
        NameObject,
        NumberObject,
        TextStringObject,
    )

    writer = PdfWriter()
    readers = [PdfReader(path) for path in paths]
    first = readers[0]
    writer.pdf_header = first.pdf_header
    catalog = writer._root_object
    tree_root = DictionaryObject({NameObject("/Type"): NameObject("/StructTreeRoot")})
    tree_root_ref = writer._add_object(tree_root)
    document: Any = DictionaryObject({NameObject("/Type"): NameObject("/StructElem"),
                                 NameObject("/S"): NameObject("/Document"),
                                 NameObject("/K"): ArrayObject(), NameObject("/P"): tree_root_ref})
    document_ref = writer._add_object(document)
    tree_root[NameObject("/K")] = ArrayObject([document_ref])
    nums = ArrayObject()
    names: list[tuple[str, ArrayObject]] = []
    offset = 0  # ParentTree keys of the chunks merged so far
    for reader, blank, owned in zip(readers, blanks, owners, strict=True):
        if blank:
            last = writer.pages[-1]
            blank_page = writer.add_blank_page(float(last.mediabox.width), float(last.mediabox.height))
            # Like WeasyPrint's blank pages: a ParentTree entry with no content.
            blank_page[NameObject("/StructParents")] = NumberObject(offset)
            nums.extend([NumberObject(offset), ArrayObject()])
            offset += 1
        pages: dict[int, Any] = {}
        for page in reader.pages:
            parents = page.get("/StructParents")
            new = writer.add_page(page)  # pypdf drops StructParents: renumbered here
            if parents is not None:
                new[NameObject("/StructParents")] = NumberObject(int(parents) + offset)
            for reference in new.get("/Annots") or []:
                annot: Any = reference.get_object()
                if "/StructParent" in annot:
                    annot[NameObject("/StructParent")] = NumberObject(int(annot["/StructParent"]) + offset)
            pages[cast(Any, page.indirect_reference).idnum] = new.indirect_reference
        for name, dest in reader.named_destinations.items():
            if str(name) in owned:
                target = pages[cast(Any, dest.page).idnum]
                names.append((str(name), ArrayObject([target, NameObject("/XYZ"), _num(dest.left),
                                                      _num(dest.top), _num(dest.zoom)])))
        _copy_outline(writer, reader, reader.outline, None, pages, Fit)
        root: Any = reader.root_object["/StructTreeRoot"].get_object()
        chunk_document: Any = root["/K"][0].get_object()
        for kid in chunk_document["/K"]:
            element: Any = kid.get_object()
            del element[NameObject("/P")]  # the chunk's Document element is not copied
            copied = kid.clone(writer)
            copied.get_object()[NameObject("/P")] = document_ref
            document["/K"].append(copied)
        chunk_nums: Any = root["/ParentTree"].get_object()["/Nums"]
        keys = [int(k) for k in chunk_nums[::2]]
        for key, value in zip(keys, chunk_nums[1::2], strict=True):
            nums.append(NumberObject(key + offset))
            nums.append(value.clone(writer))
        offset += max(keys, default=-1) + 1
    tree_root[NameObject("/ParentTree")] = writer._add_object(DictionaryObject({NameObject("/Nums"): nums}))
    catalog[NameObject("/StructTreeRoot")] = tree_root_ref
    for entry in ("/Lang", "/ViewerPreferences", "/MarkInfo", "/Metadata"):
        if entry in first.root_object:
            catalog[NameObject(entry)] = first.root_object[entry].clone(writer)
    dests = ArrayObject()
    for title, array in sorted(names, key=lambda item: item[0]):
        dests.append(TextStringObject(title))
        dests.append(array)
    catalog[NameObject("/Names")] = DictionaryObject(
        {NameObject("/Dests"): DictionaryObject({NameObject("/Names"): dests})})
    info: Any = first.trailer["/Info"].get_object()
    writer.add_metadata({str(k): str(v) for k, v in info.items()})
    writer._ID = ArrayObject([ByteStringObject(identifier), ByteStringObject(identifier)])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _num(value: Any) -> Any:
    from pypdf.generic import FloatObject, NullObject

    return NullObject() if value is None else FloatObject(value)


def _copy_outline(writer: Any, reader: Any, items: list, parent: Any, pages: dict[int, Any], fit: Any) -> None:
    """The chunk's bookmarks, in order, under `parent` (None: the top level)."""
    previous = None
    for item in items:
        if isinstance(item, list):
            _copy_outline(writer, reader, item, previous, pages, fit)
            continue
        previous = writer.add_outline_item(item.title, pages[item.page.idnum], parent=parent,
                                           fit=fit.xyz(item.left, item.top, item.zoom),
                                           is_open=bool(item.get("/%is_open%", True)))
