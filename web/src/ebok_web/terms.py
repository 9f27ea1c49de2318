"""The regulations (terms) as pages show them: the plain text the auth service keeps, split
into its sections and numbered clauses; a changed clause as words kept, removed and added.

The text comes wrapped at odd places (a line break in the middle of a sentence, blank lines
between the halves): a clause is everything from its number to the next one, joined again.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Literal

_SECTION = re.compile(r"^\s*([IVX]+)\.\s+(.*)$")
_CLAUSE = re.compile(r"^\s*(\d+|[a-z])\.\s+(.*)$")


@dataclass
class Clause:
    label: str  # "1." or "a." ("" for a section's text before its first clause)
    text: str


@dataclass
class Section:
    number: str  # "II" ("" for the title and the text before the first section)
    heading: str
    clauses: list[Clause] = field(default_factory=list)


def _joined(words: list[str]) -> str:
    return " ".join(" ".join(words).split())


def sections(body: str) -> list[Section]:
    """The text's sections, each with its clauses; the lines before the first section are
    section "" (its heading is the document's title)."""
    found: list[Section] = [Section("", "")]
    parts: list[tuple[Section, str, list[str]]] = []  # (section, clause label, its lines)
    for line in body.splitlines():
        if not line.strip():
            continue
        if m := _SECTION.match(line):
            found.append(Section(m[1], " ".join(m[2].split())))
            continue
        current = found[-1]
        if current.number and (m := _CLAUSE.match(line)):
            parts.append((current, f"{m[1]}.", [m[2]]))
        elif parts and parts[-1][0] is current:
            parts[-1][2].append(line)
        elif not current.number and not current.heading:
            current.heading = " ".join(line.split())  # the title
        else:
            parts.append((current, "", [line]))
    for section, label, lines in parts:
        section.clauses.append(Clause(label, _joined(lines)))
    return [s for s in found if s.heading or s.clauses]


Kind = Literal["same", "removed", "added"]


@dataclass(frozen=True)
class Piece:
    kind: Kind
    text: str


def compared(previous: str | None, current: str | None) -> tuple[list[Piece], list[Piece]]:
    """Both versions of a clause, word by word: the previous one with what was removed, the
    current one with what was added (rendered as ``<del>`` and ``<ins>``)."""
    before, after = (previous or "").split(), (current or "").split()
    old: list[Piece] = []
    new: list[Piece] = []
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            old.append(Piece("same", " ".join(before[i1:i2])))
            new.append(Piece("same", " ".join(after[j1:j2])))
            continue
        if i2 > i1:
            old.append(Piece("removed", " ".join(before[i1:i2])))
        if j2 > j1:
            new.append(Piece("added", " ".join(after[j1:j2])))
    return old, new


def clause_name(clause: str) -> str:
    """A heading for a clause: "Pkt II.7", "Rozdział II" (a section's title), "Wstęp"."""
    if clause == "preambuła":
        return "Wstęp"
    if "." in clause:
        return f"Pkt {clause}"
    return f"Rozdział {clause}"
