"""Benchmark (issue 13, goal 6): peak memory per unknown of each physics next to a plain DOLFINx
Poisson solve (P1, CG + BoomerAMG) with the same number of unknowns, one process per case.

    docker/run python3 tests/bench/bench_memory.py --cases particle:0.06,particle:0.03,ch:0.06,ch:0.04,pnp:0.5/4,pnp:0.3/2.4
    python3 tests/bench/make_report.py        (after copying results/bench/memory.jsonl to tests/bench/data/)

Cases: ``particle:<mesh_size>`` (particle_discharge: 50-grain polycrystal, anisotropic D(c),
galvanostatic Butler-Volmer, GMRES + BoomerAMG, bordered Newton), ``ch:<mesh_size>``
(particle_spinodal: 3D Cahn-Hilliard (c, mu), FGMRES + fem.solver.FactoredSchurPC),
``pnp:<h_int>/<h_bulk>`` (particle_in_electrolyte: phi + 2 species, GMRES +
fem.pnp_preconditioner.SlotboomPC).  Each physics case runs in a fresh subprocess: mesh, then
(peak reset, resident set recorded) model construction and ``--steps`` time steps; then the
Poisson reference runs in another fresh subprocess on a unit-cube tetrahedral mesh with
(n+1)^3 ~ the physics' dofs: mesh, then (peak reset) space, forms, matrix, BoomerAMG setup and
one CG solve to rtol 1e-10.  Recorded per case (``results/bench/memory.jsonl``):

* ``model_mb``: peak resident set (VmHWM, reset after the mesh) minus the resident set after
  the mesh: what the model and its solver add; ``bytes_per_dof`` = model_mb / dofs;
* ``mesh_mb``: resident set after minus before the mesh (DOLFINx mesh and tags; Gmsh's
  transient peak is not in it); ``base_mb``: the resident set of the process before the mesh
  (Python, DOLFINx, PETSc, JIT modules);
* ``fit_24GB_dofs``: the largest problem that fits in 24 GiB on one process,
  (24 GiB - base) / ((model_mb + mesh_mb) / dofs), with the bytes per dof of this size (they
  shrink slowly with size as fixed costs amortize, so this is conservative); on P ranks
  the base (~250-350 MB) is paid P times.

Memory is not affected by the machine's load (iteration counts neither); wall and CPU times are
recorded for reference only.  Serial only (per-rank overheads add on more ranks).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

import bench_common as bc  # noqa: E402

OUT = REPO / "results" / "bench"
GIB24 = 24 * 1024.0  # MB


class Marker:
    """Records the resident set before the mesh, after the mesh (then resets the peak)."""

    def __init__(self):
        self.base = bc.rss_mb()
        self.after_mesh = None
        self.reset = None

    def mesh_done(self):
        if self.after_mesh is None:
            self.after_mesh = bc.rss_mb()
            self.reset = bc.reset_peak()
            self.after_mesh = bc.rss_mb()

    def result(self, dofs, **kw):
        peak = bc.peak_rss_mb()
        model = max(peak - self.after_mesh, 0.0)
        mesh = max(self.after_mesh - self.base, 0.0)
        per_dof = (model + mesh) * 2**20 / dofs
        return {"dofs": int(dofs), "base_mb": self.base, "mesh_mb": mesh, "model_mb": model,
                "peak_mb": peak, "peak_reset": self.reset, "bytes_per_dof": model * 2**20 / dofs,
                "mesh_bytes_per_dof": mesh * 2**20 / dofs,
                "fit_24GB_dofs": (GIB24 - self.base) * 2**20 / per_dof,
                "cpu_s": time.process_time(), "loadavg": bc.loadavg(), **kw}


def child_particle(h: float, steps: int) -> dict:
    from mpi4py import MPI

    from problems import particle_discharge as pd
    comm = MPI.COMM_WORLD
    mk = Marker()
    p = pd.ParticleDischargeParameters.from_dict({"mesh_size": h, "n_grains": 50})
    domain, rotations = pd.build_domain(p, comm)
    mk.mesh_done()
    model, setup = pd.build(p, comm, domain, rotations)
    dt = 10.0 / setup.scales.time  # 10 s steps at 1C
    newton = krylov = 0
    for i in range(steps):
        st = model.step(i * dt, dt)
        newton, krylov = newton + st.newton_iterations, krylov + st.krylov_iterations
        model.accept((i + 1) * dt, dt, st)
    dofs = model.V.dofmap.index_map.size_global * model.V.dofmap.index_map_bs
    return mk.result(dofs, physics="particle", size=h, solver="GMRES + BoomerAMG (bordered Newton)",
                     newton=newton, krylov=krylov, steps=steps)


def child_ch(h: float, steps: int, dt: float = 0.02) -> dict:
    import problems.particle_spinodal as ps
    mk = Marker()
    sphere = ps.sphere

    def sphere_marked(*a, **k):  # the model is built right after the mesh inside ps.build
        d = sphere(*a, **k)
        mk.mesh_done()
        return d
    ps.sphere = sphere_marked
    import bench_spinodal
    bench_spinodal.OUT = OUT / "memory_children"
    row = bench_spinodal.run_particle(h, steps, "factored", dt, "split", "memory")
    return mk.result(row["dofs"], physics="ch", size=h, solver="FGMRES + FactoredSchurPC", dt_R2_D=dt,
                     converged=row["converged"],
                     newton=row["newton_per_step"] * row["steps"], steps=row["steps"],
                     krylov=row["krylov_per_newton"] * row["newton_per_step"] * row["steps"])


def child_pnp(h: str, steps: int) -> dict:
    from problems import particle_in_electrolyte as pie
    mk = Marker()
    make_mesh = pie.make_mesh

    def make_mesh_marked(*a, **k):
        d = make_mesh(*a, **k)
        mk.mesh_done()
        return d
    pie.make_mesh = make_mesh_marked
    import bench_pnp
    bench_pnp.OUT = OUT / "memory_children"
    hi, hb = (float(x) for x in h.split("/"))
    row = bench_pnp.run(hi, hb, "fieldsplit", steps, 1e-6, "", pb=False, tag="memory")
    return mk.result(row["pnp_dofs"], physics="pnp", size=h, solver="GMRES + SlotboomPC",
                     newton=row["newton_per_step"] * row["steps"], steps=row["steps"],
                     krylov=row["krylov_per_newton"] * row["newton_per_step"] * row["steps"])


def child_poisson(dofs: int) -> dict:
    """-lap u = 1 on the unit cube, u = 0 on its boundary: P1, CG + BoomerAMG (fem.petsc_options.cg_amg)."""
    import numpy as np
    import ufl
    from mpi4py import MPI
    from petsc4py import PETSc

    import dolfinx.fem
    import dolfinx.fem.petsc
    import dolfinx.mesh
    from fem import petsc_options
    mk = Marker()
    n = max(2, round(dofs ** (1 / 3)) - 1)
    mesh = dolfinx.mesh.create_unit_cube(MPI.COMM_WORLD, n, n, n, dolfinx.mesh.CellType.tetrahedron)
    mk.mesh_done()
    V = dolfinx.fem.functionspace(mesh, ("Lagrange", 1))
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    a = dolfinx.fem.form(ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx)
    L = dolfinx.fem.form(dolfinx.fem.Constant(mesh, 1.0) * v * ufl.dx)
    mesh.topology.create_connectivity(2, 3)
    facets = dolfinx.mesh.exterior_facet_indices(mesh.topology)
    bc = dolfinx.fem.dirichletbc(0.0, dolfinx.fem.locate_dofs_topological(V, 2, facets), V)
    A = dolfinx.fem.petsc.assemble_matrix(a, bcs=[bc])
    A.assemble()
    b = dolfinx.fem.petsc.assemble_vector(L)
    dolfinx.fem.petsc.apply_lifting(b, [a], bcs=[[bc]])
    b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
    dolfinx.fem.petsc.set_bc(b, [bc])
    petsc_options.apply("poisson_", {**petsc_options.cg_amg(), "ksp_rtol": 1e-10})
    ksp = PETSc.KSP().create(mesh.comm)
    ksp.setOptionsPrefix("poisson_")
    ksp.setOperators(A)
    ksp.setFromOptions()
    uh = dolfinx.fem.Function(V)
    ksp.solve(b, uh.x.petsc_vec)
    assert ksp.getConvergedReason() > 0 and np.isfinite(uh.x.array).all()
    ndofs = V.dofmap.index_map.size_global
    return mk.result(ndofs, physics="poisson", size=n, solver="CG + BoomerAMG", krylov=ksp.getIterationNumber())


CHILDREN = {"particle": child_particle, "ch": child_ch, "pnp": child_pnp}


def run_child(args: list[str]) -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    r = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True,
                       cwd=REPO, env=env)
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("{\"dofs\"")]
    if r.returncode != 0 or not lines:
        raise RuntimeError(f"child {args} failed ({r.returncode}): {(r.stderr or r.stdout)[-2000:]}")
    return json.loads(lines[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default="particle:0.1,ch:0.1,pnp:1.0/8")
    ap.add_argument("--steps", type=int, default=2, help="time steps per physics case")
    ap.add_argument("--ch-dt", type=float, default=0.02, help="ch cases: fixed step [R^2/D]")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        kind, size = a.child[0], a.child[1]
        if kind == "poisson":
            res = child_poisson(int(size))
        else:
            extra = [float(a.child[3])] if kind == "ch" and len(a.child) > 3 else []
            res = CHILDREN[kind](size if kind == "pnp" else float(size), int(a.child[2]), *extra)
        print(json.dumps(res), flush=True)
        return
    OUT.mkdir(parents=True, exist_ok=True)
    rows = []
    for case in a.cases.split(","):
        kind, size = case.split(":")
        phys = run_child([kind, size, str(a.steps)] + ([str(a.ch_dt)] if kind == "ch" else []))
        pois = run_child(["poisson", str(phys["dofs"])])
        row = {"case": case, "physics": phys, "poisson": pois, "loadavg": bc.loadavg()}
        with open(OUT / "memory.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(table(rows))


COLS = [("physics", "physics", ""), ("dofs", "dofs", "d"), ("model_mb", "model+solver [MB]", ".0f"),
        ("bytes_per_dof", "B/dof", ".0f"), ("p_dofs", "Poisson dofs", "d"), ("p_bytes_per_dof", "Poisson B/dof", ".0f"),
        ("ratio", "ratio", ".1f"), ("mesh_bytes_per_dof", "mesh B/dof", ".0f"), ("base_mb", "base [MB]", ".0f"),
        ("fit", "fits in 24 GB [dofs]", ""), ("p_fit", "Poisson fits in 24 GB", ""), ("load", "load avg (1/5/15 min)", "")]


def flat(row: dict) -> dict:
    ph, po = row["physics"], row["poisson"]
    return {**ph, "p_dofs": po["dofs"], "p_bytes_per_dof": po["bytes_per_dof"],
            "ratio": ph["bytes_per_dof"] / max(po["bytes_per_dof"], 1e-30),
            "fit": f"{ph['fit_24GB_dofs'] / 1e6:.0f}M", "p_fit": f"{po['fit_24GB_dofs'] / 1e6:.0f}M",
            "load": "/".join(f"{x:.1f}" for x in row["loadavg"])}


def table(rows) -> str:
    return bc.table([flat(r) for r in rows], COLS)


if __name__ == "__main__":
    main()
