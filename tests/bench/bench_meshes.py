"""Benchmark: time and peak memory to generate large meshes (serial, one process per case).

    docker/run python3 tests/bench/bench_meshes.py [--cells 1e6] [--cases sphere,polycrystal,agglomerate]

Each case runs in a fresh subprocess (peak RSS from wait4).  The element size for a
target number of tetrahedra is found from a small pilot mesh, h = h0 (N0/N)^(1/3).
Prints a Markdown table and writes results/bench_meshes.json.

Measured 2026-11-21 (2 shared cores, load ~8 from other jobs, serial Gmsh, 1 thread):

| case                  | h (rel.) | tets    | q_min | q_mean | gmsh build [s] | distribute [s] | total [s] | peak RSS [MB] |
|-----------------------|----------|---------|-------|--------|----------------|----------------|-----------|---------------|
| sphere                | 0.02626  | 893822  | 0.423 | 0.816  | 27.2           | 31.9           | 59.9      | 661           |
| polycrystal, 50 grains| 0.02611  | 987731  | 0.222 | 0.808  | 25.9           | 28.0           | 55.0      | 758           |
| agglomerate, 20 prim. | 0.15     | 106171  | 0.187 | 0.797  | 6.3            | 2.2            | 9.3       | 245           |

``--io 0.02626``: sphere generated + written to XDMF in 58.6 s, read back with
``mpirun -n 2`` in 35.1 s (893822 tets, same volume).
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

CASES = {
    # name: (kind, fixed parameters, pilot h, scale with target cells?)
    "sphere": ("sphere", dict(radius_m=1e-6), 0.15, True),
    "polycrystal": ("polycrystal", dict(radius_m=1e-6, n_grains=50, seed=0), 0.15, True),
    "agglomerate": ("agglomerate", dict(n_particles=20, radius_m=1e-6, seed=0), 0.15, False),
}


def one(kind: str, params: dict) -> dict:
    from mpi4py import MPI
    from meshes.io import statistics
    from meshes.registry import GENERATORS
    from meshes import tagged
    t0 = time.perf_counter()
    tm = GENERATORS[kind](comm=MPI.COMM_SELF, **params)
    wall = time.perf_counter() - t0
    st = statistics(tm)
    return {"cells": st["cells"], "vertices": st["vertices"], "quality_min": st["quality_min"],
            "quality_mean": st["quality_mean"], "volume": st["volume"], "wall_s": wall,
            **tagged.LAST_TIMINGS}


def run_child(kind: str, params: dict) -> dict:
    cmd = [sys.executable, __file__, "--child", json.dumps([kind, params])]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=REPO,
                         env=dict(os.environ, PYTHONPATH=str(REPO)))
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    if status != 0:
        raise RuntimeError(f"{kind} {params} failed (status {status})")
    res = json.loads(out.strip().splitlines()[-1])
    res["peak_rss_mb"] = ru.ru_maxrss / 1024
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cells", type=float, default=1e6, help="target tetrahedra (sphere, polycrystal)")
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--child")
    ap.add_argument("--io", type=float, default=0.0,
                    help="also time writing a sphere of this relative size h to XDMF and reading it "
                         "back with mpirun -n 2")
    ap.add_argument("--read")
    a = ap.parse_args()
    if a.child:
        kind, params = json.loads(a.child)
        print(json.dumps(one(kind, params)), flush=True)
        return
    if a.read:
        from mpi4py import MPI
        from meshes.io import read
        from meshes._common import measure
        t0 = time.perf_counter()
        tm = read(a.read, comm=MPI.COMM_WORLD)
        wall = MPI.COMM_WORLD.allreduce(time.perf_counter() - t0, op=MPI.MAX)
        vol = measure(tm)
        if MPI.COMM_WORLD.rank == 0:
            print(json.dumps({"read_s": wall, "ranks": MPI.COMM_WORLD.size, "volume": vol,
                              "cells": tm.mesh.topology.index_map(3).size_global}), flush=True)
        return
    if a.io:
        path = REPO / "results" / "bench_sphere.xdmf"
        code = ("import time,json; from mpi4py import MPI; from meshes.io import generate; t=time.perf_counter(); "
                f"tm=generate('sphere', {str(path)!r}, comm=MPI.COMM_SELF, radius_m=1e-6, h={a.io}); "
                "print(json.dumps({'generate_write_s': time.perf_counter()-t, "
                "'cells': tm.mesh.topology.index_map(3).size_global}))")
        env = dict(os.environ, PYTHONPATH=str(REPO))
        w = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO)
        r = subprocess.run(["mpirun", "-n", "2", sys.executable, __file__, "--read", str(path)],
                           capture_output=True, text=True, env=env, cwd=REPO)
        print(w.stdout.strip().splitlines()[-1], r.stdout.strip().splitlines()[-1], flush=True)
    rows = []
    for name in filter(None, a.cases.split(",")):
        kind, fixed, h0, scale = CASES[name]
        params = dict(fixed, h=h0)
        if scale:  # two pilots: at h0, then at the size predicted for cells/10
            pilot = run_child(kind, params)
            h1 = h0 * (pilot["cells"] / (a.cells / 10)) ** (1 / 3)
            if h1 < h0:
                pilot = run_child(kind, dict(params, h=h1))
                h0 = h1
            params["h"] = round(h0 * (pilot["cells"] / a.cells) ** (1 / 3), 5)
        res = run_child(kind, params)
        if scale and abs(res["cells"] / a.cells - 1) > 0.15:  # one correction step
            params["h"] = round(params["h"] * (res["cells"] / a.cells) ** (1 / 3), 5)
            res = run_child(kind, params)
        rows.append({"case": name, "h": params["h"], **res})
        print(json.dumps(rows[-1]), flush=True)
    print("\n| case | h (rel.) | tets | vertices | q_min | q_mean | gmsh build [s] | distribute [s] | total [s] | peak RSS [MB] |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['case']} | {r['h']:.4g} | {r['cells']} | {r['vertices']} | {r['quality_min']:.3f} | "
              f"{r['quality_mean']:.3f} | {r['gmsh_build_s']:.1f} | {r['distribute_s']:.1f} | {r['wall_s']:.1f} | "
              f"{r['peak_rss_mb']:.0f} |")
    out = REPO / "results" / "bench_meshes.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
