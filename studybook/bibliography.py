"""Read the bibliography: a CSL-YAML list, the format Zotero and pandoc exchange.

Only the fields the outputs print are kept; each entry remembers its line for messages.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from . import inputs
from .diagnostics import Location, Problems, display_path
from .model import Reference

KEY = re.compile(r"^[a-z0-9][a-z0-9_:.-]*$")
TYPES = {
    "article-journal", "paper-conference", "report", "book", "chapter", "webpage", "article",
    "thesis", "software", "dataset",
}


# libyaml's parser when available: the bibliography is the largest YAML file a book has.
_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LineLoader(_Base):  # type: ignore[valid-type,misc]
    """SafeLoader that records the 1-based line of every mapping under '__line__', refuses
    aliases and reports numbers too large to convert at their line."""

    def construct_object(self, node, deep=False):
        # libyaml composes an alias as the very node it names: meeting a node twice is an alias.
        # Refused because nine nested aliases expand to gigabytes once anything prints them.
        if node in self.constructed_objects or node in self.recursive_objects:
            raise yaml.constructor.ConstructorError(None, None, "aliases (*name) are not allowed here",
                                                    node.start_mark)
        return super().construct_object(node, deep=deep)

    def construct_mapping(self, node, deep=False):
        mapping = super().construct_mapping(node, deep=deep)
        mapping["__line__"] = node.start_mark.line + 1
        return mapping

    def construct_yaml_int(self, node):
        return checked_int(self, node)


_URL_UNSAFE = re.compile(r'[\s"<>\\^`{|}]')


def checked_int(loader: Any, node: yaml.ScalarNode) -> int:
    """An integer, or a YAML error at its line when it has too many digits for Python to convert."""
    try:
        return yaml.constructor.SafeConstructor.construct_yaml_int(loader, node)
    except ValueError:
        raise yaml.constructor.ConstructorError(
            None, None, f"the number {node.value[:20]}… is too large ({len(node.value)} digits)",
            node.start_mark) from None


_LineLoader.add_constructor("tag:yaml.org,2002:int", _LineLoader.construct_yaml_int)


def _name(person: object) -> tuple[str, str] | None:
    if not isinstance(person, dict) or not all(isinstance(person.get(k) or "", str)
                                               for k in ("literal", "family", "given")):
        return None
    if person.get("literal"):
        literal = str(person["literal"]).strip()
        return literal, literal
    family = str(person.get("family") or "").strip()
    given = str(person.get("given") or "").strip()
    if not family:
        return None
    return (f"{given} {family}" if given else family), family


def _year(issued: object) -> int | None:
    if isinstance(issued, dict):
        parts = issued.get("date-parts")
        if isinstance(parts, list) and parts and isinstance(parts[0], list) and parts[0]:
            try:
                return int(parts[0][0])
            except (TypeError, ValueError, OverflowError):  # a list, text, .nan or .inf
                return None
    return None


def load(path: Path, problems: Problems, seen_keys: set[str] | None = None,
         named_at: Location | None = None) -> dict[str, Reference]:
    """Valid entries by key; every key written in the file, valid or not, is added to `seen_keys`
    so that one broken entry is reported once, not again at every place that cites it.
    `named_at` is where the source names the file, blamed when the file cannot be read."""
    seen_keys = set() if seen_keys is None else seen_keys
    shown = display_path(path)
    named_at = named_at or Location(shown, 1)
    fix = "check the 'bibliography' path in the front matter"
    try:
        data = inputs.read_bytes(path, inputs.BIBLIOGRAPHY_LIMIT)
    except inputs.InputError as exc:
        problems.add(named_at, f"the bibliography {path.name!r} {exc}", fix)
        return {}
    except OSError as exc:
        problems.add(named_at, f"cannot read the bibliography {path.name!r} ({exc.strerror})", fix)
        return {}
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.add(Location(shown, data[: exc.start].count(b"\n") + 1),
                     f"the bibliography is not valid UTF-8 (byte 0x{data[exc.start]:02X})", "save it as UTF-8")
        return {}
    try:
        entries = yaml.load(text, Loader=_LineLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        problems.add(Location(shown, line), f"malformed YAML: {exc.problem}",
                     "fix the YAML syntax (indentation, quotes around titles with ':')")
        return {}
    except yaml.reader.ReaderError as exc:  # libyaml's: a NUL or U+FFFE, at a character offset, not a mark
        character = exc.character if isinstance(exc.character, int) else ord(exc.character)
        problems.add(Location(shown, text[: exc.position].count("\n") + 1),
                     f"the character U+{character:04X} is not allowed in YAML", "delete it")
        return {}
    except yaml.YAMLError as exc:
        problems.add(Location(shown, 1), f"malformed YAML: {str(exc)[:200]}", "fix the YAML syntax")
        return {}
    entries = [] if entries is None else entries
    if not isinstance(entries, list):
        problems.add(Location(shown, 1), "the bibliography must be a YAML list of entries",
                     "start each entry with '- id: …'")
        return {}

    refs: dict[str, Reference] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            problems.add(Location(shown, 1), "a bibliography entry is not a mapping",
                         "write each entry as '- id: …' followed by its fields")
            continue
        loc = Location(shown, entry.get("__line__", 1))
        key = str(entry.get("id") or "")
        seen_keys.add(key)
        if not KEY.match(key):
            problems.add(loc, f"bibliography entry has a missing or invalid id {key!r}",
                         "use a lowercase key such as vaswani2017attention")
            continue
        if key in refs:
            problems.add(loc, f"duplicate bibliography id {key!r} (first at line "
                         f"{refs[key].location.line})", "give each entry a unique id")
            continue
        if any(not isinstance(entry.get(f), str | int | float | type(None))
               for f in ("title", "container-title", "publisher", "URL", "DOI", "volume", "issue", "page")):
            problems.add(loc, f"bibliography entry {key!r} has a field that is not plain text",
                         "write title, container-title, publisher, URL, DOI, volume, issue and page as text")
            continue
        title = str(entry.get("title") or "").strip()
        raw_names = entry.get("author") or []
        raw_names = raw_names if isinstance(raw_names, list) else [None]  # `author: 5` lacks an author
        # CSL's "others" (BibTeX's "and others") says the list goes on: print "et al.".
        partial = isinstance(raw_names, list) and any(
            isinstance(p, dict) and str(p.get("literal", "")).strip().lower() == "others" for p in raw_names)
        names = [_name(p) for p in raw_names
                 if not (isinstance(p, dict) and str(p.get("literal", "")).strip().lower() == "others")]
        year = _year(entry.get("issued"))
        url = str(entry.get("URL") or "").strip()
        if not url and entry.get("DOI"):
            url = f"https://doi.org/{entry['DOI']}"
        # A pasted address may hold characters a URL cannot carry literally (quotes, spaces, angle
        # brackets): percent-encode them as browsers do, so every output links a valid address.
        url = _URL_UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), url)
        kind = str(entry.get("type") or "article")
        missing = [label for label, ok in (
            ("title", bool(title)), ("author", bool(names) and all(names)),
            ("issued", year is not None), ("URL", url.startswith(("https://", "http://"))),
        ) if not ok]
        if missing:
            problems.add(loc, f"bibliography entry {key!r} lacks a valid {', '.join(missing)}",
                         "see docs/authoring.md, 'Bibliography'")
            continue
        if kind not in TYPES:
            problems.add(loc, f"bibliography entry {key!r} has unknown type {kind!r}",
                         f"use one of {', '.join(sorted(TYPES))}")
            continue
        venue = str(entry.get("container-title") or entry.get("publisher") or "").strip()
        refs[key] = Reference(
            key=key, type=kind, title=title,
            authors=tuple(n[0] for n in names if n), families=tuple(n[1] for n in names if n),
            year=year or 0, venue=venue, url=url, location=loc, partial=partial,
            volume=str(entry.get("volume") or "").strip(), issue=str(entry.get("issue") or "").strip(),
            page=str(entry.get("page") or "").strip().replace("--", "–").replace("-", "–"),
        )
    return refs
