"""The job's DoFns answer Beam's introspection from caches: the same state and timer
specs and the same method arguments Beam finds by walking the objects itself."""

from __future__ import annotations

import inspect

import pytest
from apache_beam.transforms.core import get_function_args_defaults, get_function_arguments
from apache_beam.transforms.userstate import get_dofn_specs

from beam.dofn_pickling import PickledAsArgumentsDoFn
from beam.dofn_signatures import SignatureCachedDoFn
from beam.energy import _EnergyBatchFn
from beam.pipeline import _ReadFileBatchesFn, _ReadLineBatchesFn
from beam.readings import ParseBatchFn, ParseReadingFn, _BatchMessagesFn
from beam.sinks import WriteToWarehouseFn, _AwaitCommitsFn
from beam.spine import SpineChunkFn, SpineFn, _ChunkKeysFn, _GroupBySkidFn
from schemas.site_config import SiteConfig


def _dofns(config: SiteConfig) -> list[SignatureCachedDoFn]:
    dofns = [
        SpineFn(config.spine, config, "duckdb:///unused.duckdb"),
        SpineFn(config.spine),
        ParseReadingFn(65_536, keyed_by_skid=True, warehouse_url="duckdb:///unused.duckdb"),
        ParseBatchFn(65_536),
        _BatchMessagesFn(10),
        WriteToWarehouseFn("duckdb:///unused.duckdb", "job", 1, 10),
        _AwaitCommitsFn("duckdb:///unused.duckdb", "job"),
        _GroupBySkidFn(),
        _ChunkKeysFn(1_440, 60, 3_600.0),
        SpineChunkFn(config.spine, 1_440),
        _EnergyBatchFn(config),
        _ReadFileBatchesFn(None, None),
        _ReadLineBatchesFn(10),
    ]
    classes = {type(d) for d in dofns}
    every = set()
    todo = [SignatureCachedDoFn]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub is not PickledAsArgumentsDoFn:  # a base, not a DoFn of the job
                every.add(sub)
            todo.append(sub)
    assert every <= classes, f"not covered here: {sorted(c.__name__ for c in every - classes)}"
    return dofns


def test_specs_are_those_beam_finds_walking_every_attribute(
    site_config: SiteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    dofns = _dofns(site_config)
    cached = [get_dofn_specs(d) for d in dofns]
    monkeypatch.setattr(SignatureCachedDoFn, "__dir__", lambda self: object.__dir__(self))
    assert cached == [get_dofn_specs(d) for d in dofns]
    states, timers = cached[0]
    assert {s.name for s in states} == {"readings", "progress", "revisions"}
    assert {t.name for t in timers} == {"ts-emit", "ts-refire"}


def test_method_arguments_are_those_beam_would_inspect(site_config: SiteConfig) -> None:
    for dofn in _dofns(site_config):
        for name, _ in inspect.getmembers(type(dofn), inspect.isfunction):
            if name.startswith("__"):
                continue
            method = getattr(dofn, name)
            assert get_function_arguments(dofn, name) == get_function_args_defaults(method), (
                type(dofn).__name__,
                name,
            )
