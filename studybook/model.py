"""The typed, immutable document model every renderer consumes.

The reader builds it once; renderers never look at the source again. Rich text is a `Fragment`:
sanitised HTML interleaved with the few things each output format must render its own way
(math, cross-references, citations, images). Titles are fragments too, with a plain-text form for
the places that cannot hold markup (deck names, bookmarks, running heads, metadata, the NCX).

Policy that belongs to the book rather than to one output format lives here as well: the order
of the bibliography, which questions cite an entry, which chapters name it as a key paper.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import ClassVar, TypeVar

from .diagnostics import Location

_TAG = re.compile(r"<[^>]+>")


def html_to_text(markup: str) -> str:
    """The characters a reader sees in an HTML snippet: tags dropped, entities resolved."""
    return html.unescape(_TAG.sub("", markup))


@dataclass(frozen=True)
class Math:
    kind: ClassVar[str] = "math"
    tex: str
    display: bool
    mathml: str  # validated MathML, for formats that show MathML
    location: Location


@dataclass(frozen=True)
class XRef:
    """A link to a question or a chapter. `parenthesized`: the author wrote it at the end of their
    own (…), so a label is appended with a comma rather than in a second pair of parentheses;
    `nested`: inside their (…) but not at its end, so a label goes in brackets."""

    kind: ClassVar[str] = "xref"
    target: str  # question or topic id
    text: Fragment
    location: Location
    parenthesized: bool = False
    nested: bool = False


@dataclass(frozen=True)
class Cite:
    kind: ClassVar[str] = "cite"
    keys: tuple[str, ...]
    location: Location


@dataclass(frozen=True)
class ImageRef:
    kind: ClassVar[str] = "image"
    name: str  # collision-free media name, see Image
    alt: str  # empty: a decorative image, tagged as such by the outputs
    caption: str  # plain text; empty unless the image stands alone in its paragraph (a figure)
    figure: bool
    location: Location


Part = str | Math | XRef | Cite | ImageRef
P = TypeVar("P", Math, XRef, Cite, ImageRef)


@dataclass(frozen=True)
class Fragment:
    parts: tuple[Part, ...]

    def parts_of(self, cls: type[P]) -> tuple[P, ...]:
        """Typed parts of one class, including those nested in link texts."""
        found: list[P] = []
        for part in self.parts:
            if isinstance(part, cls):
                found.append(part)
            if isinstance(part, XRef):
                found.extend(part.text.parts_of(cls))
        return tuple(found)

    @property
    def maths(self) -> tuple[Math, ...]:
        return self.parts_of(Math)

    @property
    def cite_keys(self) -> tuple[str, ...]:
        return tuple(key for cite in self.parts_of(Cite) for key in cite.keys)

    @property
    def is_empty(self) -> bool:
        return not any(p.strip() if isinstance(p, str) else True for p in self.parts)

    @property
    def text(self) -> str:
        """Plain text: markup dropped, entities resolved, formulas as their TeX."""
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(html_to_text(part))
            elif isinstance(part, Math):
                out.append(part.tex)
            elif isinstance(part, XRef):
                out.append(part.text.text)
            elif isinstance(part, ImageRef):
                out.append(part.alt)
        return re.sub(r"\s+", " ", "".join(out)).strip()


@dataclass(frozen=True)
class Image:
    name: str  # "<slug>-<sha256 prefix><ext>": safe in every package, two images never share one
    source: str  # path relative to the content root, for messages
    data: bytes
    media_type: str


@dataclass(frozen=True)
class Reference:
    key: str
    type: str
    title: str
    authors: tuple[str, ...]  # display names, "Given Family" or an organisation
    families: tuple[str, ...]  # for short citations: "Vaswani et al."
    year: int
    venue: str
    url: str
    location: Location
    partial: bool = False  # the source lists only some authors ("others" in CSL)
    volume: str = ""
    issue: str = ""
    page: str = ""

    @property
    def sort_key(self) -> tuple:
        """One order for every reference list: first author's family name, year, title, key."""
        return (tuple(f.casefold() for f in self.families), self.year, self.title.casefold(), self.key)


@dataclass(frozen=True)
class IndexTerm:
    """One entry of the back-of-book index, authored in a question's `index:` list: the question
    is where the term is discussed. With `see`, it is a cross-reference ("self-attention, see
    attention") and has no locator of its own."""

    term: str  # display form, as the index prints it: "AdamW", "KV cache"
    sub: str = ""  # sub-entry under `term`: "causal" for "attention — causal"
    see: str = ""  # the entry to look up instead


