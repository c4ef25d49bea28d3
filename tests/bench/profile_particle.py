"""Profile (issue 13 goal 3): where the 50-grain particle's meshing and Newton assembly time goes.

    docker/run python3 tests/bench/profile_particle.py --mesh-size 0.06
    docker/run python3 tests/bench/profile_particle.py --mesh-size 0.03

Meshing: wall and CPU seconds of each phase on rank 0 (OCC Voronoi cells, fragment, removal of the
outside parts, Gmsh 1D/2D/3D, optimize, DOLFINx gmshio.model_to_mesh with create_mesh and the tag
distribution), by wrapping the Gmsh/DOLFINx calls.  Assembly: the integrals of each form of the
galvanostatic Newton (fem.galvanostatic.BorderedNewton: residual F, Jacobian J, border b, g, G, h)
with their quadrature degree, then the CPU time of one assembly of each (best of 5, after two steps
of 60 s so the state is not uniform) in us per cell, next to a plain P1 Laplace matrix on the same
mesh (the cost of DOLFINx's insertion into a PETSc matrix with a trivial kernel).  CPU times
(time.process_time) because the shared host's wall times are inflated by its load (printed).
Writes results/bench/profile_particle.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
OUT = HERE.parents[1] / "results" / "bench"


def _timed(table: dict, name: str, f):
    def g(*a, **k):
        w, c = time.perf_counter(), time.process_time()
        r = f(*a, **k)
        w0, c0 = table.get(name, (0.0, 0.0))
        table[name] = (w0 + time.perf_counter() - w, c0 + time.process_time() - c)
        return r
    return g


def instrument_meshing(T: dict) -> None:
    """Wrap the meshing calls of meshes.polycrystal / meshes.tagged.from_gmsh (this process only)."""
    import gmsh
    import dolfinx.io.gmshio as gio
    import meshes.limits as lim
    from meshes import polycrystal as pc
    gen = gmsh.model.mesh.generate
    gmsh.model.mesh.generate = lambda dim: [_timed(T, f"gmsh generate {d}D", gen)(d) for d in range(1, dim + 1)]
    gmsh.model.mesh.optimize = _timed(T, "gmsh optimize", gmsh.model.mesh.optimize)
    gmsh.model.occ.fragment = _timed(T, "occ fragment", gmsh.model.occ.fragment)
    gmsh.model.occ.remove = _timed(T, "occ remove outside", gmsh.model.occ.remove)
    pc._voronoi_volumes = _timed(T, "occ Voronoi cells", pc._voronoi_volumes)
    lim.check_gmsh_model = _timed(T, "cell estimate", lim.check_gmsh_model)
    gio.model_to_mesh = _timed(T, "dolfinx model_to_mesh (all)", gio.model_to_mesh)
    gio.create_mesh = _timed(T, "  create_mesh", gio.create_mesh)
    gio.distribute_entity_data = _timed(T, "  distribute_entity_data", gio.distribute_entity_data)
    gio.meshtags_from_entities = _timed(T, "  meshtags_from_entities", gio.meshtags_from_entities)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mesh-size", type=float, default=0.1)
    ap.add_argument("--grains", type=int, default=50)
    a = ap.parse_args(argv)
    from mpi4py import MPI
    import numpy as np
    import ufl
    import dolfinx.fem
    import dolfinx.fem.petsc as fp
    from petsc4py import PETSc

    from problems import particle_discharge as pd
    comm = MPI.COMM_WORLD
    T: dict = {}
    instrument_meshing(T)
    p = pd.ParticleDischargeParameters.from_dict({"mesh_size": a.mesh_size, "n_grains": a.grains})
    w, c = time.perf_counter(), time.process_time()
    dom, rot = pd.build_domain(p, comm)
    T["meshing total"] = (time.perf_counter() - w, time.process_time() - c)
    model, setup = pd.build(p, comm, dom, rot)
    s = model.solver
    cells = model.mesh.topology.index_map(3).size_local
    dofs = model.V.dofmap.index_map.size_global
    dt = 60.0 / setup.scales.time
    for i in range(2):
        st = model.step(i * dt, dt)
        model.accept((i + 1) * dt, dt, st)
    integrals = [(i.integral_type(), str(i.subdomain_id()), i.metadata().get("quadrature_degree"))
                 for i in model.residual.integrals()]

    def best(fn, n=5):
        fn()
        ts = []
        for _ in range(n):
            comm.barrier()
            c0 = time.process_time()
            fn()
            ts.append(time.process_time() - c0)
        return comm.allreduce(min(ts), op=MPI.MAX)

    def mat(form, A):
        def f():
            A.zeroEntries()
            fp.assemble_matrix(A, form)
            A.assemble()
        return f

    V = model.V
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    lap = dolfinx.fem.form(ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx)
    A_lap = fp.create_matrix(lap)
    # the Newton's own assembly (numpy cell terms, one surface assembly) and the generated forms
    F_form = dolfinx.fem.form(model.residual)
    asm = {"J (the Newton's)": best(s.jacobian_assembler.assemble), "J (generated forms)": best(mat(s.a, s.A)),
           "F cells (the Newton's)": best(s._residual), "F (generated form)": best(lambda: s._vec(s.bvec, F_form)),
           "F surface, G, b, g, h (one surface assembly)": best(lambda: s.surface.assemble(s.F, s.bvec, s.gvec)),
           "plain P1 Laplace matrix": best(mat(lap, A_lap))}
    A_lap.destroy()
    forms = {name: sorted((str(t), len(f._cpp_object.integral_ids(t))) for t in f.integral_types)
             for name, f in (("F", F_form), ("J", s.a), ("surface", s.surface.form))}
    load = [round(x, 2) for x in os.getloadavg()]
    if comm.rank == 0:
        print(f"mesh_size {a.mesh_size}: {dofs} dofs, {cells} cells on rank 0, {comm.size} rank(s), load {load}")
        print("integrals of F (type, subdomain, quadrature degree):", integrals)
        print("integrals per form (type, count):", forms)
        print("| meshing phase (rank 0) | wall [s] | CPU [s] |\n|---|---|---|")
        for k, (wt, ct) in T.items():
            print(f"| {k} | {wt:.1f} | {ct:.1f} |")
        print("| assembly (best of 5) | CPU [s] | CPU per cell [us] |\n|---|---|---|")
        for k, t in asm.items():
            print(f"| {k} | {t:.4f} | {t / cells * 1e6:.2f} |")
        per_newton = sum(t for k, t in asm.items() if not k.startswith("plain"))
        print(f"per Newton iteration (J, F, b, g, G, h): {per_newton:.3f} s CPU = "
              f"{per_newton / cells * 1e6:.2f} us/cell, load {load}")
        OUT.mkdir(parents=True, exist_ok=True)
        with open(OUT / "profile_particle.jsonl", "a") as f:
            f.write(json.dumps({"mesh_size": a.mesh_size, "grains": a.grains, "dofs": dofs, "cells_rank0": cells,
                                "ranks": comm.size, "meshing_s": {k: list(v) for k, v in T.items()},
                                "assembly_cpu_s": asm, "integrals": integrals, "loadavg": load}) + "\n")
    model.destroy()


if __name__ == "__main__":
    main()
