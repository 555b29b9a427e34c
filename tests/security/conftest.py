"""One console served over real HTTP per test module, with an admin and a viewer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.web.console_helpers import Served, serve_console


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve_console(tmp_path_factory.mktemp("console")) as running:
        yield running
