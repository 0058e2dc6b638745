"""The back-of-book index, built once from the terms the questions list (`index:` in a question's
metadata, see docs/authoring.md) and printed by the PDF and the EPUB.

An entry is a term in its display form with the questions that discuss it, its sub-entries, or a
"see" reference to another entry. Entries are grouped under their first letter. English sorts
letter by letter, ignoring case and leading symbols; Chinese sorts by pinyin (pypinyin), with a
term that starts in Latin letters ("KV 缓存", "BERT") filed under that letter among the pinyin
groups, as Chinese technical books do, so a reader finds "BERT" under B wherever it came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .model import Book, Question

SYMBOLS = "#"  # the group of terms that start with a digit or a symbol


@dataclass(frozen=True)
class Sub:
    term: str
    questions: tuple[Question, ...]


@dataclass(frozen=True)
class Entry:
    term: str
    questions: tuple[Question, ...]  # where the term itself is discussed (may be empty with subs)
    subs: tuple[Sub, ...] = ()
    see: str = ""  # "see" reference: this entry has no pages of its own


@dataclass(frozen=True)
class Group:
    letter: str
    entries: tuple[Entry, ...]


# Readings pypinyin's dictionary gets wrong for the terms of this book (重 of 重排序 is chóng, "again",
# not zhòng; 长 of 长上下文 is cháng, "long"; 调 of 微调 "fine-tuning" is tiáo; 似然 is sìrán): a wrong
# reading files a term under the wrong letter or out of order.
_PHRASES = {
    "微调": [["wēi"], ["tiáo"]],
    "调优": [["tiáo"], ["yōu"]],
    "似然": [["sì"], ["rán"]],
    "最大似然": [["zuì"], ["dà"], ["sì"], ["rán"]],
    "重排序": [["chóng"], ["pái"], ["xù"]],
    "长上下文": [["cháng"], ["shàng"], ["xià"], ["wén"]],
}


def _chinese(language: str) -> bool:
    return language.lower().startswith("zh")


def sort_key(term: str, language: str) -> tuple[str, str]:
    """The key a term is filed under: its letters (pinyin for Chinese characters) in lower case,
    spaces and punctuation ignored; the term itself breaks ties, so the order is total."""
    if _chinese(language):
        from pypinyin import Style, lazy_pinyin, load_phrases_dict

        load_phrases_dict(_PHRASES)

        # Tone numbers after each syllable order homophones by tone, as dictionaries do.
        spelled = "".join(lazy_pinyin(term, style=Style.TONE3, neutral_tone_with_five=True))
    else:
        spelled = term
    letters = re.sub(r"[\W_]+", "", spelled.casefold())
    return letters, term


def letter(term: str, language: str) -> str:
    first = sort_key(term, language)[0][:1]
    return first.upper() if first.isascii() and first.isalpha() else SYMBOLS


def build(book: Book) -> list[Group]:
    """The index of `book`: groups in alphabetical order, the symbols group first."""
    lang = book.language
    pages: dict[str, list[Question]] = {}
    subs: dict[str, dict[str, list[Question]]] = {}
    see: dict[str, str] = {}
    for q in book.questions:
        for t in q.index:
            if t.see:
                see[t.term] = t.see
            elif t.sub:
                subs.setdefault(t.term, {}).setdefault(t.sub, []).append(q)
                pages.setdefault(t.term, [])
            else:
                pages.setdefault(t.term, []).append(q)

    def located(qs: list[Question]) -> tuple[Question, ...]:
        return tuple(sorted(dict.fromkeys(qs), key=lambda q: q.number))

    entries = [Entry(term, located(qs),
                     tuple(Sub(s, located(sq)) for s, sq in sorted(subs.get(term, {}).items(),
                                                                 key=lambda kv: sort_key(kv[0], lang))))
               for term, qs in pages.items()]
    entries += [Entry(term, (), see=target) for term, target in see.items() if term not in pages]
    entries.sort(key=lambda e: sort_key(e.term, lang))
    groups: dict[str, list[Entry]] = {}
    for e in entries:
        groups.setdefault(letter(e.term, lang), []).append(e)
    order = sorted(groups, key=lambda g: (g != SYMBOLS, g))
    return [Group(g, tuple(groups[g])) for g in order]
