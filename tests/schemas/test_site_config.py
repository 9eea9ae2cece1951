"""A bad site config fails at load with the file, the field path and the reason."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from schemas.site_config import ConfigError, load_site_config
from tests.conftest import REFERENCE_CONFIG


def _write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


def _reference() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(REFERENCE_CONFIG.read_text())
    return data


def test_reference_config_loads_with_jet_fuel_forbidden() -> None:
    config = load_site_config(REFERENCE_CONFIG)
    assert config.product("JET").max_dra_ppm == 0.0
    assert "JET" not in config.dra.curves
    assert len(config.skid("ATL-01").pumps) == 4


def _problems(tmp_path: Path, data: Any) -> ConfigError:
    with pytest.raises(ConfigError) as err:
        load_site_config(_write(tmp_path, data))
    return err.value


def test_negative_length_names_its_field_path(tmp_path: Path) -> None:
    data = _reference()
    data["skids"][0]["segment"]["length_mi"] = -5
    err = _problems(tmp_path, data)
    assert str(tmp_path / "site.yaml") in str(err)
    assert ("skids[0].segment.length_mi", "Input should be greater than 0") in err.problems


def test_dra_allowed_product_without_curve_is_rejected(tmp_path: Path) -> None:
    data = _reference()
    del data["dra"]["curves"]["ULSD"]
    assert "no curve for DRA-allowed product(s) ['ULSD']" in str(_problems(tmp_path, data))


def test_unknown_tag_target_and_typo_fields_are_rejected(tmp_path: Path) -> None:
    data = _reference()
    data["skids"][0]["tag_map"]["X.Y"] = "line_flow_gpm"
    data["skids"][0]["segment"]["maop_psi"] = 900
    err = _problems(tmp_path, data)
    fields = [f for f, _ in err.problems]
    assert "skids[0].tag_map" in fields
    assert "skids[0].segment.maop_psi" in fields


def test_tariff_must_price_every_hour(tmp_path: Path) -> None:
    data = _reference()
    data["tariff"]["periods"] = [p for p in data["tariff"]["periods"] if p["start_hour"] != 14]
    assert "weekday hours [14, 15, 16, 17, 18] have no price" in str(_problems(tmp_path, data))


@pytest.mark.parametrize(
    ("text", "field"),
    [("skids: [", "(yaml)"), ("- a list", "(root)")],
)
def test_unparseable_files_fail_cleanly(tmp_path: Path, text: str, field: str) -> None:
    assert field in [f for f, _ in _problems(tmp_path, text).problems]


def test_missing_file_fails_cleanly(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="No such file"):
        load_site_config(tmp_path / "absent.yaml")


def test_tariff_reads_local_time_and_day_type() -> None:
    config = load_site_config(REFERENCE_CONFIG)
    # Wednesday 2026-07-01 16:00 EDT = 20:00 UTC: on-peak.
    assert config.tariff.price_usd_per_kwh(datetime(2026, 7, 1, 20, tzinfo=UTC)) == 0.186
    # Saturday 2026-07-04 16:00 EDT: weekend, off-peak.
    assert config.tariff.price_usd_per_kwh(datetime(2026, 7, 4, 20, tzinfo=UTC)) == 0.052
