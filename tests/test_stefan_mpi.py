"""mpirun -n 2: the distributed Stefan/ALE solver matches the same computation on one rank,
and a distributed run restarted from a checkpoint matches the uninterrupted one.

Run with ``mpirun -n 2 python3 -m pytest -p no:xdist -m mpi tests/test_stefan_mpi.py``;
serially the two runs coincide trivially (still a valid smoke test).
"""

from __future__ import annotations

import numpy as np
import pytest
from mpi4py import MPI

from tests.test_stefan import _closed_problem, _neumann_problem, assert_same_runs, restart_case, run

pytestmark = pytest.mark.mpi


def _trajectory(prob, observe, t_end, dt):
    res, rows = run(prob, observe, t_end, dt, dt, fixed=True)
    prob.destroy()
    return np.array(rows)


def test_planar_neumann_distributed_matches_serial():
    out = []
    for comm in (MPI.COMM_WORLD, MPI.COMM_SELF):
        ex, prob, t0, L = _neumann_problem(1, 0.01, comm)
        out.append(_trajectory(prob, lambda t: (t, prob.interface_position(), prob.total_moles()), 0.005, 5e-4))
    world, serial = out
    assert world.shape == serial.shape
    assert np.allclose(world, serial, rtol=1e-9, atol=1e-12), np.max(np.abs(world - serial))


@pytest.mark.parametrize("geometry,degree", [("sphere_1d", 1), ("slab_2d", 1), ("axisymmetric_2d", 1),
                                             ("slab_2d", 2), ("axisymmetric_2d", 2)])
def test_closed_particle_distributed_matches_serial(geometry, degree):
    out = []
    for comm in (MPI.COMM_WORLD, MPI.COMM_SELF):
        prob, *_ = _closed_problem(geometry, comm, degree)
        m0 = prob.total_moles()

        def observe(t, prob=prob, m0=m0):
            return t, prob.volume["alpha"](), prob.interface_radius(), (prob.total_moles() - m0) / m0

        out.append(_trajectory(prob, observe, 0.01, 2e-3))
    world, serial = out
    assert np.allclose(world[:, :3], serial[:, :3], rtol=1e-8, atol=1e-12), np.max(np.abs(world - serial))
    assert np.max(np.abs(world[:, 3])) < 1e-6  # conservation also holds distributed


def test_distributed_restart_matches_uninterrupted(shared_tmp_path):
    """Checkpoint at step 4 on all ranks, restart on a rebuilt distributed model (the ALE mesh
    coordinates and the interface velocity are per-rank arrays)."""
    full, restarted = restart_case(MPI.COMM_WORLD, shared_tmp_path / "run", geometry="slab_2d", k=4, t_end=0.03)
    # 1e-8, not the serial 1e-10: the restarted run re-reads the checkpoint into a fresh partition,
    # so reductions sum in another order; the interface iteration's relaxation gain amplified that
    # round-off to 1.2e-10 once in CI (moles, quality and iterations in that row agreed to 1e-16).
    assert_same_runs(full, restarted, rtol=1e-8)


@pytest.mark.parametrize("case", ["sphere_1d", "sphere_3d", "ellipsoid_3d", "sphere_3d_p2"])
def test_problem_distributed_matches_serial(shared_tmp_path, case):
    """shrinking_core on 2 ranks = 1 rank: the default geometry (sphere_1d, constant current), a
    cheap 3D ball and an ellipsoid with an anisotropic shell (non-spherical core), each through at least
    one remesh (remeshing and field transfer distributed); the ellipsoid's moles also follow the
    prescribed current M(0) - I t / F, I = c_rate F c_max |x_core - x_shell| V / 3600 s."""
    from solidion import run
    world = MPI.COMM_WORLD
    if case == "sphere_1d":
        kw = dict(quiet=True, mesh_size=0.04, t_end_s=60.0, fields_every=0, remesh_quality=0.95)
    elif case == "sphere_3d":
        kw = dict(quiet=True, geometry="sphere_3d", mesh_size=0.3, shell_cells=1, initial_core_fraction=0.7,
                  c_rate=8.0, t_end_s=40.0, fields_every=0, remesh_quality=0.8)
    elif case == "sphere_3d_p2":  # P2 phases, fixed surface concentration (Dirichlet fluxes from P2 residuals)
        kw = dict(quiet=True, geometry="sphere_3d", mesh_size=0.3, shell_cells=1, initial_core_fraction=0.7,
                  surface_condition="concentration", element_degree=2, t_end_s=40.0, fields_every=0,
                  remesh_quality=0.8)
    else:
        kw = dict(quiet=True, geometry="ellipsoid_3d", semi_axes_m=[1e-7, 0.8e-7, 0.6e-7], D_shell_anisotropy=4.0,
                  mesh_size=0.3, shell_cells=1, initial_core_fraction=0.7, c_rate=8.0, t_end_s=12.0,
                  fields_every=0, remesh_quality=0.85)
    shared_tmp_path = shared_tmp_path / case
    par = run("shrinking_core", out=shared_tmp_path / "par", comm=world, **kw)
    ser = run("shrinking_core", out=shared_tmp_path / f"ser{world.rank}", comm=MPI.COMM_SELF, **kw)
    world.barrier()
    assert par["status"] == ser["status"] == "ok" and par["mpi_size"] == world.size
    assert (par["steps"], par["rejected_steps"]) == (ser["steps"], ser["rejected_steps"])
    assert par["remesh_count"] == ser["remesh_count"] >= 1
    assert par["max_remesh_moles_rel_error"] < 1e-12
    a = np.genfromtxt(shared_tmp_path / "par" / "timeseries.csv", delimiter=",", names=True)
    b = np.genfromtxt(shared_tmp_path / f"ser{world.rank}" / "timeseries.csv", delimiter=",", names=True)
    assert len(a) == len(b) > 5
    for key in ("t_s", "core_radius_m", "core_volume_fraction", "voltage_V", "c_surface_mol_m3", "moles_mol",
                "current_A", "cells"):
        np.testing.assert_allclose(a[key], b[key], rtol=1e-8, err_msg=key)
    assert np.max(a["mass_balance_rel_error"]) < 4.5e-8  # as serial (interface tolerance 1e-7)
    if case == "ellipsoid_3d":
        for key in ("core_semi_axis_x_m", "core_semi_axis_y_m", "core_semi_axis_z_m"):
            np.testing.assert_allclose(a[key], b[key], rtol=1e-8, err_msg=key)
        F, xa, xb = 96485.33212, par["interface_fractions"]["core"], par["interface_fractions"]["shell"]
        current_A = kw["c_rate"] * F * par["parameters"]["c_max_mol_m3"] * abs(xa - xb) * par["volume_m3"] / 3600
        m = a["moles_mol"]
        err = np.max(np.abs(m - (m[0] - current_A * a["t_s"] / F))) / m[0]
        assert err < 2e-8, err  # measured 6.8e-9 (8% of the moles out, one remesh; the semi-axes agree to 2e-15)
