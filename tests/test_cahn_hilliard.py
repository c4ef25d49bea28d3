"""Cahn-Hilliard verification: linear stability, equilibrium, conservation,
energy decay, coherency, manufactured solutions, MPI agreement."""

from __future__ import annotations

import numpy as np
import pytest
import ufl
from mpi4py import MPI

import dolfinx.fem
import dolfinx.mesh

from claims import bound
from fem.constitutive.free_energy import RegularSolution
from fem.constitutive.mobility import mobility
from fem.constitutive.polynomial import DoubleWell
from fem.observables import Integral
from fem.scaling import BOLTZMANN
from fem.models.cahn_hilliard import CahnHilliard, acceptance_checks
from fem.simulation import Simulation, StepControl
from fem.weak_forms.cahn_hilliard import growth_rate
from fem.weak_forms.elasticity import lame

T = 298.15
kT = BOLTZMANN * T


def regular(a, k=0.0):
    """Regular solution with Omega_eff/kT = a and K/kT = k."""
    return RegularSolution(a * kT, T, coherency_J=k * kT)


def lattice(c):
    return mobility(c, "lattice")


def ch_model(mesh, fe, *, dc_max=0.1, log_bounds=True, check_energy=True, **kw):
    """The model plus the acceptance checks that ``simulate`` hands to the driver."""
    m = CahnHilliard(mesh, fe, **kw)
    m.checks = acceptance_checks(m, dc_max, log_bounds=log_bounds, energy=check_energy)
    return m


def simulate(model, control, recorders=()):
    return Simulation(model, control, comm=model.comm, checks=model.checks, recorders=recorders,
                      quiet=True).run()


def run_steps(model, dt, n):
    for _ in range(n):
        s = model.step(0.0, dt)
        assert s.converged, s
        model.accept(0.0, dt, s)


def mode_amplitude(model, k, x):
    c0 = Integral(model.c_expr * model.dx)() / model.volume
    return Integral((model.c_expr - c0) * ufl.cos(k * x) * model.dx)


# --- linear stability -----------------------------------------------------
# mode 15 is a small difference of large convex and concave rates, so the split scheme's
# O(dt) error is amplified there (3.6 % at dt = 1e-5): a 4x smaller step
@pytest.mark.parametrize("n_mode, dt", [(5, 2e-5), (15, 2.5e-6), (20, 1e-6)])
def test_linear_stability_growth_rate(n_mode, dt):
    """sigma(k) = -M k^2 (g''(c0) + kappa k^2): mode 5 inside the unstable band
    (k < k_c = sqrt(-g''/kappa) = 44.7), modes 15 and 20 outside it (decay)."""
    fe, kappa, c0 = regular(3.0), 1e-3, 0.5
    mesh = dolfinx.mesh.create_interval(MPI.COMM_SELF, 800, [0.0, 1.0])
    m = ch_model(mesh, fe, kappa=kappa, mobility=lattice, dc_max=1.0, check_energy=False,
                          snes_options={"snes_atol": 1e-13, "snes_rtol": 1e-10})
    k = n_mode * np.pi  # cos(k x) satisfies no flux on [0, 1]
    m.set_concentration(lambda X: c0 + 1e-6 * np.cos(k * X[0]))
    amp = mode_amplitude(m, k, ufl.SpatialCoordinate(mesh)[0])
    a0, nsteps = amp(), 200
    run_steps(m, dt, nsteps)
    measured = np.log(amp() / a0) / (nsteps * dt)
    expected = growth_rate(k, fe.d2g(c0), c0 * (1 - c0), kappa)
    k_c = np.sqrt(-fe.d2g(c0) / kappa)
    assert (k < k_c) == (expected > 0)
    assert np.sign(measured) == np.sign(expected)
    print(f"mode {n_mode}: growth rate {measured:.6g} vs {expected:.6g}, rel {abs(measured / expected - 1):.3g}")
    assert abs(measured - expected) < bound("ch_growth_rate") * abs(expected), (measured, expected)


