"""Constitutive library against closed forms (numpy and UFL paths)."""

from __future__ import annotations

import numpy as np
import pytest
import ufl
from mpi4py import MPI

from fem.constitutive import diffusivity as dif
from fem.constitutive.free_energy import RegularSolution
from fem.constitutive.kinetics import ButlerVolmer
from fem.constitutive.materials import MATERIALS, NMC811_CHEN2020
from fem.constitutive.tabulated import Tabulated
from fem.errors import InputError
from fem.scaling import BOLTZMANN, ELEMENTARY_CHARGE


def test_spinodal_at_omega_4kT():
    rs = RegularSolution(omega_J=4 * BOLTZMANN * 300.0, temperature_K=300.0)
    lo, hi = rs.spinodal()
    assert abs(lo - 0.1464466) < 1e-6 and abs(hi - 0.8535534) < 1e-6  # 1/2 -+ sqrt(2)/4
    assert round(lo, 3) == 0.146 and round(hi, 3) == 0.854
    assert abs(rs.d2g(lo)) < 1e-9
    b1, b2 = rs.binodal()  # common tangent: equal mu and equal grand potential
    assert abs(rs.mu(b1) - rs.mu(b2)) < 1e-9
    assert abs((rs.g(b2) - rs.g(b1)) - rs.mu(b1) * (b2 - b1)) < 1e-9


def test_darken_cancellation_lattice_gas():
    x = np.linspace(0.01, 0.99, 50)
    d0 = 3e-15
    d_chem = dif.darken(dif.lattice_gas_tracer(d0, x), dif.lattice_gas_thermodynamic_factor(x))
    assert np.allclose(d_chem, d0, rtol=1e-13)
    # the same thermodynamic factor from the regular solution with Omega = 0:
    # Phi = x(1-x) g''/kT = 1 for the site-fraction activity x/(1-x); d ln x / d ln x part:
    rs = RegularSolution(omega_J=0.0)
    assert np.allclose(rs.thermodynamic_factor(x), 1.0)


def test_arrhenius_and_random_walk():
    d = dif.arrhenius(1e-6, 300.0, activation_eV=0.5)
    assert abs(d - 1e-6 * np.exp(-0.5 * ELEMENTARY_CHARGE / (BOLTZMANN * 300.0))) < 1e-30
    # activation energy recovered from the slope of ln D vs 1/T
    T = np.array([280.0, 320.0])
    lnD = np.log(dif.arrhenius(1e-6, T, activation_J=0.4 * ELEMENTARY_CHARGE))
    ea = -(lnD[1] - lnD[0]) / (1 / T[1] - 1 / T[0]) * BOLTZMANN / ELEMENTARY_CHARGE
    assert abs(ea - 0.4) < 1e-10
    assert abs(dif.arrhenius_factor(350.0, 350.0, 1e-19) - 1) < 1e-15
    # random walk: 3D D = f Gamma a^2 / 6
    assert abs(dif.random_walk(1e12, 3e-10, "fcc") - 0.78146 * 1e12 * 9e-20 / 6) < 1e-25
    # Hart: g = 0 -> bulk, g = 1 -> GB; series <= parallel
    assert dif.hart_effective(1e-15, 1e-12, 0.0, 1e-6) == 1e-15
    assert dif.series_effective(1e-15, 1e-12, 1e-9, 1e-6) <= dif.hart_effective(1e-15, 1e-12, 1e-9, 1e-6)


