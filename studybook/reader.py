"""Read a question-bank Markdown file into a validated `Book`.

The skeleton (front matter, `#` sections and chapters, `##` questions, their YAML blocks, the
`### Key points` / `### Answer` parts) is read line by line so that every problem carries its line;
each text block is then handed to `markup.to_fragment`. All problems are collected and raised
together once everything has been read and cross-checked.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import bibliography, figures, glyphs, inputs, markup, translation
from .diagnostics import Location, Problem, Problems, display_path
from .model import Book, Cite, Fragment, IndexTerm, Question, Section, Topic, XRef

ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# A BCP 47 language tag (language, optional script, region and variants): it names the artifacts,
# so nothing else may reach a file name.
LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z]{4})?(?:-(?:[A-Za-z]{2}|[0-9]{3}))?(?:-[A-Za-z0-9]{5,8})*$")
TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]*$")
DIFFICULTIES = ("easy", "medium", "hard")
# C0/C1 controls (tab excepted), bidirectional overrides and isolates, and U+FFFE/U+FFFF.
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufffe\uffff]")
HEADING_START = re.compile(r"^(#{1,3})[ \t]+")
TITLE_LIMIT = 300  # characters: a title is a deck name, a bookmark and a running head
FENCE = re.compile(r"^(`{3,}|~{3,})(.*)$")
BOOK_FIELDS = {"book", "title", "subtitle", "authors", "language", "version", "edition", "bibliography",
               "source", "source_url", "license"}
TOPIC_FIELDS = {"topic", "key_papers"}
SECTION_FIELDS = {"section"}
QUESTION_FIELDS = {"id", "difficulty", "tags", "references", "related", "index"}
INDEX_KEYS = {"term", "sub", "see"}


def heading_of(line: str) -> tuple[int, str] | None:
    """`(level, title)` of a '#', '##' or '###' heading line, else None.

    Written without a regex over the title: the pattern it replaces backtracked quadratically on
    a long run of spaces (a 100 KB heading took 32 s). A closing run of #s needs a space before it
    (CommonMark), so "## What is C#" keeps its "#".
    """
    start = HEADING_START.match(line)
    if start is None or start.end() == len(line):
        return None
    title = line[start.end():].rstrip(" \t")
    without = title.rstrip("#")
    if without != title and without and without[-1] in " \t":
        title = without.rstrip(" \t")
    return len(start.group(1)), title.strip()


@dataclass
class _Block:
    """Lines of Markdown with the line number of the first one."""

    start: int
    lines: list[str] = field(default_factory=list)

    @property
    def _first(self) -> int:
        return next((i for i, line in enumerate(self.lines) if line.strip()), 0)

    @property
    def text(self) -> str:
        """The block from its first non-blank line, so that line 0 of the text is `first_line`."""
        return "\n".join(self.lines[self._first:]).rstrip()

    @property
    def first_line(self) -> int:
        return self.start + self._first


@dataclass
class _Node:
    level: int  # 1 = chapter/section, 2 = question
    title: str
    line: int
    meta: dict | None = None  # None: no block, or one that failed to parse (already reported)
    meta_line: int = 0
    meta_lines: list[str] = field(default_factory=list)
    body: _Block | None = None  # chapter intro / section text
    parts: dict[str, _Block] = field(default_factory=dict)  # "key points", "answer"
    current: str | None = None

    @property
    def fields(self) -> dict:
        """The metadata after the syntax pass, which stops the build when a block did not parse."""
        return self.meta or {}


class StrictLoader(yaml.SafeLoader):
    """YAML for metadata: a key written twice is an error (the last one would silently win, and a
    second `id:` would change a note's identity), and aliases are refused (an alias bomb expands
    to gigabytes from a few lines)."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.events.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed here",
                                              event.start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str):
                raise yaml.constructor.ConstructorError(None, None, f"the key {key!r} is not text",
                                                        key_node.start_mark)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"the key {key!r} is written twice",
                                                        key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


StrictLoader.add_constructor("tag:yaml.org,2002:int", bibliography.checked_int)


