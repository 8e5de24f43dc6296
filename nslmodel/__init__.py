"""Exact theory and simulation of a solvable model of neural scaling laws at any ridge.

Companion to Zhang, "Neural Scaling Laws From Large-N Field Theory: Solvable Model Beyond the
Ridgeless Limit", arXiv:2405.19398, which solves the random-feature model of Maloney, Roberts
and Sully (arXiv:2210.16859).
"""

from . import analysis, data, finite_size, scaling, teacher
from .loss import LossCurve, LossTerms, expected_loss, expected_loss_terms, loss_curve
from .optimal import OptimalRidge, optimal_ridge
from .ridgeless import ridgeless_loss
from .simulate import MemoryLimitError, SimulationResult, SweepResult, simulate_loss, simulate_sweep
from .solver import ConvergenceError, Solution, solve
from .spectra import PowerLaw, Spectrum

__version__ = "0.1.0"

__all__ = [
    "PowerLaw",
    "Spectrum",
    "expected_loss",
    "expected_loss_terms",
    "LossTerms",
    "loss_curve",
    "LossCurve",
    "ridgeless_loss",
    "optimal_ridge",
    "OptimalRidge",
    "solve",
    "Solution",
    "ConvergenceError",
    "simulate_loss",
    "simulate_sweep",
    "SimulationResult",
    "SweepResult",
    "MemoryLimitError",
    "scaling",
    "teacher",
    "data",
    "finite_size",
    "analysis",
]

