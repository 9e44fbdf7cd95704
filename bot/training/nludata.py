"""Reading Rasa NLU YAML (training data and the held-out set) without importing Rasa."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

# [text](entity) or [text]{"entity": "x", …}
_ANNOTATION = re.compile(r"\[(?P<text>[^\]]+)\](?:\((?P<simple>[^)]+)\)|\{(?P<json>[^}]+)\})")
_JSON_ENTITY = re.compile(r'"entity"\s*:\s*"([^"]+)"')


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    entity: str
    text: str


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    entities: tuple[Span, ...]


def parse_example(marked: str, intent: str) -> Example:
    """``老板欠我[八千多块](amount)`` → plain text with entity spans."""
    text, spans, last = [], [], 0
    length = 0
    for match in _ANNOTATION.finditer(marked):
        before = marked[last:match.start()]
        text.append(before)
        length += len(before)
        value = match.group("text")
        entity = match.group("simple") or (_JSON_ENTITY.search(match.group("json") or "") or [None, ""])[1]
        entity = entity.split(":")[0].strip()  # [x](entity:synonym) is the old synonym syntax
        spans.append(Span(length, length + len(value), entity, value))
        text.append(value)
        length += len(value)
        last = match.end()
    text.append(marked[last:])
    return Example("".join(text).strip(), intent, tuple(spans))


def read_examples(*paths: Path) -> list[Example]:
    """Every intent example in the YAML files under ``paths`` (files or folders)."""
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.rglob("*.yml")) if path.is_dir() else [path])
    examples: list[Example] = []
    for file in files:
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        for block in data.get("nlu") or []:
            if "intent" not in block:
                continue
            for line in str(block.get("examples", "")).splitlines():
                line = line.strip()
                if line.startswith("- "):
                    examples.append(parse_example(line[2:].strip(), block["intent"]))
    return examples
