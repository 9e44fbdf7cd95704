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
