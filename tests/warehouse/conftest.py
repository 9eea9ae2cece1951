from __future__ import annotations

from pathlib import Path

import pytest

from warehouse import DuckDBWarehouse


@pytest.fixture
def duck(tmp_path: Path) -> DuckDBWarehouse:
    """A fresh embedded warehouse with every table and view."""
    return DuckDBWarehouse(tmp_path / "twin.duckdb")
