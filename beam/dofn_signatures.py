"""A ``DoFn`` base whose method signatures are inspected once per class, not per bundle.

The local streaming runner (``BundleBasedDirectRunner``) asks Beam for a DoFn's state
and timer specs three or four times for every bundle of every stage
(``apache_beam.transforms.userstate.get_dofn_specs``), and each time Beam runs
``inspect.signature`` over every method the DoFn has, its ~30 inherited ones
included: measured here, about 2 ms of the ~3 ms a bundle of a trivial DoFn costs,
empty bundles alike. Beam first looks for an ``_inspect_<method>`` attribute
(``apache_beam.transforms.core.get_function_arguments``, the hook its own
``CallableWrapperDoFn`` uses); this base answers it from a per-class cache. The
arguments and defaults it returns are exactly what Beam would compute: a class's
methods do not change while a job runs.

Even cached, walking every method costs: the spine's stateful DoFn is asked six
times a bundle, ~100 names each, most of its bundle's own cost. So ``dir()`` of
these DoFns lists only the public names their own classes define (below
``beam.DoFn``): ``get_dofn_specs`` is the only user of ``dir(dofn)`` in Beam, and
neither ``beam.DoFn``'s methods nor the job's private helpers take state or timer
parameters (only ``process``, ``start_bundle``/``finish_bundle`` and ``on_timer``
callbacks can), so it finds the same specs (``tests/beam/test_dofn_signatures.py``
checks every DoFn of the job against a walk of everything).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import apache_beam as beam
from apache_beam.transforms.core import get_function_args_defaults

__all__ = ["SignatureCachedDoFn"]

_INSPECT_PREFIX = "_inspect_"

_ARGUMENTS: dict[tuple[type, str], tuple[list[str], list[Any]]] = {}
"""``(DoFn class, method name) -> (argument names, defaults)`` as Beam inspects them."""

_OWN_NAMES: dict[type, list[str]] = {}
"""DoFn class -> the public names its classes below ``beam.DoFn`` define (see the
module docstring)."""


class SignatureCachedDoFn(beam.DoFn):  # type: ignore[misc]
    """A DoFn whose methods' signatures Beam reads from a per-class cache."""

    def __getattr__(self, name: str) -> Callable[[], tuple[list[str], list[Any]]]:
        # Only called for attributes the instance lacks: Beam's _inspect_<method> probe.
        if not name.startswith(_INSPECT_PREFIX):
            raise AttributeError(name)
        key = (type(self), name.removeprefix(_INSPECT_PREFIX))
        arguments = _ARGUMENTS.get(key)
        if arguments is None:
            arguments = get_function_args_defaults(getattr(self, key[1]))
            _ARGUMENTS[key] = arguments
        names, defaults = arguments
        return lambda: (list(names), list(defaults))

    def __dir__(self) -> list[str]:
        cls = type(self)
        names = _OWN_NAMES.get(cls)
        if names is None:
            own = cls.__mro__[: cls.__mro__.index(beam.DoFn)]
            names = sorted({name for c in own for name in vars(c) if not name.startswith("_")})
            _OWN_NAMES[cls] = names
        return list(names)
