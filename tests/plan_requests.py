"""Small plan requests written as nominations files, shared by the CLI and pipeline tests."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import yaml


def write_rbob_then_jet(
    path: Path, *, rbob_bbl: float, rbob_due: datetime, jet_bbl: float, jet_due: datetime
) -> Path:
    """An RBOB batch then a jet batch (no DRA allowed), each with a deadline; 5,000 gal in
    the tank and two pumps running. Returns ``path``."""
    path.write_text(
        yaml.safe_dump(
            {
                "skid_id": "ATL-01",
                "initial_tank_gal": 5000.0,
                "initial_pumps_running": 2,
                "batches": [
                    {
                        "batch_id": "R1",
                        "product_code": "RBOB",
                        "volume_bbl": rbob_bbl,
                        "deadline": rbob_due.isoformat(),
                    },
                    {
                        "batch_id": "J1",
                        "product_code": "JET",
                        "volume_bbl": jet_bbl,
                        "deadline": jet_due.isoformat(),
                    },
                ],
            }
        )
    )
    return path
