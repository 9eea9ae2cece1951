"""StreamOptions: views made once per options class behave as Beam's fresh views do."""

from __future__ import annotations

import copy
import pickle

from apache_beam.options.pipeline_options import (
    GoogleCloudOptions,
    PipelineOptions,
    StandardOptions,
    TypeOptions,
)

from beam.options import StreamOptions

_ARGV = ["--config=site.yaml", "--input=week.jsonl", "--warehouse=duckdb:///w.duckdb"]


def test_a_view_is_made_once_and_reads_the_flags() -> None:
    options = StreamOptions([*_ARGV, "--runner=FnApiRunner"])
    view = options.view_as(StreamOptions)
    assert options.view_as(StreamOptions) is view
    assert (view.config, view.input, view.warehouse) == (
        "site.yaml",
        "week.jsonl",
        "duckdb:///w.duckdb",
    )
    assert options.view_as(StandardOptions).runner == "FnApiRunner"
    assert options.view_as(TypeOptions).pipeline_type_check is True


def test_values_set_through_one_view_are_seen_through_every_other() -> None:
    options = StreamOptions(_ARGV)
    options.view_as(StandardOptions).runner = "DirectRunner"
    options.view_as(StreamOptions).spine_interval_s = 30
    assert options.view_as(StandardOptions).runner == "DirectRunner"
    assert options.get_all_options()["spine_interval_s"] == 30
    # A view made from the same values by Beam's own PipelineOptions agrees.
    plain = PipelineOptions.from_dictionary(options.get_all_options(drop_default=True))
    assert plain.view_as(StreamOptions).spine_interval_s == 30


def test_a_copy_has_views_of_its_own() -> None:
    """``beam.Pipeline`` deep-copies its options: a change to the copy (the runner it
    sets) must not reach the original through a shared view."""
    options = StreamOptions(_ARGV)
    original_view = options.view_as(StandardOptions)
    copied = copy.deepcopy(options)
    copied.view_as(StandardOptions).runner = "FnApiRunner"
    assert copied.view_as(StandardOptions) is not original_view
    assert options.view_as(StandardOptions).runner is None
    assert copied.view_as(StandardOptions).runner == "FnApiRunner"


def test_pickled_options_keep_their_values_not_their_views() -> None:
    options = StreamOptions([*_ARGV, "--project=p"])
    options.view_as(GoogleCloudOptions)
    restored = pickle.loads(pickle.dumps(options))
    assert "_views" not in vars(restored)
    assert restored.view_as(GoogleCloudOptions).project == "p"
    assert restored.view_as(StreamOptions).input == "week.jsonl"