# --- equilibrium ------------------------------------------------------------
def test_binodal_after_coarsening_1d():
    """A 1D two-phase state relaxes to the common-tangent compositions (within 1 %)."""
    fe, kappa = regular(3.0), 1e-4
    mesh = dolfinx.mesh.create_interval(MPI.COMM_SELF, 400, [0.0, 1.0])
    m = ch_model(mesh, fe, kappa=kappa, mobility=lattice, dc_max=0.2)
    m.set_concentration(lambda X: 0.5 + 0.3 * np.tanh((X[0] - 0.4) / 0.05))
    # the convex-concave split relaxes the last slow mode (interface position vs bulk
    # composition) at a rate nearly independent of dt: ~180 steps
    res = simulate(m, StepControl(t_end=3000.0, dt=1e-4, dt_min=1e-9, dt_max=20.0, grow=1.5, easy_newton=6))
    assert res.status == "ok", res.reason
    c = m.concentration()
    x = m.V.tabulate_dof_coordinates()[:, 0]
    lo, hi = fe.binodal()
    c_left, c_right = c[np.argmin(x)], c[np.argmax(x)]
    mu = m.w.x.array[np.asarray(m.W.sub(1).collapse()[1])]
    print(f"binodal: lo {abs(c_left / lo - 1):.3g} hi {abs(c_right / hi - 1):.3g} mu {np.max(np.abs(mu - fe.plateau_mu())):.3g}")
    assert abs(c_left - lo) < bound("ch_binodal_poor") * lo, (c_left, lo)
    assert abs(c_right - hi) < bound("ch_binodal_rich") * hi, (c_right, hi)
    # and the chemical potential is the plateau (common-tangent) value
    assert np.max(np.abs(mu - fe.plateau_mu())) < bound("ch_plateau_mu")


def test_flat_interface_profile_polynomial():
    """The PFHub double well relaxes to c_a + (c_b - c_a)(1 + tanh(x/2lambda))/2,
    lambda = sqrt(kappa/(2 rho_s))/(c_b - c_a)."""
    fe, kappa = DoubleWell(5.0, 0.3, 0.7), 2.0
    lam = fe.interface_length(kappa)  # 1.118 for PFHub 1
    Lx = 60 * lam
    mesh = dolfinx.mesh.create_interval(MPI.COMM_SELF, 600, [-Lx / 2, Lx / 2])
    m = ch_model(mesh, fe, kappa=kappa, mobility=lambda c: mobility(c, "constant", 5.0),
                          dc_max=0.05, log_bounds=False)
    m.set_concentration(lambda X: 0.5 + 0.2 * np.tanh(X[0] / (4 * lam)))  # twice too wide
    res = simulate(m, StepControl(t_end=2000.0, dt=0.01, dt_min=1e-8, dt_max=200.0, grow=1.5, easy_newton=6))
    assert res.status == "ok", res.reason
    x = m.V.tabulate_dof_coordinates()[:, 0]
    c = m.concentration()
    order = np.argsort(x)
    x, c = x[order], c[order]
    exact = fe.interface_profile(x, kappa)
    lam_measured = (fe.c_beta - fe.c_alpha) / (4 * np.max(np.gradient(c, x)))
    print(f"tanh: profile {np.max(np.abs(c - exact)) / (fe.c_beta - fe.c_alpha):.3g} lambda {abs(lam_measured / lam - 1):.3g}")
    assert np.max(np.abs(c - exact)) < bound("ch_tanh_profile") * (fe.c_beta - fe.c_alpha)
    assert abs(lam_measured - lam) < bound("ch_tanh_width") * lam, (lam_measured, lam)


# --- conservation and energy ----------------------------------------------
def noise(X, amp=0.02, c0=0.5):
    """Deterministic, mesh-independent pseudo-random perturbation."""
    x, y = X[0], X[1]
    return c0 + amp * (np.cos(7.3 * x + 2.1) * np.cos(5.9 * y + 0.4) + np.sin(13.1 * x + 4.7 * y)
                       + np.cos(3.7 * x - 11.3 * y + 1.0) * np.sin(17.9 * y + 0.3))