def test_tensor_rotation_and_spd_check():
    D = dif.layered_tensor(1.0, 0.01)
    Q = dif.rotation_matrix((30.0, 50.0, 70.0))
    Dl = dif.rotate_tensor(D, Q)
    assert np.allclose(np.linalg.eigvalsh(Dl), [0.01, 1, 1])
    assert np.allclose(Q @ np.array([0, 0, 1.0]) @ Dl @ (Q @ np.array([0, 0, 1.0])), 0.01)
    with pytest.raises(InputError, match="positive definite"):
        dif.check_spd([[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(InputError, match="symmetric"):
        dif.check_spd([[1.0, 0.5], [0.0, 1.0]])


def test_concentration_factor_and_grain_tensors():
    x = np.array([0.2, 0.5, 0.9])
    assert dif.concentration_factor("constant")(x) == 1.0
    assert np.allclose(dif.concentration_factor("exponential", -2.0, 0.5)(x), np.exp(-2.0 * (x - 0.5)))
    table = Tabulated([0.0, 0.5, 1.0], [1.0, 0.5, 0.25], log=True)
    assert dif.concentration_factor("table", table=table) is table
    with pytest.raises(InputError, match="table"):
        dif.concentration_factor("table")
    with pytest.raises(InputError, match="allowed"):
        dif.concentration_factor("quadratic")
    # one grain: a constant UFL matrix Q diag(1, 1, r) Q^T
    Q = dif.rotation_matrix((10.0, 20.0, 30.0))

    class Mesh3:
        class geometry:
            dim = 3
    D = dif.layered_grain_tensors(Mesh3, None, {1: Q}, 0.05)
    got = np.array([[float(D[i, j]) for j in range(3)] for i in range(3)])
    assert np.allclose(got, Q @ np.diag([1.0, 1.0, 0.05]) @ Q.T, atol=1e-15)


def test_butler_volmer_inverse_and_chen_exchange_current():
    bv = ButlerVolmer(NMC811_CHEN2020.rate_constant_A_m2, NMC811_CHEN2020.c_max_mol_m3)
    x = 0.5
    i0 = bv.exchange_current(x)
    cm = NMC811_CHEN2020.c_max_mol_m3
    assert abs(i0 - 3.42e-6 * 1000**0.5 * (cm * 0.5) ** 0.5 * (cm * 0.5) ** 0.5) < 1e-7 * i0
    # regularized near the bounds: finite slope, restoring sign beyond x = 1
    assert bv.exchange_current(1.0) == 0.0 and bv.exchange_current(1.001) < 0
    assert abs(bv.exchange_current(0.9) / (3.42e-6 * 1000**0.5 * cm * np.sqrt(0.9 * 0.1)) - 1) < 1e-5
    for i in (-5.0, -0.1, 0.0, 2.0):
        eta = bv.overpotential(i, x)
        assert abs(bv.current(x, eta) - i) < 1e-10 * max(1, abs(i))
    bva = ButlerVolmer(1e-6, 3e4, alpha_a=0.3, alpha_c=0.7)
    assert abs(bva.current(0.4, bva.overpotential(-1.5, 0.4)) + 1.5) < 1e-10


def test_tabulated_reproduces_smooth_curve_in_numpy_and_ufl(tmp_path):
    x = np.linspace(0.0, 1.0, 41)
    y = NMC811_CHEN2020.ocv_V(x)
    path = tmp_path / "ocv.csv"
    np.savetxt(path, np.column_stack([x, y]), delimiter=",", header="x, ocv_V")
    tab = Tabulated.from_csv(path, kind="spline")
    xf = np.linspace(0.3, 0.95, 333)
    err = np.max(np.abs(tab(xf) - NMC811_CHEN2020.ocv_V(xf)))
    assert err < 2e-3
    # UFL path: integrate the table over [0.3, 0.95] with a Function x
    import dolfinx.fem
    import dolfinx.mesh
    mesh = dolfinx.mesh.create_interval(MPI.COMM_SELF, 200, [0.3, 0.95])
    X = ufl.SpatialCoordinate(mesh)[0]
    val = dolfinx.fem.assemble_scalar(dolfinx.fem.form(tab(X) * ufl.dx(metadata={"quadrature_degree": 6})))
    xq = np.linspace(0.3, 0.95, 200001)
    ref = np.trapezoid(tab(xq), xq)
    assert abs(val - ref) < 1e-8
    # log interpolation of a diffusivity keeps positivity
    dtab = Tabulated([0, 0.5, 1], [1e-14, 1e-15, 1e-17], log=True)
    assert np.all(dtab(np.linspace(0, 1, 11)) > 0)
    with pytest.raises(InputError, match="increasing"):
        Tabulated([0, 1, 1], [1, 2, 3])


def test_materials_have_sources_and_sane_ocv():
    for name, m in MATERIALS.items():
        assert m.sources, name
        xs = np.linspace(min(m.x_full, m.x_empty) + 0.02, max(m.x_full, m.x_empty) - 0.02, 20)
        u = m.ocv_V(xs)
        assert np.all(np.isfinite(u)) and np.all((u > 0) & (u < 5)), name
    # Chen 2020: NMC811 OCP ~4.2 V charged, graphite ~0.1 V charged
    assert 4.1 < MATERIALS["nmc811_chen2020"].ocv_V(0.2661) < 4.35
    assert 0.0 < MATERIALS["graphite_chen2020"].ocv_V(0.9014) < 0.15
