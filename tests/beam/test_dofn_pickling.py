"""DoFns pickled as their constructor's arguments: a copy is the DoFn its arguments
make, in this process (arguments unpickled once) and in a fresh one (a worker's first
bundle), with no state of the original's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from apache_beam.internal import pickler

import beam.dofn_pickling as dofn_pickling
from beam.readings import ParseReadingFn
from beam.spine import SpineFn
from schemas.site_config import SiteConfig

_URL = "duckdb:///unused.duckdb"


def test_a_copy_is_the_dofn_its_arguments_make(site_config: SiteConfig) -> None:
    original = SpineFn(site_config.spine, energy_config=site_config, warehouse_url=_URL)
    copy = pickler.roundtrip(original)
    assert type(copy) is SpineFn and copy is not original
    assert copy._energy_config == site_config
    assert copy._interval_s == original._interval_s
    assert (copy._gap_limits_s == original._gap_limits_s).all()
    assert copy._warehouse is not None and copy._warehouse._url == _URL


def test_a_copy_holds_none_of_the_originals_bundle_state() -> None:
    original = ParseReadingFn(1_000, keyed_by_skid=True, warehouse_url=_URL)
    assert original._rows is not None
    original._rows._rows["raw_readings"] = []  # a bundle's rows, pending
    copy = pickler.roundtrip(original)
    assert copy._rows is not None and copy._rows._rows == {}
    assert (copy._max_payload_bytes, copy._keyed_by_skid) == (1_000, True)


def test_the_arguments_are_pickled_once_and_unpickled_once_per_process(
    site_config: SiteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"dumps": 0, "loads": 0}
    dumps, loads = pickler.dumps, pickler.loads

    def counted_dumps(o: object, *args: object, **kwargs: object) -> bytes:
        calls["dumps"] += 1
        return dumps(o, *args, **kwargs)

    def counted_loads(b: bytes, *args: object, **kwargs: object) -> object:
        calls["loads"] += 1
        return loads(b, *args, **kwargs)

    monkeypatch.setattr(dofn_pickling.pickler, "dumps", counted_dumps)
    monkeypatch.setattr(dofn_pickling.pickler, "loads", counted_loads)
    dofn_pickling._arguments.cache_clear()
    original = SpineFn(site_config.spine.model_copy(update={"interval_s": 7}))
    first = pickler.roundtrip(original)
    again = pickler.roundtrip(first)
    assert calls == {"dumps": 1, "loads": 1}
    assert again._interval_s == 7
    # A copy keeps the bytes it came from: pickling it again costs no walk.
    assert first._pickled_arguments == original._pickled_arguments


def test_a_fresh_process_unpickles_it(site_config: SiteConfig, tmp_path: Path) -> None:
    """What a worker does with a DoFn shipped to it: nothing cached, the full path."""
    pickled = tmp_path / "spine_fn.pickle"
    pickled.write_bytes(
        pickler.dumps(SpineFn(site_config.spine, energy_config=site_config, warehouse_url=_URL))
    )
    script = (
        "import sys; from apache_beam.internal import pickler; "
        "fn = pickler.loads(open(sys.argv[1], 'rb').read()); "
        "print(type(fn).__name__, fn._interval_s, fn._warehouse._url, "
        "fn._energy_config.site_id)"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(pickled)],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    ).stdout.split()
    assert out == [
        "SpineFn",
        str(site_config.spine.interval_s),
        _URL,
        site_config.site_id,
    ]
