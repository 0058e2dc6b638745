"""The Anki note lock: the content hash and modification time of every note of one edition.

Anki's importer replaces a note it already has only when the incoming note is newer (its default,
"update if newer"), and then overwrites whatever the learner changed in it. If every note carried
the build time, re-importing after one edit would report every note updated and undo the
learner's own edits everywhere. So each edition has a lock file beside its source
(`handbook.md` → `handbook.lock.yaml`, `handbook.zh-CN.md` → `handbook.zh-CN.lock.yaml`),
committed with the book and written by the build: per question id, the hash of the note as
rendered (fields, tags, identity) and the time it last changed. A note whose hash is unchanged
keeps its recorded time; a changed or new note gets the build time (never earlier than its
recorded time + 1 s, so it always counts as newer). The note type is locked the same way, so
new card templates reach learners and unchanged ones are left alone.

Reproducibility: the times come from the committed lock, and only changed notes take the build
time (SOURCE_DATE_EPOCH when set), so the same source, lock and epoch give the same deck. A
build whose lock is out of date warns (and then writes the new lock with the artifacts); a
--strict build fails instead and writes nothing, so CI on a clean clone never writes it and
catches a lock that was not committed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import yaml

from .diagnostics import BuildError, Location, Problem, Problems, display_path
from .model import Book, Question

SUFFIX = ".lock.yaml"
_MAX_BYTES = 4 * 1024 * 1024  # a lock line is ≈ 80 bytes: room for 50,000 notes
_MAX_TIME = 10**11  # seconds; Anki stores a 64-bit integer, but a larger value is a mistake
_FIX = ("the build writes this file: resolve a merge conflict by taking either side and building "
        "again, or delete it (every note then counts as changed once)")


@dataclass(frozen=True)
class Entry:
    hash: str  # of the note as rendered
    time: int  # seconds since the epoch: when that content first appeared
    source: str = ""  # the reader's digest of the question's text: a renamed id keeps it
    line: int = 0  # in the lock file, for messages


@dataclass(frozen=True)
class NoteLock:
    path: Path
    book: str = ""
    language: str = ""
    note_type: Entry | None = None
    notes: dict[str, Entry] | None = None  # question id → entry, in file order
    data: bytes | None = None  # the file as read; None when there is none yet

    @property
    def shown(self) -> str:
        return display_path(self.path)


@dataclass(frozen=True)
class Stamps:
    """What the deck uses: a modification time per question id and for the note type."""

    notes: dict[str, int]
    note_type: int


def path_for(source: Path) -> Path:
    name = source.name[:-3] if source.name.endswith(".md") else source.name
    return source.with_name(name + SUFFIX)


def digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:16]


def load(source: Path) -> NoteLock:
    """The lock of the book at `source` (empty when there is none); BuildError if it is damaged."""
    path = path_for(source)
    lock = NoteLock(path)
    if not path.exists():
        return lock
    if not path.is_file() or path.stat().st_size > _MAX_BYTES:
        raise _error(lock, 1, "the Anki note lock is not a regular file of at most 4 MB")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _error(lock, 1, "the Anki note lock is not UTF-8") from None
    for number, line in enumerate(text.split("\n"), 1):
        if line.startswith(("<<<<<<<", "=======", ">>>>>>>")):
            raise _error(lock, number, "the Anki note lock has an unresolved merge conflict")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise _error(lock, mark.line + 1 if mark else 1,
                     f"the Anki note lock cannot be read: {getattr(exc, 'problem', None) or exc}") from None
    top = _mapping(lock, root, {"book", "language", "note-type", "notes"})
    notes = _mapping(lock, top.get("notes"), None)
    return NoteLock(
        path, book=_text(lock, top.get("book")), language=_text(lock, top.get("language")),
        note_type=_entry(lock, top["note-type"]) if "note-type" in top else None,
        notes={qid: _entry(lock, node) for qid, node in notes.items()}, data=data,
    )


def stamp(lock: NoteLock, book: Book, note_type_hash: str, notes: list[tuple[Question, str]],
          build_time: int, problems: Problems) -> tuple[Stamps, bytes | None]:
    """Each note's time, and the new lock file if it differs from the one read (None if not).

    Warns about a lock that needs writing and about every question id the lock has and the book
    lost (learners lose that card's review history); BuildError if the lock is another book's.
    """
    for key, value in (("book", book.id), ("language", book.language)):
        if lock.data is not None and getattr(lock, key) != value:
            raise _error(lock, _line_of(lock.data, f"{key}:"),
                         f"the Anki note lock is for {key} {getattr(lock, key)!r}, not {value!r}",
                         "each edition has its own lock beside its source; delete this one to start "
                         "afresh (every note then counts as changed once)")
    old = lock.notes or {}
    entries: dict[str, Entry] = {}
    changed: list[str] = []
    added: list[str] = []
    for q, note_hash in notes:
        before = old.get(q.id)
        if before is None or before.hash != note_hash:
            (added if before is None else changed).append(q.id)
        entries[q.id] = Entry(note_hash, _time(before, note_hash, build_time), q.digest)
    type_time = _time(lock.note_type, note_type_hash, build_time)
    gone = [qid for qid in old if qid not in entries]
    for qid in gone:
        _report_gone(lock, qid, old[qid], [q for q, _ in notes if q.id in added], problems)

    data = _dump(lock, book, Entry(note_type_hash, type_time), entries)
    if data == lock.data:
        return Stamps({qid: e.time for qid, e in entries.items()}, type_time), None
    if lock.data is None:
        what = f"there is no Anki note lock yet ({len(entries)} notes)"
    else:
        counts = [f"{len(ids)} {word}" + (f" ({', '.join(ids[:5])}{', …' if len(ids) > 5 else ''})" if ids else "")
                  for ids, word in ((changed, "changed"), (added, "new"), (gone, "gone"))]
        if lock.note_type is None or lock.note_type.hash != note_type_hash:
            counts.append("the card templates changed")
        what = f"the Anki note lock is out of date: notes {', '.join(counts)}"
    problems.warn(Location(lock.shown, 1), what,
                  "a build without --strict writes it; commit it with the book")
    return Stamps({qid: e.time for qid, e in entries.items()}, type_time), data


def _time(before: Entry | None, new_hash: str, build_time: int) -> int:
    """Unchanged: the recorded time. Changed: the build time, but always newer than before."""
    if before is not None and before.hash == new_hash:
        return before.time
    return build_time if before is None else max(build_time, before.time + 1)


def _report_gone(lock: NoteLock, qid: str, entry: Entry, added: list[Question], problems: Problems) -> None:
    renamed = [q for q in added if entry.source and q.digest == entry.source]
    if renamed:
        q = renamed[0]
        problems.warn(q.location, f"question id '{qid}' was renamed to '{q.id}': Anki sees a new note, and "
                      f"learners lose the review history of '{qid}' and keep its old card as well",
                      f"keep the id '{qid}' (ids are permanent); if the new id is intended, a build without "
                      "--strict records it")
    else:
        problems.warn(Location(lock.shown, entry.line), f"question '{qid}' is no longer in the book: learners keep "
                      "its old card; brought back under another id it would start without its review history",
                      "restore it with the same id, or, if it is meant to go, a build without --strict records it")


def _dump(lock: NoteLock, book: Book, note_type: Entry, entries: dict[str, Entry]) -> bytes:
    # Written by hand rather than by yaml.dump: one line per note keeps diffs and merges readable.
    # Ids, hashes and numbers are plain YAML scalars (ids are checked by the reader).
    lines = [
        f"# Anki note lock of {lock.path.name[:-len(SUFFIX)]}.md, written by build.py — do not edit; commit it.",
        "# A note keeps its time until its content (hash) changes, so re-importing a newer deck",
        "# updates exactly the notes that changed. See docs/authoring.md, \"Anki note identity\".",
        f"book: {_scalar(book.id)}",
        f"language: {_scalar(book.language)}",
        f"note-type: {{hash: {note_type.hash}, time: {note_type.time}}}",
        "notes:" if entries else "notes: {}",
    ]
    lines += [f"  {_scalar(qid)}: {{hash: {e.hash}, source: {e.source or '~'}, time: {e.time}}}"
              for qid, e in entries.items()]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _scalar(text: str) -> str:
    """A YAML plain scalar when that reads back as the same string, else a quoted one."""
    if text and yaml.safe_load(text) == text and "#" not in text and ":" not in text:
        return text
    return "'" + text.replace("'", "''") + "'"


# -- reading -------------------------------------------------------------------------------------

def _error(lock: NoteLock, line: int, message: str, fix: str = _FIX) -> BuildError:
    return BuildError([Problem(Location(lock.shown, line), message, fix)])


def _mapping(lock: NoteLock, node: yaml.Node | None, keys: set[str] | None) -> dict[str, yaml.Node]:
    if node is None:
        return {}
    if not isinstance(node, yaml.MappingNode):
        raise _error(lock, node.start_mark.line + 1, "the Anki note lock is not laid out as the build writes it")
    found: dict[str, yaml.Node] = {}
    for key, value in node.value:
        if not isinstance(key, yaml.ScalarNode) or (keys is not None and key.value not in keys):
            raise _error(lock, key.start_mark.line + 1, f"unexpected key in the Anki note lock: {key.value!r}")
        if key.value in found:
            raise _error(lock, key.start_mark.line + 1, f"the key {key.value!r} is written twice")
        found[key.value] = value
    return found


def _text(lock: NoteLock, node: yaml.Node | None) -> str:
    if node is None:
        return ""
    if not isinstance(node, yaml.ScalarNode):
        raise _error(lock, node.start_mark.line + 1, "the Anki note lock is not laid out as the build writes it")
    return str(node.value)


def _entry(lock: NoteLock, node: yaml.Node) -> Entry:
    fields = _mapping(lock, node, {"hash", "source", "time"})
    line = node.start_mark.line + 1
    time = _text(lock, fields.get("time"))
    if "hash" not in fields or not time.isdigit() or int(time) >= _MAX_TIME:
        raise _error(lock, line, "an entry of the Anki note lock needs a hash and a time in whole seconds")
    source = _text(lock, fields.get("source"))
    return Entry(_text(lock, fields["hash"]), int(time), "" if source == "~" else source, line)


def _line_of(data: bytes, prefix: str) -> int:
    for number, line in enumerate(data.decode("utf-8").split("\n"), 1):
        if line.startswith(prefix):
            return number
    return 1
