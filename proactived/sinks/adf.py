"""Atlassian Document Format from the Markdown subset our templates write (headings, bullets, tables, links, bold).

Jira Cloud's REST v3 only accepts ADF for descriptions and comments. Anything unrecognised stays a paragraph
of plain text, so a custom template never produces a document Jira rejects.
"""

from __future__ import annotations

import re
from typing import Any

Node = dict[str, Any]
_INLINE = re.compile(r"\*\*(?P<bold>(?:\\.|[^*])+)\*\*|\[(?P<text>(?:\\.|[^\]])+)\]\((?P<url>[^)\s]+)\)")
_ESCAPE = re.compile(r"\\(.)")


def to_adf(markdown: str) -> Node:
    """A ``doc`` node for ``markdown``."""
    content: list[Node] = []
    for block in re.split(r"\n\s*\n", markdown.strip()):
        lines = [line for line in block.splitlines() if line.strip()]
        content.extend(_blocks(lines))
    return {"type": "doc", "version": 1, "content": content or [{"type": "paragraph", "content": []}]}


def _blocks(lines: list[str]) -> list[Node]:
    nodes: list[Node] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("### "):
            nodes.append({"type": "heading", "attrs": {"level": 3}, "content": _inline(line[4:])})
            i += 1
            continue
        kind = "table" if line.startswith("|") else "bullet" if line.startswith("- ") else "text"
        j = i
        while j < len(lines) and _kind(lines[j]) == kind:
            j += 1
        group = lines[i:j]
        nodes.append(_table(group) if kind == "table" else _bullets(group) if kind == "bullet" else _paragraph(group))
        i = j
    return nodes


def _kind(line: str) -> str:
    if line.startswith("### "):
        return "heading"
    return "table" if line.startswith("|") else "bullet" if line.startswith("- ") else "text"


def _paragraph(lines: list[str]) -> Node:
    content: list[Node] = []
    for n, line in enumerate(lines):
        if n:
            content.append({"type": "hardBreak"})
        content.extend(_inline(line))
    return {"type": "paragraph", "content": content}


def _bullets(lines: list[str]) -> Node:
    items = [{"type": "listItem", "content": [{"type": "paragraph", "content": _inline(x[2:])}]} for x in lines]
    return {"type": "bulletList", "content": items}


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def _table(lines: list[str]) -> Node:
    rows = [_cells(line) for line in lines if not re.fullmatch(r"\|(\s*-+\s*\|)+", line.strip())]
    table_rows = []
    for n, cells in enumerate(rows):
        kind = "tableHeader" if n == 0 else "tableCell"
        table_rows.append(
            {
                "type": "tableRow",
                "content": [{"type": kind, "content": [{"type": "paragraph", "content": _inline(c)}]} for c in cells],
            }
        )
    return {"type": "table", "content": table_rows}


def _text(text: str, marks: list[Node] | None = None) -> list[Node]:
    plain = _ESCAPE.sub(r"\1", text)
    if not plain:
        return []
    node: Node = {"type": "text", "text": plain}
    if marks:
        node["marks"] = marks
    return [node]


def _inline(text: str) -> list[Node]:
    nodes: list[Node] = []
    pos = 0
    for match in _INLINE.finditer(text):
        nodes += _text(text[pos : match.start()])
        if match.group("bold") is not None:
            nodes += _text(match.group("bold"), [{"type": "strong"}])
        else:
            nodes += _text(match.group("text"), [{"type": "link", "attrs": {"href": match.group("url")}}])
        pos = match.end()
    return nodes + _text(text[pos:])
