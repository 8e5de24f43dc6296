"""Input validation at the public boundary.

Every check raises :class:`ValueError` with a message that names the parameter, shows the
offending value and states the allowed range, so that the CLI can print it as one line.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "positive",
    "positive_scalar",
    "nonnegative",
    "ridge",
    "label_dim",
    "positive_int",
]


def _show(value) -> str:
    arr = np.asarray(value)
    if arr.ndim == 0:
        return repr(arr.item())
    return f"array of shape {arr.shape}"


def _as_float_array(name: str, value) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number or an array of real numbers; got {value!r}") from None
    return arr


def _first_bad(arr: np.ndarray, bad: np.ndarray):
    return (arr[bad].flat[0] if arr.ndim else arr).item()


def _positive(name: str, value, zero_hint: str = "") -> np.ndarray:
    arr = _as_float_array(name, value)
    bad = ~(np.isfinite(arr) & (arr > 0))
    if np.any(bad):
        v = _first_bad(arr, bad)
        hint = zero_hint if v == 0 else ""
        raise ValueError(f"{name} must be positive and finite (0 < {name} < inf); got {v!r}{hint}")
    return arr


def positive(name: str, value) -> np.ndarray:
    """Return ``value`` as a float array after checking ``0 < value < inf`` elementwise."""
    return _positive(name, value)


def positive_scalar(name: str, value) -> float:
    """Return a scalar ``value`` as float after checking ``0 < value < inf``."""
    arr = positive(name, value)
    if arr.ndim != 0:
        raise ValueError(f"{name} must be a single number; got {_show(value)}")
    return float(arr)


def nonnegative(name: str, value) -> float:
    """Return a scalar ``value`` as float after checking ``0 <= value < inf``."""
    arr = _as_float_array(name, value)
    if arr.ndim != 0:
        raise ValueError(f"{name} must be a single number; got {_show(value)}")
    v = float(arr)
    if not (np.isfinite(v) and v >= 0):
        raise ValueError(f"{name} must be non-negative and finite (0 <= {name} < inf); got {v!r}")
    return v


def ridge(gamma) -> np.ndarray:
    """Check the ridge parameter: ``0 < gamma < inf``; point to ``ridgeless_loss`` for 0."""
    return _positive("gamma", gamma, "; for the ridgeless limit gamma = 0 use ridgeless_loss")


def positive_int(name: str, value) -> int:
    """Return ``value`` as int after checking it is an integer ``>= 1``."""
    ok = (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and np.isfinite(value)
        and float(value) == int(value)
        and int(value) >= 1
    )
    if not ok:
        raise ValueError(f"{name} must be an integer >= 1; got {value!r}")
    return int(value)


def label_dim(C) -> int:
    """The label dimension C: an integer ``>= 1``."""
    return positive_int("C", C)
