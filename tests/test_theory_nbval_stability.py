"""The theory numbers printed in the notebooks' ``# NBVAL_CHECK_OUTPUT`` cells are machine-stable.

nbval compares those cells' text with the stored output, so every printed digit must be a
function of the inputs alone. Two things are checked, on the quick parameter set:

1. The checked theory quantities, computed through the same package calls as the notebooks,
   print identically under two environments: one BLAS thread with fresh spectrum objects, and
   two BLAS threads with spectrum objects that have already answered other queries, visited in
   a different order.
2. Every printed theory number is far enough from a rounding boundary that an error of the
   size the reference tier bounds (1e-9 relative for losses and ridges, ``EXPONENT_ATOL`` for
   fitted exponents) cannot change its last printed digit: the digits are supported by the
   conditioning of the quantity, on any machine.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from threadpoolctl import threadpool_limits

import nslmodel
from _tolerance import RTOL_REFERENCE

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
#: A fitted exponent is a least-squares slope of log gamma* (or log L*) against log N over a
#: range of log N of about 3.5; with each value accurate to RTOL_REFERENCE the slope moves by
#: at most ~2 RTOL_REFERENCE / 3.5 * sqrt(points); 1e-8 bounds that for up to 100 points.
EXPONENT_ATOL = 1e-8


def quick_parameters(name):
    """The notebook's parameters cell, overridden by the quick set of notebooks/params.yml."""
    nb = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    params = {}
    for node in ast.parse("".join(cell["source"])).body:
        if isinstance(node, ast.Assign):
            params[node.targets[0].id] = ast.literal_eval(node.value)
    data = yaml.safe_load((NOTEBOOKS / "params.yml").read_text())
    overrides = (data.get("quick", data) or {}).get(name, {}) or {}
    params.update(overrides)
    return params


def supported(value, fmt, rtol=RTOL_REFERENCE, atol=0.0):
    """``format(value, fmt)``, asserting that the same text comes out anywhere in value +- error."""
    err = abs(value) * rtol + atol
    lo, mid, hi = (format(v, fmt) for v in (value - err, value, value + err))
    assert lo == mid == hi, f"{value!r} printed as {mid!r} is within {err:.1e} of a rounding boundary"
    return mid


class Spectra:
    """Spectrum objects for one environment: fresh, or warmed up by unrelated queries."""

    def __init__(self, warm: bool):
        self.warm, self.cache = warm, {}

    def __call__(self, M, alpha):
        key = (M, alpha)
        if key not in self.cache:
            spec = nslmodel.PowerLaw(M, alpha)
            if self.warm:  # other queries first: far ridges, other sizes, the ridgeless limit
                nslmodel.expected_loss([3.0, 7e3], 11.0, [1e-25, 1e3], spec)
                nslmodel.optimal_ridge([2.0, 5e4], 13.0, spec, sigma_eps=0.2)
                nslmodel.ridgeless_loss(17.0, 4.0, spec)
            self.cache[key] = spec
        return self.cache[key]


def lines_07(spectra, order):
    p = quick_parameters("07_scaling_accuracy")
    Nf = np.geomspace(p["fit_N_min"], p["fit_N_max"], p["fit_points"])
    logN = np.log(Nf)
    slope = lambda y: float(np.polyfit(logN, np.log(y), 1)[0])
    out = {}
    for a in order(p["fit_alphas"]):
        spec = spectra(p["fit_M"], a)
        opt = nslmodel.optimal_ridge(Nf, p["fit_T"], spec)
        ridgeless = nslmodel.ridgeless_loss(Nf, p["fit_T"], spec)
        out[a] = " ".join(supported(x, f, atol=EXPONENT_ATOL, rtol=0.0) for x, f in [
            (-slope(opt.loss), "7.3f"), (-slope(ridgeless), "9.3f"), (slope(opt.gamma), "+7.3f")])
    return [f"{a:g} {out[a]}" for a in p["fit_alphas"]]


def lines_05(spectra, order):
    p = quick_parameters("05_label_noise")
    spectrum = spectra(p["M"], p["alpha"])
    sigma_y = float(np.sqrt(spectrum.trace / p["M"]))
    gamma_1 = nslmodel.scaling.optimal_ridge_alpha1(p["M"])
    a, b = p["size_pair"]
    out = {}
    for r in order(p["noise_ratios"]):
        x = nslmodel.optimal_ridge(a, b, spectrum, sigma_eps=r * sigma_y)
        y = nslmodel.optimal_ridge(b, a, spectrum, sigma_eps=r * sigma_y)
        out[r] = " ".join(supported(v, f) for v, f in [
            (x.gamma / gamma_1, "11.4g"), (y.gamma / gamma_1, "11.4g"), (x.loss / y.loss, "16.4g")])
    levels = np.linspace(0.0, max(p["noise_ratios"]), p["n_noise"])
    g_ab = np.array([nslmodel.optimal_ridge(a, b, spectrum, sigma_eps=s * sigma_y).gamma for s in levels])
    # the comparison is decided by differences far above the 1e-9 error of each gamma*
    assert np.all(np.abs(np.diff(g_ab)) > 1e3 * RTOL_REFERENCE * g_ab[1:])
    return [f"{r:g} {out[r]}" for r in p["noise_ratios"]] + [str(bool(np.all(np.diff(g_ab) > 0)))]


def lines_01(spectra, order):
    p = quick_parameters("01_loss_vs_gamma")
    spectrum = spectra(p["M"], p["alpha"])
    T, f = p["T"], p["factor"]
    Ns = order(list(map(float, p["N_values"])))
    opt = nslmodel.optimal_ridge(np.array(Ns), T, spectrum)
    ridgeless = nslmodel.ridgeless_loss(np.array(Ns), T, spectrum)
    out = {}
    for k, N in enumerate(Ns):
        under = nslmodel.expected_loss(N, T, opt.gamma[k] / f, spectrum) / opt.loss[k]
        over = nslmodel.expected_loss(N, T, opt.gamma[k] * f, spectrum) / opt.loss[k]
        r0 = ridgeless[k] / opt.loss[k]
        out[N] = " ".join([supported(opt.gamma[k], "10.4g"),
                           format(r0, "10.4g") if np.isinf(r0) else supported(r0, "10.4g"),
                           supported(under, "11.4g"), supported(over, "11.4g")])
    return [f"{N:g} {out[N]}" for N in map(float, p["N_values"])]


@pytest.mark.parametrize("lines", [lines_07, lines_05, lines_01], ids=["07", "05", "01"])
def test_checked_theory_output_is_the_same_in_two_environments(lines):
    with threadpool_limits(limits=1):
        first = lines(Spectra(warm=False), order=lambda xs: list(xs))
    with threadpool_limits(limits=2):
        second = lines(Spectra(warm=True), order=lambda xs: list(reversed(xs)))
    assert first == second
