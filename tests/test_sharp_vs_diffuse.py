"""Diffuse-interface (Cahn-Hilliard) lithiation converges to the sharp-interface (Stefan) front.

The planar two-phase lithiation of :mod:`fem.reference.sharp_vs_diffuse` (regular solution
a = 2.5, binodal 0.1448/0.8552 = the Stefan interface values; CH mobility M = D / max(g'', m0) so
that the bulk diffusivity M g'' equals the Stefan D in both phases; c and mu = g'(c_s) held at the
surface) on a shortened slab, with the interface width halved twice.  The sharp fronts: the exact
two-phase Neumann solution X_S = 2 lambda sqrt(t) and the ALE Stefan model on the same slab.
The bench (tests/bench/bench_sharp_vs_diffuse.py) runs the finer widths with a time-step
extrapolation; this is its fast version.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from mpi4py import MPI

from fem.reference.sharp_vs_diffuse import Case, observed_orders, run_cahn_hilliard, run_stefan
from meshes import tags as T
from meshes.two_phase import two_phase_slab

# L = 1.5: the far end changes the front by ~1e-8 up to t = 0.1 (image distance 2 (L - X) = 2.7
# over the diffusion length 2 sqrt(t) = 0.63: exp(-18))
CASE = Case(L=1.5, t0=0.03, times=(0.1,))
WIDTHS = (0.04, 0.02, 0.01)
RATIO = 0.01  # dt = 0.01 t


@pytest.fixture(scope="module")
def fronts():
    X_S = float(CASE.neumann().position(CASE.times[-1]))
    ch = [run_cahn_hilliard(CASE, w, cells_per_width=6.0, ratio=RATIO, prefix="test_svd_ch_") for w in WIDTHS]
    ex = CASE.neumann()
    dom = two_phase_slab(1, CASE.L, CASE.L - float(ex.position(CASE.t0)), 0.01, MPI.COMM_SELF)
    st = run_stefan(CASE, dom, alpha=T.PHASE_ALPHA, beta=T.PHASE_BETA, interface=T.INTERFACE,
                    surface=T.SURFACE, far_end=T.CONTACT_LEFT, ratio=RATIO)
    return X_S, [r["X"][-1] for r in ch], st["X"][-1], ch


def test_width_and_mobility_mapping():
    """The width definition and the mobility mapping, checked from the formulas (not from a run)."""
    fe = CASE.free_energy()
    ca, cb = CASE.binodal()
    assert ca == pytest.approx(1 - cb, abs=1e-12)
    assert math.log(ca / (1 - ca)) + 2.5 * (1 - 2 * ca) == pytest.approx(0.0, abs=1e-12)
    # kappa/2 c'^2 = g(c) - g(c_alpha) at c = 1/2 (the steepest point of the symmetric profile)
    w = 0.01
    slope = math.sqrt(2 * (float(fe.g(0.5)) - float(fe.g(ca))) / CASE.kappa(w))
    assert (cb - ca) / slope == pytest.approx(w, rel=1e-8)
    # bulk diffusivity M g'' = D over both bulk ranges (c <= c_alpha, c >= c_beta)
    m0 = CASE.mobility_floor()
    for c in np.r_[np.linspace(0.01, ca, 20), np.linspace(cb, 0.99, 20)]:
        assert float(fe.d2g(c)) >= m0


def test_diffuse_front_converges_to_stefan_front_first_order(fronts):
    X_S, X_ch, X_model, runs = fronts
    d = np.array(X_ch) - X_S
    orders = observed_orders(WIDTHS, d)
    print(f"X_S = {X_S:.6f}; X_CH - X_S = {d}; d/w = {d / np.array(WIDTHS)}; orders {orders}; "
          f"Stefan model - X_S = {X_model - X_S:.2e}; walls {[round(r['wall_s'], 1) for r in runs]}")
    # measured: d = +1.207e-2, +5.89e-3, +2.87e-3 (the diffuse front leads); orders 1.036, 1.039
    # (backward Euler at dt = 0.01 t adds ~2e-4 to every d, which lifts the orders slightly; a
    # constant mobility D / g''(c_beta) instead of the mapping gives orders 0.07, 0.04)
    assert np.all(d > 0)
    assert all(abs(o - 1.0) < 0.12 for o in orders), orders
    # size of the O(w) difference, two-sided (measured d/w = 0.287 at w = 0.01)
    assert 0.1 < d[-1] / WIDTHS[-1] < 0.9
    # the sharp ALE model agrees with the exact sharp front far better than the narrowest diffuse
    # front does (measured X_model - X_S = -1.33e-4 (h = 0.01, dt = 0.01 t) = 0.046 d)
    assert abs(X_model - X_S) < 0.15 * d[-1]
    # the surface condition held: c(0) = c_s
    assert all(abs(r["c_surface"] - CASE.c_surface) < 1e-12 for r in runs)
