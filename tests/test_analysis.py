"""issue 16 item 3: analyses of measured/simulated data (fem.analysis, `solidion analyze`).

Synthetic inputs come from independent references: exact Arrhenius data, an erf couple and the
Boltzmann similarity solution (fem.reference.boltzmann, scipy's BVP solver) for Matano,
solidion's own `interdiffusion` problem, Crank's fixed-surface sphere (fem.analytic) for PITT,
and a method-of-lines sphere integrated by scipy's BDF (tests/analysis_synthetic.py) for GITT.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.special import erf

sys.path.insert(0, str(Path(__file__).parent))
from analysis_synthetic import synthetic_gitt  # noqa: E402
from conftest import solidion  # noqa: E402

from solidion.cli import main as solidion_main  # noqa: E402

from fem.analysis import arrhenius, gitt, matano, pitt, sphere  # noqa: E402
from fem.analysis.io import write_csv  # noqa: E402
from fem.scaling import FARADAY, GAS_CONSTANT  # noqa: E402


def _cli(args):
    """``solidion ARGS`` in this process (no interpreter start-up): (exit status, stdout, stderr)."""
    import contextlib
    import io
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = solidion_main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


# --- Arrhenius -------------------------------------------------------------------------------

def test_arrhenius_exact_data_recovers_Ea():
    Ea, D0 = 52.3e3, 3.7e-9
    T = np.array([280.0, 300.0, 320.0, 350.0, 400.0])
    r = arrhenius.fit(T, D0 * np.exp(-Ea / (GAS_CONSTANT * T)))
    print("MEASURED arrhenius exact: Ea", r["activation_energy_J_mol"] / Ea - 1, "D0", r["D0_m2_s"] / D0 - 1,
          "u_Ea/Ea", r["activation_energy_uncertainty_J_mol"] / Ea)
    # measured: Ea 1.4e-15, D0 2.0e-14 (the intercept at 1/T = 0 amplifies round-off), u(Ea)/Ea 2.1e-15:
    # round-off.  Bounds ~5x measured (BLAS round-off varies); the issue asks for 1e-6.
    assert abs(r["activation_energy_J_mol"] / Ea - 1) < 1e-14
    assert abs(r["D0_m2_s"] / D0 - 1) < 1e-13
    assert r["activation_energy_uncertainty_J_mol"] < 1e-14 * Ea


def test_arrhenius_uncertainty_covers_noisy_truth():
    """Noise of 5 % in D: the stated standard uncertainty is the sampling spread (checked over 200 draws).

    z = (Ea_fit - Ea)/u(Ea) is Student-t with n - 2 = 6 degrees of freedom: mean 0, standard deviation
    sqrt(6/4) = 1.2247, and |z| < t_{0.975,6} = 2.4469 in 95 % of the draws.  Bounds are 3 sampling standard
    deviations of these statistics over 200 draws: mean 3 * 1.2247/sqrt(200) = 0.26; std (kurtosis of t6 = 6)
    3 * 1.2247 sqrt((6 - 1)/(4 * 200)) = 0.29; coverage 3 sqrt(0.95 * 0.05/200) = 0.046."""
    Ea, D0 = 40e3, 1e-10
    T = np.linspace(273.0, 373.0, 8)
    rng = np.random.default_rng(1)
    z = []
    for _ in range(200):
        r = arrhenius.fit(T, D0 * np.exp(-Ea / (GAS_CONSTANT * T)) * np.exp(rng.normal(0, 0.05, T.size)))
        z.append((r["activation_energy_J_mol"] - Ea) / r["activation_energy_uncertainty_J_mol"])
    z = np.array(z)
    print("MEASURED arrhenius z: std", np.std(z), "mean", np.mean(z), "coverage95", np.mean(np.abs(z) < 2.4469))
    # measured (seed 1): std 1.233, mean -0.043, coverage 0.940
    assert abs(np.std(z) - np.sqrt(1.5)) < 0.29
    assert abs(np.mean(z)) < 0.26
    assert abs(np.mean(np.abs(z) < 2.4469) - 0.95) < 0.046


# --- Boltzmann–Matano ------------------------------------------------------------------------

def _check_matano(z, c, t, D_true, tol):
    res = matano.interdiffusivity(z, c, t)
    Y = res["Y"]
    inner = (Y > 0.1) & (Y < 0.9)
    err = np.abs(res["D_m2_s"][inner] / D_true(c[inner]) - 1)
    return err.max(), res


def test_matano_erf_constant_D():
    D, t = 2e-16, 3600.0  # sqrt(D t) = 0.85 um
    z = np.linspace(-5e-6, 5e-6, 1001) + 0.4e-6  # Matano plane at z = 0.4 um
    c = 0.2 + 0.6 * 0.5 * (1 + erf((z - 0.4e-6) / (2 * np.sqrt(D * t))))
    err, res = _check_matano(z, c, t, lambda x: np.full_like(x, D), 0.02)
    print("MEASURED matano erf: err", err, "plane", res["matano_plane_m"] - 0.4e-6)
    assert abs(res["matano_plane_m"] - 0.4e-6) < 1e-20  # measured 9.5e-22 m (round-off)
    assert err < 1.2e-3  # measured 3.8e-4 over 10-90 % (central differences on 10 nm spacing)


def test_matano_concentration_dependent_D_boltzmann_reference():
    """D~(x) rising 10x over the couple 0.1 | 0.9: the profile of the Boltzmann similarity ODE
    (fem.reference.boltzmann, scipy's collocation BVP) at t = 1 h, analysed back.

    The reference imposes x = x_right at xi = eta/sqrt(d_scale) = span (12 by default): with d_scale the
    smallest D that cuts off the fast side's tail (the profile reached only 0.8981 at z = 6 um), and a
    6 um window also cuts the sampled profile; the Boltzmann–Matano integral assumes both ends at their
    initial values, so D~ came out 5.2 % off (an earlier, unrecorded set-up failed at 13 %).
    Here d_scale = max D~, span 20 and z within +-12 um (sqrt(D_max t) = 1.9 um; the fast end at 0.9 - 1.3e-6),
    2001 points: measured 5.5e-5 (span 16, +-10 um: 1.1e-3; 1001 points: 2.1e-4)."""
    from fem.reference.boltzmann import BoltzmannSolution
    t = 3600.0
    Dt = lambda x: 1e-16 * np.exp(np.log(10.0) * (np.asarray(x) - 0.1) / 0.8)  # noqa: E731
    ref = BoltzmannSolution(Dt, 0.1, 0.9, 1e-15, span=20.0)
    z = np.linspace(-12e-6, 12e-6, 2001)
    err, res = _check_matano(z, ref.x(z, t), t, Dt, 0.02)
    print("MEASURED matano boltzmann: err", err, "plane", res["matano_plane_m"])
    assert err < 1.6e-4  # measured 5.5e-5 over 10-90 % (the bound 2 %)
    assert abs(res["matano_plane_m"]) < 6e-11  # measured -2.1e-11 m (the initial interface is z = 0)


@pytest.fixture(scope="module")
def interdiffusion_run(tmp_path_factory):
    from solidion import run
    out = tmp_path_factory.mktemp("interdiff") / "run"
    s = run("interdiffusion", out=out, quiet=True, t_end_s=400.0, omega_J_mol=3000.0, mesh_size=0.02,
            mesh_size_interface=0.002, fields_every=0)
    assert s["status"] == "ok"
    return out


def test_matano_on_interdiffusion_problem_output(interdiffusion_run, tmp_path):
    """solidion's own couple (Darken, regular solution): Matano recovers the input D~(x) and, with the
    marker position of its time series, Darken's D_A and D_B at the marker composition."""
    out = interdiffusion_run
    prof = np.genfromtxt(out / "profiles.csv", delimiter=",", names=True)
    ts = np.genfromtxt(out / "timeseries.csv", delimiter=",", names=True)
    s = json.loads((out / "summary.json").read_text())["parameters"]
    t = float(ts["t_s"][-1])
    z0 = s["thickness_left_m"]
    omega = s["omega_J_mol"] / (GAS_CONSTANT * s["temperature_K"])
    DA, DB = s["tracer_diffusivity_A_m2_s"], s["tracer_diffusivity_B_m2_s"]
    phi = lambda x: 1 - 2 * omega * x * (1 - x)  # noqa: E731  regular-solution thermodynamic factor
    Dtil = lambda x: ((1 - x) * DA + x * DB) * phi(x)  # noqa: E731  Darken, written from the paper
    err, res = _check_matano(prof["z_m"], prof["x_A_frac"], t, Dtil, 0.02)
    zk = float(ts["marker_position_m"][-1])
    dk = matano.intrinsic(res["z_m"], res["c"], res["D_m2_s"], t, zk, res["matano_plane_m"])
    xk = dk["x_A_at_marker"]
    print("MEASURED matano interdiffusion: err", err, "plane", res["matano_plane_m"] / z0 - 1,
          "DA", dk["D_A_m2_s"] / (DA * phi(xk)) - 1, "DB", dk["D_B_m2_s"] / (DB * phi(xk)) - 1)
    assert err < 0.02  # measured 1.28e-2 over 10-90 % (the bound 2 %; 3x measured would exceed it)
    assert abs(res["matano_plane_m"] - z0) < 5e-7 * z0  # measured 1.7e-7 relative
    assert abs(dk["D_A_m2_s"] / (DA * phi(xk)) - 1) < 0.063  # measured -2.1 %
    assert abs(dk["D_B_m2_s"] / (DB * phi(xk)) - 1) < 0.26  # measured +8.7 % (D_B: a small difference)
    # the same through the command line
    write_csv(tmp_path / "profile.csv", {"x_m": prof["z_m"], "x_frac": prof["x_A_frac"]})
    code, _, err_text = _cli(["analyze", "matano", tmp_path / "profile.csv", "--time-s", t, "--marker-position-m",
                              zk, "--out", tmp_path / "m"])
    assert code == 0, err_text
    summ = json.loads((tmp_path / "m" / "summary.json").read_text())
    assert summ["darken"]["D_A_m2_s"] == pytest.approx(dk["D_A_m2_s"], rel=1e-12)
    assert all((tmp_path / "m" / f).is_file() for f in ("results.csv", "matano_profile.png",
                                                         "matano_interdiffusivity.png"))


# --- PITT ------------------------------------------------------------------------------------

def test_pitt_recovers_D():
    """Crank's fixed-surface sphere (fem.analytic, mean uptake; current by a central difference)."""
    from fem.analytic import crank_sphere_fixed_surface_mean
    R, D, cmax = 4e-6, 3e-15, 4e4
    V = 4 / 3 * np.pi * R**3
    rows_t, rows_i, rows_v = [0.0, 5.0], [0.0, 0.0], [3.9, 3.9]
    t0, x_before = 10.0, 0.5
    for k, (dx, dur) in enumerate([(-0.02, 8000.0), (-0.03, 8000.0)]):
        tt = np.unique(np.concatenate([np.geomspace(0.05, 100, 60), np.arange(100, dur, 20.0)]))
        h = 1e-4 * tt
        frac = lambda s: crank_sphere_fixed_surface_mean(s, R, D, 0.0, 1.0, terms=4000)  # noqa: E731
        dfrac = np.array([(frac(a + b) - frac(a - b)) / (2 * b) for a, b in zip(tt, h)])
        current = FARADAY * V * cmax * dx * dfrac  # anodic positive: x falls
        rows_t += [t0] + list(t0 + tt)
        rows_i += [current[0]] + list(current)
        rows_v += [4.0 + 0.05 * (k + 1)] * (len(tt) + 1)
        t0 += dur + 1.0
    rng = np.random.default_rng(3)
    I = np.array(rows_i) * (1 + rng.normal(0, 1e-3, len(rows_i)))
    res = pitt.analyze(np.array(rows_t), I, np.array(rows_v), gitt.Particle(R, cmax, None, 0.5))
    assert len(res["steps"]) == 2
    for r, (dx, _) in zip(res["steps"], [(-0.02, 8000.0), (-0.03, 8000.0)]):
        tt = r["_t"] - r["t_start_s"]
        early = tt <= 0.005 * r["duration_s"]  # the samples of the Cottrell estimate
        q_true = FARADAY * V * cmax * dx  # the step runs to equilibrium (D t/R^2 = 1.5)
        # planar Cottrell on the sphere (module docstring of fem.analysis.pitt, exact at short times):
        # D_cot/D = (Q_true/Q)^2 [mean_i (1 - sqrt(pi D t_i)/R)]^2
        sphere_part = np.mean(1 - np.sqrt(np.pi * D * tt[early]) / R) ** 2
        pred = (q_true / r["charge_C"]) ** 2 * sphere_part - 1
        cot = r["D_cottrell_m2_s"] / D - 1
        print("MEASURED pitt: fit", r["D_fit_m2_s"] / D - 1, "long", r["D_long_m2_s"] / D - 1, "cottrell", cot,
              "predicted", pred, "sphere part", sphere_part - 1, "stated", r["cottrell_error_first_order"],
              "sphere-corrected", r["D_cottrell_sphere_m2_s"] / D - 1, "Q", r["charge_C"] / q_true - 1,
              "ci", r["D_fit_ci95_low_m2_s"] / D - 1, r["D_fit_ci95_high_m2_s"] / D - 1)
        # measured -0.77 % and +0.21 % (noise-limited: 95 % intervals [-1.9 %, +0.3 %], [-0.7 %, +1.1 %])
        assert abs(r["D_fit_m2_s"] / D - 1) < 0.023
        assert r["D_fit_ci95_low_m2_s"] < D < r["D_fit_ci95_high_m2_s"]
        assert abs(r["D_long_m2_s"] / D - 1) < 7.5e-5  # measured 5.8e-6, 2.5e-5
        # charge counting (trapezoid, Cottrell first interval): measured +7e-4, +9e-4 (a left-rectangle sum
        # gave +2.8 %, i.e. -5.4 % in D_cot: with the sphere part -8.4 % the earlier unexplained -13.3 %)
        assert abs(r["charge_C"] / q_true - 1) < 2.7e-3
        # Cottrell vs the derived expectation: measured cot -8.56 %, -8.58 %; |cot - pred| 3.6e-5, 3.3e-4
        assert abs(cot - pred) < 1e-3
        # the stated error (evaluated with the sphere-corrected D): measured -8.43 %; |stated - cot| 1.3e-3, 1.5e-3
        assert abs(r["cottrell_error_first_order"] - cot) < 4.5e-3
        # sphere-corrected Cottrell: measured -0.15 %, -0.18 % (mostly the charge: 2 x 8e-4)
        assert abs(r["D_cottrell_sphere_m2_s"] / D - 1) < 5.5e-3


# --- GITT ------------------------------------------------------------------------------------

def test_weppner_huggins_error_is_the_sphere_correction():
    """Constant D, linear E(x), fast kinetics: the only error of Weppner–Huggins is the sphere's,
    D_WH/D = [2 sqrt(tau/pi)/g(tau)]^2 = 1 - sqrt(pi D t)/R + O(D t/R^2)."""
    D, R = 1e-14, 5e-6
    durations = [10.0, 60.0, 300.0]
    # rebuild with three pulse lengths (one pulse each)
    parts = [synthetic_gitt(lambda x: np.full_like(np.asarray(x, dtype=float), D), lambda x: 4.2 - 0.8 * x, R=R,
                            x0=0.4, dx=0.01, n_pulses=1, pulse_s=d, rest_s=7200.0, k_A_m2=1e4, noise_V=0.0)
             for d in durations]
    for (t, I, V, tr), d in zip(parts, durations):
        r = gitt.analyze(t, I, V, gitt.Particle(R, tr["c_max"], None, tr["x0"]), refine=0)["pulses"][0]
        on = np.flatnonzero(I != 0)
        t_last = t[on[-1]] - t[on[0]]  # Delta E_t is read at the last sample under current
        tau = D * t_last / R**2
        ratio = r["D_wh_m2_s"] / D
        eps = np.sqrt(np.pi * tau)  # sqrt(pi D t)/R
        print("MEASURED WH", d, "ratio/exact", ratio / sphere.weppner_huggins_ratio(tau) - 1, "first-order rem/eps2",
              (ratio - (1 - eps)) / eps**2, "sphere2pt", r["D_wh_sphere_m2_s"] / D - 1, "fit", r["D_fit_m2_s"] / D - 1)
        # measured ratio/exact - 1 = 1.0e-3, 3.5e-4, 1.2e-4 (10, 60, 300 s; the first sample is 0.1 s after
        # the switch)
        assert abs(ratio / sphere.weppner_huggins_ratio(tau) - 1) < 3e-3
        # second order, from g = 2 sqrt(tau/pi) [1 + eps/2 + (2/3) tau + ...]: D_WH/D = 1 - eps + c2 eps^2,
        # c2 = 3/4 - 4/(3 pi) = 0.3256; measured remainder/eps^2 = 0.431, 0.323, 0.310 (|. - c2| <= 0.106)
        assert abs((ratio - (1 - eps)) / eps**2 - (0.75 - 4 / (3 * np.pi))) < 0.32
        assert abs(r["D_wh_sphere_m2_s"] / D - 1) < 3.3e-3  # measured 1.1e-3, 4.1e-4, 1.9e-4 (exact-sphere form)
        assert abs(r["D_fit_m2_s"] / D - 1) < 6.4e-4  # measured 2.1e-4, 6.8e-5, 1.9e-5


def test_gitt_model_fit_recovers_D_x_at_every_pulse(tmp_path):
    """Five pulses of the hardest stretch of the benchmark's D(x) (tests/bench/bench_gitt_recovery.py runs
    all 15, D 10x over x = 0.3..0.75): x = 0.6..0.75, D falling 2.15x, nonlinear OCP, Butler–Volmer
    kinetics, 0.1 mV noise, pulses overshooting the last rest point; through the command line."""
    D = lambda x: 1e-14 * np.exp(-np.log(10.0) * (np.asarray(x) - 0.3) / 0.45)  # noqa: E731
    U = lambda x: 4.3 - 1.2 * x + 0.4 * x**2 - 0.6 * x**4  # noqa: E731
    t, I, V, tr = synthetic_gitt(D, U, x0=0.6, dx=0.03, n_pulses=5, rest_s=7200.0, noise_V=1e-4, seed=7)
    write_csv(tmp_path / "gitt.csv", {"Time (s)": t, "I/mA": I * 1e3, "Ewe/V": V})
    code, _, err_text = _cli(["analyze", "gitt", tmp_path / "gitt.csv", "--radius-m", tr["R"], "--c-max-mol-m3",
                              tr["c_max"], "--x0", tr["x0"], "--out", tmp_path / "g"])
    assert code == 0, err_text
    rows = json.loads((tmp_path / "g" / "summary.json").read_text())["per_pulse"]
    assert len(rows) == 5
    x_mid = np.array([q["x_mid"] for q in rows])
    assert np.max(np.abs(x_mid - tr["x_mid"])) < 1e-9  # charge counting (measured 1e-16)
    err = np.array([q["D_fit_m2_s"] for q in rows]) / D(x_mid) - 1
    wh = np.array([q["D_wh_m2_s"] for q in rows]) / D(x_mid) - 1
    # Weppner–Huggins here: the sphere correction [2 sqrt(tau/pi)/g(tau)]^2 (tau = D t_pulse/R^2 with the true
    # D) accounts for -26 .. -34 %; kinetics drifting with x_s, OCP curvature and D(x) add more (no closed form; the
    # sphere part alone is checked under ideal conditions in test_weppner_huggins_error_is_the_sphere_correction)
    pred = sphere.weppner_huggins_ratio(D(x_mid) * np.array([q["duration_s"] for q in rows]) / tr["R"] ** 2) - 1
    print("MEASURED gitt fit errors", np.round(err, 4), "WH", np.round(wh, 3), "WH sphere part", np.round(pred, 3))
    # measured: +0.11, +0.11, +0.30, +0.41, -0.25 % (refine passes converged to 0.1 %; before the
    # D-dependent correction and the local-slope shapes: -1.2 .. -3.25 %)
    assert np.max(np.abs(err)) < 0.012
    # measured WH -44.2 .. -45.2 %, of which the sphere correction -34.0 .. -25.9 %
    assert np.all(wh < pred)
    assert all(q["wh_validity_D_tau_over_R2"] > 0.01 for q in rows)
    for f in ("results.csv", "gitt_fit.png", "gitt_diffusivity.png"):
        assert (tmp_path / "g" / f).is_file()


def _one_pulse(k_A_m2, seed):
    """One 60 s lithiation pulse, constant D = 1e-14 m^2/s, linear U, 0.1 mV noise."""
    D, R = 1e-14, 5e-6
    t, I, V, tr = synthetic_gitt(lambda x: np.full_like(np.asarray(x, dtype=float), D), lambda x: 4.2 - 0.8 * x,
                                 R=R, x0=0.4, dx=0.01, n_pulses=1, pulse_s=60.0, rest_s=3600.0, k_A_m2=k_A_m2,
                                 noise_V=1e-4, seed=seed)
    return t, I, V, gitt.Particle(R, tr["c_max"], None, tr["x0"]), D


def test_gitt_fast_kinetics_unidentified_interval_finite():
    """Kinetics so fast that the overpotential (~1e-8 V) is far below the noise: k0 has no trace in V, its
    Jacobian column vanishes (the interval of D was [0, inf], exp(ln k0) overflowed).  k0 is then held at
    its bound and reported unidentified; the interval of D stays finite and covers the truth.  With
    ordinary kinetics (0.4 mV overpotential) k0 is identified and recovered."""
    for k0, identified in ((1e7, False), (5.0, True)):
        t, I, V, P, D = _one_pulse(k0, seed=11)
        r = gitt.analyze(t, I, V, P, refine=0)["pulses"][0]
        lo, hi = r["D_fit_ci95_low_m2_s"], r["D_fit_ci95_high_m2_s"]
        print("MEASURED k0", k0, "identified", r["kinetics_identified"], "cond", r["fit_jacobian_condition"],
              "D err", r["D_fit_m2_s"] / D - 1, "ci", lo / D - 1, hi / D - 1, "k0 fit", r["exchange_k0_fit_A_m2"])
        assert r["kinetics_identified"] is identified
        assert np.isfinite(lo) and np.isfinite(hi) and lo < D < hi
        # measured: D err +2.2e-3 and 95 % interval -3.8e-3..+8.2e-3 in both cases (noise-limited; the held
        # k0 of the fast case is 3.5e4 A/m^2, 2 uV of overpotential; its column is tiny, not collinear: cond 1.76)
        assert abs(r["D_fit_m2_s"] / D - 1) < 6.5e-3
        assert hi / lo < 1.036  # measured 1.0121
        if identified:
            assert abs(r["exchange_k0_fit_A_m2"] / k0 - 1) < 5e-4  # measured -1.5e-4


def test_radial_fv_steep_D_damped_and_nonfinite_fallback(monkeypatch):
    """RadialFV: a steep D(x) (ln D slope -80, clipped at e^+-10 as the refinement's shapes are) is solved by
    the damped Newton with moles conserved; an unclipped one, whose D underflows to 0 at the surface, raises
    FloatingPointError (it was a ValueError/LinAlgError from the banded solve).  gitt.analyze then keeps the
    previous pass's D of that pulse and counts the fallback."""
    fv = sphere.RadialFV(40)
    jh, t_on = 0.5, 0.05
    xs, prof = fv.run(lambda x: np.exp(np.clip(-80 * (x - 0.3), -10, 10)), 0.3, [(0, t_on, jh), (t_on, 0.3, 0.0)],
                      np.linspace(0.001, 0.3, 30))
    assert np.all(np.isfinite(xs))
    # mean x = x0 + 3 jhat t_on (unit sphere, unit face): measured error -6.4e-15
    assert abs(3 * np.sum(fv.vol * prof) - (0.3 + 3 * jh * t_on)) < 1e-12
    with pytest.raises(FloatingPointError):
        fv.run(lambda x: np.exp(-80 * (x - 0.3)), 0.3, [(0, t_on, jh), (t_on, 0.3, 0.0)], np.linspace(0.001, 0.3, 30))

    t, I, V, P, D = _one_pulse(5.0, seed=12)
    base = gitt.analyze(t, I, V, P, refine=0)["pulses"][0]

    def broken(*a, **k):
        raise FloatingPointError("planted")
    monkeypatch.setattr(gitt, "_delta_of_lnD", broken)
    r = gitt.analyze(t, I, V, P, refine=2)["pulses"][0]
    # pass 1 fell back, nothing changed, so the passes stop (converged to the pass-0 D)
    assert r["refine_fallbacks"] == 1 and r["refine_passes"] == 1
    assert r["D_fit_m2_s"] == base["D_fit_m2_s"]  # the pass-0 D kept
    assert np.isfinite(r["D_fit_ci95_high_m2_s"])


# --- bad input -------------------------------------------------------------------------------

@pytest.mark.parametrize("case", ["missing_file", "missing_column", "too_few", "mpr"])
def test_analyze_bad_input_exit_2(tmp_path, case):
    f = tmp_path / "d.csv"
    if case == "missing_column":
        f.write_text("time_s,voltage_V\n0,4\n1,4\n2,4\n")
        args = ["gitt", f, "--radius-m", "5e-6", "--c-max-mol-m3", "5e4"]
        want = "current_A"
    elif case == "too_few":
        f.write_text("T_K,D_m2_s\n300,1e-14\n350,2e-14\n")
        args = ["arrhenius", f]
        want = "at least 3"
    elif case == "mpr":
        f = tmp_path / "d.mpr"
        f.write_bytes(b"BIO-LOGIC MODULAR FILE\x1a")
        args = ["gitt", f, "--radius-m", "5e-6", "--c-max-mol-m3", "5e4"]
        want = "galvani"
    else:
        f = tmp_path / "nope.csv"
        args = ["arrhenius", f]
        want = "no such file"
    if case == "missing_file":  # once through the installed command (a new interpreter)
        r = solidion("analyze", *args, "--out", tmp_path / "o")
        code, stderr = r.returncode, r.stderr
    else:
        code, _, stderr = _cli(["analyze", *args, "--out", tmp_path / "o"])
    assert code == 2, stderr
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and want in lines[0] and f.name in lines[0]


def test_analyze_arrhenius_cli(tmp_path):
    T = np.array([300.0, 325.0, 350.0, 375.0])
    write_csv(tmp_path / "a.csv", {"T_K": T, "D_m2_s": 1e-9 * np.exp(-0.5 * 96485.33212 / (GAS_CONSTANT * T))})
    code, _, err_text = _cli(["analyze", "arrhenius", tmp_path / "a.csv", "--out", tmp_path / "o"])
    assert code == 0, err_text
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert abs(s["activation_energy_eV"] / 0.5 - 1) < 1e-6  # eV from J/mol via F (= e N_A)
    assert (tmp_path / "o" / "arrhenius.png").is_file()
