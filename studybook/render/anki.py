"""Anki deck (.apkg) with genanki: one note per question, a sub-deck per topic.

Identity is what keeps a learner's review history across updates, so every id here is derived
from stable names only: the note type id is a constant, deck ids hash (book id, topic id), and
note GUIDs hash (book id, question id). Anki's importer updates a note it already has only when
the incoming one is newer: with the edition's note lock (see notelock.py) a note keeps its recorded
modification time until its content changes, so re-importing a new deck updates exactly the notes
that changed. Without a lock every note carries `options.build_time`.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import sqlite3
from typing import Any

import genanki

from .. import labels as labels_mod
from .. import mathbreak, notelock
from ..labels import Labels
from ..model import Book, ImageRef
from ..output import write_zip
from ..templating import environment
from . import Options
from .narrow import code_lines, label_table_cells

EXTENSION = "apkg"
# Hard-coded once and never changed: a new id would orphan every learner's existing notes.
NOTE_TYPE_ID = 1_739_412_587
NOTE_TYPE_NAME = "studybook question v1"
STATIC_PREFIX = "_"
# The width of a phone's card (390 CSS px less the card's padding) in em of the math font as
# ziamath measures it; MathJax sets display formulas ~1.3 times the 18 px text (card.css.j2 sets
# them at 90 %): display formulas wider than this are broken into lines (studybook.mathbreak).
# The card holds about 16.8 em of MathJax's math at 390 px: the margin keeps a continuation line's
# indent and a 360 px phone inside the card.
PHONE_MEASURE = 14.0
FIELDS = ["ID", "Number", "Question", "KeyPoints", "Answer", "References", "Related", "Topic",
          "Difficulty"]


def stable_id(*names: str) -> int:
    digest = hashlib.sha256("\x1f".join(names).encode()).digest()
    # Anki ids are positive 64-bit; stay well inside genanki's usual range.
    return (1 << 30) + int.from_bytes(digest[:8], "big") % (1 << 30)


# The edition whose ids shipped first; every other edition gets its own namespace, so both
# live in one collection and each updates in place.
FIRST_EDITION = "en"


def _namespace(book: Book) -> tuple[str, ...]:
    return (book.id,) if book.language == FIRST_EDITION else (book.id, book.language)


def note_guid(book: Book, question_id: str) -> str:
    return genanki.guid_for(*_namespace(book), question_id)


def note_type_id(language: str) -> int:
    # The English note type keeps the id it shipped with; other editions get their own, so each
    # edition's card templates (with their own words) can live in one collection.
    return NOTE_TYPE_ID if language == FIRST_EDITION else stable_id(NOTE_TYPE_NAME, language)


def _anki_field(name: str) -> str:
    return "{{" + name + "}}"


class _Note(genanki.Note):
    """A note with its own modification time (from the note lock) instead of the package's."""

    mod: int | None = None

    def write_to_db(self, cursor, timestamp: float, deck_id, id_gen):
        return super().write_to_db(cursor, timestamp if self.mod is None else self.mod, deck_id, id_gen)


class _NoteType(genanki.Model):
    mod: int | None = None

    def to_json(self, timestamp: float, deck_id):
        return super().to_json(timestamp if self.mod is None else self.mod, deck_id)


def note_hash(note: genanki.Note) -> str:
    """Everything of a note that an import would replace: its identity, fields and tags."""
    return notelock.digest(note.guid, str(note.model.model_id), *note.fields, " ".join(note.tags))


def note_type_hash(model: genanki.Model) -> str:
    return notelock.digest(str(model.model_id), model.name, json.dumps(model.fields, sort_keys=True),
                           json.dumps(model.templates, sort_keys=True), model.css, str(model.sort_field_index))


def _stamp(book: Book, model: _NoteType, notes: dict[str, _Note], options: Options) -> None:
    """Give the note type and each note its time from the edition's lock, if the build has one."""
    if options.note_lock is None:
        return
    pairs = [(book.question(qid), note_hash(note)) for qid, note in notes.items()]
    stamps, new_lock = notelock.stamp(options.note_lock, book, note_type_hash(model), pairs,
                                      options.build_time, options.problems)
    model.mod = stamps.note_type
    for qid, note in notes.items():
        note.mod = stamps.notes[qid]
    if new_lock is not None:
        options.extra_files.append((options.note_lock.path, new_lock))


def _note_type(options: Options, labels: Labels) -> _NoteType:
    env = environment(options.templates)
    env.globals.update(labels=labels, field=_anki_field, if_=lambda name: _anki_field("#" + name),
                       unless=lambda name: _anki_field("^" + name), end=lambda name: _anki_field("/" + name))
    name = NOTE_TYPE_NAME if labels.language == FIRST_EDITION else f"{NOTE_TYPE_NAME} ({labels.language})"
    return _NoteType(
        note_type_id(labels.language),
        name,
        fields=[{"name": f} for f in FIELDS],
        templates=[{
            "name": "Question → Answer",
            "qfmt": env.get_template("anki/front.html.j2").render().strip() + "\n",
            "afmt": env.get_template("anki/back.html.j2").render().strip() + "\n",
        }],
        css=env.get_template("anki/card.css.j2").render(),
        sort_field_index=0,
    )


