#!/usr/bin/env python3
"""Start a translation: write content/handbook.<lang>.md from the English source.

The skeleton keeps every heading, part marker, formula, figure block and link, with the English
text in place for the translator to replace. Each heading's metadata block is cut down to the
unit's id and `source:`, the digest of the English text it is translated from, so that the build
can tell when the English has changed since (see docs/translating.md).

    .venv/bin/python scripts/translation_skeleton.py zh-CN [--source content/handbook.md]
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from studybook.reader import read_book

ID_KEY = re.compile(r"^(id|topic|section):.*$", re.M)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("language", help="BCP 47 tag of the translation, e.g. zh-CN")
    parser.add_argument("--source", type=Path, default=Path("content/handbook.md"))
    args = parser.parse_args()
    book = read_book(args.source)
    digests = [s.digest for s in book.sections]
    for topic in book.topics:
        digests.append(topic.digest)
        digests += [q.digest for q in topic.questions]
    text = args.source.read_text(encoding="utf-8")
    _, body = text.split("\n---\n", 1)
    units = iter(digests)

    def meta(m: re.Match) -> str:
        found = ID_KEY.search(m.group(2))
        key = found.group(0) if found else ""
        return f"{m.group(1)}```yaml\n{key}\nsource: {next(units)}\n```"

    body = re.sub(r"(^#{1,2} [^\n]*\n\n)```yaml\n(.*?)\n```", meta, body, flags=re.M | re.S)
    front = (f"---\ntranslation_of: {args.source.name}\nlanguage: {args.language}\ntitle: {book.title}\n"
             f"subtitle: {book.subtitle}\nedition: {book.edition}\n---")
    out = args.source.with_name(f"{args.source.stem}.{args.language}.md")
    out.write_text(front + "\n" + body, encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