@dataclass(frozen=True)
class Question:
    id: str
    number: int  # 1-based position in the book; ids are stable, numbers are not
    title: Fragment
    title_text: str
    topic_id: str
    difficulty: str  # "" when the author gives none
    tags: tuple[str, ...]
    references: tuple[str, ...]
    related: tuple[str, ...]
    key_points: Fragment  # may be empty: the answer then stands alone
    answer: Fragment
    location: Location
    digest: str = ""  # hash of the question's source text (see reader.digest)
    index: tuple[IndexTerm, ...] = ()  # index entries located at this question

    @property
    def cited(self) -> tuple[str, ...]:
        """Listed references, then inline citations not already listed, in order."""
        keys = (*self.references, *self.key_points.cite_keys, *self.answer.cite_keys)
        return tuple(dict.fromkeys(keys))


@dataclass(frozen=True)
class Topic:
    id: str
    number: int
    title: Fragment
    title_text: str
    intro: Fragment
    key_papers: tuple[str, ...]
    questions: tuple[Question, ...]
    location: Location
    digest: str = ""


@dataclass(frozen=True)
class Section:
    """A front-matter section such as the preface."""

    id: str
    title: Fragment
    title_text: str
    body: Fragment
    location: Location
    digest: str = ""


@dataclass(frozen=True)
class Book:
    id: str
    title: str
    subtitle: str
    authors: tuple[str, ...]
    language: str
    version: str
    edition: str
    sections: tuple[Section, ...]
    topics: tuple[Topic, ...]
    references: dict[str, Reference] = field(hash=False)
    images: dict[str, Image] = field(hash=False)
    path: str = ""  # the source file, as shown in messages
    source_title: str = ""  # where the questions come from, for attribution
    source_url: str = ""
    license: str = ""

    @property
    def slug(self) -> str:
        return f"{self.id}-{self.language}"

    @cached_property
    def questions(self) -> tuple[Question, ...]:
        return tuple(q for t in self.topics for q in t.questions)

    @cached_property
    def _by_id(self) -> dict[str, Question]:
        return {q.id: q for q in self.questions}

    def question(self, qid: str) -> Question:
        return self._by_id[qid]

    def topic(self, tid: str) -> Topic:
        return next(t for t in self.topics if t.id == tid)

    def fragments(self) -> tuple[Fragment, ...]:
        """Every rich-text block of the book, titles included, in reading order."""
        out: list[Fragment] = []
        for section in self.sections:
            out += [section.title, section.body]
        for topic in self.topics:
            out += [topic.title, topic.intro]
            for q in topic.questions:
                out += [q.title, q.key_points, q.answer]
        return tuple(out)

    def cited_keys(self) -> tuple[str, ...]:
        """Every bibliography key the book uses, in order of first use."""
        keys = [key for section in self.sections for key in section.body.cite_keys]
        for topic in self.topics:
            keys += [*topic.key_papers, *topic.intro.cite_keys]
            keys += [key for q in topic.questions for key in q.cited]
        return tuple(dict.fromkeys(keys))

    @cached_property
    def bibliography(self) -> tuple[Reference, ...]:
        """Every entry the book uses, in the one order all outputs print."""
        return tuple(sorted((self.references[k] for k in self.cited_keys()), key=lambda r: r.sort_key))

    @cached_property
    def cited_by(self) -> dict[str, tuple[Question, ...]]:
        found: dict[str, list[Question]] = {key: [] for key in self.references}
        for q in self.questions:
            for key in q.cited:
                found[key].append(q)
        return {key: tuple(qs) for key, qs in found.items()}

    @cached_property
    def figure_numbers(self) -> dict[ImageRef, str]:
        """The one figure numbering every output prints: per chapter, in reading order ("3.2");
        figures in the front matter are numbered on their own ("1", "2")."""
        numbers: dict[ImageRef, str] = {}

        def number(frags: list[Fragment], prefix: str) -> None:
            count = 0
            for frag in frags:
                for part in frag.parts_of(ImageRef):
                    if part.figure:
                        count += 1
                        numbers[part] = f"{prefix}{count}"

        number([f for s in self.sections for f in (s.title, s.body)], "")
        for topic in self.topics:
            frags = [topic.title, topic.intro, *(f for q in topic.questions for f in (q.title, q.key_points, q.answer))]
            number(frags, f"{topic.number}.")
        return numbers

    def figure_number(self, part: ImageRef) -> str:
        return self.figure_numbers[part]

    @cached_property
    def key_paper_of(self) -> dict[str, tuple[Topic, ...]]:
        found: dict[str, list[Topic]] = {key: [] for key in self.references}
        for topic in self.topics:
            for key in topic.key_papers:
                found[key].append(topic)
        return {key: tuple(ts) for key, ts in found.items()}