def _yaml_problem(exc: yaml.YAMLError, offset: int) -> tuple[int, str]:
    mark = getattr(exc, "problem_mark", None)
    line = offset + (mark.line if mark else 0)
    return line, str(getattr(exc, "problem", None) or exc).strip()


class _Reader:
    def __init__(self, source: Path, content_root: Path | None, figure_cache: figures.FigureCache | None = None):
        self.source = source
        self.path = display_path(source)
        self.root = content_root or source.parent
        self.problems = Problems()
        self.ctx = markup.Context(self.problems, self.root, source.parent, figure_cache=figure_cache)
        self.front = _Node(0, "front matter", 1, meta={}, meta_line=1)
        self.meta_nodes: dict[str, _Node] = {}
        self.orphans: set[str] = set()
        self.bib_keys: set[str] = set()
        self.warnings_out: list[Problem] | None = None  # where a translation's original reports warnings

    def loc(self, line: int) -> Location:
        return Location(self.path, line)

    # -- skeleton -----------------------------------------------------------------------------
    def split(self, text: str) -> tuple[dict | None, list[_Node]]:
        lines = text.split("\n")
        meta: dict | None = {}
        i = 0
        if lines and lines[0].strip() == "---":
            end = next((j for j in range(1, len(lines)) if lines[j].strip() in ("---", "...")), None)
            if end is None:
                self.problems.add(self.loc(1), "front matter is never closed",
                                  "end the YAML front matter with a line '---'")
                return {}, []
            meta = self.yaml_block("\n".join(lines[1:end]), 2, "front matter")
            self.front = _Node(0, "front matter", 1, meta=meta, meta_line=1, meta_lines=lines[1:end])
            i = end + 1
        else:
            self.problems.add(self.loc(1), "missing YAML front matter",
                              "start the file with '---', the book fields, and '---'")

        nodes: list[_Node] = []
        fence: str | None = None
        stray = _Block(i + 1)
        pending_meta: _Node | None = None
        while i < len(lines):
            line, n = lines[i], i + 1
            i += 1
            if fence is None:
                heading = heading_of(line)
                fence_m = FENCE.match(line.strip())
                if pending_meta is not None and not line.strip():
                    continue  # blank lines between a heading and its metadata belong to no block
                if pending_meta is not None:
                    if fence_m and fence_m.group(2).strip().split()[:1] == ["yaml"]:
                        close = fence_m.group(1)
                        end = next((j for j in range(i, len(lines))
                                    if lines[j].strip().startswith(close)
                                    and not lines[j].strip().strip(close[0])), None)
                        if end is None:
                            self.problems.add(self.loc(n), "metadata block is never closed",
                                              f"close it with {close}")
                            return meta, nodes
                        pending_meta.meta_line = n
                        pending_meta.meta_lines = lines[i:end]
                        pending_meta.meta = self.yaml_block("\n".join(lines[i:end]), n + 1,
                                                            "metadata block")
                        i = end + 1
                        pending_meta = None
                        continue
                    node = pending_meta
                    pending_meta = None
                    self.problems.add(self.loc(node.line), f"heading {node.title!r} has no metadata block",
                                      "put a ```yaml block (id/topic/section) right under the heading")
                if heading:
                    level, title = heading
                    if len(title) > TITLE_LIMIT:
                        self.problems.add(self.loc(n), f"heading of {len(title):,} characters",
                                          f"keep a title under {TITLE_LIMIT} characters; put the rest in the text")
                        title = title[:TITLE_LIMIT]
                    if level in (1, 2):
                        node = _Node(level, title, n, meta_line=n)
                        nodes.append(node)
                        pending_meta = node
                        continue
                    owner = nodes[-1] if nodes else None
                    part = title.lower()
                    if owner is None or owner.level != 2 or part not in ("key points", "answer"):
                        self.problems.add(self.loc(n), f"unexpected heading '### {title}'",
                                          "inside a question use '### Key points' then '### Answer'; "
                                          "use '####' for sub-headings in an answer")
                        continue
                    if part in owner.parts:
                        self.problems.add(self.loc(n), f"second '### {title}' in question {owner.title!r}",
                                          "each question has one Key points and one Answer part")
                    elif part == "key points" and "answer" in owner.parts:
                        # Key points are optional, but when a question has them they come first.
                        self.problems.add(self.loc(n), "'### Key points' comes after '### Answer'",
                                          "put the Key points part first")
                    owner.parts[part] = _Block(n + 1)
                    owner.current = part
                    continue
                if fence_m:
                    fence = fence_m.group(1)
            elif line.strip().startswith(fence) and not line.strip().strip(fence[0]):
                fence = None
            target = self.target_block(nodes, stray, n)
            target.lines.append(line)
        if pending_meta is not None:
            self.problems.add(self.loc(pending_meta.line), f"heading {pending_meta.title!r} has no metadata block",
                              "put a ```yaml block right under the heading")
        if stray.text.strip():
            self.problems.add(self.loc(stray.first_line), "text before the first '#' heading",
                              "start the book with a '# Preface' section or a chapter")
        return meta, nodes

    def target_block(self, nodes: list[_Node], stray: _Block, n: int) -> _Block:
        if not nodes:
            return stray
        node = nodes[-1]
        if node.level == 1:
            if node.body is None:
                node.body = _Block(n)
            return node.body
        if node.current is None:
            node.parts.setdefault("preamble", _Block(n))
            return node.parts["preamble"]
        return node.parts[node.current]

    def yaml_block(self, text: str, first_line: int, what: str) -> dict | None:
        try:
            data = yaml.load(text, Loader=StrictLoader)
        except yaml.YAMLError as exc:
            line, problem = _yaml_problem(exc, first_line)
            self.problems.add(self.loc(line), f"malformed YAML in {what}: {problem}",
                              "fix the YAML syntax (indentation, ':' after keys, quotes)")
            return None
        if data is None:
            return {}
        if not isinstance(data, dict):
            self.problems.add(self.loc(first_line), f"{what} must be a YAML mapping of key: value",
                              "write one 'key: value' per line")
            return None
        return data

    def key_line(self, node: _Node, key: str) -> int:
        """The line where `key:` is written in a node's metadata block, else the block's fence."""
        for i, line in enumerate(node.meta_lines):
            if re.match(rf"^\s*{re.escape(key)}\s*:", line):
                return node.meta_line + 1 + i
        return node.meta_line

    # -- fields -------------------------------------------------------------------------------
    def str_field(self, node: _Node, key: str, required: bool = True) -> str:
        value = node.fields.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.problems.add(self.loc(node.meta_line), f"missing '{key}'",
                                  f"add '{key}: …' to the metadata")
            return ""
        if not isinstance(value, (str, int, float)):
            self.problems.add(self.at(node, key), f"'{key}' must be a single value", f"write '{key}: value'")
            return ""
        return str(value).strip()

    def list_field(self, node: _Node, key: str) -> tuple[str, ...]:
        value = node.fields.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
            self.problems.add(self.at(node, key), f"'{key}' must be a list", f"write '{key}: [a, b]'")
            return ()
        return tuple(str(v).strip() for v in value)

    def unknown_fields(self, node: _Node, allowed: set[str], what: str) -> None:
        for key in sorted(set(node.fields) - allowed):
            self.problems.add(self.at(node, key), f"unknown field '{key}' in {what}",
                              f"allowed fields: {', '.join(sorted(allowed))}")

    def language(self, node: _Node) -> str:
        language = self.str_field(node, "language")
        if language and not LANGUAGE.match(language):
            self.problems.add(self.at(node, "language"), f"language {language!r} is not a BCP 47 tag",
                              "write a tag such as en, en-GB or zh-CN")
            return ""
        return language

    def at(self, node: _Node, key: str) -> Location:
        return self.loc(self.key_line(node, key))

    def fragment(self, block: _Block | None) -> Fragment:
        if block is None:
            return Fragment(())
        return markup.to_fragment(block.text, block.first_line, self.path, self.ctx)

    @staticmethod
    def digest(node: _Node) -> str:
        """A hash of the unit's own text (heading and parts, not metadata): a translation records
        the digest of the text it was made from, so an edit of the original shows it is stale."""
        texts = [node.title] + [block.text for block in (node.body, *node.parts.values()) if block is not None]
        return hashlib.sha256("\n\x1f".join(t.strip() for t in texts).encode("utf-8")).hexdigest()[:12]

    def title(self, node: _Node) -> tuple[Fragment, str]:
        """A heading as rich text, and as the plain text that deck names and bookmarks show."""
        frag = markup.to_fragment(node.title, node.line, self.path, self.ctx, inline=True)
        return frag, frag.text

    # -- book ---------------------------------------------------------------------------------
    def read_text(self) -> str:
        """The source as text; an unreadable source stops here with one line."""
        try:
            data = inputs.read_bytes(self.source, inputs.SOURCE_LIMIT)
            text = data.decode("utf-8")
        except FileNotFoundError:
            self.problems.add(self.loc(1), "source file not found", "pass an existing file with --source")
            self.problems.raise_if_any()
        except inputs.InputError as exc:
            self.problems.add(self.loc(1), f"the source {exc}", "pass a Markdown file with --source")
            self.problems.raise_if_any()
        except OSError as exc:
            self.problems.add(self.loc(1), f"cannot read the source ({exc.strerror})",
                              "check the file's permissions")
            self.problems.raise_if_any()
        except UnicodeDecodeError as exc:
            bad_line = data[: exc.start].count(b"\n") + 1
            self.problems.add(self.loc(bad_line), f"the file is not valid UTF-8 (byte 0x{data[exc.start]:02X})",
                              "save it as UTF-8")
            self.problems.raise_if_any()
        # A byte-order mark is how some editors say "UTF-8"; it is not text.
        return text.removeprefix("\ufeff").replace("\r\n", "\n")

    def read(self) -> Book:
        text = self.read_text()
        for n, line in enumerate(text.split("\n"), start=1):
            if markup.RESERVED_CHARS.search(line):
                self.problems.add(self.loc(n), "private-use character U+E000–U+E003 in the text",
                                  "delete it; the build uses these characters internally")
            bad = CONTROL.search(line)
            if bad:
                self.problems.add(self.loc(n), f"invisible control character U+{ord(bad.group()):04X} in the text",
                                  "delete it (control and bidirectional-override characters can hide or "
                                  "reorder what a reader sees)")
        # A control character is reported above; it is not also a character without a glyph.
        glyphs.check_lines(self.path, [CONTROL.sub("", line) for line in text.split("\n")], self.problems)
        _, nodes = self.split(text)
        # Syntax first: a block that failed to parse would otherwise cascade into "missing" reports.
        self.problems.raise_if_any()
        front = self.front
        if "translation_of" in front.fields:
            return self.read_translation(nodes)
        # The language also names cached figure files: only a valid tag may reach a file name.
        language = str(front.fields.get("language") or "en")
        self.ctx.language = language if LANGUAGE.match(language) else "en"
        self.unknown_fields(front, BOOK_FIELDS, "the front matter")
        book_id = self.str_field(front, "book")
        if book_id and not ID.match(book_id):
            self.problems.add(self.at(front, "book"), f"book id {book_id!r} is not a slug",
                              "use lowercase letters, digits and hyphens")
        authors = front.fields.get("authors", [])
        authors = [authors] if isinstance(authors, str) else authors
        if not authors or not isinstance(authors, list) or not all(isinstance(a, str) for a in authors):
            self.problems.add(self.at(front, "authors"), "missing 'authors'", "add 'authors: [Name]'")
            authors = []
        refs = {}
        bib = self.str_field(front, "bibliography", required=False)
        if bib:
            bib_path = (self.source.parent / bib).resolve()
            if not bib_path.is_relative_to(self.root.resolve()):
                self.problems.add(self.at(front, "bibliography"),
                                  f"bibliography {bib!r} resolves outside {self.root}",
                                  "keep the bibliography inside the content directory")
            else:
                refs = bibliography.load(bib_path, self.problems, self.bib_keys,
                                         named_at=self.at(front, "bibliography"))
                if not self.bib_keys:
                    # The file could not be read at all: every citation would be reported too.
                    self.problems.raise_if_any()

        sections: list[Section] = []
        topics: list[dict] = []
        number = 0
        for node in nodes:
            if node.level == 1:
                self.read_chapter(node, sections, topics)
            else:
                number += 1
                self.read_question(node, number, topics)

        if not nodes or not any(node.level == 2 for node in nodes):
            self.problems.add(self.loc(len(text.split("\n"))), "the book has no questions",
                              "write each question as a '## Question?' heading followed by a ```yaml block "
                              "with its id (see docs/authoring.md)")
        source_url = self.str_field(front, "source_url", required=False)
        if source_url and not source_url.startswith(("https://", "http://")):
            self.problems.add(self.at(front, "source_url"), f"source_url {source_url!r} is not a web address",
                              "write the full https:// address of the original question bank")
        book = Book(
            id=book_id,
            title=self.str_field(front, "title"),
            subtitle=self.str_field(front, "subtitle", required=False),
            authors=tuple(str(a) for a in authors),
            language=self.language(front),
            version=self.str_field(front, "version"),
            edition=self.str_field(front, "edition", required=False),
            sections=tuple(sections),
            topics=tuple(Topic(questions=tuple(t.pop("questions")), **t) for t in topics),
            references=refs,
            images=dict(sorted(self.ctx.images.items())),
            path=self.path,
            source_title=self.str_field(front, "source", required=False),
            source_url=source_url,
            license=self.str_field(front, "license", required=False),
        )
        self.cross_check(book)
        self.problems.raise_if_any()
        return book

    def read_chapter(self, node: _Node, sections: list[Section], topics: list[dict]) -> None:
        title, title_text = self.title(node)
        if "section" in node.fields:
            self.unknown_fields(node, SECTION_FIELDS, "a section")
            sid = self.str_field(node, "section")
            sections.append(Section(sid, title, title_text, self.fragment(node.body), self.loc(node.line),
                                    self.digest(node)))
            return
        if "topic" not in node.fields:
            self.problems.add(self.loc(node.meta_line), f"chapter {node.title!r} has no 'topic' id",
                              "add 'topic: some-id' (or 'section: preface' for a front section)")
            return
        self.unknown_fields(node, TOPIC_FIELDS, "a chapter")
        tid = self.str_field(node, "topic")
        if tid and not ID.match(tid):
            self.problems.add(self.at(node, "topic"), f"topic id {tid!r} is not a slug",
                              "use lowercase letters, digits and hyphens")
        if any(t["id"] == tid for t in topics):
            self.problems.add(self.at(node, "topic"), f"duplicate topic id {tid!r}",
                              "give each chapter its own topic id")
        topics.append(dict(
            id=tid, number=len(topics) + 1, title=title, title_text=title_text,
            intro=self.fragment(node.body), key_papers=self.list_field(node, "key_papers"),
            questions=[], location=self.at(node, "key_papers"), digest=self.digest(node),
        ))

    def read_question(self, node: _Node, number: int, topics: list[dict]) -> None:
        if not topics:
            self.problems.add(self.loc(node.line), f"question {node.title!r} is outside any topic",
                              "put it under a '# Chapter' heading whose metadata has 'topic: id'")
            # Still a valid link target: one misplaced question should not break every link to it.
            self.orphans.add(str(node.fields.get("id", "")))
            return
        self.unknown_fields(node, QUESTION_FIELDS, "a question")
        qid = self.str_field(node, "id")
        if qid and not ID.match(qid):
            self.problems.add(self.at(node, "id"), f"question id {qid!r} is not a slug",
                              "use lowercase letters, digits and hyphens, e.g. 'attention-mechanism'")
        difficulty = self.str_field(node, "difficulty", required=False)
        if difficulty and difficulty not in DIFFICULTIES:
            self.problems.add(self.at(node, "difficulty"), f"unknown difficulty {difficulty!r}",
                              f"use one of {', '.join(DIFFICULTIES)}")
        tags = self.list_field(node, "tags")
        for tag in tags:
            if not TAG.match(tag):
                self.problems.add(self.at(node, "tags"), f"tag {tag!r} contains spaces or odd characters",
                                  "use letters, digits, '-', '_' and '::' only")
        preamble = node.parts.get("preamble")
        if preamble and preamble.text.strip() and ("key points" in node.parts or "answer" in node.parts):
            self.problems.add(self.loc(preamble.first_line), "text between the metadata and '### Key points'",
                              "move it into the Key points or the Answer")
        elif preamble and "answer" not in node.parts:
            node.parts["answer"] = preamble  # a question written without part headings is all answer
        # Emptiness is judged on the source, so that a rejected image does not also empty its part.
        for part in ("key points", "answer"):
            block = node.parts.get(part)
            if (block is None and part == "answer") or (block is not None and not block.text.strip()):
                # The part's own heading line when it has one, else the question's heading.
                where = block.start - 1 if block is not None and block is not preamble else node.line
                label = part.capitalize()
                self.problems.add(self.loc(where), f"question {qid or node.title!r} has an empty or missing "
                                  f"'### {label}'", f"write the {part} under a '### {label}' heading")
        key_points = self.fragment(node.parts.get("key points"))
        answer = self.fragment(node.parts.get("answer"))
        title, title_text = self.title(node)
        topics[-1]["questions"].append(Question(
            id=qid, number=number, title=title, title_text=title_text,
            topic_id=topics[-1]["id"], difficulty=difficulty, tags=tags,
            references=self.list_field(node, "references"),
            related=self.list_field(node, "related"),
            key_points=key_points, answer=answer, location=self.loc(node.line), digest=self.digest(node),
            index=self.index_field(node),
        ))
        self.meta_nodes[qid] = node

    def index_field(self, node: _Node) -> tuple[IndexTerm, ...]:
        """A question's `index:` list: "Term", {term: T, sub: S} or {term: T, see: U}."""
        value = node.fields.get("index", [])
        where = self.at(node, "index")
        fix = "write each entry as 'Term', '{term: Term, sub: Sub-entry}' or '{term: Term, see: Other term}'"
        if not isinstance(value, list):
            self.problems.add(where, "'index' must be a list", fix)
            return ()
        out: list[IndexTerm] = []
        for item in value:
            entry = {"term": item} if isinstance(item, (str, int, float)) else item
            if not isinstance(entry, dict) or set(entry) - INDEX_KEYS or not all(
                    isinstance(v, (str, int, float)) and str(v).strip() for v in entry.values()):
                self.problems.add(where, f"index entry {item!r} is not a term", fix)
                continue
            fields = {k: " ".join(str(v).split()) for k, v in entry.items()}
            if "term" not in fields or ("sub" in fields and "see" in fields):
                self.problems.add(where, f"index entry {item!r} needs a 'term' and at most one of 'sub', 'see'",
                                  fix)
                continue
            term = IndexTerm(fields["term"], fields.get("sub", ""), fields.get("see", ""))
            if term in out:
                self.problems.add(where, f"index entry {item!r} is listed twice", "keep one")
                continue
            out.append(term)
        return tuple(out)

    def read_translation(self, nodes: list[_Node]) -> Book:
        name = self.str_field(self.front, "translation_of")
        path = (self.source.parent / name).resolve()
        if not name or not path.is_relative_to(self.root.resolve()) or not path.is_file():
            self.problems.add(self.at(self.front, "translation_of"), f"the original {name!r} cannot be found",
                              "name the original's file, relative to this one, e.g. 'translation_of: handbook.md'")
            self.problems.raise_if_any()
        original = read_book(path, self.root, warnings=self.warnings_out, figure_cache=self.ctx.figure_cache)
        book = translation.read_translation(self, nodes, original)
        self.problems.raise_if_any()
        return book

    # -- cross references ---------------------------------------------------------------------
    def cross_check(self, book: Book) -> None:
        seen: dict[str, Question] = {}
        for q in book.questions:
            if q.id and q.id in seen:
                self.problems.add(q.location, f"duplicate question id {q.id!r} "
                                  f"(first used at line {seen[q.id].location.line})",
                                  "ids must be unique and never reused")
            seen.setdefault(q.id, q)
        if "" in seen or len(seen) != len(book.questions):
            # Links cannot be judged while ids are missing or doubled; those problems come first.
            return
        targets = set(seen) | {t.id for t in book.topics} | self.orphans
        bib_fix = "add the entry to the bibliography or fix the key"
        for topic in book.topics:
            for key in topic.key_papers:
                if key not in self.bib_keys:
                    self.problems.add(topic.location, f"unknown reference key {key!r} in key_papers", bib_fix)
            self.check_fragment(topic.intro, targets, book)
            self.check_fragment(topic.title, targets, book)
        for section in book.sections:
            self.check_fragment(section.body, targets, book)
            self.check_fragment(section.title, targets, book)
        for q in book.questions:
            for key in q.references:
                if key not in self.bib_keys:
                    self.problems.add(self.at(self.meta_nodes[q.id], "references"),
                                      f"unknown reference key {key!r} in question {q.id!r}", bib_fix)
            for rid in q.related:
                if rid not in seen and rid not in self.orphans:
                    self.problems.add(self.at(self.meta_nodes[q.id], "related"),
                                      f"question {q.id!r} is related to missing question {rid!r}",
                                      "use the id of an existing question")
                elif rid == q.id:
                    self.problems.add(self.at(self.meta_nodes[q.id], "related"),
                                      f"question {q.id!r} lists itself as related", "remove it from 'related'")
            for frag in (q.title, q.key_points, q.answer):
                self.check_fragment(frag, targets, book)
        self.check_index(book)

    def check_index(self, book: Book) -> None:
        """A 'see' reference must lead to a term that has pages; a term is a see-reference or has
        pages, not both."""
        located = {t.term for q in book.questions for t in q.index if not t.see}
        for q in book.questions:
            for t in q.index:
                where = self.at(self.meta_nodes[q.id], "index") if q.id in self.meta_nodes else q.location
                if t.see and t.see not in located:
                    self.problems.add(where, f"index entry {t.term!r} refers to {t.see!r}, which no question "
                                      "lists", f"add {t.see!r} to the index of the question that discusses it")
                if t.see and t.term in located:
                    self.problems.add(where, f"index term {t.term!r} is both a 'see' reference and an entry "
                                      "with pages", "use a sub-entry, or drop the 'see'")

    def check_fragment(self, frag: Fragment, targets: set[str], book: Book) -> None:
        for xref in frag.parts_of(XRef):
            if xref.target not in targets:
                self.problems.add(xref.location, f"link to missing question '#{xref.target}'",
                                  "link to an existing question id, e.g. [text](#question-id)")
        for cite in frag.parts_of(Cite):
            for key in cite.keys:
                if key not in self.bib_keys:
                    self.problems.add(cite.location, f"citation [@{key}] names an unknown reference",
                                      "add the entry to the bibliography or fix the key")


