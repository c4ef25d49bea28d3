"""Benchmark (issue 13): where does the iterative solver overtake LU (MUMPS)?  The crossover that
sets ``fem.solver.auto_lu_max_dofs`` (the ``auto`` choice of the Cahn-Hilliard and PNP models).

    docker/run python3 tests/bench/bench_auto_threshold.py --dim 3 --n 10,13,16 --solver lu,fieldsplit
    docker/run python3 tests/bench/bench_auto_threshold.py --dim 2 --n 70,157,223 --solver lu,fieldsplit

Cahn-Hilliard (c, mu) on the unit square (triangles) / cube (tetrahedra) with n cells per side:
the regular solution and lattice mobility of particle_spinodal (convex-concave split, lumped P1
mass), noisy quench c0 = 0.5, interface length 0.1, fixed dt = 0.02; ``--steps`` steps, the first
(JIT, first factorization/AMG setup) left out of the means.  Times are CPU seconds of this
process per step (``time.process_time``: much less sensitive than wall time to the other jobs
on a shared machine; MUMPS/hypre run single-threaded here, so CPU ~ wall on a quiet machine).
One JSON line per case in results/bench/auto_threshold.jsonl; make_report.py tabulates them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1]))

import bench_common as bc  # noqa: E402

OUT = HERE.parents[1] / "results" / "bench"


def run(dim: int, n: int, solver: str, steps: int, dt: float = 0.02, extra: str = "") -> dict:
    import shlex

    from mpi4py import MPI

    import dolfinx.mesh
    from fem import petsc_options
    from fem.constitutive.free_energy import RegularSolution
    from fem.constitutive.mobility import mobility
    from fem.models.cahn_hilliard import CahnHilliard, smooth_noise
    comm = MPI.COMM_WORLD
    petsc_options.set_user_options(shlex.split(extra))
    if dim == 2:
        mesh = dolfinx.mesh.create_unit_square(comm, n, n, dolfinx.mesh.CellType.triangle)
    else:
        mesh = dolfinx.mesh.create_unit_cube(comm, n, n, n, dolfinx.mesh.CellType.tetrahedron)
    fe = RegularSolution.from_eV(0.1159, 298.15, 0.0, 0.0)
    lam = 0.1
    m = CahnHilliard(mesh, fe, kappa=fe.a * lam**2, mobility=lambda c: mobility(c, "lattice"),
                     scheme="split", solver=solver, prefix="thr_")
    noise = smooth_noise(1, 0.01, n_modes=48, k_max=2.0 / lam)
    m.set_concentration(lambda X: 0.5 + noise(X))
    ndofs = m.W.dofmap.index_map.size_global * m.W.dofmap.index_map_bs
    timer = bc.timed_fixed_steps(m, dt, steps, comm)
    row = {"physics": "cahn_hilliard", "dim": dim, "n": n, "dofs": ndofs, "solver": m.linear_solver,
           "petsc_extra": extra, "dt": dt, "ranks": comm.size, "steps": len(timer.rows),
           **bc.summarize(timer.rows), "loadavg": bc.loadavg()}
    m.destroy()
    bc.write_row(OUT / "auto_threshold.jsonl", row, comm)
    return row


COLS = [("dim", "dim", "d"), ("dofs", "dofs", "d"), ("solver", "solver", ""),
        ("cpu_per_step_s", "CPU [s/step]", ".3f"), ("wall_per_step_s", "wall [s/step]", ".3f"),
        ("newton_per_step", "Newton/step", ".1f"), ("krylov_per_newton", "Krylov/Newton", ".1f"),
        ("loadavg", "load avg", "")]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dim", type=int, default=3, choices=(2, 3))
    ap.add_argument("--n", default="10,13,16", help="cells per side (comma separated)")
    ap.add_argument("--solver", default="lu,fieldsplit")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--petsc", default="")
    ap.add_argument("--dt", type=float, default=0.02, help="fixed time step (nondimensional, L^2/D)")
    a = ap.parse_args(argv)
    rows = [run(a.dim, int(n), s, a.steps, a.dt, a.petsc) for n in a.n.split(",") for s in a.solver.split(",")]
    print(bc.table(rows, COLS))


if __name__ == "__main__":
    main()
