"""The typed, immutable document model every renderer consumes.

The reader builds it once; renderers never look at the source again. Rich text is a `Fragment`:
sanitised HTML interleaved with the few things each output format must render its own way
(math, cross-references, citations, images).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .diagnostics import Location


@dataclass(frozen=True)
class Math:
    tex: str
    display: bool
    mathml: str  # validated MathML, for formats that show MathML
    location: Location
    kind: str = "math"


@dataclass(frozen=True)
class XRef:
    target: str  # question or topic id
    text_html: str
    location: Location
    kind: str = "xref"


@dataclass(frozen=True)
class Cite:
    keys: tuple[str, ...]
    location: Location
    kind: str = "cite"


@dataclass(frozen=True)
class ImageRef:
    name: str  # collision-free media name, see Image
    alt: str
    caption_html: str  # empty unless the image stands alone in its paragraph (a figure)
    figure: bool
    kind: str = "image"


Part = str | Math | XRef | Cite | ImageRef


@dataclass(frozen=True)
class Fragment:
    parts: tuple[Part, ...]

    @property
    def maths(self) -> tuple[Math, ...]:
        return tuple(p for p in self.parts if isinstance(p, Math))

    def of_kind(self, kind: str) -> tuple[Part, ...]:
        return tuple(p for p in self.parts if not isinstance(p, str) and p.kind == kind)

    @property
    def cite_keys(self) -> tuple[str, ...]:
        return tuple(key for cite in self.of_kind("cite") for key in cite.keys)

    @property
    def is_empty(self) -> bool:
        return not any(p.strip() if isinstance(p, str) else True for p in self.parts)


@dataclass(frozen=True)
class Image:
    name: str  # "<stem>-<sha256 prefix><ext>": two images can never share a name
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

    @property
    def author_line(self) -> str:
        """Authors as a bibliography prints them: up to three, then "et al.".

        Long author lists in the source are often partial, so printing more than three would
        suggest a completeness the data does not promise."""
        if len(self.authors) > 3:
            return ", ".join(self.authors[:3]) + ", et al."
        if len(self.authors) > 1:
            return ", ".join(self.authors[:-1]) + " and " + self.authors[-1]
        return self.authors[0]

    @property
    def short(self) -> str:
        if len(self.families) == 1:
            who = self.families[0]
        elif len(self.families) == 2:
            who = f"{self.families[0]} & {self.families[1]}"
        else:
            who = f"{self.families[0]} et al."
        return f"{who}, {self.year}"


@dataclass(frozen=True)
class Question:
    id: str
    number: int  # 1-based position in the book; ids are stable, numbers are not
    title_html: str
    title_text: str
    topic_id: str
    difficulty: str
    tags: tuple[str, ...]
    references: tuple[str, ...]
    related: tuple[str, ...]
    key_points: Fragment
    answer: Fragment
    location: Location

    @property
    def cited(self) -> tuple[str, ...]:
        """Listed references, then inline citations not already listed, in order."""
        keys = (*self.references, *self.key_points.cite_keys, *self.answer.cite_keys)
        return tuple(dict.fromkeys(keys))


@dataclass(frozen=True)
class Topic:
    id: str
    number: int
    title_html: str
    title_text: str
    intro: Fragment
    key_papers: tuple[str, ...]
    questions: tuple[Question, ...]
    location: Location


@dataclass(frozen=True)
class Section:
    """A front-matter section such as the preface."""

    id: str
    title_html: str
    title_text: str
    body: Fragment
    location: Location


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
    source: str = ""

    @property
    def slug(self) -> str:
        return f"{self.id}-{self.language}"

    @property
    def questions(self) -> tuple[Question, ...]:
        return tuple(q for t in self.topics for q in t.questions)

    def question(self, qid: str) -> Question:
        return self._index()[qid]

    def topic(self, tid: str) -> Topic:
        return next(t for t in self.topics if t.id == tid)

    def _index(self) -> dict[str, Question]:
        return {q.id: q for q in self.questions}

    def cited_keys(self) -> tuple[str, ...]:
        """Every bibliography key the book uses, in order of first use."""
        keys = [key for section in self.sections for key in section.body.cite_keys]
        for topic in self.topics:
            keys += [*topic.key_papers, *topic.intro.cite_keys]
            keys += [key for q in topic.questions for key in q.cited]
        return tuple(dict.fromkeys(keys))
