"""A translated edition: the original book with its text replaced, unit by unit, by id.

A translation is a Markdown file beside the original whose front matter names it
(`translation_of: handbook.md`) and its `language`. It repeats the original's headings with only
the unit's id and `source:` — the digest of the original text it was translated from — in each
metadata block; everything else (difficulty, tags, references, related questions, key papers, the
bibliography, the images) comes from the original, so the editions cannot drift apart. The build
reports a unit that is missing or extra, and one whose `source` no longer matches the original's
text (a warning; an error under --strict). Problems in the translated text are reported at their
line of the translation.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from .diagnostics import Location
from .model import Book, IndexTerm, Question, Section, Topic

if TYPE_CHECKING:
    from .reader import _Node, _Reader

FRONT_FIELDS = {"translation_of", "language", "title", "subtitle", "edition", "translators", "index_terms"}
UNIT_FIELDS = {"section", "topic", "id", "source"}


def _key(node: _Node) -> tuple[str, str]:
    for kind in ("section", "topic", "id"):
        if kind in node.fields:
            return ("question" if kind == "id" else kind), str(node.fields[kind]).strip()
    return "", ""


def read_translation(reader: _Reader, nodes: list[_Node], original: Book) -> Book:
    """Overlay the translated units in `nodes` (parsed by `reader`) on `original`."""
    front = reader.front
    reader.unknown_fields(front, FRONT_FIELDS, "the front matter of a translation")
    language = reader.language(front)
    reader.ctx.language = language or "en"
    if language and language.lower() == original.language.lower():
        reader.problems.add(reader.at(front, "language"), f"the translation has the original's language {language!r}",
                            "give the language of the translation, e.g. zh-CN")

    originals: dict[tuple[str, str], Section | Topic | Question] = {("section", s.id): s for s in original.sections}
    originals.update({("topic", t.id): t for t in original.topics})
    originals.update({("question", q.id): q for q in original.questions})
    units: dict[tuple[str, str], _Node] = {}
    for node in nodes:
        key = _key(node)
        reader.unknown_fields(node, UNIT_FIELDS, "a translated unit")
        if not key[1]:
            reader.problems.add(reader.loc(node.meta_line), f"heading {node.title!r} names no unit",
                                "copy the 'section:', 'topic:' or 'id:' line of the original heading")
            continue
        if key not in originals:
            reader.problems.add(reader.loc(node.meta_line), f"{key[0]} {key[1]!r} is not in {original.path}",
                                "remove it, or fix the id to match the original")
            continue
        if key in units:
            reader.problems.add(reader.loc(node.meta_line), f"{key[0]} {key[1]!r} is translated twice",
                                "keep one translation of each unit")
            continue
        units[key] = node
        expected = originals[key].digest
        source = str(node.fields.get("source") or "").strip()
        if source != expected:
            reader.problems.warn(reader.at(node, "source"),
                                 f"{key[0]} {key[1]!r} was translated from another version of the original "
                                 f"(source {source or 'missing'}, the original is now {expected})",
                                 f"update the translation to the original's text, then set 'source: {expected}'")
    end = Location(reader.path, 1)
    for key in originals:
        if key not in units:
            reader.problems.add(end, f"{key[0]} {key[1]!r} of {original.path} has no translation",
                                f"add its heading with '{'id' if key[0] == 'question' else key[0]}: {key[1]}' "
                                "and translate it (scripts/translation_skeleton.py writes a skeleton)")

    index = _index_terms(reader, original)

    def title(node: _Node | None, unit: Section | Topic | Question):
        return reader.title(node) if node is not None else (unit.title, unit.title_text)

    sections = []
    for s in original.sections:
        snode = units.get(("section", s.id))
        t, text = title(snode, s)
        sections.append(dataclasses.replace(s, title=t, title_text=text, location=_where(reader, snode, s),
                                            body=reader.fragment(snode.body) if snode else s.body))
    topics = []
    for topic in original.topics:
        tnode = units.get(("topic", topic.id))
        t, text = title(tnode, topic)
        questions = []
        for q in topic.questions:
            qnode = units.get(("question", q.id))
            qt, qtext = title(qnode, q)
            questions.append(dataclasses.replace(
                q, title=qt, title_text=qtext, location=_where(reader, qnode, q),
                index=tuple(IndexTerm(*(index.get(w, w) for w in (t.term, t.sub, t.see))) for t in q.index),
                key_points=reader.fragment(qnode.parts.get("key points")) if qnode else q.key_points,
                answer=reader.fragment(qnode.parts.get("answer") or qnode.parts.get("preamble")) if qnode
                else q.answer))
        topics.append(dataclasses.replace(topic, title=t, title_text=text, intro=reader.fragment(tnode.body)
                                          if tnode else topic.intro, questions=tuple(questions),
                                          location=_where(reader, tnode, topic)))
    book = dataclasses.replace(
        original, language=language or original.language, path=reader.path,
        title=reader.str_field(front, "title", required=False) or original.title,
        subtitle=reader.str_field(front, "subtitle", required=False) or original.subtitle,
        edition=reader.str_field(front, "edition", required=False) or original.edition,
        sections=tuple(sections), topics=tuple(topics),
        images={**original.images, **reader.ctx.images},
    )
    reader.bib_keys = set(original.references)
    targets = {q.id for q in book.questions} | {t.id for t in book.topics}
    for frag in book.fragments():
        reader.check_fragment(frag, targets, book)
    return book


def _index_terms(reader: _Reader, original: Book) -> dict[str, str]:
    """The translation's `index_terms:` mapping, each word of the original's index to its
    translation (one mapping for the book, so a term reads the same wherever it is listed)."""
    front = reader.front
    value = front.fields.get("index_terms") or {}
    where = reader.at(front, "index_terms") if "index_terms" in front.fields else Location(reader.path, 1)
    if not isinstance(value, dict) or not all(isinstance(v, (str, int, float)) and str(v).strip()
                                              for v in value.values()):
        reader.problems.add(where, "'index_terms' must map each index term of the original to its translation",
                            "write 'index_terms: {KV cache: 键值缓存（KV cache）, ...}'")
        return {}
    mapping = {" ".join(str(k).split()): " ".join(str(v).split()) for k, v in value.items()}
    words = {w for q in original.questions for t in q.index for w in (t.term, t.sub, t.see) if w}
    for word in sorted(words - set(mapping)):
        reader.problems.add(where, f"index term {word!r} of {original.path} has no translation",
                            f"add '{word}: …' to index_terms")
    for word in sorted(set(mapping) - words):
        reader.problems.warn(where, f"index_terms translates {word!r}, which the original's index does not use",
                             "remove it, or fix it to match the original's term")
    return mapping


def _where(reader: _Reader, node: _Node | None, unit: Section | Topic | Question) -> Location:
    return reader.loc(node.line) if node is not None else unit.location


def original_path(translation: Path, name: str) -> Path:
    return (translation.parent / name).resolve()