def test_mass_conservation_and_energy_decay():
    """No-flux boundaries: total mass conserved to 1e-10 relative; free energy never increases
    (energy check of the step control off: we observe it, not enforce it)."""
    fe, kappa = regular(3.0), 5e-4
    mesh = dolfinx.mesh.create_unit_square(MPI.COMM_SELF, 32, 32)
    m = ch_model(mesh, fe, kappa=kappa, mobility=lattice, dc_max=0.05, check_energy=False)
    m.set_concentration(noise)
    mass0 = m.mass()
    energies, masses = [], []

    def record(t):  # at t = 0 and after every accepted step
        energies.append(m.energy())
        masses.append(m.mass())
        return {}

    res = simulate(m, StepControl(t_end=0.5, dt=1e-5, dt_min=1e-10, dt_max=0.05, grow=1.3, easy_newton=5),
                   recorders=[record])
    assert res.status == "ok", res.reason
    assert res.steps > 20
    masses, energies = np.array(masses), np.array(energies)
    assert np.max(np.abs(masses - mass0)) / mass0 < 1e-10
    assert np.all(np.diff(energies) <= 1e-12 * np.abs(energies[:-1]))
    assert energies[-1] < energies[0] - 0.1 * abs(energies[0] - fe.g(0.5))  # it did phase separate
    c = m.concentration()
    assert c.max() - c.min() > 0.5


# --- coherency --------------------------------------------------------------
@pytest.mark.parametrize("k_coh, separates", [(0.0, True), (1.5, False)])
def test_coherency_suppresses_spinodal(k_coh, separates):
    """c0 = 0.5 is inside the chemical spinodal of a = 3 (g'' = -2); with K/kT = 1.5
    the effective curvature g'' + 2K = 1 > 0, so the composition stays homogeneous."""
    fe, kappa = regular(3.0, k_coh), 5e-4
    mesh = dolfinx.mesh.create_unit_square(MPI.COMM_SELF, 24, 24)
    m = ch_model(mesh, fe, kappa=kappa, mobility=lattice, dc_max=0.05)
    m.set_concentration(lambda X: noise(X, amp=1e-3))
    spread0 = np.ptp(m.concentration())
    res = simulate(m, StepControl(t_end=2.0, dt=1e-4, dt_min=1e-10, dt_max=0.1, grow=1.5, easy_newton=5))
    assert res.status == "ok", res.reason
    spread = np.ptp(m.concentration())
    assert (fe.d2g(0.5) < 0) == separates
    if separates:
        assert spread > 0.5
    else:
        assert spread < 0.1 * spread0


