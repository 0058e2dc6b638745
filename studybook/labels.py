"""The fixed words of every output, and the rules that put them around the book's data.

One table (templates/labels.yaml) holds the words per language; the rules here hold no words of
their own, so every edition prints its own language: how an author list is shortened, how a
citation and a cross-reference are labelled, how a date is written. The PDF, the EPUB and the
Anki cards all call these, so the three outputs cannot drift apart.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from .model import Book, Reference, XRef

# An author list is printed in full up to this many names; longer (or partial) lists print the
# first names and "et al.", because long lists in the sources are often incomplete.
MAX_AUTHORS = 3


class XrefLabel(NamedTuple):
    label: str  # "Q17"
    same: bool  # the link's text is the label already
    open: str  # what goes between the text and the label: " (" or ", "
    close: str  # ")" or ""


class Labels(Mapping[str, Any]):
    """The words of one language; templates read them as `labels.key_points`."""

    def __init__(self, words: dict[str, Any], language: str):
        self._words = words
        self.language = language

    def __getitem__(self, key: str) -> Any:
        return self._words[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._words)

    def __len__(self) -> int:
        return len(self._words)

    def authors(self, ref: Reference) -> str:
        """"A, B and C"; "A, B, C et al." past MAX_AUTHORS or when the list is partial."""
        names = list(ref.authors)
        if len(names) > MAX_AUTHORS or ref.partial:
            return self["list_sep"].join(names[:MAX_AUTHORS]) + " " + self["et_al"]
        if len(names) > 1:
            return self["list_sep"].join(names[:-1]) + f" {self['author_and']} " + names[-1]
        return names[0]

    def short(self, ref: Reference) -> str:
        """An author-year citation: "Vaswani et al., 2017", "Ba & Caruana, 2014"."""
        families = ref.families
        if len(families) == 1 and not ref.partial:
            who = families[0]
        elif len(families) == 2 and not ref.partial:
            who = f"{families[0]} {self['author_and_short']} {families[1]}"
        else:
            who = f"{families[0]} {self['et_al']}"
        return f"{who}{self['comma']}{ref.year}"

    def venue(self, ref: Reference) -> str:
        """The venue with its volume, issue and pages: "Nature 645(8081): 633–638"."""
        where = ref.venue
        if ref.volume:
            where += f" {ref.volume}" + (f"({ref.issue})" if ref.issue else "")
        if ref.page:
            where += f"{self['colon']}{ref.page}"
        return where.strip()

    def target(self, book: Book, target: str) -> str:
        """The label of a cross-reference target: "Q17" or "Chapter 3"."""
        try:
            return self["question"].format(n=book.question(target).number)
        except KeyError:
            return self["chapter"].format(n=book.topic(target).number)

    def xref(self, book: Book, xref: XRef) -> XrefLabel:
        """How a cross-reference is labelled, one rule for every output: a label equal to the
        link's own text is not repeated ("Q48 (Q48)"), and a link the author put in parentheses
        gets ", Q48" rather than a second pair of parentheses."""
        label = self.target(book, xref.target)
        if xref.parenthesized:
            return XrefLabel(label, xref.text.text == label, self["comma"], "")
        if xref.nested:
            return XrefLabel(label, xref.text.text == label, self["bracket_open"], self["bracket_close"])
        return XrefLabel(label, xref.text.text == label, self["paren_open"], self["paren_close"])

    def date(self, epoch: int) -> str:
        t = time.gmtime(epoch)
        return self["date"].format(day=t.tm_mday, month=t.tm_mon, year=t.tm_year,
                                   month_name=self["months"][t.tm_mon - 1])


def load(templates: Path, language: str) -> Labels:
    table = yaml.safe_load((templates / "labels.yaml").read_text(encoding="utf-8"))
    lang = language.lower()
    matches = [tag for tag in table if lang == tag.lower() or lang.startswith(tag.lower() + "-")]
    chosen = max(matches, key=len, default="en")
    return Labels({**table["en"], **table[chosen]}, language)
