#!/usr/bin/env python3
"""Benchmark shrinking_core in 3D (ball, constant current) to full conversion, serial and on 2 ranks.

    docker/run python3 tests/bench/bench_shrinking_core.py [--sizes 0.045] [--ranks 1,2] [--solver amg]

``--sizes 0.045`` is the issue's ~200k-dof case (two P1 phase fields on the
whole mesh; the ALE displacement adds 3 dofs per vertex on top).  Each case
runs ``solidion run shrinking_core --set geometry=sphere_3d`` in a subprocess
(``mpirun -n N`` for N > 1) and reads summary.json: wall time to the end of the
run (core converted or the mesh-quality limit), steps, Stefan iterations per
step, Krylov iterations per Stefan iteration, and the mesh-motion share of the
solve time (extension solves, mesh updates, interface normals/areas vs. the two
phase solves and interface residuals).  Prints a table and writes
results/bench/shrinking_core.json.  Not a test: rerun and compare.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_case(h: float, ranks: int, solver: str, c_rate: float, outroot: Path) -> dict:
    out = outroot / f"shrinking_core-h{h}-n{ranks}"
    cmd = [sys.executable, "-m", "solidion", "run", "shrinking_core", "--quiet", "--out", str(out),
           "--set", "geometry=sphere_3d", "--set", f"mesh_size={h}", "--set", f"solver={solver}",
           "--set", "initial_core_fraction=0.7", "--set", f"c_rate={c_rate}", "--set", "fields_every=0",
           "--set", "min_core_volume_fraction=0.01"]
    if ranks > 1:
        cmd = ["mpirun", "-n", str(ranks), *cmd]
    subprocess.run(cmd, check=True, cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)))
    s = json.loads((out / "summary.json").read_text())
    n = max(s["steps"], 1)
    return {"mesh_size": h, "ranks": ranks, "solver": solver, "phase_dofs": s["mesh"]["dofs"],
            "vertices": s["mesh"]["vertices"], "cells": s["mesh"]["cells"], "steps": s["steps"],
            "rejected": s["rejected_steps"], "stefan_per_step": s["newton_iterations"] / n,
            "krylov_per_stefan": s["krylov_iterations"] / max(s["newton_iterations"], 1),
            "time_loop_s": s["time_loop_s"], "total_wall_s": s["wall_time_s"],
            "mesh_motion_share": s["mesh_motion_wall_share"], "final_core_fraction": s["final_core_volume_fraction"],
            "initial_core_fraction": s["initial_core_volume_fraction"],
            "max_mass_error": s["max_mass_balance_rel_error"], "status": s["status"], "reason": s["reason"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="0.045", help="relative mesh sizes (0.045: ~200k phase dofs)")
    ap.add_argument("--ranks", default="1,2")
    ap.add_argument("--solver", default="amg", choices=("amg", "lu"))
    ap.add_argument("--c-rate", type=float, default=2.0)
    ap.add_argument("--out", default="results/bench")
    a = ap.parse_args()
    outroot = REPO / a.out
    rows = [run_case(float(h), int(n), a.solver, a.c_rate, outroot)
            for h in a.sizes.split(",") for n in a.ranks.split(",")]
    hdr = (f"{'h':>6} {'ranks':>5} {'dofs':>8} {'steps':>5} {'rej':>4} {'stefan/step':>11} {'ksp/it':>6} "
           f"{'loop s':>8} {'total s':>8} {'ALE %':>6} {'core f0->f':>12} {'mass err':>9}  end")
    print(hdr)
    for r in rows:
        print(f"{r['mesh_size']:6.3f} {r['ranks']:5d} {r['phase_dofs']:8d} {r['steps']:5d} {r['rejected']:4d} "
              f"{r['stefan_per_step']:11.2f} {r['krylov_per_stefan']:6.1f} {r['time_loop_s']:8.1f} "
              f"{r['total_wall_s']:8.1f} {100 * r['mesh_motion_share']:6.1f} "
              f"{r['initial_core_fraction']:5.3f}->{r['final_core_fraction']:5.3f} {r['max_mass_error']:9.1e}  "
              f"{r['reason']}")
    outroot.mkdir(parents=True, exist_ok=True)
    (outroot / "shrinking_core.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