def test_elastic_coherency_growth_rate():
    """Full chemo-mechanics: a composition wave along x in a strip with u_y = 0 (rollers)
    grows at sigma = -M k^2 (g'' + 2 Y eps0^2 + kappa k^2), Y = E/(1-nu) (plane strain)."""
    fe, kappa, c0 = regular(3.0), 1e-3, 0.5
    E, nu, eps0 = 200.0, 0.3, 0.05  # 2 Y eps0^2 = 1.43: mode still unstable but slower
    lam, G = lame(E, nu)
    mesh = dolfinx.mesh.create_rectangle(MPI.COMM_SELF, [[0.0, 0.0], [1.0, 0.05]], [200, 2])
    m = ch_model(mesh, fe, kappa=kappa, mobility=lattice, dc_max=1.0, check_energy=False,
                          elastic=dict(eps0=eps0, lam=lam, G=G, spring=0.0),
                          snes_options={"snes_atol": 1e-13, "snes_rtol": 1e-10})
    # rollers: u_y = 0 on y = 0 and y = 0.05; u_x = 0 at x = 0 removes the rigid translation
    W2 = m.W.sub(2)
    fdim = mesh.topology.dim - 1
    bottom_top = dolfinx.mesh.locate_entities_boundary(
        mesh, fdim, lambda X: np.isclose(X[1], 0.0) | np.isclose(X[1], 0.05))
    left = dolfinx.mesh.locate_entities_boundary(mesh, fdim, lambda X: np.isclose(X[0], 0.0))
    bcs = []
    for comp, facets in ((1, bottom_top), (0, left)):
        dofs = dolfinx.fem.locate_dofs_topological(W2.sub(comp), fdim, facets)
        bcs.append(dolfinx.fem.dirichletbc(0.0, dofs, W2.sub(comp)))
    m.solver.bcs = bcs
    k = 5 * np.pi
    m.set_concentration(lambda X: c0 + 1e-6 * np.cos(k * X[0]))
    # equilibrate u for the initial composition (one step with dt -> 0 leaves c fixed)
    run_steps(m, 1e-12, 1)
    amp = mode_amplitude(m, k, ufl.SpatialCoordinate(mesh)[0])
    a0, dt, nsteps = amp(), 2e-5, 100
    run_steps(m, dt, nsteps)
    measured = np.log(amp() / a0) / (nsteps * dt)
    Y = E / (1 - nu)
    expected = growth_rate(k, fe.d2g(c0) + 2 * Y * eps0**2, c0 * (1 - c0), kappa)
    no_elastic = growth_rate(k, fe.d2g(c0), c0 * (1 - c0), kappa)
    assert expected < 0.5 * no_elastic
    assert abs(measured - expected) < 0.05 * abs(expected), (measured, expected)


# --- manufactured solution ------------------------------------------------
def _mms_errors(n, degree=1):
    """One split step (dt = 1) of the mixed system with a manufactured (c, mu) and
    c^n; returns the L2 errors of c and mu and the H1 seminorm error of c."""
    fe, kappa, dt = regular(3.0), 0.01, 1.0
    mesh = dolfinx.mesh.create_unit_square(MPI.COMM_SELF, n, n)
    x = ufl.SpatialCoordinate(mesh)
    pi = np.pi
    c_e = 0.5 + 0.2 * ufl.cos(pi * x[0]) * ufl.cos(pi * x[1])
    mu_e = ufl.cos(pi * x[0]) * ufl.cos(2 * pi * x[1])
    c_n = 0.5 + 0.15 * ufl.cos(2 * pi * x[0]) * ufl.cos(pi * x[1])
    M = lattice(c_e)
    mu_bulk = fe.mu_ideal(c_e) + fe.a * (1 - 2 * c_n)  # split: ln implicit, a(1-2c) explicit
    source_c = (c_e - c_n) / dt - ufl.div(M * ufl.grad(mu_e))
    source_mu = mu_e - mu_bulk + kappa * ufl.div(ufl.grad(c_e))
    m = ch_model(mesh, fe, kappa=kappa, mobility=lattice, dc_max=10.0, check_energy=False,
                          degree=degree, source_c=source_c, source_mu=source_mu,
                          quadrature_degree=2 * degree + 4)
    V = m.V
    c_n_expr = dolfinx.fem.Expression(c_n, V.element.interpolation_points())
    f = dolfinx.fem.Function(V)
    f.interpolate(c_n_expr)
    m.set_concentration(f.x.array)
    s = m.step(0.0, dt)
    assert s.converged, s
    dxh = ufl.Measure("dx", domain=mesh, metadata={"quadrature_degree": 8})
    c, mu = m.c_expr, m.mu_expr
    e_c = np.sqrt(Integral((c - c_e) ** 2 * dxh)())
    e_mu = np.sqrt(Integral((mu - mu_e) ** 2 * dxh)())
    e_gc = np.sqrt(Integral(ufl.inner(ufl.grad(c - c_e), ufl.grad(c - c_e)) * dxh)())
    return e_c, e_mu, e_gc


