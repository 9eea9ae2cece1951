"""Array typing shared by the vectorised physics: every function takes a float or an
array and answers in kind, so the what-if and the backfill share one code path."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["FloatArray", "scalar_or_array"]

FloatArray = npt.NDArray[np.float64]


def scalar_or_array(value: FloatArray) -> float | FloatArray:
    """A 0-d result as a Python float, anything else unchanged."""
    return float(value) if np.ndim(value) == 0 else value