def read_book(source: Path, content_root: Path | None = None, *,
              warnings: list[Problem] | None = None, figure_cache: figures.FigureCache | None = None) -> Book:
    """Parse and validate `source`; raise BuildError listing every problem found (warnings
    included). Warnings of a book that builds are appended to `warnings` when given."""
    reader = _Reader(source, content_root, figure_cache)
    reader.warnings_out = warnings
    book = reader.read()
    if warnings is not None:
        warnings.extend(reader.problems.warnings)
    return book


def artifact_stem(source: Path) -> tuple[str, str]:
    """(book id, language) from the front matter alone, for naming the artifacts (`make` asks).

    Reads no more than the front matter of the source (and of the original it translates), so
    the Makefile can learn the file names of an edition without a build; everything else is
    validated by the build itself. Raises BuildError when the front matter does not say.
    """
    reader = _Reader(source, None)
    lines = reader.read_text().split("\n")
    end = next((j for j in range(1, len(lines)) if lines[j].strip() in ("---", "...")), len(lines))
    if lines[0].strip() != "---":
        end = -1
    reader.split("\n".join(lines[: end + 1]))  # the front matter and nothing after it
    reader.problems.raise_if_any()
    fields = reader.front.fields
    language = str(fields.get("language") or "en")
    original = fields.get("translation_of")
    if isinstance(original, str) and original:
        book_id, _ = artifact_stem(source.parent / original)
    else:
        book_id = reader.str_field(reader.front, "book")
    reader.problems.raise_if_any()
    return book_id, language