@pytest.mark.parametrize("degree", [1, 2])
def test_manufactured_solution_convergence(degree):
    ns = [8, 16, 32] if degree == 1 else [4, 8, 16]
    errs = np.array([_mms_errors(n, degree) for n in ns])
    rates = np.log2(errs[:-1] / errs[1:])
    p = degree
    assert np.all(rates[-1, :2] > p + 1 - 0.15), rates  # L2 of c and mu: p + 1
    assert rates[-1, 2] > p - 0.1, rates                 # H1 seminorm of c: p


# --- MPI ----------------------------------------------------------------------
def _spinodal_2d(comm, steps=15, dt=2e-3):
    fe, kappa = regular(3.0), 5e-4
    mesh = dolfinx.mesh.create_unit_square(comm, 24, 24)
    m = ch_model(mesh, fe, kappa=kappa, mobility=lattice, dc_max=1.0, check_energy=False)
    m.set_concentration(noise)
    run_steps(m, dt, steps)
    probe_value = Integral(m.c_expr * m.c_expr * m.dx)()
    return m.energy(), m.mass(), probe_value


@pytest.mark.mpi
def test_mpi_matches_serial():
    dist = _spinodal_2d(MPI.COMM_WORLD)
    serial = _spinodal_2d(MPI.COMM_SELF)
    for a, b in zip(dist, serial):
        assert abs(a - b) <= 1e-9 * abs(b), (dist, serial)


