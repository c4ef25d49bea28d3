#!/usr/bin/env python3
"""Isotropic 3D ball (sphere_3d, remeshed) against the 1D radial model: core radius over the whole run.

    docker/run python3 tests/bench/bench_sphere_3d_vs_1d.py [--sizes 0.25,0.15] [--surface concentration]
        [--core 0.7] [--geometry sphere_3d|ellipsoid_3d] [--set remesh_interface_per_radius=0.2]

The same particle (R = 100 nm, defaults otherwise) is run with ``geometry=sphere_1d`` (the fine 1D
reference: mesh 0.005, i.e. 200 cells) and with the 3D geometry at each mesh size (``ellipsoid_3d``
with three equal semi-axes exercises the ellipsoid path on a ball); the 3D core radius is the
volume-equivalent radius (3 V_core / 4 pi)^(1/3), the 1D one the interface radius.  Reported: the
largest |r_3D(t) - r_1D(t)| / R over all recorded 3D times (r_1D interpolated linearly in t) while
the 1D core exists, remesh count, cells, interface triangles at the end, steps, mass balance,
moles error across remeshes, wall and CPU time (the machine is shared: CPU time is the comparable
one).  The issue's target: within 1% of R over the whole run.  Prints a table with os.getloadavg()
and writes results/bench/sphere_3d_vs_1d.json (next to --out).  Not a test: rerun and compare.

Measured (initial core 0.7 R, mesh 0.25 R, the 3D core always shrinks faster than the 1D one):

    surface        3D settings                        within 1% of R down to   max |r3 - r1| / R (1D radius)
    current 4C     defaults                           the end (vf < 0.001)     0.26% (at r = 0.17 R)
    concentration  defaults                           r = 0.32 R (t = 116 s)   2.5% at 0.20 R, 4.7% at 0.14 R (end)
    concentration  remesh_interface_per_radius=0.2    r = 0.30 R (t = 122 s)   1.7% at 0.20 R, 2.9% at 0.13 R (end)

(the last row: 103 steps, 7 remeshes, 22.6k cells and 1280 interface triangles at the end, moles
balance 9.7e-9, remesh moles 1.7e-14, 958 s CPU at load 6.5-7 against 64 steps, 5 remeshes, 6.8k
cells for the defaults)

Under a fixed surface concentration no P1 setting measured keeps the whole run (to core volume
fraction 0.001, r = 0.1 R) within 1%; P2 with a smaller interface step does (below).  The cause, measured separately in
tests/bench/bench_shell_conductance_3d.py, is the P1 shell's conductance, not the time step nor the
interface velocity: a static shell (c fixed on both surfaces) at the meshes this bench uses conducts
1.7% (r_c = 0.7 R) to 9% (0.2 R) and 19% (0.1 R) too much, and with the interface sized to the core
(h_if = 0.1-0.2 r_c) still 3-5%, set by Gmsh's size grading 0.3 (grading 0.15: 1.1-1.3% at 1.7-2x the
cells); under a current the flux is prescribed, so this error does not enter.  Backward Euler on the
run's own 64 steps accounts for 0.2% of R at 0.20 R and 0.5% at 0.14 R of the observed 2.5% and 4.7%.
The moles balance to 1e-8, so the core volume follows the discrete flux exactly.  Reaching 1% to
r = 0.1 R would need the shell field resolved to ~0.5% in flux: P2 in the shell, or a grading near 0.1
(an estimated 5-10x the cells of the runs above), neither affordable on this shared machine.

P2 phases (``--set element_degree=2``, session 7, 2026-12-02; the machine shared, load 5-5.5 on 2 cores):
the static shell error drops to a few 0.1% (bench_shell_conductance_3d.py), and what is left of the
3D-1D drift is backward Euler's time-step error, now of the opposite sign (the 3D core lags, r3 > r1;
with P1 the over-conduction had partly hidden it):

    3D (mesh 0.25, initial core 0.7 R), --set             steps        max |r3 - r1| / R while r1 > 0.5, 0.3, 0.2, 0.15; end   CPU [s]
    element_degree=2 remesh_interface_per_radius=0.2       87 (+29 rej.) 0.22%, 0.67%, 1.05%, 1.34%; 1.88% at r1 = 0.10 R         1424
    the same + max_move_cells=0.1 (session 8, to the end)  250 (+83 rej.) 0.18% over the WHOLE run, at t = 0.5 s (the initial    2086
                                                                         inscribed-core offset); the drift since t = 0 stays
                                                                         below 0.06% R; ends at t = 163.7 s against 163.6 s (1D)

(P2 dofs of the two fields 32.6k initially (11.3k cells; P1 would be 4.4k), ~63k at the end (22.0k cells,
1280 interface triangles, 6 remeshes); moles balance 1.6e-8 / 7.8e-9, remesh moles 1.7e-14; wall 4140 s
at load 5.5, against 958 s CPU at load 6.5-7 for the P1 run of the same settings.  The full max_move_cells=0.1
run: 6 remeshes, 23.5k cells and 1280 interface triangles at the end, moles balance 7.8e-9, remesh moles
1.9e-14, 3.2 interface iterations per attempted step, mesh motion 2% of the time loop; wall 4082 s at load
2-4 (2 cores shared with other runs), ~35 min of CPU for a run that meets the issue's 1% over the whole run;
command: --sizes 0.25 --surface concentration --set element_degree=2 --set remesh_interface_per_radius=0.2
--set max_move_cells=0.1.)  The time step is
measured alone in 1D: P2 on a 0.02 mesh (static 1D P2 flux error 5e-5 already at 0.05,
tests/test_stefan_p2.py) against the same 1D reference (P1, 0.005; P2 on 0.005 agrees to 1e-4 R),
with the interface step max_move_cells x 0.02 R:

    1D P2 h 0.02, max_move_cells     0.1 (default)   0.5     1.0
    interface step ~ [R]             0.002           0.01    0.02
    max |r - r_ref| / R, r > 0.3     0.09%           0.50%   0.96%
                         r > 0.15    0.19%           1.02%   2.05%
                         end         0.29%           1.53%   2.83%

The 3D default step (0.3 of the smallest cell, ~0.01 R per step here) matches the 0.5 column: the 3D
drift with P2 is the time step.  The quasi-steady ODE estimate in bench_shell_conductance_3d.py
(0.2% at 0.2 R) underestimated it.  Meeting 1% to the end needs P2 + the core-sized interface + a
~3x smaller interface step: max_move_cells 0.1 (measured to the end, session 8: 0.18% over the whole
run, 1.5x the CPU of the default-step P2 run); a second-order time scheme would be the cheaper route.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]


def run(out: Path, sets: list[str]) -> tuple[dict, np.ndarray, float, float]:
    """(summary, timeseries, wall [s], CPU time of the child [s])"""
    cmd = [sys.executable, "-m", "solidion", "run", "shrinking_core", "--quiet", "--out", str(out)]
    for s in sets:
        cmd += ["--set", s]
    t0, c0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    wall, c1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{r.stderr[-3000:]}")
    summary = json.loads((out / "summary.json").read_text())
    return summary, np.genfromtxt(out / "timeseries.csv", delimiter=",", names=True), wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="0.25,0.15")
    ap.add_argument("--surface", default="concentration", choices=("concentration", "current"))
    ap.add_argument("--core", type=float, default=0.7, help="initial core radius / R")
    ap.add_argument("--geometry", default="sphere_3d", choices=("sphere_3d", "ellipsoid_3d"))
    ap.add_argument("--c-rate", type=float, default=4.0)
    ap.add_argument("--set", action="append", default=[], metavar="K=V",
                    help="extra --set for the 3D runs, e.g. remesh_interface_per_radius=0.2")
    ap.add_argument("--out", default=str(REPO / "results" / "bench" / "sphere_3d_vs_1d"))
    a = ap.parse_args()
    root = Path(a.out)
    common = [f"surface_condition={a.surface}", f"initial_core_fraction={a.core}", "fields_every=0",
              "t_end_s=20000"]
    if a.surface == "current":
        common.append(f"c_rate={a.c_rate}")
    s1, d1, w1, _ = run(root / "sphere_1d", common + ["geometry=sphere_1d", "mesh_size=0.005"])
    rows = []
    for h in [float(x) for x in a.sizes.split(",")]:
        geo = ["geometry=sphere_3d"] if a.geometry == "sphere_3d" else ["geometry=ellipsoid_3d",
                                                                         "semi_axes_m=[1e-7,1e-7,1e-7]"]
        s3, d3, w3, cpu3 = run(root / f"{a.geometry}-h{h}", common + geo + [f"mesh_size={h}"] + a.set)
        R = 1e-7
        t, r3 = d3["t_s"], d3["core_radius_m"]
        r1 = np.interp(t, d1["t_s"], d1["core_radius_m"])
        alive = (t <= d1["t_s"][-1]) & (r1 > 0)
        err = np.abs(r3 - r1)[alive] / R
        i = int(np.argmax(err))
        rows.append({"geometry": a.geometry, "mesh_size": h, "max_err_over_R": float(err[i]),
                     "at_t_s": float(t[alive][i]), "at_r1d_over_R": float(r1[alive][i] / R),
                     "t_end_3d_s": float(t[-1]), "t_end_1d_s": float(d1["t_s"][-1]),
                     "final_core_volume_fraction": s3["final_core_volume_fraction"],
                     "remesh_count": s3["remesh_count"], "final_cells": s3["final_cells"], "wall_s": w3, "cpu_s": cpu3,
                     "steps": len(t) - 1, "final_interface_facets": s3.get("final_interface_facets"),
                     "max_remesh_moles_rel_error": s3["max_remesh_moles_rel_error"],
                     "max_mass_balance_rel_error": s3["max_mass_balance_rel_error"], "reason": s3["reason"]})
    load = os.getloadavg()
    print(f"# {a.surface}, initial core {a.core} R, 3D --set {a.set}; 1D reference: {len(d1)} rows, wall {w1:.1f} s, "
          f"end {s1['reason']}; load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} (2 cores, shared)")
    print(f"{'geometry':13s} {'h':>5s} {'max|r3-r1|/R':>12s} {'at t [s]':>9s} {'r1/R':>6s} {'t_end 3D/1D [s]':>16s} "
          f"{'remesh':>6s} {'cells':>6s} {'if tris':>7s} {'steps':>5s} {'mass bal':>9s} {'remesh mol':>10s} "
          f"{'wall [s]':>8s} {'CPU [s]':>8s}")
    for r in rows:
        print(f"{r['geometry']:13s} {r['mesh_size']:5.3f} {r['max_err_over_R']:12.4f} {r['at_t_s']:9.1f} "
              f"{r['at_r1d_over_R']:6.3f} {r['t_end_3d_s']:7.1f}/{r['t_end_1d_s']:<8.1f} {r['remesh_count']:6d} "
              f"{r['final_cells']:6d} {r['final_interface_facets'] or -1:7d} {r['steps']:5d} "
              f"{r['max_mass_balance_rel_error']:9.2e} {r['max_remesh_moles_rel_error']:10.1e} {r['wall_s']:8.1f} "
              f"{r['cpu_s']:8.1f}")
    root.mkdir(parents=True, exist_ok=True)
    (root.parent / "sphere_3d_vs_1d.json").write_text(json.dumps({"load_average": load, "surface": a.surface, "sets_3d": a.set,
                                                                   "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
