"""Every theory result is a function of its inputs alone, to the last bit.

The same point gives identical bits as a scalar call, as one element of an array call (in any
order), after unrelated queries on the same spectrum object, on a fresh object, and with one
or two BLAS threads. ``bits`` compares the IEEE-754 representations, so the tests below use
``==`` on integers: no tolerance.
"""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import nslmodel

N = np.array([10.0, 30.0, 100.0, 100.0, 300.0, 2e3, 1e6])
T = np.array([1e7, 3e3, 100.0, 101.0, 30.0, 2e3, 10.0])
GAMMA = np.array([1e-3, 1e-28, 1e-30, 1e-8, 3.0, 1e30, 1e-5])
EIGENVALUES = np.random.default_rng(7).lognormal(-2.0, 2.0, 1500)


def bits(x):
    return np.ascontiguousarray(np.asarray(x, dtype=float)).view(np.uint64)


def spectra():
    """Fresh spectrum objects: a small exact power law, a large one with a quadrature tail, an array."""
    return [nslmodel.PowerLaw(2000, 0.7), nslmodel.PowerLaw(10**9, 1.3),
            nslmodel.Spectrum(EIGENVALUES)]


def disturb(spec):
    """Unrelated queries that build other parts of the spectrum's table first."""
    nslmodel.expected_loss([2.0, 5e4], 7.0, [1e-20, 1e5], spec)
    nslmodel.optimal_ridge([3.0, 9e4], 11.0, spec, sigma_eps=0.3)
    nslmodel.ridgeless_loss(13.0, 5.0, spec)
    nslmodel.loss_curve(20.0, 40.0, np.geomspace(1e2, 1e5, 7), spec)


QUERIES = {
    "expected_loss": lambda n, t, g, s: nslmodel.expected_loss(n, t, g, s, sigma_eps=0.2),
    "solve": lambda n, t, g, s: np.stack([np.asarray(v, dtype=float) for v in vars(nslmodel.solve(n, t, g, s)).values()]),
    "optimal_ridge": lambda n, t, g, s: np.stack([np.asarray(v, dtype=float) for v in vars(nslmodel.optimal_ridge(n, t, s, sigma_eps=0.1)).values()]),
    "ridgeless_loss": lambda n, t, g, s: nslmodel.ridgeless_loss(n, t, s),
}


@pytest.mark.parametrize("query", list(QUERIES), ids=list(QUERIES))
def test_results_do_not_depend_on_call_history_shape_or_threads(query):
    f = QUERIES[query]
    fresh = [f(N, T, GAMMA, s) for s in spectra()]
    order = np.arange(N.size)[::-1]
    for k, spec in enumerate(spectra()):
        disturb(spec)
        reversed_call = f(N[order], T[order], GAMMA[order], spec)
        scalar = np.stack([f(N[i], T[i], GAMMA[i], spec) for i in range(N.size)], axis=-1)
        with threadpool_limits(limits=1):
            one_thread = f(N, T, GAMMA, type(spec)(**vars_of(spec)))
        want = bits(fresh[k])
        assert np.array_equal(bits(scalar), want), f"scalar calls differ ({query}, spectrum {k})"
        assert np.array_equal(bits(reversed_call)[..., np.argsort(order)], want), \
            f"array order matters ({query}, spectrum {k})"
        assert np.array_equal(bits(one_thread), want), f"thread count matters ({query}, spectrum {k})"


def vars_of(spec):
    if isinstance(spec, nslmodel.PowerLaw):
        return dict(M=spec.M, alpha=spec.alpha, lam_plus=spec.lam_plus)
    return dict(eigenvalues=spec.eigenvalues)


def test_plain_arrays_give_the_bits_of_a_spectrum_object():
    want = nslmodel.expected_loss(N, T, GAMMA, nslmodel.Spectrum(EIGENVALUES))
    got = nslmodel.expected_loss(N, T, GAMMA, EIGENVALUES.copy())
    assert np.array_equal(bits(got), bits(want))


@pytest.mark.parametrize("query", ["teacher_loss", "teacher_optimal_ridge"])
def test_given_teacher_results_do_not_depend_on_shape_order_or_threads(query):
    """The same bit-for-bit contract for the loss of a given teacher (nslmodel.teacher)."""
    from nslmodel import teacher as tm

    def f(n, t, g, s, beta2):
        if query == "teacher_loss":
            return tm.teacher_loss(n, t, g, s, beta2, sigma_eps=0.2)
        res = tm.teacher_optimal_ridge(n, t, s, beta2, sigma_eps=0.1)
        return np.stack([np.asarray(v, dtype=float) for v in vars(res).values()])  # every field

    n, t, g = N[:5], T[:5], GAMMA[:5]  # sizes the direct sums over M = 2000 handle quickly
    order = np.arange(n.size)[::-1]
    for make in (lambda: nslmodel.PowerLaw(2000, 0.7), lambda: nslmodel.Spectrum(EIGENVALUES)):
        spec = make()
        beta2 = tm.source_power(spec, 0.5)
        want = bits(f(n, t, g, spec, beta2))
        scalar = np.stack([f(n[i], t[i], g[i], spec, beta2) for i in range(n.size)], axis=-1)
        reversed_call = f(n[order], t[order], g[order], spec, beta2)
        with threadpool_limits(limits=1):
            one_thread = f(n, t, g, make(), beta2)
        assert np.array_equal(bits(scalar), want), f"scalar calls differ ({query})"
        assert np.array_equal(bits(reversed_call)[..., np.argsort(order)], want), f"order matters ({query})"
        assert np.array_equal(bits(one_thread), want), f"thread count matters ({query})"