def test_anisotropic_mobility_growth_rate():
    """Tensor mobility M = c(1-c) A, A = R diag(2, 0.5) R^T (grain rotated by 30 degrees),
    in a thin strip with no-flux walls y = 0, h: J_y = 0 forces mu_y = -(A_yx/A_yy) mu_x, so a
    mode along x grows with the Schur complement A_xx - A_xy^2/A_yy = det A / A_yy
    (= 1.143; 1.625 = A_xx would be wrong) times the isotropic mobility."""
    from fem.constitutive.mobility import anisotropic_tensor
    fe, kappa, c0 = regular(3.0), 1e-3, 0.5
    th = np.pi / 6
    A = anisotropic_tensor([2.0, 0.5], [[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    mesh = dolfinx.mesh.create_rectangle(MPI.COMM_SELF, [[0.0, 0.0], [1.0, 0.02]], [400, 2])
    m = ch_model(mesh, fe, kappa=kappa, mobility=lambda c: mobility(c, "lattice", 1.0, A),
                          dc_max=1.0, check_energy=False, snes_options={"snes_atol": 1e-13, "snes_rtol": 1e-10})
    k = 5 * np.pi
    m.set_concentration(lambda X: c0 + 1e-6 * np.cos(k * X[0]))
    amp = mode_amplitude(m, k, ufl.SpatialCoordinate(mesh)[0])
    a0, dt, nsteps = amp(), 1e-5, 150
    run_steps(m, dt, nsteps)
    measured = np.log(amp() / a0) / (nsteps * dt)
    A_yy = 2.0 * np.sin(th) ** 2 + 0.5 * np.cos(th) ** 2
    M_eff = 2.0 * 0.5 / A_yy
    expected = growth_rate(k, fe.d2g(c0), c0 * (1 - c0) * M_eff, kappa)
    assert abs(measured - expected) < 0.05 * abs(expected), (measured, expected)


# --- periodic boundaries (dolfinx_mpc) and error-controlled steps ---------------------
PFHUB_FE, PFHUB_KAPPA, PFHUB_M = DoubleWell(5.0, 0.3, 0.7), 2.0, 5.0
K_FASTEST = np.sqrt(0.2)  # g''(0.5) = -0.8: fastest mode k^2 = -g''/(2 kappa), sigma = 0.4


def _periodic_strip(comm, scheme="implicit", nx=64, phase=0.3, eps=1e-6):
    """One wavelength of the fastest PFHub-1 mode cos(k x + phase) on a doubly periodic strip."""
    from fem.periodic import periodic_box_constraint
    L = 2 * np.pi / K_FASTEST
    H = L / 8
    mesh = dolfinx.mesh.create_rectangle(comm, [[0.0, 0.0], [L, H]], [nx, max(nx // 8, 2)],
                                         cell_type=dolfinx.mesh.CellType.quadrilateral)
    m = CahnHilliard(mesh, PFHUB_FE, kappa=PFHUB_KAPPA, mobility=lambda c: PFHUB_M, scheme=scheme,
                     constraint=lambda W: periodic_box_constraint(W, [0.0, 0.0], [L, H]))
    m.set_concentration(lambda X: 0.5 + eps * np.cos(K_FASTEST * X[0] + phase))
    x = ufl.SpatialCoordinate(mesh)[0]
    amp = Integral((m.w.sub(0) - 0.5) * ufl.cos(K_FASTEST * x + phase) * ufl.dx)
    return m, amp


def test_periodic_growth_rate_matches_cahn():
    """Periodic constraints (x and y, both fields c and mu): the fastest mode, shifted so that it
    is no eigenmode of a no-flux box, grows at Cahn's rate sigma = M k^2 (-g'' - kappa k^2) = 0.4
    (backward Euler's amplification 1/(1 - sigma dt) inverted); mass conserved."""
    m, amp = _periodic_strip(MPI.COMM_SELF)
    a0, dt, n = amp(), 0.01, 200
    mass0 = m.mass()
    run_steps(m, dt, n)
    sigma_be = (1 - (a0 / amp()) ** (1 / n)) / dt
    expected = growth_rate(K_FASTEST, float(PFHUB_FE.d2g(0.5)), PFHUB_M, PFHUB_KAPPA)
    assert abs(expected - 0.4) < 1e-12
    assert abs(sigma_be - expected) < 1e-3 * expected, (sigma_be, expected)  # measured 6e-7
    assert abs(m.mass() - mass0) < 1e-12 * abs(mass0)


@pytest.mark.mpi
def test_periodic_mpi_matches_serial():
    out = []
    for comm in (MPI.COMM_WORLD, MPI.COMM_SELF):
        m, amp = _periodic_strip(comm, scheme="split", nx=32, eps=0.05)
        run_steps(m, 0.5, 10)
        out.append((m.energy(), m.mass(), amp()))
    for a, b in zip(*out):
        assert abs(a - b) <= 1e-9 * abs(b), out


def test_error_control_meets_tolerance():
    """Error-controlled split steps (fem.error_control) on the linear growth of the fastest mode to
    t = 10 (growth e^4) against the exact exp(sigma t): tol bounds the relative error of ONE step,
    so the amplitude error at t = 10 is N tol-sized errors (measured: tol 1e-2 -> 0.29 in 64 steps,
    1e-3 -> 0.106 in 207 steps, first order: dt ~ tol^(1/2)); the tighter tolerance is more accurate."""
    from fem.error_control import TimeErrorControl
    errors = {}
    for tol in (1e-2, 1e-3):
        m, amp = _periodic_strip(MPI.COMM_SELF, scheme="split", nx=32)
        a0 = amp()
        ec = TimeErrorControl(m, tol, lambda c: PFHUB_M)
        sim = Simulation(m, StepControl(t_end=10.0, dt=0.1, dt_min=1e-8, dt_max=10.0, grow=1.2, easy_newton=5),
                         comm=MPI.COMM_SELF, checks=[ec.check], max_dt=ec.max_dt, quiet=True)
        res = sim.run()
        assert res.status == "ok"
        errors[tol] = (abs(amp() / (a0 * np.exp(0.4 * 10.0)) - 1), res.steps)
    assert errors[1e-2][0] > 2 * errors[1e-3][0], errors
    assert errors[1e-3][0] < 0.15 and errors[1e-2][0] < 0.4, errors
    assert errors[1e-3][1] < 300, errors
