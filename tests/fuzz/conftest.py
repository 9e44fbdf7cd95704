"""The fuzz gateways, started once per database kind for the whole directory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.fuzz.harness import GENERATED, Fuzz, running_fuzz_gateways


@pytest.fixture(scope="package")
async def fuzz(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Fuzz]:
    var_dir = tmp_path_factory.mktemp("fuzz")
    async with running_fuzz_gateways(database_url, var_dir) as gateways:
        async with aiohttp.ClientSession() as http:
            checker = Fuzz(gateways, http, stats=GENERATED)
            yield checker
            checker.close()


HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # what aiohttp thinks of the odd Content-Disposition headers the strategies send, as warnings
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.filterwarnings("ignore::aiohttp.multipart.BadContentDispositionHeader"))
            item.add_marker(pytest.mark.filterwarnings("ignore::aiohttp.multipart.BadContentDispositionParam"))


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    if GENERATED.total:
        codes = ", ".join(f"{code}: {n}" for code, n in sorted(GENERATED.statuses.items()))
        terminalreporter.write_line(f"fuzz: {GENERATED.total} generated requests ({codes})")
