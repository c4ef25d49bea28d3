"""Benchmark (issue 13, goal 5): can this machine show strong scaling from 1 to 2 ranks at ~1M dofs,
and if not, why (memory bandwidth, measured)?

    docker/run python3 tests/bench/bench_strong_scaling.py [--n 100] [--mb 400]

Two measurements, each run on 1 rank and then on 2 ranks (``mpirun -n 2``), on a quiet machine:

* STREAM-like triad a = b + s c on float64 arrays of ``--mb`` MB per rank (numpy, best of 5): the memory
  bandwidth one rank gets alone and each of two ranks gets together.  If two ranks together do not get
  about twice one rank's bandwidth, bandwidth-bound phases (sparse assembly, SpMV, AMG) cannot scale
  by 2 on this machine, whatever the code does.
* a plain DOLFINx P1 Poisson problem on the unit cube, (n+1)^3 unknowns (n = 100: 1.03M), CG +
  BoomerAMG to rtol 1e-10, with the phases timed apart (max over ranks): mesh, space + forms
  (JIT cached), matrix assembly, vector assembly, AMG setup, CG solve; and the CG iterations.
  Speed-up per phase = t(1 rank) / t(2 ranks); parallel efficiency = speed-up / 2.

Writes results/bench/strong_scaling.json and prints a table with the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "results" / "bench"


def worker(n: int, mb: float) -> None:
    """One rank's part (run under mpirun or alone); rank 0 prints one JSON line."""
    import numpy as np
    from mpi4py import MPI
    from petsc4py import PETSc

    import dolfinx
    import dolfinx.fem
    import dolfinx.fem.petsc
    import dolfinx.mesh
    import ufl

    comm = MPI.COMM_WORLD
    # triad bandwidth: 3 arrays of mb/3 MB each, 24 bytes moved per element (2 reads, 1 write)
    m = int(mb * 1e6 / 8 / 3)
    a, b, c = np.zeros(m), np.random.rand(m), np.random.rand(m)
    best = np.inf
    for _ in range(5):
        comm.Barrier()
        t0 = time.perf_counter()
        np.multiply(c, 3.0, out=a)
        np.add(a, b, out=a)
        comm.Barrier()
        best = min(best, time.perf_counter() - t0)
    # numpy does the triad in two passes: b, c read and a written once, a read and written once more
    bytes_moved = 8 * m * 5
    bw_rank = bytes_moved / best / 1e9
    del a, b, c

    times = {}

    def timed(name, fn):
        comm.Barrier()
        t0 = time.perf_counter()
        r = fn()
        comm.Barrier()
        times[name] = comm.allreduce(time.perf_counter() - t0, op=MPI.MAX)
        return r

    mesh = timed("mesh_s", lambda: dolfinx.mesh.create_unit_cube(comm, n, n, n, dolfinx.mesh.CellType.tetrahedron))

    def spaces():
        V = dolfinx.fem.functionspace(mesh, ("Lagrange", 1))
        u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
        x = ufl.SpatialCoordinate(mesh)
        f = 3 * ufl.pi**2 * ufl.sin(ufl.pi * x[0]) * ufl.sin(ufl.pi * x[1]) * ufl.sin(ufl.pi * x[2])
        a_form = dolfinx.fem.form(ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx)
        L_form = dolfinx.fem.form(f * v * ufl.dx)
        mesh.topology.create_connectivity(2, 3)
        facets = dolfinx.mesh.exterior_facet_indices(mesh.topology)
        dofs = dolfinx.fem.locate_dofs_topological(V, 2, facets)
        bc = dolfinx.fem.dirichletbc(0.0, dofs, V)
        return V, a_form, L_form, bc

    V, a_form, L_form, bc = timed("forms_s", spaces)
    A = timed("matrix_assembly_s", lambda: dolfinx.fem.petsc.assemble_matrix(a_form, bcs=[bc]))
    A.assemble()

    def vector():
        bvec = dolfinx.fem.petsc.assemble_vector(L_form)
        dolfinx.fem.petsc.apply_lifting(bvec, [a_form], bcs=[[bc]])
        bvec.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        dolfinx.fem.petsc.set_bc(bvec, [bc])
        return bvec

    bvec = timed("vector_assembly_s", vector)
    ksp = PETSc.KSP().create(comm)
    ksp.setOperators(A)
    ksp.setType("cg")
    ksp.getPC().setType("hypre")
    ksp.getPC().setHYPREType("boomeramg")
    ksp.setTolerances(rtol=1e-10)
    timed("amg_setup_s", ksp.setUp)
    uh = dolfinx.fem.Function(V)
    timed("cg_solve_s", lambda: ksp.solve(bvec, uh.x.petsc_vec))
    dofs = V.dofmap.index_map.size_global
    bws = comm.gather(bw_rank, root=0)
    if comm.rank == 0:
        print("RESULT " + json.dumps({"ranks": comm.size, "dofs": dofs, "cg_iterations": ksp.getIterationNumber(),
                                      "triad_GB_s_per_rank": bws, "triad_GB_s_total": float(sum(bws)),
                                      **times}), flush=True)


