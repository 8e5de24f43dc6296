"""Argument checking at the public boundary, declared once per parameter.

Every public function states the constraint on each of its parameters in a :func:`validated`
decorator (the scikit-learn ``validate_params`` habit)::

    @validated(N=SIZE, T=SIZE, gamma=RIDGE, spectrum=SPECTRUM, ..., broadcast=("N", "T", "gamma"))
    def expected_loss(N, T, gamma, spectrum, *, ...): ...

and receives the checked values: float arrays, floats, ints or a spectrum object. Nothing is
coerced silently. A value of the wrong kind (bool, str, complex, None, a sequence where a
number goes, a number where a spectrum goes) raises :class:`TypeError`; a value of the right
kind outside its range (including Python ints beyond float64 or int64 and shapes that do not
broadcast) raises :class:`ValueError`. Each message is one line that names the parameter,
states the allowed range and shows the value received, so that the CLI can print it as is.

The module also holds the few helpers the theory modules share at their boundary: shaping a
flat result back to the broadcast shape, and turning a result computed as a logarithm into a
float or a clear range error (:func:`from_log`).
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Real",
    "Integer",
    "OneOf",
    "Optional",
    "SPECTRUM",
    "EXECUTOR",
    "SEED",
    "FLAG",
    "validated",
    "check_fields",
    "eigenvalues",
    "shape_out",
    "from_log",
    "SIZE",
    "RIDGE",
    "SCALE_U",
    "SCALE",
    "LABEL_DIM",
    "MODEL",
    "Array",
    "Instance",
    "TEACHER_POWER",
    "DATA_MATRIX",
]

#: Largest value of an integer parameter: the largest int64, since numpy indexes and counts
#: with int64.
INT64_MAX = int(np.iinfo(np.int64).max)
#: Natural logarithms of the largest and of the smallest normal float64: a result whose log
#: lies outside [LOG_TINY, LOG_HUGE] cannot be returned to full relative precision.
LOG_HUGE = math.log(np.finfo(float).max)
LOG_TINY = math.log(np.finfo(float).tiny)
#: Range of N and T in the theory. The solver and the loss form N T, min(N, T)^2 and
#: (N - T)^2, which stay normal float64 numbers (between 2.2e-308 and 1.8e308, with a factor
#: of 16 to spare) for sizes between these bounds. Sizes outside them are refused up front.
SIZE_MIN = 1e-150
SIZE_MAX = 1e150


# ---------------------------------------------------------------------------------------------
# Showing values in messages
# ---------------------------------------------------------------------------------------------
def _kind(value) -> str:
    """How a value of the wrong kind is described: its type, and its repr when short."""
    if isinstance(value, np.ndarray):
        return f"an array of dtype {value.dtype} and shape {value.shape}"
    text = repr(value)
    name = type(value).__name__
    return f"{name} {text}" if len(text) <= 40 else f"a {name}"


def _show_number(v) -> str:
    if isinstance(v, numbers.Integral) and not isinstance(v, bool) and abs(int(v)) >= 10**18:
        digits = len(str(abs(int(v))))
        return f"{int(v)!r}" if digits <= 40 else f"an integer of {digits} digits"
    return repr(v.item() if isinstance(v, np.generic) else v)


def _is_sequence(value) -> bool:
    return isinstance(value, (list, tuple, np.ndarray)) and np.ndim(value) != 0


# ---------------------------------------------------------------------------------------------
# Kinds: real numbers and integers, without coercion
# ---------------------------------------------------------------------------------------------
def _wrong_scalar_kind(value) -> bool:
    """True for the scalar kinds that are never numbers here: bool, str, bytes, None, complex."""
    return (
        value is None
        or isinstance(value, (bool, np.bool_, str, bytes))
        or (isinstance(value, numbers.Complex) and not isinstance(value, numbers.Real))
    )


def _int_to_float(name: str, value: int, expected: str) -> float:
    try:
        return float(value)
    except OverflowError:
        raise ValueError(
            f"{name} must be {expected}; got {_show_number(value)}, beyond the float64 range (< 1.8e308)"
        ) from None


def _check_leaves(name: str, value, expected: str) -> None:
    for v in value:
        if isinstance(v, (list, tuple)):
            _check_leaves(name, v, expected)
        elif _wrong_scalar_kind(v) or isinstance(v, np.ndarray) and v.dtype.kind not in "iuf":
            raise TypeError(f"{name} must be {expected}; got an element {_kind(v)}")


def _reals(name: str, value, expected: str) -> np.ndarray:
    """``value`` as a float64 array when it is a real number or an array of them, else TypeError."""
    if _wrong_scalar_kind(value):
        raise TypeError(f"{name} must be {expected}; got {_kind(value)}")
    if isinstance(value, numbers.Integral):
        return np.asarray(_int_to_float(name, value, expected))
    if isinstance(value, numbers.Real):
        return np.asarray(float(value))
    if isinstance(value, (list, tuple)):
        _check_leaves(name, value, expected)  # numpy would turn [True, 2] into [1, 2]
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):  # ragged nesting and other unconvertible objects
        raise TypeError(f"{name} must be {expected}; got {_kind(value)}") from None
    kind = arr.dtype.kind
    if kind in "iuf":
        return arr.astype(float)
    if kind == "O":
        flat = []
        for v in arr.ravel():
            if _wrong_scalar_kind(v) or not isinstance(v, numbers.Real):
                raise TypeError(f"{name} must be {expected}; got an element {_kind(v)}")
            flat.append(_int_to_float(name, v, expected) if isinstance(v, numbers.Integral) else float(v))
        return np.array(flat, dtype=float).reshape(arr.shape)
    raise TypeError(f"{name} must be {expected}; got {_kind(arr)}")


def _fmt_bound(x) -> str:
    if x is None:
        return "inf"
    if isinstance(x, int) or float(x) == int(x) and abs(x) < 1e6:
        return str(int(x))
    return f"{x:g}"


@dataclass(frozen=True)
class Real:
    """A real number (``scalar=True``) or a real number or array of them, within a range.

    ``low < value`` (``low <= value`` when ``closed_low``) and ``value < high`` (``<=`` when
    ``closed_high``); ``high=None`` means finite. ``hint`` is appended when the value is zero.
    """

    low: float | None = None
    high: float | None = None
    closed_low: bool = False
    closed_high: bool = False
    scalar: bool = False
    hint: str = ""
    or_zero: bool = False

    def describe(self, name: str) -> str:
        lo = "-inf <" if self.low is None else f"{_fmt_bound(self.low)} {'<=' if self.closed_low else '<'}"
        hi = "< inf" if self.high is None else f"{'<=' if self.closed_high else '<'} {_fmt_bound(self.high)}"
        if self.or_zero:
            return f"non-negative and finite: 0 or {lo} {name} {hi}"
        if self.low is not None and (self.low > 0 or self.low == 0 and not self.closed_low):
            word = "positive and finite"
        elif self.low == 0:
            word = "non-negative and finite"
        else:
            word = "finite"
        return f"{word} ({lo} {name} {hi})"

    def _plain_ok(self, v: float) -> bool:
        """Whether a Python float passes: the comparisons of :meth:`__call__`, without numpy."""
        if self.or_zero and v == 0:
            return True
        if not math.isfinite(v):
            return False
        if self.low is not None and not (v >= self.low if self.closed_low else v > self.low):
            return False
        return self.high is None or (v <= self.high if self.closed_high else v < self.high)

    def __call__(self, name: str, value):
        # Fast path for the common plain Python float or int (exactly those types: bool is an
        # int, numpy scalars take the general path): the same IEEE comparisons in Python
        # floats and the same result as below. Anything that fails goes the general way, which
        # raises the error with its message.
        kind = type(value)
        if kind is float or kind is int:
            try:
                v = float(value)
            except OverflowError:
                v = None
            if v is not None and self._plain_ok(v):
                return v if self.scalar else np.asarray(v)
        what = "a single real number" if self.scalar else "a real number or an array of real numbers"
        arr = _reals(name, value, what)
        if self.scalar and arr.ndim != 0:
            raise TypeError(f"{name} must be a single real number; got an array of shape {arr.shape}")
        ok = np.isfinite(arr)
        if self.low is not None:
            ok &= (arr >= self.low) if self.closed_low else (arr > self.low)
        if self.high is not None:
            ok &= (arr <= self.high) if self.closed_high else (arr < self.high)
        if self.or_zero:
            ok |= arr == 0
        if not np.all(ok):
            v = (arr[~ok].flat[0] if arr.ndim else arr).item()
            shown = _show_number(value) if arr.ndim == 0 and isinstance(value, numbers.Number) else repr(v)
            hint = self.hint if v == 0 else ""
            raise ValueError(f"{name} must be {self.describe(name)}; got {shown}{hint}")
        return float(arr) if self.scalar else arr


@dataclass(frozen=True)
class Integer:
    """An integer ``low <= value <= high`` (or, with ``array=True``, an array of them).

    An integral float (``1e7``) is an integer; a fractional one is a wrong value (ValueError).
    """

    low: int = 1
    high: int = INT64_MAX
    array: bool = False

    def __call__(self, name: str, value):
        if self.array:
            return self._array(name, value)
        if type(value) is int and self.low <= value <= self.high:  # fast path, same result
            return value
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value.item()
        if _wrong_scalar_kind(value) or not isinstance(value, numbers.Real):
            if _is_sequence(value):
                raise TypeError(f"{name} must be a single integer >= {self.low}; got {_kind(value)}")
            raise TypeError(f"{name} must be an integer >= {self.low}; got {_kind(value)}")
        if isinstance(value, numbers.Integral):
            v = int(value)
        elif math.isfinite(value) and float(value).is_integer():
            v = int(value)
        else:
            raise ValueError(f"{name} must be an integer >= {self.low}; got {_show_number(value)}")
        self._check_range(name, v, _show_number(value))
        return v

    def _check_range(self, name, v, shown):
        if v < self.low:
            raise ValueError(f"{name} must be an integer >= {self.low}; got {shown}")
        if v > self.high:
            raise ValueError(
                f"{name} must be an integer >= {self.low} and <= {self.high} (the int64 limit); got {shown}"
            )

    def _array(self, name, value):
        what = f"an integer >= {self.low} or an array of such"
        arr = _reals(name, value, what)
        if arr.size == 0:
            raise ValueError(f"{name} must be {what}; got an empty array")
        with np.errstate(invalid="ignore"):
            ok = np.isfinite(arr) & (np.mod(arr, 1) == 0)
        if not np.all(ok):
            v = arr[~ok].flat[0].item()
            raise ValueError(f"{name} must be an integer >= {self.low}; got {v!r}")
        for v in (arr.min(), arr.max()):
            self._check_range(name, v, repr(v.item()))
        return arr.astype(np.int64)


@dataclass(frozen=True)
class OneOf:
    """One of a few strings."""

    options: tuple

    def __call__(self, name: str, value):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be one of {self.options}; got {_kind(value)}")
        if value not in self.options:
            raise ValueError(f"{name} must be one of {self.options}; got {value!r}")
        return value


@dataclass(frozen=True)
class Optional:
    """None, or a value meeting ``inner``."""

    inner: object

    def __call__(self, name: str, value):
        return None if value is None else self.inner(name, value)


@dataclass(frozen=True)
class Array:
    """A finite real array of one of the dimensions ``ndim``, at least ``min_rows`` long.

    ``low`` (with ``closed_low``) bounds every element from below. A scalar or a value that is
    not real numbers is a wrong kind (TypeError); a wrong shape or value is a ValueError.
    """

    ndim: tuple = (1,)
    min_rows: int = 1
    low: float | None = None
    closed_low: bool = True
    what: str = "array"

    def describe(self) -> str:
        dims = " or ".join(f"{d}-D" for d in self.ndim)
        bound = ""
        if self.low is not None:
            bound = f" with elements {'>=' if self.closed_low else '>'} {_fmt_bound(self.low)}"
        rows = f", at least {self.min_rows} rows" if self.min_rows > 1 else ", non-empty"
        return f"a finite real {dims} {self.what}{bound}{rows}"

    def __call__(self, name: str, value):
        expected = self.describe()
        if not _is_sequence(value):
            raise TypeError(f"{name} must be {expected}; got {_kind(value)}")
        arr = _reals(name, value, expected)
        if arr.ndim not in self.ndim or arr.shape[0] < self.min_rows or arr.size == 0:
            raise ValueError(f"{name} must be {expected}; got shape {arr.shape}")
        ok = np.isfinite(arr)
        if self.low is not None:
            ok &= (arr >= self.low) if self.closed_low else (arr > self.low)
        if not np.all(ok):
            i = tuple(int(j) for j in np.argwhere(~ok)[0])
            raise ValueError(f"{name} must be {expected}; got {name}[{', '.join(map(str, i))}] = {arr[i].item()!r}")
        return arr


@dataclass(frozen=True)
class Instance:
    """An object of the given class (``cls`` may be a tuple; ``label`` names it in messages)."""

    cls: object
    label: str

    def __call__(self, name: str, value):
        if not isinstance(value, self.cls):
            raise TypeError(f"{name} must be {self.label}; got {_kind(value)}")
        return value


#: A teacher power beta_I^2: non-negative finite reals, one per latent direction (the length
#: is checked against the spectrum where both are known, nslmodel.teacher.check_power).
TEACHER_POWER = Array(ndim=(1,), low=0.0, what="array of teacher powers beta_I^2")
#: A data matrix: n >= 2 rows (samples) of M >= 1 finite reals.
DATA_MATRIX = Array(ndim=(2,), min_rows=2, what="data matrix (n samples x M)")


def _flag(name: str, value):
    if value is None or isinstance(value, (bool, np.bool_)):
        return None if value is None else bool(value)
    raise TypeError(f"{name} must be True, False or None (automatic); got {_kind(value)}")


def _seed(name: str, value):
    if value is None or isinstance(value, np.random.SeedSequence):
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be a non-negative integer, a numpy.random.SeedSequence or None "
            f"(fresh entropy); got {_kind(value)}"
        )
    if value < 0:
        raise ValueError(f"{name} must be a non-negative integer (or None for fresh entropy); got {value!r}")
    return int(value)


#: The executor strings :func:`nslmodel.simulate_loss` accepts besides Executor objects.
EXECUTOR_NAMES = ("serial", "threads", "processes")


def _executor(name: str, value):
    if value is None or (not isinstance(value, str) and callable(getattr(value, "submit", None))):
        return value
    allowed = f"None, one of {EXECUTOR_NAMES} or a concurrent.futures.Executor"
    if not isinstance(value, str):
        raise TypeError(f"{name} must be {allowed}; got {_kind(value)}")
    if value not in EXECUTOR_NAMES:
        raise ValueError(f"{name} must be {allowed}; got {value!r}")
    return value


def eigenvalues(name: str, value) -> np.ndarray:
    """A non-empty 1-D array of finite eigenvalues >= 0, at least one positive."""
    lam = _reals(name, value, "a 1-D array of real eigenvalues")
    if lam.ndim != 1 or lam.size == 0:
        if lam.ndim == 0:
            raise TypeError(f"{name} must be a 1-D array of real eigenvalues; got a single number {lam.item()!r}")
        raise ValueError(f"spectrum must be a non-empty 1-D array of eigenvalues; got shape {lam.shape}")
    bad = ~(np.isfinite(lam) & (lam >= 0))
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"spectrum eigenvalues must be finite and >= 0; got eigenvalues[{i}] = {lam[i].item()!r}"
        )
    if not np.any(lam > 0):
        raise ValueError("spectrum must have at least one positive eigenvalue; got all zeros")
    return lam


def _spectrum(name: str, value):
    if type(value) in _SPECTRUM_TYPES:  # fast path: a spectrum object passes as it is
        return value
    from .spectra import PowerLaw, Spectrum, from_eigenvalues

    _SPECTRUM_TYPES.update((PowerLaw, Spectrum))
    if isinstance(value, (PowerLaw, Spectrum)):
        return value
    if type(value) is np.ndarray and value.dtype == np.float64 and value.ndim == 1 and value.size:
        # Fast path for a plain float64 array (e.g. a cached spectrum): two reductions decide
        # that every eigenvalue is finite and >= 0 and one is positive (a NaN makes the
        # minimum NaN), without the copy and masks of eigenvalues(); anything else is
        # refused there, with its message.
        lo, hi = float(value.min()), float(value.max())
        if lo >= 0.0 and 0.0 < hi < math.inf:
            return from_eigenvalues(value)
    if value is None or isinstance(value, (str, bytes, bool)) or isinstance(value, numbers.Number):
        raise TypeError(
            f"{name} must be a PowerLaw, a Spectrum or a 1-D array of eigenvalues; got {_kind(value)}"
        )
    return from_eigenvalues(eigenvalues(name, value))


# The spectrum classes, filled on first use (nslmodel.spectra imports this module).
_SPECTRUM_TYPES: set = set()
SPECTRUM = _spectrum
EXECUTOR = _executor
SEED = _seed
FLAG = _flag

#: The constraints shared by the theory functions.
SIZE = Real(SIZE_MIN, SIZE_MAX, closed_low=True, closed_high=True)
RIDGE = Real(0.0, hint="; for the ridgeless limit gamma = 0 use ridgeless_loss")
SCALE_U = Real(0.0, scalar=True)
SCALE = Real(0.0, closed_low=True, scalar=True)
LABEL_DIM = Integer(1)
#: The parameters every theory function shares (N, T, the spectrum and the scales).
MODEL = dict(
    N=SIZE, T=SIZE, spectrum=SPECTRUM, sigma_u=SCALE_U, sigma_w=SCALE, sigma_eps=SCALE, C=LABEL_DIM
)


# ---------------------------------------------------------------------------------------------
# The decorator
# ---------------------------------------------------------------------------------------------
def _check_broadcast(values: dict) -> None:
    shapes = {k: v.shape if isinstance(v, np.ndarray) else np.shape(v) for k, v in values.items()}
    first = next(iter(shapes.values()), ())
    if all(s == first for s in shapes.values()):  # equal shapes broadcast: skip numpy's check
        return
    try:
        np.broadcast_shapes(*shapes.values())
    except ValueError:
        names = ", ".join(shapes)
        got = ", ".join(f"{k} {s}" for k, s in shapes.items())
        raise ValueError(f"{names} must have shapes that broadcast together; got {got}") from None


def _fast_binder(sig: inspect.Signature):
    """A function ``(args, kwargs) -> arguments dict`` equal to ``sig.bind`` + ``apply_defaults``.

    It handles the plain case (named parameters, no ``*args``/``**kwargs``, no positional-only
    ones) in a few dict operations, and returns None for anything else (too many positional
    arguments, an unknown, repeated or missing name), which the caller then binds with
    ``sig.bind`` to raise its usual TypeError. None is also returned for signatures it does
    not cover.
    """
    params = list(sig.parameters.values())
    simple = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    if any(p.kind not in simple for p in params):
        return None
    order = [p.name for p in params]
    positional = [p.name for p in params if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
    defaults = {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}
    names = frozenset(order)
    n_pos = len(positional)

    def bind(args, kwargs):
        if len(args) > n_pos:
            return None
        given = dict(zip(positional, args))
        for k in kwargs:
            if k in given or k not in names:
                return None
        given.update(kwargs)
        arguments = {}
        for k in order:  # in signature order, as BoundArguments.arguments
            if k in given:
                arguments[k] = given[k]
            elif k in defaults:
                arguments[k] = defaults[k]
            else:
                return None
        return arguments

    return bind


def validated(*, broadcast: tuple = (), **constraints):
    """Check the named arguments of the decorated function with their constraints.

    Each constraint is a callable ``check(name, value) -> checked value``. The parameters in
    ``broadcast`` must have shapes that broadcast together (checked after conversion).
    """

    def decorate(func):
        sig = inspect.signature(func)
        unknown = set(constraints) - set(sig.parameters)
        if unknown:
            raise TypeError(f"{func.__name__} has no parameter(s) {sorted(unknown)}")
        # The binding is worked out once here, not on every call (inspect's bind costs more
        # than all the checks of a scalar call together).
        fast_bind = _fast_binder(sig)
        checks = tuple(constraints.items())

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            arguments = fast_bind(args, kwargs) if fast_bind is not None else None
            if arguments is None:
                bound = sig.bind(*args, **kwargs)
                bound.apply_defaults()
                arguments = bound.arguments
            for name, check in checks:
                arguments[name] = check(name, arguments[name])
            if broadcast:
                _check_broadcast({k: arguments[k] for k in broadcast})
            return func(**arguments) if fast_bind is not None else func(*bound.args, **bound.kwargs)

        wrapper.constraints = dict(constraints)
        return wrapper

    return decorate


def check_fields(obj, **constraints) -> None:
    """Check and store the fields of a frozen dataclass in its ``__post_init__``."""
    for name, check in constraints.items():
        object.__setattr__(obj, name, check(name, getattr(obj, name)))


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------
def shape_out(x, shape):
    """A flat result reshaped to ``shape``: a float for scalar input, else an array."""
    x = np.asarray(x).reshape(shape)
    return float(x) if x.ndim == 0 else x


def from_log(log_value, what: str, scales: str, where=None, *, divergent=False):
    """``exp(log_value)``, refusing values that float64 cannot hold to full precision.

    ``log_value`` may hold ``-inf`` for an exact zero, and ``+inf`` only where ``divergent`` (a
    bool or mask: a documented infinite answer, such as the ridgeless loss at N = T); any other value outside
    ``[LOG_TINY, LOG_HUGE]`` raises a ValueError that says how the result scales (``scales``)
    and, if ``where`` is given (a function of the flat index), at which input.
    """
    log_value = np.asarray(log_value, dtype=float)
    if np.any(np.isnan(log_value)):
        i = int(np.flatnonzero(np.isnan(log_value.ravel()))[0])
        at = f" at {where(i)}" if where else ""
        raise FloatingPointError(f"{what} is not a number{at}; please report the inputs")
    finite = np.isfinite(log_value)
    huge = (log_value > LOG_HUGE) & (finite | ~np.asarray(divergent, dtype=bool))
    for bad, word in ((huge, "overflows"), (finite & (log_value < LOG_TINY), "underflows")):
        if np.any(bad):
            i = int(np.flatnonzero(bad.ravel())[0])
            v = float(log_value.ravel()[i]) / math.log(10.0)
            at = f" at {where(i)}" if where else ""
            size = f"about 1e{v:+.0f}" if math.isfinite(v) else "beyond 1e+308"
            if 1e6 <= abs(v) < math.inf:  # an exponent of seven or more digits, in scientific notation
                size = f"about 10^({v:+.2e})"
            raise ValueError(
                f"{what} ({size}){at} {word} float64, whose normal range is 2.2e-308 "
                f"to 1.8e+308; it {scales}: rescale the inputs"
            )
    return np.exp(log_value)


# ---------------------------------------------------------------------------------------------
# A shared check as a plain function, for code that validates inside a function body
# ---------------------------------------------------------------------------------------------
def positive_scalar(name: str, value) -> float:
    """A single real number ``0 < value < inf``."""
    return SCALE_U(name, value)
