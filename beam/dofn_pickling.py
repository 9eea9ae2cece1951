"""A ``DoFn`` that pickles as its constructor's arguments, pickled once.

The local streaming runner pickles and unpickles every DoFn for every bundle of every
stage (``pickler.roundtrip`` in ``_ParDoEvaluator.start_bundle``: a check that the
DoFn would survive being shipped to a worker). The spine's DoFn holds the site
config (pydantic models), numpy arrays and metric counters; cloudpickle walked all of
them each time, and rebuilding the models ran pydantic's ``__setstate__`` a score of
times: measured here, ~0.5 ms of a ~1.6 ms bundle, on the one thread that also pulls
from Pub/Sub.

Here a DoFn pickles as its class and its constructor's arguments, the arguments
pickled once per instance (Beam's pickler, so closures still work), and unpickles by
calling the constructor again: a few microseconds when the process has unpickled the
same arguments before (kept per process, by their bytes), the full unpickling
otherwise (a Dataflow worker's first bundle). Whatever the constructor derives
(counters, arrays, buffers) is derived again, so a copy holds no state of the
original's but what its arguments say: what a DoFn shipped to a worker holds anyway.
The arguments must not change after construction (frozen configs, URLs, numbers).
"""

from __future__ import annotations

import functools
from typing import Any, Self

from apache_beam.internal import pickler

from beam.dofn_signatures import SignatureCachedDoFn

__all__ = ["PickledAsArgumentsDoFn"]


class PickledAsArgumentsDoFn(SignatureCachedDoFn):
    """A DoFn that pickles as ``(class, its constructor's arguments)`` (module docstring)."""

    _pickled_arguments: bytes | None = None

    def __new__(cls, *args: Any, **kwargs: Any) -> Self:
        instance = super().__new__(cls)
        instance._arguments = (args, kwargs)
        return instance

    def __reduce__(self) -> tuple[Any, tuple[type, bytes]]:
        if self._pickled_arguments is None:
            self._pickled_arguments = pickler.dumps(self._arguments)
        return _rebuilt, (type(self), self._pickled_arguments)


def _rebuilt(cls: type[PickledAsArgumentsDoFn], pickled: bytes) -> PickledAsArgumentsDoFn:
    args, kwargs = _arguments(pickled)
    instance = cls(*args, **kwargs)
    instance._pickled_arguments = pickled
    return instance


@functools.lru_cache(maxsize=256)  # a job has a handful of argument sets; tests more
def _arguments(pickled: bytes) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The arguments ``pickled`` holds, unpickled once per process."""
    arguments: tuple[tuple[Any, ...], dict[str, Any]] = pickler.loads(pickled)
    return arguments
