"""The dependency rules of the architecture, checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def modules(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


FORBIDDEN_IN_DOMAIN = ("aiohttp", "rasa_sdk", "rasa", "telegram", "wechatpy", "bot.channels", "bot.web", "bot.dialogue", "actions")


@pytest.mark.parametrize("path", modules("bot/cases", "bot/db"), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_domain_and_db_import_no_transport(path: Path) -> None:
    bad = {name for name in imports_of(path) if name.split(".")[0] in FORBIDDEN_IN_DOMAIN or name.startswith(FORBIDDEN_IN_DOMAIN)}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", modules("bot", "actions"), ids=lambda p: str(p.relative_to(ROOT)))
def test_nothing_imports_rasa_itself(path: Path) -> None:
    # Rasa lives in its own Python 3.10 environment and is only spoken to over HTTP.
    assert "rasa" not in {name.split(".")[0] for name in imports_of(path)}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_names(path: Path) -> set[str]:
    """Like ``imports_of``, plus ``pkg.name`` for ``from pkg import name`` (a module, maybe)."""
    names = imports_of(path)
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _graph(depth: int) -> dict[str, set[str]]:
    """Who imports whom among ``bot``'s modules, names cut to ``depth`` parts (2: packages
    such as bot.channels; 3: modules such as bot.cases.outbox)."""
    graph: dict[str, set[str]] = {}
    known = {_module_name(p) for p in modules("bot")}
    for path in modules("bot"):
        source = ".".join(_module_name(path).split(".")[:depth])
        for name in _imported_names(path):
            if name not in known and name.rsplit(".", 1)[0] in known:
                name = name.rsplit(".", 1)[0]  # from module import function
            if name.startswith("bot."):
                target = ".".join(name.split(".")[:depth])
                if target != source:
                    graph.setdefault(source, set()).add(target)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_package_of_bot_imports_one_that_imports_it_back() -> None:
    # channels ↔ web, channels ↔ dialogue and channels ↔ notify were such pairs once
    assert _cycle(_graph(2)) is None, " → ".join(_cycle(_graph(2)) or [])


def test_no_module_of_the_case_domain_imports_one_that_imports_it_back() -> None:
    # outbox ↔ workflow was such a pair (a lazy import hid it)
    domain = {k: {v for v in vs if v.startswith("bot.cases.")} for k, vs in _graph(3).items()
              if k.startswith("bot.cases.")}
    assert _cycle(domain) is None, " → ".join(_cycle(domain) or [])


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}}) is None
