#!/usr/bin/env python3
"""Benchmark sphere_diffusion at three resolutions, serial and on 2 ranks.

    docker/run python3 tests/bench/bench_sphere_diffusion.py [--sizes 0.095,0.048,0.028] [--ranks 1,2]

Each case runs ``solidion run sphere_diffusion`` (fixed dt, 10 steps, CG +
BoomerAMG, P2) in a subprocess (``mpirun -n N`` for N > 1) and reads its
summary.json.  Prints a table and writes results/bench/sphere_diffusion.json:
dofs, wall time per step, assembly and linear-solve time per step, Newton and
Krylov iterations per step, peak memory (all ranks) and bytes per dof, setup time (mesh, forms:
wall minus time loop), load average; also appended as JSON lines to results/bench/diffusion_scaling.jsonl
(tests/bench/make_report.py).  Not a test: rerun and compare.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_case(h: float, ranks: int, steps: int, outroot: Path, tag: str = "") -> dict:
    out = outroot / f"h{h}-n{ranks}"
    cmd = [sys.executable, "-m", "solidion", "run", "sphere_diffusion", "--quiet", "--overwrite", "--out", str(out),
           "--set", f"mesh_size={h}", "--set", "dt_s=5.0", "--set", "dt_max_s=5.0",
           "--set", f"t_end_s={5.0 * steps}", "--set", "fields_every=0",
           # a uniform mesh and equal steps (the default grades the mesh to the surface and starts with
           # unrecorded sub-steps): dofs set by mesh_size alone, every solve counted per step
           "--set", "surface_refinement=1", "--set", "startup_steps=0"]
    if ranks > 1:
        cmd = ["mpirun", "-n", str(ranks), *cmd]
    subprocess.run(cmd, check=True, cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)))
    s = json.loads((out / "summary.json").read_text())
    n = s["steps"]
    t = s["timings"]
    return {"mesh_size": h, "ranks": ranks, "dofs": s["mesh"]["dofs"], "cells": s["mesh"]["cells"],
            "steps": n, "wall_per_step_s": s["time_loop_s"] / n,
            "assembly_per_step_s": t["assembly_s"] / n, "solve_per_step_s": t["linear_solve_s"] / n,
            "newton_per_step": s["newton_iterations"] / n,
            "krylov_per_newton": s["krylov_iterations"] / max(s["newton_iterations"], 1),
            "total_wall_s": s["wall_time_s"], "setup_s": s["wall_time_s"] - s["time_loop_s"],
            "peak_memory_MB": s["peak_memory_MB"]["total"],
            "bytes_per_dof": s["peak_memory_MB"]["total"] * 2**20 / s["mesh"]["dofs"],
            "loadavg": [round(x, 2) for x in os.getloadavg()], "tag": tag}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="0.095,0.048,0.028", help="relative mesh sizes (~30k, 210k, 1M P2 dofs)")
    ap.add_argument("--ranks", default="1,2")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--out", default="results/bench")
    ap.add_argument("--tag", default="", help="label of the rows in the JSON lines")
    a = ap.parse_args()
    outroot = REPO / a.out
    rows = [run_case(float(h), int(n), a.steps, outroot, a.tag)
            for h in a.sizes.split(",") for n in a.ranks.split(",")]
    hdr = (f"{'h':>6} {'ranks':>5} {'dofs':>9} {'s/step':>8} {'asm/step':>9} {'ksp/step':>9} "
           f"{'newton':>6} {'krylov/newton':>13} {'mem MB':>8}")
    print(hdr)
    for r in rows:
        print(f"{r['mesh_size']:6.3f} {r['ranks']:5d} {r['dofs']:9d} {r['wall_per_step_s']:8.3f} "
              f"{r['assembly_per_step_s']:9.3f} {r['solve_per_step_s']:9.3f} {r['newton_per_step']:6.2f} "
              f"{r['krylov_per_newton']:13.2f} {r['peak_memory_MB']:8.0f}")
    serial = [r for r in rows if r["ranks"] == 1]
    if len(serial) >= 2:
        k0, k1 = serial[0]["krylov_per_newton"], serial[-1]["krylov_per_newton"]
        print(f"Krylov iterations per solve, smallest -> largest mesh: {k0:.2f} -> {k1:.2f} "
              f"({100 * (k1 / k0 - 1):+.0f}%)")
    big = {r["ranks"]: r for r in rows if r["mesh_size"] == float(a.sizes.split(",")[-1])}
    if 1 in big and 2 in big:
        print(f"speed-up on 2 ranks (largest mesh): {big[1]['wall_per_step_s'] / big[2]['wall_per_step_s']:.2f}x")
    outroot.mkdir(parents=True, exist_ok=True)
    (outroot / "sphere_diffusion.json").write_text(json.dumps(rows, indent=2))
    with open(outroot / "diffusion_scaling.jsonl", "a") as f:  # tests/bench/make_report.py reads these
        for r in rows:
            f.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
