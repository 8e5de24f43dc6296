"""Exact theory and simulation of a solvable model of neural scaling laws at any ridge.

Companion to Zhang, "Neural Scaling Laws From Large-N Field Theory: Solvable Model Beyond the
Ridgeless Limit", arXiv:2405.19398, which solves the random-feature model of Maloney, Roberts
and Sully (arXiv:2210.16859).

The names below are loaded on first use (PEP 562 module ``__getattr__``): ``import nslmodel``
itself does not import numpy or scipy, so the command line starts at once and a Ctrl-C while
they load ends in its one-line message (:mod:`nslmodel.cli`).
"""

from importlib import import_module

__version__ = "0.1.0"

#: Public name -> the module that defines it.
_EXPORTS = {
    "LossCurve": "loss",
    "LossTerms": "loss",
    "expected_loss": "loss",
    "expected_loss_terms": "loss",
    "loss_curve": "loss",
    "OptimalRidge": "optimal",
    "optimal_ridge": "optimal",
    "ridgeless_loss": "ridgeless",
    "MemoryLimitError": "simulate",
    "SimulationResult": "simulate",
    "SweepResult": "simulate",
    "simulate_loss": "simulate",
    "simulate_sweep": "simulate",
    "ConvergenceError": "solver",
    "Solution": "solver",
    "solve": "solver",
    "PowerLaw": "spectra",
    "Spectrum": "spectra",
}
#: Every module of the package that ``import nslmodel`` makes reachable as an attribute.
_MODULES = ("analysis", "data", "finite_size", "loss", "optimal", "ridgeless", "scaling", "simulate",
            "solver", "spectra", "teacher")

#: The public names: the exports above and the modules a user works with directly.
__all__ = [*_EXPORTS, "analysis", "data", "finite_size", "scaling", "teacher"]


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    elif name in _MODULES:
        value = import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later look-ups are plain attribute reads
    return value


def __dir__():
    return sorted({*globals(), *_EXPORTS, *_MODULES})
