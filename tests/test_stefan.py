"""Sharp-interface two-phase (Stefan) diffusion on a moving ALE mesh.

References: the planar two-phase Neumann similarity solution and the
quasi-steady shrinking core (fem/analytic_stefan.py); conservation of the
total moles across the moving interface; mesh validity; the shrinking_core
problem end to end (CLI, outputs, voltage plateau, constant-current core
radius from the mass balance); input validation; restart from a checkpoint
(model level, and the CLI run killed with SIGKILL) = the uninterrupted run; non-spherical particles
(ellipsoid, anisotropic shell): mass balance against the prescribed current and the predicted
evolution of the core's aspect ratio; a user's core-shell Gmsh mesh (geometry=mesh_file).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from mpi4py import MPI
from scipy.special import erf, erfc

from claims import bound
from fem.analytic_stefan import (NeumannSolution, neumann_lambda, shrinking_core_constant_current_radius,
                                 shrinking_core_front_fixing, shrinking_core_radius, shrinking_core_time,
                                 shrinking_core_time_storage)
from fem.checkpoint import Checkpointer
from fem.errors import InputError
from fem.models.stefan import TwoPhaseStefan
from fem.simulation import Simulation, StepControl
from meshes import tags as T
from meshes.two_phase import radial_core_shell as radial_domain
from meshes.two_phase import two_phase_slab as slab_domain
from tests.conftest import solidion


class Trajectory:
    """Recorder keeping ``observe(t)`` at every recorded time (the initial state first)."""

    def __init__(self, observe):
        self.observe, self.rows = observe, []

    def __call__(self, t):
        self.rows.append(self.observe(t))
        return {}


def run(prob, observe, t_end, dt, dt_max, fixed=False, checkpoint=None, max_steps=10**7):
    """Simulation of ``prob``; the observations after every accepted step."""
    traj = Trajectory(observe)
    control = StepControl(t_end=t_end, dt=dt, dt_min=1e-12, dt_max=dt_max, grow=1.25, easy_newton=10,
                          fixed=fixed, max_steps=max_steps)
    res = Simulation(prob, control, comm=prob.comm, recorders=[traj], checkpoint=checkpoint, quiet=True).run()
    assert res.status == "ok" or max_steps < 10**7, res.reason
    return res, traj.rows[1:]


# --- analytic reference self-checks ------------------------------------------------------

def test_neumann_solution_satisfies_its_equations():
    """The similarity solution meets the interface values and the Stefan condition
    (fluxes by finite differences of the closed form, independent of the lambda equation)."""
    Da, Db, c0, cb, ca, cinf = 0.5, 1.0, 0.0, 0.2, 0.6, 0.8
    ex = NeumannSolution(Da, Db, c0, cb, ca, cinf)
    t, e = 0.3, 1e-6
    s = ex.position(t)
    cb_side = c0 + (cb - c0) * erf(s / (2 * math.sqrt(Db * t))) / erf(ex.lam / math.sqrt(Db))
    ca_side = cinf + (ca - cinf) * erfc(s / (2 * math.sqrt(Da * t))) / erfc(ex.lam / math.sqrt(Da))
    assert abs(cb_side - cb) < 1e-12 and abs(ca_side - ca) < 1e-12
    Jb = -Db * (ex.concentration(s - e, t) - ex.concentration(s - 3 * e, t)) / (2 * e)  # J . e_x, beta side
    Ja = -Da * (ex.concentration(s + 3 * e, t) - ex.concentration(s + e, t)) / (2 * e)
    v = (ex.position(t + 1e-7) - ex.position(t - 1e-7)) / 2e-7
    # n = -e_x (alpha -> beta), v > 0 when beta grows:  v (c_b - c_a) = J_a.n - J_b.n
    assert v * (cb - ca) == pytest.approx(-Ja + Jb, rel=1e-4)
    # one-phase limit (no gradient in alpha): lambda -> classical one-phase root
    lam1 = neumann_lambda(1.0, 1.0, 0.0, 0.2, 0.6, 0.6)
    St = 0.2 / 0.4
    assert lam1 * math.sqrt(math.pi) * math.exp(lam1**2) * erf(lam1) == pytest.approx(St, rel=1e-10)


def test_shrinking_core_formulas():
    R, D, ca, cb, cs = 1.0, 1.0, 0.95, 0.05, 0.045
    r = shrinking_core_radius([0.0, 5.0, 20.0], R, D, ca, cb, cs, xi0=0.9)
    assert r[0] == pytest.approx(0.9)
    assert shrinking_core_time(r[1:] / R, R, D, ca, cb, cs, 0.9) == pytest.approx([5.0, 20.0], rel=1e-10)
    # direct ODE integration of (ca - cb) r^2 dr/dt = -D (cb - cs) / (1/r - 1/R)
    from scipy.integrate import solve_ivp
    sol = solve_ivp(lambda t, y: [-D * (cb - cs) / ((1 / y[0] - 1 / R) * y[0] ** 2 * (ca - cb))], (0, 20), [0.9],
                    rtol=1e-11, atol=1e-13)
    assert sol.y[0, -1] == pytest.approx(r[2], rel=1e-7)


# --- planar two-phase similarity solution ---------------------------------------------------

NEUMANN = dict(Da=0.5, Db=1.0, c0=0.0, cb=0.2, ca=0.6, cinf=0.8)


def _neumann_problem(dim, h, comm, degree=1):
    """beta next to x' = 0 (c = c0), alpha beyond; on slabs x' = L - x (surface at x = L)."""
    k = NEUMANN
    ex = NeumannSolution(k["Da"], k["Db"], k["c0"], k["cb"], k["ca"], k["cinf"])
    t0, L = 0.005, 2.0
    s0 = ex.position(t0)
    dom = slab_domain(dim, L, L - s0, h, comm, width=2 * h)
    init = lambda X: ex.concentration(L - X[0], t0)  # noqa: E731
    prob = TwoPhaseStefan(dom, alpha=T.PHASE_ALPHA, beta=T.PHASE_BETA, interface=T.INTERFACE, c_alpha=k["ca"],
                          c_beta=k["cb"], D_alpha=k["Da"], D_beta=k["Db"], init_alpha=init, init_beta=init,
                          fixed=[T.CONTACT_LEFT, T.SURFACE], components=(0,) if dim > 1 else None,
                          dirichlet=[("beta", T.SURFACE, k["c0"]), ("alpha", T.CONTACT_LEFT, k["cinf"])],
                          degree=degree)
    prob.velocity[:] = -ex.velocity(t0)  # along the outward normal of alpha (+x), interface moves to -x
    return ex, prob, t0, L


@pytest.mark.parametrize("dim,h,dt_max", [(1, 0.01, 1e-3), (2, 0.02, 1e-3)])
def test_planar_similarity_solution(dim, h, dt_max):
    ex, prob, t0, L = _neumann_problem(dim, h, MPI.COMM_WORLD)
    t1 = 0.1
    res, rows = run(prob, lambda t: (t0 + t, L - prob.interface_position()), t1 - t0, 1e-5, dt_max)
    t, s = np.array(rows).T
    s_exact = ex.position(t)
    err_s = np.max(np.abs(s - s_exact) / s_exact)
    # measured 0.60% (1D) and 0.63% (2D): backward Euler's first-order lag
    assert err_s < bound("stefan_interface"), f"interface position error {err_s:.3g}"
    # concentration profiles at t1, each phase on its own nodes
    X = prob.V.tabulate_dof_coordinates()[:, 0]
    xp = L - X
    c_exact = ex.concentration(xp, t[-1])
    rng = NEUMANN["cinf"] - NEUMANN["c0"]
    mb, ma = xp < s[-1] - 1e-3, xp > s[-1] + 1e-3  # interface nodes hold the exact c_eq
    err_b = np.max(np.abs(prob.c["beta"].x.array[mb] - c_exact[mb])) / rng
    err_a = np.max(np.abs(prob.c["alpha"].x.array[ma] - c_exact[ma])) / rng
    # measured alpha 7.8e-4 / beta 6.3e-4 (1D), 8.0e-4 / 5.5e-4 (2D)
    assert max(err_a, err_b) < bound("stefan_profiles"), f"profile errors alpha {err_a:.3g} beta {err_b:.3g}"
    assert np.all(np.isfinite(prob.c["alpha"].x.array)) and np.all(np.isfinite(prob.c["beta"].x.array))
    prob.destroy()


def test_planar_similarity_convergence_rate():
    """Refining h and dt together (dt ~ h, backward Euler + P1): first-order convergence of the
    final interface position and of the concentration profiles."""
    errs = []
    for h in (0.02, 0.01, 0.005):
        ex, prob, t0, L = _neumann_problem(1, h, MPI.COMM_WORLD)
        res, rows = run(prob, lambda t: (t0 + t, L - prob.interface_position()), 0.05 - t0, h * 1e-3, h / 10)
        t, s = np.array(rows).T
        X = L - prob.V.tabulate_dof_coordinates()[:, 0]
        c_exact = ex.concentration(X, t[-1])
        ma = X > s[-1] + 1e-9
        errs.append((abs(s[-1] - ex.position(t[-1])) / ex.position(t[-1]),
                     np.max(np.abs(prob.c["alpha"].x.array[ma] - c_exact[ma]))))
        prob.destroy()
    rate_s = math.log2(errs[1][0] / errs[2][0])
    rate_c = math.log2(errs[1][1] / errs[2][1])
    print(f"rates: interface {rate_s:.3f} profile {rate_c:.3f} errors {errs}")
    assert errs[0][0] > errs[1][0] > errs[2][0] and errs[0][1] > errs[1][1] > errs[2][1]
    # measured 0.963 and 0.965
    assert abs(rate_s - 1) < 0.1, f"interface rate {rate_s:.2f} (errors {errs})"
    assert abs(rate_c - 1) < 0.1, f"profile rate {rate_c:.2f} (errors {errs})"


# --- spherical shrinking core, quasi-steady regime -----------------------------------------------

def test_spherical_shrinking_core_quasi_steady():
    """1D radial (r^2-weighted) ALE vs the quasi-steady shrinking core, Stefan number 0.0056."""
    ca, cb, cs, xi0 = 0.95, 0.05, 0.045, 0.9
    dom = radial_domain(xi0, 0.01, MPI.COMM_WORLD)
    B = (cb - cs) / (1 / xi0 - 1)  # steady shell profile c = cs - B + B / r
    prob = TwoPhaseStefan(dom, alpha=T.CORE, beta=T.shell(0), interface=T.interface(0), c_alpha=ca, c_beta=cb,
                          init_alpha=ca, init_beta=lambda X: cs - B + B / np.maximum(X[0], 1e-3),
                          weight=lambda x: x[0] ** 2, fixed=[T.SYMMETRY, T.SURFACE],
                          dirichlet=[("beta", T.SURFACE, cs)])
    t_end = shrinking_core_time(0.3, 1.0, 1.0, ca, cb, cs, xi0)
    res, rows = run(prob, lambda t: (t, prob.interface_radius()), t_end, 1e-3, 0.5)
    t, r = np.array(rows).T
    r_exact = shrinking_core_radius(t, 1.0, 1.0, ca, cb, cs, xi0)
    err = np.max(np.abs(r - r_exact) / r_exact)
    # measured 1.02% (at the end; the quasi-steady reference itself neglects the shell storage)
    assert err < 0.02, f"core radius error {err:.3g}"
    assert r[-1] == pytest.approx(0.3, rel=0.02)
    prob.destroy()


def test_front_fixing_reference():
    """The independent front-fixing reference converges at second order in its grid, and lies between
    the classical quasi-steady law (which neglects the shell storage) and the storage-corrected one."""
    ca, cb, cs, xi0 = 0.99, 0.01, 0.005, 0.95  # St = 0.0051
    ts = [shrinking_core_front_fixing([50.0], 1.0, 1.0, ca, cb, cs, xi0, n=n)[1] for n in (25, 50, 100)]
    ratio = (ts[0] - ts[1]) / (ts[1] - ts[2])
    assert 2.8 < ratio < 4.2, ts  # measured 3.25 (grid 25, 50, 100: about 1.7th order at these n)
    t_law = shrinking_core_time(0.1, 1.0, 1.0, ca, cb, cs, xi0)
    t_storage = shrinking_core_time_storage(0.1, 1.0, 1.0, ca, cb, cs, xi0)
    assert t_law < ts[2] < t_storage, (t_law, ts[2], t_storage)
    assert abs(ts[2] / t_law - 1) < 3 * (cb - cs) / (ca - cb)  # O(St)


def test_sphere_1d_default_follows_reference(tmp_path):
    """shrinking_core's 1D default (shell-resolution rule, remeshing, fixed surface concentration) to
    r_c ~ 0.3 R: the core radius follows the front-fixing reference, and the time to each radius is
    within 1% of the classical quasi-steady law (whose own error is O(St) = 0.8% here)."""
    out = tmp_path / "qs"
    r = solidion("run", "shrinking_core", "--out", out, "--set", "surface_condition=concentration",
                 "--set", "t_end_s=190", "--set", "fields_every=0")
    assert r.returncode == 0, r.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    a = np.genfromtxt(out / "timeseries.csv", delimiter=",", names=True)
    p = summary["parameters"]
    R, D, cm = p["radius_m"], p["D_shell_m2_s"], p["c_max_mol_m3"]
    xa, xb, xs = summary["interface_fractions"]["core"], summary["interface_fractions"]["shell"], p["surface_fraction"]
    xi0 = summary["resolved"]["initial_core_fraction"]
    assert summary["remesh_count"] >= 2 and summary["max_remesh_moles_rel_error"] < 1e-12
    t, rc = a["t_s"][1:], a["core_radius_m"][1:] / R
    tau = R**2 / D
    rff, _ = shrinking_core_front_fixing(t / tau, 1.0, 1.0, xa, xb, xs, xi0, n=100)
    err = np.max(np.abs(rc - rff))
    assert err < bound("shrinking_core_front_fixing"), err  # measured 0.0017 (of R)
    m = rc < 0.9
    t_law = shrinking_core_time(rc[m], 1.0, D / R**2, xa, xb, xs, xi0)
    dev = np.max(np.abs(t[m] / t_law - 1))
    assert dev < 0.01, dev  # measured 0.78% (the claim is 1%: the law itself is 0.6% off the reference)
    assert rc[-1] < 0.35


def test_general_two_phase_neumann_case(tmp_path):
    """initial_core_concentration_mol_m3 away from the binodal (and D_core != D_shell): the planar
    interface advances as s^2 = 4 lambda^2 t with lambda of the general two-phase Neumann solution
    (alpha carries its own diffusion layer); at the binodal the same run gives a 25% smaller slope."""
    slopes = {}
    for x0 in (0.0, 0.95):
        out = tmp_path / f"n{x0}"
        r = solidion("run", "shrinking_core", "--out", out, "--set", "geometry=slab_1d",
                     "--set", "surface_condition=concentration", "--set", "initial_core_fraction=0.995",
                     "--set", f"initial_core_concentration_mol_m3={x0 * 22806.0}", "--set", "D_core_m2_s=0.5e-15",
                     "--set", "dt_s=0.001", "--set", "t_end_s=1.0", "--set", "mesh_size=0.002",
                     "--set", "interface_mesh_size=0.001", "--set", "fields_every=0")
        assert r.returncode == 0, r.stderr[-3000:]
        summary = json.loads((out / "summary.json").read_text())
        a = np.genfromtxt(out / "timeseries.csv", delimiter=",", names=True)
        p = summary["parameters"]
        L, D = p["radius_m"], p["D_shell_m2_s"]
        xa, xb = summary["interface_fractions"]["core"], summary["interface_fractions"]["shell"]
        s = (L - a["interface_position_m"]) / L  # beta thickness (x' = L - x)
        tn = a["t_s"] * D / L**2
        m = tn > 0.3 * tn[-1]
        slope = np.polyfit(tn[m], s[m] ** 2, 1)[0]
        lam = neumann_lambda(0.5, 1.0, p["surface_fraction"], xb, xa, x0 or xa)
        slopes[x0] = slope / (4 * lam**2) - 1
        assert abs(slopes[x0]) < 9e-3, slopes  # measured -0.12% (binodal), +0.28% (general case)
    lam_eq = neumann_lambda(0.5, 1.0, 0.005, xb, xa, xa)
    lam_gen = neumann_lambda(0.5, 1.0, 0.005, xb, xa, 0.95)
    assert lam_gen**2 / lam_eq**2 - 1 > 0.25  # the two cases are distinguishable


# --- conservation, mesh validity ---------------------------------------------------------------

def _closed_problem(geometry, comm, degree=1):
    """Closed particle (no flux anywhere), shell supersaturated: Li flows to the interface and the
    core grows until the shell is at its interface value."""
    ca, cb, excess = 0.9, 0.1, 0.1
    if geometry == "sphere_1d":
        dom = radial_domain(0.5, 0.025, comm)
        geo = dict(alpha=T.CORE, beta=T.shell(0), interface=T.interface(0), weight=lambda x: x[0] ** 2,
                   fixed=[T.SYMMETRY, T.SURFACE])
    elif geometry == "axisymmetric_2d":
        from meshes.core_shell import core_shell
        dom = core_shell(0.5, [0.5], h=0.1, dim=2, comm=comm, length_scale=1.0)
        geo = dict(alpha=T.CORE, beta=T.shell(0), interface=T.interface(0), weight=lambda x: x[0],
                   fixed=[T.SURFACE], slip=[(T.SYMMETRY, 0)])
    else:  # slab_2d
        dom = slab_domain(2, 1.0, 0.5, 0.05, comm, width=0.2)
        geo = dict(alpha=T.PHASE_ALPHA, beta=T.PHASE_BETA, interface=T.INTERFACE,
                   fixed=[T.CONTACT_LEFT, T.SURFACE], components=(0,))
    prob = TwoPhaseStefan(dom, c_alpha=ca, c_beta=cb, D_alpha=0.5, D_beta=1.0, init_alpha=ca,
                          init_beta=lambda X: cb + excess + 0 * X[0], degree=degree, **geo)
    return prob, ca, cb, excess


# final core volume vs the equilibrium from conservation: measured -0.26%, -3.7e-6, -0.083%
@pytest.mark.parametrize("geometry,eq_tol", [("sphere_1d", 8e-3), ("slab_2d", 1.2e-5), ("axisymmetric_2d", 2.5e-3)])
def test_moles_conserved_mesh_valid(geometry, eq_tol):
    prob, ca, cb, excess = _closed_problem(geometry, MPI.COMM_WORLD)
    m0 = prob.total_moles()
    v_alpha0, v_total = prob.volume["alpha"](), prob.volume["alpha"]() + prob.volume["beta"]()

    def observe(t):
        q = prob.ale.quality()
        finite = all(np.all(np.isfinite(prob.c[p].x.array)) for p in prob.c)
        return t, prob.total_moles(), prob.volume["alpha"](), q.min_size_ratio, float(finite)

    res, rows = run(prob, observe, 0.6, 1e-3, 0.05)
    t, m, va, size, finite = np.array(rows).T
    drift = np.max(np.abs(m - m0)) / m0
    assert drift < 4e-8, f"moles drift {drift:.3g}"  # measured 1.3e-8, 2.8e-9, 9.9e-9 (tol 1e-7)
    assert np.all(size > 0), "mesh inverted"
    assert np.all(finite == 1.0)
    assert va[-1] > v_alpha0 * 1.05, "the core did not grow"
    # approach to the final equilibrium: c_a V_a + c_b (V - V_a) = m0 (all excess converted)
    va_eq = (m0 - cb * v_total) / (ca - cb)
    assert abs(va[-1] / va_eq - 1) < eq_tol, va[-1] / va_eq - 1
    prob.destroy()


# --- restart ----------------------------------------------------------------------------------

def restart_case(comm, directory, geometry="sphere_1d", k=5, t_end=0.05, degree=1):
    """Closed particle run uninterrupted, and stopped after the checkpoint at step ``k`` and
    restarted on a rebuilt model: (uninterrupted, restarted) as (result, rows)."""

    def simulate(max_steps=10**7, restart=False):
        prob, *_ = _closed_problem(geometry, comm, degree)

        def record(t):
            return {"moles": prob.total_moles(), "v_alpha": prob.volume["alpha"](), "r": prob.interface_radius(),
                    "iterations": prob.iterations, "gain": prob.gain,
                    "quality": prob.last_quality.min_size_ratio}
        control = StepControl(t_end=t_end, dt=1e-3, dt_min=1e-12, dt_max=0.01, grow=1.25, easy_newton=10,
                              max_steps=max_steps)
        ckpt = Checkpointer(directory, comm, every=k, restart=restart) if max_steps < 10**7 or restart else None
        sim = Simulation(prob, control, comm=comm, recorders=[record], checkpoint=ckpt, quiet=True)
        res = sim.run()
        prob.destroy()
        return res, sim.rows

    full = simulate()
    stopped, _ = simulate(max_steps=k)
    assert stopped.steps == k and stopped.checkpoints == 1
    return full, simulate(restart=True)


def assert_same_runs(full, restarted, rtol=1e-10):
    (ra, rows_a), (rb, rows_b) = full, restarted
    assert rb.status == ra.status == "ok", rb.reason
    assert (rb.steps, rb.rejected, rb.newton) == (ra.steps, ra.rejected, ra.newton)
    assert len(rows_a) == len(rows_b)
    for a, b in zip(rows_a, rows_b):
        assert a.keys() == b.keys()
        for key in a:
            assert b[key] == pytest.approx(a[key], rel=rtol, abs=1e-300), (key, a, b)


def test_model_restart_matches_uninterrupted(tmp_path):
    full, restarted = restart_case(MPI.COMM_SELF, tmp_path / "run")
    assert full[0].steps > 8
    assert_same_runs(full, restarted)


def test_problem_restart_after_kill_matches_uninterrupted(tmp_path):
    """``solidion run`` killed with SIGKILL after a checkpoint and ``solidion restart``-ed ends with
    the observables of the uninterrupted run and the same step count (fields written at the
    checkpointed steps: the output scaling of the moving mesh must not leak into the restart)."""
    from restart_util import assert_same_run, kill_and_restart
    A, B = kill_and_restart("shrinking_core", tmp_path, ["mesh_size=0.04", "t_end_s=300", "fields_every=3",
                                                         "remesh_quality=0"],
                            every=3, kill_after_step=3)
    (sa, ta), (sb, tb) = A, B
    assert 3 <= sb["restarted_from_step"] < sa["steps"] and len(ta["t_s"]) > 10
    assert_same_run(A, B, rtol=1e-10)
    for key in ("newton_iterations", "krylov_iterations"):
        assert sb[key] == sa[key], key
    for key in ("t_final_s", "final_core_volume_fraction", "max_mass_balance_rel_error"):
        assert sb[key] == pytest.approx(sa[key], rel=1e-10, abs=1e-300), key


# --- the problem, end to end -------------------------------------------------------------------

@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("shrinking_core")
    r = solidion("run", "shrinking_core", "--out", out, "--set", "mesh_size=0.04", "--set", "c_rate=2",
                 "--set", "initial_core_fraction=0.9", "--set", "min_core_volume_fraction=0.05")
    assert r.returncode == 0, r.stderr[-3000:]
    return out


def test_problem_outputs_and_constant_current_core_radius(cli_run):
    out = cli_run
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "ok" and "core converted" in summary["reason"]
    assert (out / "plots" / "interface.png").stat().st_size > 0
    assert (out / "fields" / "concentration.bp").exists()
    data = np.genfromtxt(out / "timeseries.csv", delimiter=",", names=True)
    assert data.dtype.names[0] == "t_s"
    p = summary["parameters"]
    xa, xb = summary["interface_fractions"]["core"], summary["interface_fractions"]["shell"]
    # Li extracted at constant current comes from core conversion (shell storage ~ St):
    R = p["radius_m"]
    # 1C on the two-phase window: F V c_max |x_core - x_shell| per hour
    current_mol_s = p["c_rate"] * p["c_max_mol_m3"] * abs(xa - xb) * 4 / 3 * math.pi * R**3 / 3600
    assert abs(data["current_A"][-1]) == pytest.approx(current_mol_s * 96485.33212, rel=1e-9)
    r_exact = shrinking_core_constant_current_radius(data["t_s"], R, 0.9 * R, current_mol_s,
                                                     xa * p["c_max_mol_m3"], xb * p["c_max_mol_m3"])
    mask = r_exact > 0.4 * R
    err = np.max(np.abs(data["core_radius_m"][mask] - r_exact[mask]) / r_exact[mask])
    assert err < 0.01, f"core radius vs mass balance {err:.3g}"  # measured 0.91%
    # voltage plateau: the OCV of the coexisting phases (= U0 for a symmetric regular solution),
    # raised by the small shell gradient and the Butler-Volmer overpotential (measured: within
    # 1.3 to 7.8 mV above U0, spread 5.5 mV over the plateau)
    v = data["voltage_V"]
    assert np.all(v > p["ocv_reference_V"]) and np.all(v - p["ocv_reference_V"] < 0.024)
    assert np.ptp(v[mask]) < 0.016
    assert np.max(data["mass_balance_rel_error"]) < 4.5e-8  # measured 1.4e-8 (interface tolerance 1e-7)
    assert np.all(data["min_cell_size_ratio"] > 0)


def test_problem_3d_sphere_remeshes_to_full_conversion(tmp_path):
    """3D ball to full conversion: remeshed (Gmsh, the interface and surface triangulations kept) whenever
    the shape ratio falls below 0.5; the volume-equivalent core radius follows the constant-current
    mass balance, the moles are restored exactly across every remesh and the mass balance holds."""
    out = tmp_path / "sc3d"
    r = solidion("run", "shrinking_core", "--out", out, "--set", "geometry=sphere_3d", "--set", "mesh_size=0.25",
                 "--set", "initial_core_fraction=0.7", "--set", "c_rate=4", "--set", "fields_every=0",
                 "--set", "shell_cells=1")
    assert r.returncode == 0, r.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "ok", summary["reason"]
    assert "core converted" in summary["reason"] and summary["final_core_volume_fraction"] < 1e-3
    assert summary["remesh_count"] >= 2  # measured 5 (1523 -> 2840 cells)
    assert summary["max_remesh_moles_rel_error"] < 1e-12  # measured 7.6e-16 (round-off)
    data = np.genfromtxt(out / "timeseries.csv", delimiter=",", names=True)
    assert np.max(data["mass_balance_rel_error"]) < 6e-8  # measured 1.9e-8 (interface tolerance 1e-7)
    assert np.all(data["min_cell_size_ratio"] > 0)
    assert np.all(np.isfinite(data["c_surface_mol_m3"]))
    p = summary["parameters"]
    xa, xb = summary["interface_fractions"]["core"], summary["interface_fractions"]["shell"]
    R = p["radius_m"]
    vol = summary["volume_m3"]
    r0 = (3 * summary["initial_core_volume_fraction"] * vol / (4 * math.pi)) ** (1 / 3)
    current_mol_s = p["c_rate"] * p["c_max_mol_m3"] * abs(xa - xb) * vol / 3600
    r_exact = shrinking_core_constant_current_radius(data["t_s"], R, r0, current_mol_s,
                                                     xa * p["c_max_mol_m3"], xb * p["c_max_mol_m3"])
    # while the core holds most of the Li (later the shell's own depletion, O(St) at c_rate 4, feeds the
    # current: at r_c = 0.25 R the core lags the all-from-the-core law by 19%, with the moles exact)
    m = r_exact > 0.5 * R
    err = np.max(np.abs(data["core_radius_m"][m] - r_exact[m]) / r_exact[m])
    assert err < 0.011, f"core radius vs mass balance {err:.3g}"  # measured 0.36% (one remesh in this range)


def test_remesh_interface_size_follows_the_core():
    """3D remesh sizes (meshes.stefan_particle, opt-in remesh_interface_per_radius f): the interface target
    f r_c (floor 0.02 R, cap h_shell) resamples a shrinking core with a constant number of triangles
    (icosphere level 3, 1280, for f = 0.2), where the fixed initial size leaves it a few (80 at r_c = 0.14 R,
    the cause of the 4.7%-of-R core-radius error of the bench at h_shell = 0.1 R)."""
    from meshes.core_shell import icosphere, star_shaped_resample
    from meshes.stefan_particle import remesh_interface_size
    u, f = icosphere(3)  # the old interface: a fine sphere
    for r_c in (0.6, 0.3, 0.14):
        sphere = (u * r_c)[f]
        for h_if, expect in ((remesh_interface_size(r_c, 0.1), 1280), (0.1, None)):
            target = min(0.25, max(h_if, 0.2 * r_c))  # as meshes.core_shell.core_shell_from_boundaries
            new = star_shaped_resample(sphere, target)
            if expect:
                assert len(new) == expect, (r_c, len(new))
                edges = np.linalg.norm(new[:, 1] - new[:, 0], axis=1)
                assert 0.08 * r_c < np.mean(edges) < 0.2 * r_c, np.mean(edges) / r_c  # measured 0.13 r_c
            elif r_c == 0.14:
                assert len(new) == 80  # the fixed size: level 1
    assert remesh_interface_size(0.05, 0.1) == 0.02 and remesh_interface_size(0.9, 0.1) == 0.1  # floor, cap


def test_restart_after_remesh_is_refused(tmp_path):
    """A checkpoint written after a remesh holds a mesh a restart cannot rebuild: refused with one line."""
    out = tmp_path / "rm"
    r = solidion("run", "shrinking_core", "--out", out, "--set", "mesh_size=0.04", "--set", "t_end_s=120",
                 "--set", "remesh_quality=0.9", "--set", "fields_every=0", "--checkpoint-every", "5")
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads((out / "summary.json").read_text())["remesh_count"] >= 1
    r = solidion("restart", out, "--set", "t_end_s=200")
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert "cannot restart shrinking_core after a remesh" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


@pytest.mark.parametrize("extra,expect", [
    # potentiostatic delithiation: converts the whole core (0.729 -> 0.00099 measured)
    (("surface_condition=butler_volmer", "electrode_potential_V=3.45"), "converted"),
    # planar lithiation at 1C for 600 s: the interface moves by the charge passed (measured 0.061%)
    (("surface_condition=current", "process=lithiation", "geometry=slab_1d"), "charge"),
    # fixed surface concentration, axisymmetric: remeshed past the old mesh-quality stop (0.729 -> 0.238)
    # to full conversion (7 remeshes; before the remesher dropped crowded interface nodes, the end game
    # stalled in 1 of 6 runs at vf ~0.0011 on slivers, 'mesh would invert')
    (("surface_condition=concentration", "surface_fraction=0.004", "geometry=axisymmetric_2d", "mesh_size=0.04"),
     "remeshed"),
])
def test_problem_surface_conditions(tmp_path, extra, expect):
    """Every surface condition converts the core as far as it can go, conserves the moles (the
    inflow integrated from the boundary flux) and keeps the mesh valid."""
    out = tmp_path / "run"
    args = ["run", "shrinking_core", "--out", out, "--set", "t_end_s=600", "--set", "fields_every=0",
            "--set", "initial_core_fraction=0.9"]
    for e in extra:
        args += ["--set", e]
    r = solidion(*args)
    assert r.returncode == 0, r.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "ok", summary["reason"]
    data = np.genfromtxt(out / "timeseries.csv", delimiter=",", names=True)
    f = data["core_volume_fraction"]
    if expect == "converted":
        assert "core converted" in summary["reason"] and f[-1] < 1e-3
    elif expect == "charge":
        # all the charge converts core; 1C converts the whole window in an hour: df = c_rate t / 3600
        df = summary["parameters"]["c_rate"] * summary["t_final_s"] / 3600
        assert (f[0] - f[-1]) == pytest.approx(df, rel=1.8e-3, abs=0)
    else:
        assert summary["remesh_count"] >= 1 and f[-1] < 0.238
        assert "core converted" in summary["reason"] and f[-1] < 1e-3
        assert summary["max_remesh_moles_rel_error"] < 1e-12
    # measured 3.9e-8 (Butler-Volmer), 6.1e-9, 7.6e-9 (interface tolerance 1e-7)
    assert np.max(data["mass_balance_rel_error"]) < 1.2e-7
    assert np.all(data["min_cell_size_ratio"] > 0)
    lith = "process=lithiation" in extra
    assert np.all(np.diff(data["moles_mol" if "moles_mol" in data.dtype.names else "moles_mol_m2"])
                  * (1 if lith else -1) >= -1e-30)  # monotone (de)lithiation


@pytest.mark.parametrize("override,name", [
    ("surface_condition=concentration", "surface_fraction"),   # default 0.005 ok; use 0.5 below
    ("omega_eV=0.03", "omega_eV"),
    ("initial_core_fraction=1.2", "initial_core_fraction"),
])
def test_bad_input(override, name):
    from problems.shrinking_core import ShrinkingCoreParameters
    kw = dict([override.split("=")])
    kw = {k: (v if k in ("surface_condition",) else float(v)) for k, v in kw.items()}
    if name == "surface_fraction":
        kw["surface_fraction"] = 0.5
    with pytest.raises(InputError, match=name):
        ShrinkingCoreParameters.from_dict(kw)


# --- non-spherical particles: ellipsoid, anisotropic shell ---------------------------------------
ELLIPSOID = ("--set", "geometry=ellipsoid_3d", "--set", "mesh_size=0.25", "--set", "shell_cells=1",
             "--set", "initial_core_fraction=0.7", "--set", "fields_every=0", "--set", "D_shell_anisotropy=4")


def test_anisotropic_shell_core_recedes_fastest_along_the_fast_axis(tmp_path):
    """Prediction (i) of problems/shrinking_core.py: a ball (the ellipsoid path with equal semi-axes)
    whose shell diffuses 4x faster along z (D = D_shell diag(1, 1, 4)), at a fixed surface concentration:
    while the shell is thin the flux across it, ~ D_nn Delta c / thickness, is largest along z, so the
    core recedes fastest along z and its aspect ratio z/x (semi-axes of the ellipsoid with the core's
    second moments) falls steadily below 1, while x/y (same D) stays 1 up to the mesh's asymmetry.
    If the tensor were ignored z/x would stay ~1; if it were applied along x, z/x would rise."""
    out = tmp_path / "ball"
    r = solidion("run", "shrinking_core", "--out", out, *ELLIPSOID, "--set", "semi_axes_m=[1e-7,1e-7,1e-7]",
                 "--set", "surface_condition=concentration", "--set", "t_end_s=10")
    assert r.returncode == 0, r.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "ok", summary["reason"]
    d = np.genfromtxt(out / "timeseries.csv", delimiter=",", names=True)
    zx = d["core_semi_axis_z_m"] / d["core_semi_axis_x_m"]
    yx = d["core_semi_axis_y_m"] / d["core_semi_axis_x_m"]
    assert abs(zx[0] - 1) < 0.006  # measured 0.0019 (the initial mesh)
    assert np.all(np.diff(zx) < 0)  # measured: decreasing at every step
    assert zx[-1] < 0.955  # measured 0.9376 at t = 9.9 s (core volume fraction 0.33 -> 0.24)
    assert np.max(np.abs(yx - 1)) < 0.0012  # measured 3.5e-4
    assert np.max(d["mass_balance_rel_error"]) < 1.5e-8  # measured 4.3e-9 (interface tolerance 1e-7)


def test_rotated_anisotropy_axis(tmp_path):
    """D_shell_axis = (1, 0, 1) (the fast axis n at 45 degrees in the xz plane), otherwise the case of
    test_anisotropic_shell_core_recedes_fastest_along_the_fast_axis.  Prediction (i) with z read as n:
    the core recedes fastest along n, so its semi-axis along n over the one across n falls below 1, as
    z/x did with n = z: the physics is rotation invariant, so the ratio must match that run's z/x at
    t = 9.9 s (measured 0.9376; here 0.9397, the difference being the mesh's).  The mirror x <-> z maps
    n to itself, so z/x keeps its initial-mesh value, while y (across n) becomes the longest axis.
    Ignoring the axis would make z/x fall; a non-normalized n (|n|^2 = 2, i.e. a = 7) would push the
    ratio well below the bound."""
    out = tmp_path / "rot"
    r = solidion("run", "shrinking_core", "--out", out, *ELLIPSOID, "--set", "semi_axes_m=[1e-7,1e-7,1e-7]",
                 "--set", "surface_condition=concentration", "--set", "t_end_s=10", "--set", "D_shell_axis=[1,0,1]")
    assert r.returncode == 0, r.stderr[-3000:]
    d = np.genfromtxt(out / "timeseries.csv", delimiter=",", names=True)
    ratio = d["core_semi_axis_along_D_axis_m"] / d["core_semi_axis_across_D_axis_m"]
    assert abs(ratio[0] - 1) < 0.003  # measured 8e-4 (the initial mesh)
    assert np.all(np.diff(ratio) < 0)  # measured: decreasing at every step
    i = int(np.argmin(np.abs(d["t_s"] - 9.92)))
    assert abs(ratio[i] - 0.9376) < 0.006, ratio[i]  # measured 0.9397 at t = 9.92 s (n = z run: z/x 0.9376)
    zx = d["core_semi_axis_z_m"] / d["core_semi_axis_x_m"]
    assert np.max(np.abs(zx - zx[0])) < 0.001  # measured 2e-4
    yx = d["core_semi_axis_y_m"] / d["core_semi_axis_x_m"]
    assert yx[-1] > 1.02 and np.all(np.diff(yx) > 0)  # measured 1.0305, rising at every step
    # measured 6.0e-9 with the 3D default nodal tolerance 1e-5 (1.4e-9 at 1e-7): the mean mode's 1e-9
    # per step, accumulated
    assert np.max(d["mass_balance_rel_error"]) < 1.8e-8


def test_ellipsoid_anisotropic_mass_balance_and_rounding(tmp_path):
    """An oblate-ish ellipsoid (semi-axes 100, 80, 60 nm, the core the scaled ellipsoid) with the fast
    shell axis along its short axis z, delithiated at 4C through two remeshes: the moles follow the
    prescribed current, M(t) = M(0) - I t / F with I = c_rate F c_max |x_core - x_shell| V / 3600 s
    (V the mesh volume), and each remesh restores the phase moles exactly.  Prediction (ii) of
    problems/shrinking_core.py: as it shrinks the core rounds off in z' = z / sqrt(a), i.e. towards
    z/x = sqrt(4) = 2: from 0.60 it rises past 1, where the isotropic shell's core stays below
    (measured with D_shell_anisotropy=1 on the same mesh: z/x 0.60 -> 0.756 at t = 200 s)."""
    out = tmp_path / "ell"
    r = solidion("run", "shrinking_core", "--out", out, *ELLIPSOID, "--set", "semi_axes_m=[1e-7,0.8e-7,0.6e-7]",
                 "--set", "c_rate=4", "--set", "t_end_s=200")
    assert r.returncode == 0, r.stderr[-3000:]
    s = json.loads((out / "summary.json").read_text())
    assert s["status"] == "ok", s["reason"]
    p, d = s["parameters"], np.genfromtxt(out / "timeseries.csv", delimiter=",", names=True)
    xa, xb = s["interface_fractions"]["core"], s["interface_fractions"]["shell"]
    current_A = p["c_rate"] * 96485.33212 * p["c_max_mol_m3"] * abs(xa - xb) * s["volume_m3"] / 3600
    m = d["moles_mol"]
    err = np.max(np.abs(m - (m[0] - current_A * d["t_s"] / 96485.33212))) / m[0]
    assert err < 6e-8, err  # measured 1.9e-8 (interface tolerance 1e-7), 65% of the moles extracted
    assert (m[0] - m[-1]) / m[0] > 0.5
    assert s["remesh_count"] >= 2 and s["max_remesh_moles_rel_error"] < 1e-12  # measured 2, 5.6e-16
    zx = d["core_semi_axis_z_m"] / d["core_semi_axis_x_m"]
    assert abs(zx[0] - 0.6) < 0.01  # measured 0.6033
    assert zx[-1] > 1.03, zx[-1]  # measured 1.072 (isotropic: 0.756)
    assert np.all(np.diff(zx) > -0.003)  # rises throughout (measured: at every step, across both remeshes)


@pytest.mark.parametrize("kw,name", [
    (dict(geometry="ellipsoid_3d"), "semi_axes_m"),                                      # required
    (dict(geometry="ellipsoid_3d", semi_axes_m=[1e-7, 1e-7]), "semi_axes_m"),           # three of them
    (dict(geometry="ellipsoid_3d", semi_axes_m=[1e-7, 1e-7, 1e-7], radius_m=2e-7), "radius_m"),  # unused
    (dict(geometry="sphere_3d", semi_axes_m=[1e-7, 1e-7, 1e-7]), "semi_axes_m"),        # unused
    (dict(geometry="sphere_1d", D_shell_anisotropy=2.0), "D_shell_anisotropy"),         # meaningless in 1D
    (dict(geometry="ellipsoid_3d", semi_axes_m=[1e-7, 1e-7, -1e-7]), "semi_axes_m"),    # positive
    (dict(geometry="axisymmetric_2d", remesh_interface_per_radius=0.2), "remesh_interface_per_radius"),  # 3D only
    (dict(geometry="sphere_3d", mesh_file="p.msh"), "mesh_file"),                        # unused without mesh_file
    (dict(geometry="sphere_3d", D_shell_axis=[1.0, 0.0, 0.0]), "D_shell_axis"),           # unused if isotropic
    (dict(geometry="axisymmetric_2d", D_shell_anisotropy=2.0, D_shell_axis=[1.0, 0.0, 0.0]), "D_shell_axis"),
    (dict(geometry="sphere_3d", D_shell_anisotropy=2.0, D_shell_axis=[0.0, 0.0, 0.0]), "D_shell_axis"),
    (dict(geometry="mesh_file"), "mesh_file"),                                          # required
    (dict(geometry="mesh_file", mesh_file="p.msh", mesh_unit_m=1e-9, shell_cells=3), "shell_cells"),  # the file sets it
    (dict(geometry="mesh_file", mesh_file="missing.msh", mesh_unit_m=1e-9), "no such file"),
])
def test_bad_input_non_spherical(kw, name):
    from problems.shrinking_core import ShrinkingCoreParameters
    with pytest.raises(InputError, match=name):
        ShrinkingCoreParameters.from_dict(kw)


# --- a user's core-shell mesh (geometry=mesh_file) -------------------------------------------------
def _write_core_shell_msh(path, drop=None, core_name="core"):
    """An ellipsoidal particle (semi-axes 60, 50, 40 nm) with a spherical core (radius 20 nm) off its
    centre at (5, 0, 0) nm, written by Gmsh with physical groups core, shell, interface, surface (``drop``:
    one left out); returns the volume of the particle and of the core tetrahedra [nm^3] from the file's
    nodes (independent of solidion's reader)."""
    import gmsh
    gmsh.initialize(readConfigFiles=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        occ = gmsh.model.occ
        outer = occ.addSphere(0, 0, 0, 1.0)
        occ.dilate([(3, outer)], 0, 0, 0, 60, 50, 40)
        core = occ.addSphere(5, 0, 0, 20)
        occ.fragment([(3, outer)], [(3, core)])
        occ.synchronize()

        def size(d, t):
            return max(abs(np.array(gmsh.model.getBoundingBox(d, t))))
        vols = sorted((t for _, t in gmsh.model.getEntities(3)), key=lambda t: size(3, t))
        surfs = sorted((t for _, t in gmsh.model.getEntities(2)), key=lambda t: size(2, t))
        for name, d, ent in ((core_name, 3, vols[0]), ("shell", 3, vols[1]), ("interface", 2, surfs[0]),
                             ("surface", 2, surfs[1])):
            if name != drop:
                gmsh.model.setPhysicalName(d, gmsh.model.addPhysicalGroup(d, [ent]), name)
        gmsh.option.setNumber("Mesh.MeshSizeMin", 6.0)
        gmsh.option.setNumber("Mesh.MeshSizeMax", 10.0)
        gmsh.model.mesh.generate(3)
        gmsh.write(str(path))
        tags, x, _ = gmsh.model.mesh.getNodes()
        xyz = np.zeros((int(tags.max()) + 1, 3))
        xyz[tags.astype(int)] = x.reshape(-1, 3)
        volumes = []
        for v in vols:
            _, _, conn = gmsh.model.mesh.getElements(3, v)
            p = xyz[conn[0].astype(int).reshape(-1, 4)]
            volumes.append(np.sum(np.abs(np.linalg.det(p[:, 1:] - p[:, :1]))) / 6)
        return volumes[0] + volumes[1], volumes[0]
    finally:
        gmsh.finalize()


def test_user_mesh_file_mass_balance(tmp_path):
    """geometry=mesh_file: a core-shell .msh written here by Gmsh (nm units, mesh_unit_m=1e-9; the core
    off the particle's centre) runs at 4C through a remesh; the moles follow the prescribed current
    M(t) = M(0) - I t / F with I = c_rate F c_max |x_core - x_shell| V / 3600 s, V the particle volume
    summed from the file's own tetrahedra; the initial core volume is the file's core."""
    msh = tmp_path / "particle.msh"
    V_nm3, Vcore_nm3 = _write_core_shell_msh(msh)
    out = tmp_path / "run"
    r = solidion("run", "shrinking_core", "--out", out, "--set", "geometry=mesh_file", "--set", f"mesh_file={msh}",
                 "--set", "mesh_unit_m=1e-9", "--set", "c_rate=4", "--set", "dt_s=2", "--set", "t_end_s=20",
                 "--set", "remesh_quality=0.8", "--set", "fields_every=0")
    assert r.returncode == 0, r.stderr[-3000:]
    s = json.loads((out / "summary.json").read_text())
    assert s["status"] == "ok", s["reason"]
    p, d = s["parameters"], np.genfromtxt(out / "timeseries.csv", delimiter=",", names=True)
    assert s["volume_m3"] == pytest.approx(V_nm3 * 1e-27, rel=1e-10)  # measured 1.3e-15
    assert s["initial_core_volume_fraction"] == pytest.approx(Vcore_nm3 / V_nm3, rel=1e-10)  # measured 1.8e-15
    xa, xb = s["interface_fractions"]["core"], s["interface_fractions"]["shell"]
    F = 96485.33212
    current_A = p["c_rate"] * F * p["c_max_mol_m3"] * abs(xa - xb) * V_nm3 * 1e-27 / 3600
    m = d["moles_mol"]
    err = np.max(np.abs(m - (m[0] - current_A * d["t_s"] / F))) / m[0]
    assert err < 2e-8, err  # measured 6.4e-9 (interface tolerance 1e-7)
    assert (m[0] - m[-1]) / m[0] > 0.2  # measured 0.29 of the moles extracted (core volume fraction 0.063 -> 0.042)
    assert s["remesh_count"] >= 1 and s["max_remesh_moles_rel_error"] < 1e-12  # measured 1, 4.2e-15
    # the core (a sphere in the file) stays near-spherical about its own centre (the mesh was centred on it)
    assert np.max(np.abs(d["core_semi_axis_z_m"] / d["core_semi_axis_x_m"] - 1)) < 0.07  # measured 0.024


@pytest.mark.parametrize("drop,core_name,unit,name", [
    ("interface", "core", 1e-9, "'interface'"),   # a missing group is named
    (None, "inner", 1e-9, "'core'"),              # a misspelt group: 'core' missing
    (None, "core", 0.0, "mesh_unit_m"),           # the unit is required
])
def test_user_mesh_file_bad(tmp_path, drop, core_name, unit, name):
    from problems.shrinking_core import ShrinkingCoreParameters
    msh = tmp_path / "bad.msh"
    _write_core_shell_msh(msh, drop=drop, core_name=core_name)
    with pytest.raises(InputError, match=name) as e:
        ShrinkingCoreParameters.from_dict(dict(geometry="mesh_file", mesh_file=str(msh), mesh_unit_m=unit))
    assert "\n" not in str(e.value) and (str(msh) in str(e.value))


def test_user_mesh_file_cli_exit_2(tmp_path):
    """A missing group: exit 2 with one line naming the file and the group, before any PETSc work."""
    msh = tmp_path / "nosurface.msh"
    _write_core_shell_msh(msh, drop="surface")
    r = solidion("run", "shrinking_core", "--out", tmp_path / "x", "--set", "geometry=mesh_file", "--set",
                 f"mesh_file={msh}", "--set", "mesh_unit_m=1e-9")
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and str(msh) in lines[0] and "'surface'" in lines[0], r.stderr


def test_interface_preconditioner_flux_sensitivity(tmp_path, monkeypatch):
    """The 3D interface preconditioner's flux-sensitivity term (fem.models.stefan.SENSITIVITY_DEFAULT)
    cuts the interface iterations of a 3D ball at large steps without changing the result: the same
    run with the mass-matrix preconditioner alone (scale 0) takes more iterations per attempted step,
    and at the times both runs reach (the same steps until the step sizes part) the core volumes agree
    to the interface tolerance.  Measured (session 8): 5.7 against 8.7 iterations per attempted step,
    27 and 28 steps (both stop at the mesh-quality limit, remeshing off), the core volume fractions at
    the 24 common times within 1.4e-9.  Since session 10 (second-order predictor, mean mode from the
    modelled sum row, damped non-mean step) the term gains less: 4.38 against 4.62 (undamped: 4.55
    against 5.31)."""
    import fem.models.stefan as stefan
    from solidion import run as run_problem
    kw = dict(quiet=True, geometry="sphere_3d", mesh_size=0.3, shell_cells=1, initial_core_fraction=0.7,
              c_rate=2.0, t_end_s=600.0, dt_max_s=120.0, fields_every=0, remesh_quality=0.0)
    scales = (stefan.SENSITIVITY_DEFAULT, 0.0)
    summary, data = {}, {}
    for scale in scales:
        monkeypatch.setattr(stefan, "SENSITIVITY_DEFAULT", scale)
        run_problem("shrinking_core", out=tmp_path / f"s{scale}", **kw)
        summary[scale] = json.loads((tmp_path / f"s{scale}" / "summary.json").read_text())
        data[scale] = np.genfromtxt(tmp_path / f"s{scale}" / "timeseries.csv", delimiter=",", names=True)
    per_attempt = {s: o["stefan_iterations"] / (o["steps"] + o["rejected_steps"]) for s, o in summary.items()}
    new, old = scales
    assert summary[new]["status"] == summary[old]["status"] == "ok"
    assert per_attempt[new] < 0.98 * per_attempt[old], per_attempt  # measured 4.38 / 4.62 = 0.95
    ta, tb = data[new]["t_s"], data[old]["t_s"]
    n = int(np.argmax(~np.isclose(ta[:len(tb)], tb[:len(ta)], rtol=1e-12)))  # first step that differs
    assert n >= 10, n  # measured 24 common times
    vf_a, vf_b = data[new]["core_volume_fraction"][:n], data[old]["core_volume_fraction"][:n]
    assert np.max(np.abs(vf_a - vf_b)) < 1e-6, np.max(np.abs(vf_a - vf_b))  # measured 1.4e-9 (tol 1e-5 R)
    for s in scales:
        assert summary[s]["max_mass_balance_rel_error"] < 5e-8  # measured 1.2e-8, 1.3e-8


def test_interface_iteration_predictor_and_mean_mode(tmp_path):
    """The session-10 interface iteration (fem.models.stefan: second-order velocity predictor, the mean
    mode set by a Broyden model of the Jacobian's sum row aimed at the moles defect so far, secant gain
    from the largest mean move, non-mean step damped by DAMPING_DEFAULT) takes fewer iterations than
    the session-9 one on the 3D ball of test_interface_preconditioner_flux_sensitivity, with the same
    core volumes: the session-9 scheme's numbers are stored below (5.72 iterations per attempted step,
    27 steps, 2 rejected; moles balance 1.2e-8).  Measured now: 4.38 iterations per attempted step, the
    same 27 steps (2 rejected), core volume fractions within 3.5e-9 of the session-9 ones at the 24
    common times, moles balance 2.4e-9."""
    from solidion import run as run_problem
    kw = dict(quiet=True, geometry="sphere_3d", mesh_size=0.3, shell_cells=1, initial_core_fraction=0.7,
              c_rate=2.0, t_end_s=600.0, dt_max_s=120.0, fields_every=0, remesh_quality=0.0)
    run_problem("shrinking_core", out=tmp_path / "r", **kw)
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    data = np.genfromtxt(tmp_path / "r" / "timeseries.csv", delimiter=",", names=True)
    assert summary["status"] == "ok"
    per_attempt = summary["stefan_iterations"] / (summary["steps"] + summary["rejected_steps"])
    assert per_attempt < 0.85 * 5.72, per_attempt  # measured 4.38 (session 9: 5.72)
    # (t_s, core volume fraction) of the session-9 scheme at five of the common times
    old = [(5.629394531249999, 0.32856005004431665), (27.1038304567337, 0.31664651804336663),
           (109.02230246251564, 0.2712091520484592), (214.84043449710086, 0.21254600937471993),
           (336.8131789017201, 0.14499749356930328)]
    for t_old, vf_old in old:
        i = int(np.argmin(np.abs(data["t_s"] - t_old)))
        assert data["t_s"][i] == pytest.approx(t_old, rel=1e-12), (t_old, data["t_s"][i])
        assert abs(data["core_volume_fraction"][i] - vf_old) < 1e-6, (t_old, data["core_volume_fraction"][i] - vf_old)
    assert summary["max_mass_balance_rel_error"] < 1e-8  # measured 2.4e-9 (session 9: 1.2e-8)


def test_first_iterate_split_predictor_across_a_remesh():
    """The 3D first iterate of fem.models.stefan (session 11): the smooth part of the interface velocity
    (area-weighted fit of the spherical harmonics of degree <= 2) is extrapolated linearly, also across
    a remesh (its coefficient history does not live on the mesh); the rough rest (after a remesh it
    relaxes over a few steps, roughly geometrically) with its change damped by ROUGH_DAMPING; on a fresh
    mesh the transferred rough part is dropped.  Synthetic history at equal steps, v_n = S(n) + q^n rho
    (S linear in n, rho orthogonal to the smooth space, q = ROUGH_DAMPING = 0.4): the predictor gives v_3 to
    round-off, where the session-10 linear extrapolation 2 v_2 - v_1 misses by q (1 - q)^2 |rho|; after
    a remesh onto another triangulation of the same ball it gives S(3) on the new nodes."""
    import fem.models.stefan as stefan
    from meshes.core_shell import core_shell
    comm = MPI.COMM_WORLD

    def ball(h):
        return core_shell(0.5, [0.5], h=h, dim=3, comm=comm, length_scale=1.0)

    prob = TwoPhaseStefan(ball(0.3), alpha=T.CORE, beta=T.shell(0), interface=T.interface(0), c_alpha=0.9,
                          c_beta=0.1, fixed=[T.SURFACE], remesher=lambda model: ball(0.27))
    rng = np.random.default_rng(1)
    c0, c1 = rng.normal(size=9), rng.normal(size=9) * 0.1  # S(n) = B (c0 + n c1)
    q = 0.4  # ROUGH_DAMPING (the measured decay of the rough part after a remesh, roughly)
    assert stefan.ROUGH_DAMPING == q

    def smooth(n):
        return prob._basis @ (c0 + n * c1)

    rho = rng.normal(size=len(prob.idofs))
    rho = rho - prob._basis @ prob._smooth_fit(rho)  # the rough part: orthogonal to the smooth space
    v = {n: smooth(n) + q ** n * rho for n in (1, 2, 3)}
    prob.velocity_prev, prob.velocity, prob.accepted_on_mesh = v[1], v[2], 2
    prob.smooth_hist = [(1.0, prob._smooth_fit(v[1])), (1.0, prob._smooth_fit(v[2]))]

    def err(a, b):  # max norm over the interface vertices (of the current mesh)
        return comm.allreduce(float(np.max(np.abs(a - b)[prob.owned], initial=0.0)), op=MPI.MAX)
    scale = err(rho, 0 * rho)
    assert err(prob._split_predictor(1.0), v[3]) < 1e-10 * scale
    assert err(2 * v[2] - v[1], v[3]) > 0.5 * q * (1 - q) ** 2 * scale  # the session-10 predictor
    # remesh: the smooth history carries over, the transferred (old mesh's) rough part is dropped
    prob.last_quality = prob.ale.quality()
    prob.remesh(2.0)
    assert prob.remesh_count == 1 and prob.accepted_on_mesh == 0
    predicted, expected = prob._split_predictor(1.0), smooth(3)
    assert err(predicted, expected) < 1e-10 * err(expected, 0 * expected)
    assert err(prob.velocity, expected) > 0.1 * q ** 2 * scale  # the transferred velocity (session 10's first iterate)
    prob.destroy()
