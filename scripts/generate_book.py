#!/usr/bin/env python3
"""Make a synthetic question bank of N questions from the handbook, for benchmarks.

The handbook's 50 questions are copied as often as needed (in order, the last copy cut short):
copy k > 0 gets ids, topic ids and figure ids suffixed `-c<k>`, its cross-links point at its own
copy, its titles say which set they belong to, and every formula gets `+ k` appended, so each copy
brings its own formulas (nothing is shared between copies that would not be shared in a real
book). The mix of prose, math, code, tables, figures, citations and cross-links is the handbook's.
Images and the bibliography are copied beside the generated file.

Usage: .venv/bin/python scripts/generate_book.py 500 --out /tmp/bench/q500   (writes handbook.md)
"""

from __future__ import annotations

import argparse
import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HANDBOOK = ROOT / "content" / "handbook.md"

_LINK = re.compile(r"\]\(#([a-z0-9-]+)\)")
_INLINE = re.compile(r"\\\((.+?)\\\)")
_ID = re.compile(r"^(id|topic):\s*(\S+)\s*$")
_RELATED = re.compile(r"^related:\s*\[(.*)\]\s*$")


def split(text: str) -> tuple[str, str, list[list[str]]]:
    """Front matter, the front sections before the first topic, and each topic's lines."""
    lines = text.splitlines(keepends=True)
    end = lines.index("---\n", 1) + 1
    front, body = "".join(lines[:end]), lines[end:]
    starts = [i for i, line in enumerate(body)
              if line.startswith("# ") and any(b.startswith("topic:") for b in body[i + 1:i + 5])]
    topics = [body[a:b] for a, b in zip(starts, [*starts[1:], len(body)], strict=True)]
    return front, "".join(body[:starts[0]]), topics


def ids_in(topics: list[list[str]]) -> list[tuple[str, int]]:
    """Every question, topic and figure id, with how many questions come before its own ends."""
    ids: list[tuple[str, int]] = []
    questions = 0
    for topic in topics:
        for line in topic:
            if line.startswith("## "):
                questions += 1
            m = _ID.match(line)
            if m:
                ids.append((m.group(2), questions + 1 if m.group(1) == "topic" else questions))
    return ids


def copy_topic(lines: list[str], k: int, ids: set[str], questions_left: int) -> tuple[str, int]:
    """Topic `lines` as copy `k`, with at most `questions_left` questions; returns (text, count)."""
    out: list[str] = []
    fence = ""
    count = 0
    in_display = False

    def sfx(name: str) -> str:
        return f"{name}-c{k}" if k and name in ids else name

    for line in lines:
        if line.startswith("## ") and not fence:
            if count == questions_left:
                break
            count += 1
            out.append(line.rstrip("\n") + (f" (set {k + 1})" if k else "") + "\n")
            continue
        if line.startswith("# ") and not fence:
            out.append(line.rstrip("\n") + (f" (part {k + 1})" if k else "") + "\n")
            continue
        if line.startswith("```"):
            fence = "" if fence else line.strip()[3:] or "code"
            out.append(line)
            continue
        if fence in ("yaml", "figure"):
            m = _ID.match(line) or (re.match(r"^(id):\s*(\S+)\s*$", line) if fence == "figure" else None)
            if m:
                line = f"{m.group(1)}: {m.group(2)}-c{k}\n" if k else line
            r = _RELATED.match(line)
            if r:
                line = "related: [" + ", ".join(sfx(x.strip()) for x in r.group(1).split(",")) + "]\n"
            out.append(line)
            continue
        if fence:
            out.append(line)
            continue
        if line.strip() in ("$$", "\\["):
            if in_display and k:
                out.append(f"+ {k}\n")
            in_display = not in_display if line.strip() == "$$" else True
            out.append(line)
            continue
        if line.strip() == "\\]":
            if k:
                out.append(f"+ {k}\n")
            in_display = False
            out.append(line)
            continue
        if not in_display:
            line = _LINK.sub(lambda m: f"](#{sfx(m.group(1))})", line)
            if k:
                line = _INLINE.sub(lambda m: f"\\({m.group(1)} + {k}\\)", line)
        out.append(line)
    return "".join(out), count


def generate(n: int, out: Path) -> Path:
    front, preface, topics = split(HANDBOOK.read_text(encoding="utf-8"))
    all_ids = ids_in(topics)
    parts = [front.replace("title: The LLM Interview Handbook",
                           f"title: The LLM Interview Handbook ({n} questions, synthetic)"), preface]
    made, k = 0, 0
    while made < n:
        # A copy cut short links to the first copy for what it lacks.
        ids = {name for name, needs in all_ids if needs <= n - made}
        for topic in topics:
            if made == n:
                break
            text, count = copy_topic(topic, k, ids, n - made)
            parts.append(text)
            made += count
        k += 1
    out.mkdir(parents=True, exist_ok=True)
    target = out / "handbook.md"
    target.write_text("".join(parts), encoding="utf-8")
    for extra in ("references.yaml", "images"):
        src = HANDBOOK.parent / extra
        if src.is_dir():
            shutil.copytree(src, out / extra, dirs_exist_ok=True)
        elif src.exists():
            shutil.copy2(src, out / extra)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("questions", type=int)
    parser.add_argument("--out", type=Path, required=True, help="directory for handbook.md and its files")
    args = parser.parse_args()
    if args.questions < 50:
        parser.error("at least 50 questions (the handbook once)")
    print(generate(args.questions, args.out))


if __name__ == "__main__":
    main()
