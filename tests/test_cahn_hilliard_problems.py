"""The Cahn-Hilliard problems end to end: PFHub 1 set-up, energy decay, conservation,
3D particle, MPI agreement."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from mpi4py import MPI


def _rows(path):
    with open(path / "timeseries.csv") as f:
        return list(csv.DictReader(f))


def pfhub_initial_free_energy(n=1600):
    """F(0) of PFHub benchmark 1 from the analytic initial condition (midpoint rule on a
    fine grid; derivatives analytic), independent of the FEM code."""
    L, rho, ca, cb, kappa, eps, c0 = 200.0, 5.0, 0.3, 0.7, 2.0, 0.01, 0.5
    h = L / n
    x = (np.arange(n) + 0.5) * h
    X, Y = np.meshgrid(x, x, indexing="ij")
    a1, a2 = np.cos(0.105 * X) * np.cos(0.11 * Y), np.cos(0.13 * X) * np.cos(0.087 * Y)
    u, v = 0.025 * X - 0.15 * Y, 0.07 * X - 0.02 * Y
    c = c0 + eps * (a1 + a2**2 + np.cos(u) * np.cos(v))
    cx = eps * (-0.105 * np.sin(0.105 * X) * np.cos(0.11 * Y) - 2 * a2 * 0.13 * np.sin(0.13 * X) * np.cos(0.087 * Y)
                - 0.025 * np.sin(u) * np.cos(v) - 0.07 * np.cos(u) * np.sin(v))
    cy = eps * (-0.11 * np.cos(0.105 * X) * np.sin(0.11 * Y) - 2 * a2 * 0.087 * np.cos(0.13 * X) * np.sin(0.087 * Y)
                + 0.15 * np.sin(u) * np.cos(v) + 0.02 * np.cos(u) * np.sin(v))
    f = rho * (c - ca) ** 2 * (cb - c) ** 2 + 0.5 * kappa * (cx**2 + cy**2)
    return float(f.sum() * h * h)


def test_spinodal_pfhub1(tmp_path):
    from solidion import run
    # energy_check=False: no step is refused for raising the energy, so the decay below is observed
    s = run("spinodal", out=tmp_path / "sp", comm=MPI.COMM_SELF, quiet=True, cells_per_side=40,
            t_end_s=30.0, dt_s=0.5, energy_check=False)
    assert s["status"] == "ok", s["reason"]
    rows = _rows(tmp_path / "sp")
    F = np.array([float(r["free_energy"]) for r in rows])
    mass = np.array([float(r["mass"]) for r in rows])
    # benchmark time in its own column; t_s = t_benchmark * time_unit_s (1 s by default)
    assert float(rows[-1]["t_benchmark"]) == pytest.approx(30.0, rel=1e-12) == float(rows[-1]["t_s"])
    # set-up (free energy, parameters, initial condition, units) against the analytic F(0)
    F0 = pfhub_initial_free_energy()
    print("F(0) FEM", F[0], "analytic", F0)
    assert abs(F[0] - F0) < 2e-3 * F0, (F[0], F0)
    assert np.all(np.diff(F) <= 1e-12 * np.abs(F[:-1]))
    assert F[-1] < 0.9 * F[0]  # spinodal decomposition has started
    assert np.max(np.abs(mass - mass[0])) / mass[0] < 1e-10
    assert (tmp_path / "sp" / "plots" / "free_energy.png").exists()


def test_spinodal_default_time_error_within_one_percent(tmp_path):
    """The default step control (scheme, time_tolerance, dc_max) keeps the free energy within 1 % of
    a run at a 10x tighter time tolerance on the same mesh, through the fastest part of spinodal
    decomposition (PFHub 1 initial condition, periodic 100 x 100 square, 25^2 cells, t = 10, 15; F
    falls by a fifth between them).  Measured (tol 1e-5 reference): default (BDF2, 1e-3; tol 1e-5
    BDF2 reference) -0.125 %, -0.370 % (BDF2 1e-4: -0.026 %, -0.071 %); the earlier default
    (backward Euler, 1e-4; its own tol 1e-5 reference) -0.14 %, -0.42 %; the one before (split,
    1e-3) +0.71 %, +2.15 %; backward Euler at 1e-3 -0.57 %, -1.72 % (-0.64 %, -1.90 % against the
    BDF2 reference): this fails for either.  (A backward-Euler tol 1e-5 reference is ~0.2 % off its
    tol -> 0 limit; the BDF2 one within 0.03 %.)"""
    from solidion import run
    kw = dict(comm=MPI.COMM_SELF, quiet=True, boundary="periodic", side_length=100.0, cells_per_side=25,
              t_end_s=15.0, output_times_s=[10.0])
    F = {}
    for name, extra in (("default", {}), ("ref", {"time_tolerance": 1e-5})):
        s = run("spinodal", out=tmp_path / name, **kw, **extra)
        assert s["status"] == "ok", s["reason"]
        F[name] = {float(r["t_benchmark"]): float(r["free_energy"]) for r in _rows(tmp_path / name)}
    rel = {t: F["default"][t] / F["ref"][t] - 1 for t in (10.0, 15.0)}
    print("default vs tol 1e-5:", rel)
    assert all(abs(r) < 0.01 for r in rel.values()), rel
    assert F["ref"][15.0] < 0.9 * F["ref"][10.0]  # the case does cover the fast decay


def test_particle_spinodal_3d(tmp_path):
    """A 50 nm sphere quenched to c0 = 0.5 (a = 4.51) separates into the two binodal phases; the
    free energy decays with the energy check off; mass conserved; 3D pictures written."""
    from scipy.optimize import brentq
    from solidion import run
    s = run("particle_spinodal", out=tmp_path / "ps", comm=MPI.COMM_SELF, quiet=True, mesh_size=0.3,
            interface_length_m=10e-9, t_end_s=80.0, dt_s=0.05, energy_check=False)
    assert s["status"] == "ok", s["reason"]
    assert s["inside_spinodal"]
    rows = _rows(tmp_path / "ps")
    col = lambda name: np.array([float(r[name]) for r in rows])  # noqa: E731
    F, cm, std, lo, hi = col("free_energy_J"), col("c_mean"), col("c_std"), col("c_min"), col("c_max")
    assert np.all(np.diff(F) <= 1e-12 * np.abs(F[:-1]))
    assert np.max(np.abs(cm - cm[0])) / cm[0] < 1e-10
    # separation: the composition spread grows from the noise (std 0.0047) to two phases (measured
    # std 0.346 at t = 80 s, F down 37 %) whose compositions are the binodal of the regular solution
    # (symmetric: ln(x/(1-x)) = -a (1 - 2x), a = Omega/kT), measured within 1.0e-3 of both
    a = 0.1159 / (1.380649e-23 * 298.15 / 1.602176634e-19)
    x_b = brentq(lambda x: np.log(x / (1 - x)) + a * (1 - 2 * x), 1e-6, 0.2, xtol=1e-15)
    assert std[0] < 0.01 and std[-1] > 0.25, (std[0], std[-1])
    assert abs(lo[-1] - x_b) < 3e-3 and abs(hi[-1] - (1 - x_b)) < 3e-3, (lo[-1], hi[-1], x_b)
    assert F[-1] < 0.75 * F[0]
    # fieldsplit (GMRES + Schur/AMG) converged with few Krylov iterations per Newton step
    assert s["krylov_per_newton"] < 30
    for view in ("surface", "section", "clip"):
        assert (tmp_path / "ps" / "plots" / f"concentration_{view}.png").exists()


@pytest.mark.mpi
@pytest.mark.parametrize("variant", [
    dict(fixed_dt=True, solver="fieldsplit", scheme="split"),
    # BDF2 (the default) with error-controlled steps: history and step ratios the same on 2 ranks
    dict(solver="lu", scheme="implicit", time_order=2)])
def test_spinodal_problem_mpi_matches_serial(shared_tmp_path, variant):
    from solidion import run
    kw = dict(quiet=True, cells_per_side=24, t_end_s=10.0, dt_s=0.5, cell_type="triangle", **variant)
    rank = MPI.COMM_WORLD.rank
    tag = variant["scheme"]
    s_par = run("spinodal", out=shared_tmp_path / f"par{tag}", comm=MPI.COMM_WORLD, **kw)
    s_ser = run("spinodal", out=shared_tmp_path / f"ser{tag}{rank}", comm=MPI.COMM_SELF, **kw)
    assert s_par["status"] == s_ser["status"] == "ok"
    assert s_par["steps"] == s_ser["steps"]
    a, b = s_par["free_energy_final"], s_ser["free_energy_final"]
    assert abs(a - b) < 1e-8 * abs(b), (a, b)


# --- restart ----------------------------------------------------------------------
SPINODAL_SMALL = ["cells_per_side=24", "t_end_s=20.0", "dt_s=0.5"]


@pytest.mark.parametrize("mpi", [None, 2])
def test_spinodal_restart_matches_uninterrupted(tmp_path, mpi):
    """Killed (SIGKILL) after a checkpoint and restarted: same steps and observables
    (the free-energy check and the step control continue from the checkpointed state)."""
    from restart_util import assert_same_run, kill_and_restart
    A, B = kill_and_restart("spinodal", tmp_path, SPINODAL_SMALL, every=3, kill_after_step=6, mpi=mpi)
    # a round-off-sized column (summation order differs between MPI runs): compared absolutely
    a, b = A[1].pop("mass_rel_change"), B[1].pop("mass_rel_change")
    assert max(abs(x - y) for x, y in zip(a, b)) < 1e-12
    assert_same_run(A, B, rtol=1e-10)
    assert B[0]["restarted_from_step"] >= 6 and B[0]["mpi_size"] == (mpi or 1)


def test_phase_separating_charge_restart_in_second_stage(tmp_path):
    """Two C-rates (two stages): killed in the second one after its half-capacity snapshot,
    the restart skips the first stage and still reports both (from the checkpoint)."""
    import json
    import os
    import signal
    import subprocess
    import time

    from conftest import REPO
    from restart_util import _cmd, _env, assert_same_run, read_run
    sets = [x for s in ("cells_x=4", "cells_y=12", "length_x_m=12e-9", "c_rates=[5.0, 10.0]", "capacity_end=0.55")
            for x in ("--set", s)]
    a, b = tmp_path / "a", tmp_path / "b"
    args = ["--quiet", "--checkpoint-every", "4", *sets]

    def run(*cmd):
        r = subprocess.run(_cmd(cmd, None), capture_output=True, text=True, timeout=300, cwd=REPO, env=_env())
        assert r.returncode == 0, r.stderr

    run("run", "phase_separating_charge", "--out", a, *args)
    proc = subprocess.Popen(_cmd(["run", "phase_separating_charge", "--out", b, *args], None),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO, env=_env(),
                            start_new_session=True)
    meta = b / "checkpoint" / "meta.json"
    try:
        end = time.time() + 300
        while time.time() < end and proc.poll() is None:
            try:
                m = json.loads(meta.read_text())
                if m["stage"] == "rate_1" and m["step"] >= 170:  # half capacity is at step ~169
                    break
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.01)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:  # it ended first: the restart continues from its last checkpoint
            pass
        proc.wait()
    assert json.loads(meta.read_text())["stage"] == "rate_1"
    run("restart", b, "--quiet")
    A, B = read_run(a), read_run(b)
    assert_same_run(A, B, rtol=1e-10)
    assert set(B[0]["rates"]) == {"5C", "10C"} and B[0]["rates"] == A[0]["rates"]
    assert B[0]["rates"]["10C"]["half_charge_morphology"]