def render(book: Book, options: Options) -> bytes:
    labels = labels_mod.load(options.templates, book.language)
    env = environment(options.templates)
    env.globals.update(labels=labels, STATIC=STATIC_PREFIX,
                       display_math=_display_math, inline_math=_inline_math)
    fields: Any = env.get_template("anki/fields.html.j2").module  # its macros, called like functions
    model = _note_type(options, labels)
    decks = []
    notes: dict[str, _Note] = {}
    for topic in book.topics:
        deck = genanki.Deck(
            stable_id(*_namespace(book), topic.id),
            f"{_deck_part(book.title)}::{topic.number:02d} {_deck_part(topic.title_text)}",
            description=_inert(str(fields.deck_description(topic, book)).strip()),
        )
        for q in topic.questions:
            notes[q.id] = _Note(
                model=model,
                fields=[_inert(value) for value in (
                    q.id,
                    str(q.number),
                    str(fields.question(q, book)).strip(),
                    _narrow(str(fields.fragment(q.key_points, book)).strip()),
                    _narrow(str(fields.fragment(q.answer, book)).strip()),
                    str(fields.references(q, book)).strip(),
                    str(fields.related(q, book)).strip(),
                    # Fields are HTML: the plain title's "<" (written "&lt;" in the source) stays text.
                    html.escape(topic.title_text, quote=False),
                    labels["difficulties"][q.difficulty] if q.difficulty else "",
                )],
                tags=[f"topic::{topic.id}", *([f"difficulty::{q.difficulty}"] if q.difficulty else []), *q.tags],
                guid=note_guid(book, q.id),
                due=q.number,
            )
            deck.add_note(notes[q.id])
        decks.append(deck)
    _stamp(book, model, notes, options)
    return _package(decks, book, options.build_time)


def _display_math(tex: str) -> str:
    """A display formula's TeX for MathJax, broken for a phone (all at one size: none is shrunk
    or left to scroll; tests/test_screen.py lays every card out at 390 px)."""
    return mathbreak.aligned(mathbreak.break_lines(tex, PHONE_MEASURE))


# An inline formula at least this wide (em, as PHONE_MEASURE) may break after its relations: the
# card's line holds about 15 em of MathJax's inline math, and MathJax does not break lines.
INLINE_BREAKABLE = 10.0


def _inline_math(tex: str) -> list[str]:
    """An inline formula for MathJax as pieces: a wide one cut after its relations, where the card
    offers a line break between them (TeX breaks inline formulas there too)."""
    return mathbreak.inline_pieces(tex) if mathbreak.width_em(tex) > INLINE_BREAKABLE else [tex]


def _narrow(html: str) -> str:
    """Hooks for the card's phone layout: wide tables reflow, code lines wrap with a hang."""
    return code_lines(label_table_cells(html))


def _inert(html: str) -> str:
    """Anki plays "[sound:…]" and speaks "[anki:tts…]" wherever they stand in a field; written in
    a book they are text, so the bracket is escaped."""
    return html.replace("[sound:", "&#91;sound:").replace("[anki:", "&#91;anki:")


def _deck_part(name: str) -> str:
    """A deck-name component: Anki reads "::" as a sub-deck, so a title cannot contain it."""
    return name.replace("::", ":")


def _package(decks: list[genanki.Deck], book: Book, build_time: int) -> bytes:
    """The .apkg as genanki would write it, but with sorted, fixed-date zip entries."""
    # In memory: rendering writes nothing to disk, so a full temporary folder cannot fail it.
    conn = sqlite3.connect(":memory:")
    try:
        package = genanki.Package(decks)
        package.write_to_db(conn.cursor(), build_time, iter(range(build_time * 1000, 1 << 62)))
        conn.commit()
        collection = conn.serialize()
    finally:
        conn.close()
    files = {name: image.data for name, image in book.images.items()}
    # Images in chapter introductions are shown by the deck description, which Anki's importer
    # does not scan: they travel as static "_" files, which it always imports.
    for topic in book.topics:
        for ref in topic.intro.parts_of(ImageRef):
            files[STATIC_PREFIX + ref.name] = book.images[ref.name].data
    names = sorted(files)
    media = {str(i): name for i, name in enumerate(names)}
    entries = [("collection.anki2", collection, True),
               ("media", json.dumps(media, sort_keys=True).encode(), True)]
    entries += [(str(i), files[name], True) for i, name in enumerate(names)]
    buf = io.BytesIO()
    write_zip(entries, build_time, buf)
    return buf.getvalue()
