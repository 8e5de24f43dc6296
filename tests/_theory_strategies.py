"""Hypothesis strategies and small helpers shared by the per-module property tests."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

import nslmodel


#: Hypothesis budget per property: enough to hit the corners of the ranges (the strategies put
#: weight on them) while keeping this file well under a minute.
FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def log_uniform(lo, hi):
    """Floats spread evenly in log10 between lo and hi (endpoints included)."""
    return st.floats(math.log10(lo), math.log10(hi)).map(lambda x: float(10.0**x))


#: Latent dimensions for the property tests. 37 is deliberately not round.
small_M = st.sampled_from([10, 37, 300, 2000])
alphas = st.floats(0.1, 3.0)
gammas = log_uniform(1e-30, 1e30)
sizes = log_uniform(0.5, 2e4)
sigmas = st.sampled_from([1.0, 0.3, 2.5])
label_dims = st.sampled_from([1, 3])


@st.composite
def sizes_NT(draw, allow_equal=True):
    """(N, T) pairs; a quarter of them with N = T exactly."""
    N = draw(sizes)
    if allow_equal and draw(st.integers(0, 3)) == 0:
        return N, N
    return N, draw(sizes)


def power_law(M, alpha, lam_plus=1.0):
    return nslmodel.PowerLaw(M, alpha, lam_plus=lam_plus)


def eigenvalues(M, alpha, lam_plus=1.0):
    return lam_plus * np.arange(1, M + 1, dtype=float) ** (-(1.0 + alpha))