def run(ranks: int, n: int, mb: float) -> dict:
    cmd = ([] if ranks == 1 else ["mpirun", "-n", str(ranks)]) + [sys.executable, __file__, "--worker",
                                                                   "--n", str(n), "--mb", str(mb)]
    r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True,
                       env=dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO)))
    line = [s for s in r.stdout.splitlines() if s.startswith("RESULT ")]
    if r.returncode != 0 or not line:
        raise RuntimeError(f"{cmd}: exit {r.returncode}\n{r.stdout}\n{r.stderr}")
    return json.loads(line[0][7:])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100, help="cells per side of the unit cube ((n+1)^3 unknowns)")
    ap.add_argument("--mb", type=float, default=400.0, help="triad arrays per rank [MB]")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        worker(a.n, a.mb)
        return
    load0 = os.getloadavg()
    one, two = run(1, a.n, a.mb), run(2, a.n, a.mb)
    phases = ["mesh_s", "forms_s", "matrix_assembly_s", "vector_assembly_s", "amg_setup_s", "cg_solve_s"]
    print(f"\nStrong scaling 1 -> 2 ranks, P1 Poisson on the unit cube, {one['dofs']:,} dofs "
          f"(load average before {load0}, after {os.getloadavg()})")
    print(f"{'phase':20s} {'1 rank [s]':>11s} {'2 ranks [s]':>12s} {'speed-up':>9s} {'efficiency':>11s}")
    rows = {}
    for ph in phases:
        s = one[ph] / two[ph]
        rows[ph] = {"one_s": one[ph], "two_s": two[ph], "speedup": s, "efficiency": s / 2}
        print(f"{ph:20s} {one[ph]:11.3f} {two[ph]:12.3f} {s:9.2f} {s / 2:11.2f}")
    print(f"CG iterations: {one['cg_iterations']} (1 rank), {two['cg_iterations']} (2 ranks)")
    print(f"triad bandwidth: 1 rank alone {one['triad_GB_s_total']:.1f} GB/s; 2 ranks together "
          f"{two['triad_GB_s_total']:.1f} GB/s ({', '.join(f'{x:.1f}' for x in two['triad_GB_s_per_rank'])} "
          f"per rank): x{two['triad_GB_s_total'] / one['triad_GB_s_total']:.2f}")
    OUT.mkdir(parents=True, exist_ok=True)
    res = {"one": one, "two": two, "phases": rows, "bandwidth_ratio": two["triad_GB_s_total"] / one["triad_GB_s_total"],
           "loadavg_before": list(load0), "loadavg_after": list(os.getloadavg())}
    (OUT / "strong_scaling.json").write_text(json.dumps(res, indent=2) + "\n")
    print(f"wrote {OUT / 'strong_scaling.json'}")


if __name__ == "__main__":
    main()
