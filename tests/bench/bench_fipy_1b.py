"""PFHub benchmark 1b (no-flux square) in FiPy and in solidion, in the same invocation, to the same accuracy.

Host-only (not collected by pytest; FiPy is not a dependency of solidion and is never installed
into the image).  FiPy goes into a venv, e.g. ``python3 -m venv results/h9/venv &&
results/h9/venv/bin/pip install fipy``; solidion is started through ``docker/run`` as a
subprocess (serial: FiPy's default scipy LU is serial too):

    results/h9/venv/bin/python tests/bench/bench_fipy_1b.py both --t-end 100 --nx 200 --dt 0.1 --tag a
    results/h9/venv/bin/python tests/bench/bench_fipy_1b.py compare --tag a --ref results/h9/ref1b

``both``: solidion (``--solidion-set k=v`` repeatable; default: the problem's defaults, i.e. error-
controlled steps with time_tolerance 1e-3 on 100 x 100 Q1) and then FiPy, with ``os.getloadavg()``
before and after each; wall time and CPU time (``resource.getrusage``: FiPy's own process, and
solidion's descendants including both MPI ranks if any) are recorded.  ``compare``: F(t) at the
output times of both against a reference run directory (a refined solidion run of 1b: smaller
time_tolerance and/or finer mesh), the largest relative error of each code over the output times,
and the wall and CPU ratios FiPy / solidion.

FiPy discretization (as in the FiPy upload to PFHub, usnistgov/FiPy-spinodal-decomposition-benchmark):
cell-centred finite volumes on an nx x nx grid, c and mu solved coupled, backward Euler with the
double-well derivative linearized about the last sweep,
    mu = f'(c*) + f''(c*) (c - c*) - kappa lap c,   dc/dt = div(M grad mu),
swept until max |c change| between sweeps < ``--sweep-tol`` (at most 10 sweeps: Newton on the
implicit step; FiPy's returned residual stagnates, so it is not the criterion); F = sum_cells (f(c) + kappa/2 |grad c|^2) V_cell with FiPy's cell gradient.  Steps are
fixed (``--dt``) until ``--grow-after``, then multiplied by ``--grow`` up to ``--dt-max``, and cut
to land on every output time.

Measured (2 cores shared with ~8 other jobs, load average 12-20: wall times are inflated, CPU
times less so; 2026-12-01), t <= 10, against the cosine-spectral reference of
tests/bench/pfhub1_spectral.py (N = 256, dt = 0.005; N = 128 -> 256 changes F(10) by 6e-5):

    t    F ref      solidion (default, 100^2 Q1, tol 1e-3)   FiPy 4.0.3 (100^2 FV, dt 0.1, 3 sweeps/step)
    1    318.8378   318.8418  +1.3e-5                        318.8341  -1.2e-5
    5    317.0186   317.1527  +4.2e-4                        317.0009  -5.6e-5
    10   304.1216   306.5249  +7.9e-3                        303.7852  -1.1e-3
    solidion 80 steps, wall 335 s, CPU 44 s; FiPy 100 steps, wall 1396 s, CPU 128 s:
    FiPy / solidion = 4.2 (wall), 2.9 (CPU) on the same grid, but FiPy is 7x MORE accurate at t = 10;
    solidion with time_tolerance 1e-4 gives F(10) = 305.751 (+5.4e-3): the rest is the Q1 h = 2 mesh.
    (solidion here: the error estimator before commit f3d6cff.)
Same invocation later (load 4-6), solidion --solidion-set scheme=implicit (time_tolerance 1e-3):
    solidion 50 steps, F(10) -1.9e-3, wall 43.4 s (incl. start-up), CPU 26.0 s;
    FiPy as above, F(10) -1.1e-3, wall 152.5 s, CPU 100.7 s: FiPy / solidion = 3.5 (wall), 3.9 (CPU),
    FiPy still slightly more accurate.  1b, 200^2 Q1 split tol 1e-3 (after f3d6cff): F(10) +7.0e-3,
    so the split scheme's time error, not the mesh, dominates solidion's default error at t = 10.
2026-12-02 (session 5, load 2.0-2.4), the current default (implicit, time_tolerance 1e-4), t <= 10,
against results/h9/spec_test/pfhub1b_spectral.json (N = 128):
    results/h9/venv/bin/python tests/bench/bench_fipy_1b.py both --t-end 10 --nx 100 --dt 0.1 --tag s5 \
        --ref results/h9/spec_test/pfhub1b_spectral.json
    solidion 133 steps, F(10) +1.65e-3, wall 55.7 s, CPU 55.1 s; FiPy F(10) -1.16e-3, wall 101.4 s,
    CPU 100.7 s: FiPy / solidion = 1.82 (wall), 1.83 (CPU), FiPy slightly more accurate.
    With --solidion-set lu_refactor_every=10 (same 133 steps, same F to 6 digits): wall 36.2 s,
    CPU 35.7 s: ratio 2.8 (wall).  The 10x goal is not met.
2026-12-02 (session 6, OpenBLAS image, machine shared with the lead and another helper, load 4.6-5.0),
the new default (BDF2, time_tolerance 1e-4, dc_max 0.1), t <= 10, same reference:
    results/h9/venv/bin/python tests/bench/bench_fipy_1b.py both --t-end 10 --nx 100 --dt 0.1 --tag s6 \
        --ref results/h9/spec_test/pfhub1b_spectral.json
    (then ``solidion --tag s6c150 --solidion-set cells_per_side=150`` and ``--tag s6p2 --solidion-set
    cells_per_side=50 --solidion-set element_degree=2`` against the same FiPy run, copied into those tags)
    solidion 100^2 Q1: 43 steps, F(10) +3.01e-3 (the Q1 h = 2 space error, no longer partly cancelled
    by backward Euler's time error), wall 16.3 s, CPU 10.6 s; FiPy F(10) -1.16e-3, wall 137.9 s, CPU
    93.6 s: ratio 8.5 (wall), 8.9 (CPU) on the same grid, FiPy 2.6x more accurate.
    At equal accuracy: solidion 150^2 Q1 (45.6k dofs) 46 steps, F(10) +1.14e-3, wall 41.4 s, CPU 27.5 s:
    ratio 3.3 (wall), 3.4 (CPU); solidion 50^2 Q2 (20.4k dofs) 47 steps, F(10) -4.6e-4 (2.5x more
    accurate than FiPy), wall 29.0 s, CPU 18.5 s: ratio 4.75 (wall), 5.0 (CPU).  The 10x goal is not met.
Same day, after time_tolerance 1e-3 became the default with BDF2 (load 1.3-1.8, quieter):
    results/h9/venv/bin/python tests/bench/bench_fipy_1b.py both --t-end 10 --nx 100 --dt 0.1 --tag s6b \
        --ref results/h9/spec_test/pfhub1b_spectral.json        (then s6bc150, s6bp2 as above)
    FiPy: F(10) -1.16e-3, wall 71.5 s, CPU 71.5 s.
    solidion 100^2 Q1: 27 steps, F(10) +2.28e-3, wall 8.6 s: ratio 8.3 (wall), 8.5 (CPU), FiPy 2x more accurate;
    solidion 50^2 Q2 (20.4k dofs): 28 steps, F(10) -1.20e-3 (FiPy's accuracy), wall 7.6 s, CPU 7.5 s:
    ratio 9.4 (wall), 9.5 (CPU) at equal accuracy;
    solidion 150^2 Q1: 25 steps, F(10) +3.7e-4 (3x more accurate than FiPy; the time error of tol 1e-3
    partly cancels the Q1 space error here: +1.14e-3 at tol 1e-4), wall 12.1 s: ratio 5.9.
2026-12-02 (session 7, helper h14; machine shared with 4 other solver processes on its 2 cores, load
4.7-5.8 throughout: wall times inflated ~1.5x, and the ratios below are lower than on a quiet machine),
after commit 7b35c57 (start-up without importing gmsh or pyplot; nothing else changed: same steps, same
timeseries.csv byte for byte, same PNGs byte for byte).  Reference regenerated as in session 5/6:
    results/h9/venv/bin/python tests/bench/pfhub1_spectral.py --variant 1b --n 128 --dt 0.002 --t-end 10 \
        --check --out results/h9/spec_test     (F(10) = 304.13931; dt/2: -4e-8, 2N = 256: -5.9e-5)
    results/h9/venv/bin/python tests/bench/bench_fipy_1b.py both --t-end 10 --nx 100 --dt 0.1 --tag h14p2 \
        --solidion-set cells_per_side=50 --solidion-set element_degree=2 \
        --ref results/h9/spec_test/pfhub1b_spectral.json               (then --tag h14p2c40 with cells_per_side=40)
    FiPy 4.0.3 100^2 FV dt 0.1 (100 steps, 300 sweeps): F(1/5/10) -1.18e-5 / -5.90e-5 / -1.16e-3;
        wall 91.0 s, CPU 60.1 s (load 4.8->5.1); in the second invocation wall 99.1 s, CPU 64.8 s (5.2->5.8).
    solidion 50^2 Q2 (20.4k dofs), default tol 1e-3: 28 steps, F(10) -1.20e-3 (3 % less accurate than
        FiPy), wall 12.8 s, CPU 8.3 s (load 4.7->4.8): ratio 7.1 (wall), 7.2 (CPU).
    solidion 50^2 Q2, time_tolerance 9e-4 (``solidion --tag h14p2t9`` against the h14p2 FiPy run): 28
        steps, F(10) -1.15e-3 (FiPy's accuracy, just), wall 11.0 s, CPU 7.0 s: ratio 8.3 (wall), 8.6 (CPU).
    solidion 40^2 Q2 (13.1k dofs), default tol 1e-3: 29 steps, F(1/5/10) +3.0e-6 / -2.9e-5 / -1.09e-3
        (more accurate than FiPy at every output time), wall 8.2 s, CPU 5.3 s (load 5.1->5.2):
        ratio 12.1 (wall), 12.3 (CPU); repeated (``--tag h14p2c40b``, load 5.1->5.2): solidion wall 7.8 s,
        CPU 5.0 s, FiPy wall 101.4 s, CPU 67.5 s: ratio 12.9 (wall), 13.5 (CPU).  The 10x goal is met at
        equal-or-better accuracy, with a mesh that is spatially converged for t <= 10 (below); it is not
        met with 50^2 Q2 (7-9x here, 9.4x on the quieter machine of session 6).
    Where solidion's F(10) error comes from (tests/bench runs of ``solidion run spinodal --set t_end_s=10
    --set output_times_s=[1.0,5.0]``, Q2, F(10) rel. error): it is the time error, not the mesh:
        tol      30^2      40^2      50^2
        1e-3   -1.15e-3  -1.09e-3  -1.20e-3      (35^2: -1.07e-3; 45^2: -1.10e-3; 50^2 tol 8e-4: -1.06e-3)
        1e-4   -3.3e-4   -4.5e-4   -4.6e-4
        1e-5   -0.9e-4   -2.0e-4   -2.1e-4       (40^2 vs 50^2 at tol 1e-5: within 1e-5 at t = 1, 5, 10)
    so 40^2 Q2 is as good as 50^2 to t = 10 (later, with sharp interfaces, a finer mesh is needed; the same
    holds for FiPy, whose own space error is not small: FiPy 50^2 gives F(10) +3.4e-3).  50^2 Q2 triangles
    (cell_type "triangle") are less accurate (F(10) -1.36e-3) and not cheaper.  lu_refactor_every = 2, 3, 5,
    10 (50^2 Q2): same 28 steps and F, 114 / 291 / 384 / 544 Krylov iterations for 64 Newton, no time saved.
    Where solidion's time goes (tests/bench/profile_run_phases.py with the 50^2 Q2 arguments, CPU s, two
    runs each of HEAD before 7b35c57 and after, load 5.0-5.1): imports 0.33-0.39 (mpi4py/petsc4py 0.13-0.15,
    dolfinx/ufl/ffcx/fem/meshes 0.19-0.25), versions() for summary.json 0.17 before (import gmsh) ->
    0.001 after, the two figures 0.83-1.01 (matplotlib import, drawing: the mathtext of the log-axis
    tick labels of free_energy.png, the Delaunay triangulation of the 101^2 dofs for morphology.png
    ~0.17; unchanged, pyplot's share is in the noise), the time loop 5.7-6.8 and the rest < 0.05.  So
    a FiPy-like run without plots (FiPy writes nothing) would be ~0.9 s CPU (~11 %) cheaper still.
    The comparison leans towards FiPy: its times cover its time loop only (``import fipy`` alone takes
    0.6 s CPU, 1.1 s wall on this host, excluded), solidion's the whole ``docker/run`` process.
    The time loop (5.4-6.8 s CPU loaded) is 64 MUMPS factorizations (~58 ms each at 20.4k dofs, from
    -mat_mumps_icntl_4 2: 35-40 ms elimination, 8 ms scaling, 12 ms reformat; the Debian MUMPS has only AMD/AMF/QAMD/PORD orderings, PORD is chosen and is the
    best; UMFPACK, SuperLU, KLU and PETSc's own LU were slower) and 64 Jacobian assemblies (~17-25 ms).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
OUT = Path("results/bench")
PF = dict(L=200.0, rho=5.0, ca=0.3, cb=0.7, kappa=2.0, M=5.0, c0=0.5, eps=0.01)
TIMES = [1, 5, 10, 20, 50, 100, 200, 500, 1000]


def output_times(t_end):
    return [t for t in TIMES if t < t_end] + [t_end]


def run_fipy(a):
    import fipy as fp
    L, rho, ca, cb, kappa, M = (PF[k] for k in ("L", "rho", "ca", "cb", "kappa", "M"))
    nx = a.nx
    mesh = fp.Grid2D(nx=nx, ny=nx, dx=L / nx, dy=L / nx)  # no-flux boundaries by default (1b)
    c = fp.CellVariable(mesh=mesh, hasOld=True, name="c")
    mu = fp.CellVariable(mesh=mesh, hasOld=True, name="mu")
    x, y = mesh.cellCenters
    c.value = PF["c0"] + PF["eps"] * (np.cos(0.105 * x) * np.cos(0.11 * y) + (np.cos(0.13 * x) * np.cos(0.087 * y)) ** 2
                                      + np.cos(0.025 * x - 0.15 * y) * np.cos(0.07 * x - 0.02 * y))
    f0 = rho * (c - ca) ** 2 * (cb - c) ** 2
    dfdc = 2 * rho * (c - ca) * (cb - c) * (ca + cb - 2 * c)
    d2f = 2 * rho * ((cb - c) ** 2 - 4 * (c - ca) * (cb - c) + (c - ca) ** 2)
    eq1 = fp.TransientTerm(var=c) == fp.DiffusionTerm(coeff=M, var=mu)
    eq2 = fp.ImplicitSourceTerm(coeff=1.0, var=mu) == (fp.ImplicitSourceTerm(coeff=d2f, var=c) - d2f * c + dfdc
                                                       - fp.DiffusionTerm(coeff=kappa, var=c))
    eq = eq1 & eq2
    vol = mesh.cellVolumes

    def energy():
        g = np.asarray(c.grad.mag)
        return float(np.sum((np.asarray(f0.value) + 0.5 * kappa * g ** 2) * vol))

    times = output_times(a.t_end)
    F = {0.0: energy()}
    t, dt, steps, sweeps = 0.0, a.dt, 0, 0
    load0 = os.getloadavg()
    w0, cpu0 = time.perf_counter(), time.process_time()
    k = 0
    while t < a.t_end * (1 - 1e-12):
        h = min(dt, times[k] - t)
        c.updateOld()
        mu.updateOld()
        for s in range(10):  # Newton sweeps until c stops changing (FiPy's returned residual stagnates)
            c_prev = np.array(c.value)
            eq.sweep(dt=h)
            sweeps += 1
            if np.max(np.abs(np.asarray(c.value) - c_prev)) < a.sweep_tol:
                break
        t += h
        steps += 1
        if abs(t - times[k]) <= 1e-9 * times[k]:
            t = float(times[k])
            F[t] = energy()
            k += 1
            print(f"  fipy t = {t:g}  F = {F[t]:.4f}  steps {steps}  wall {time.perf_counter() - w0:.0f} s",
                  flush=True)
        if t >= a.grow_after:
            dt = min(a.dt_max, dt * a.grow)
    wall, cpu = time.perf_counter() - w0, time.process_time() - cpu0
    return dict(code="fipy " + fp.__version__, nx=nx, dt=a.dt, grow_after=a.grow_after, grow=a.grow,
                dt_max=a.dt_max, sweep_tol=a.sweep_tol, t_end=a.t_end, steps=steps, sweeps=sweeps,
                solver=type(fp.solvers.DefaultSolver()).__name__, wall_s=wall, cpu_s=cpu,
                loadavg_start=load0, loadavg_end=os.getloadavg(), F={str(float(t)): v for t, v in F.items()})


def read_F(run_dir: Path, times) -> dict:
    with open(run_dir / "timeseries.csv") as f:
        rows = list(csv.DictReader(f))
    tcol = "t_benchmark" if "t_benchmark" in rows[0] else "t_s"
    t = np.array([float(r[tcol]) for r in rows])
    F = np.array([float(r["free_energy"]) for r in rows])
    out = {}
    for tt in [0.0] + list(times):
        i = np.flatnonzero(np.abs(t - tt) <= 1e-9 * max(tt, 1.0))
        if i.size:
            out[str(float(tt))] = float(F[i[-1]])
    return out


def run_solidion(a, tag):
    out = OUT / f"fipy1b_{tag}_solidion"
    times = output_times(a.t_end)
    sets = [f"t_end_s={a.t_end}", f"output_times_s={[float(t) for t in times[:-1]]}".replace(" ", "")] + a.solidion_set
    cmd = [str(ROOT / "docker/run"), "python3", "-m", "solidion", "run", "spinodal", "--quiet", "--overwrite",
           "--out", str(out)] + [x for s in sets for x in ("--set", s)]
    load0 = os.getloadavg()
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    w0 = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT)
    wall = time.perf_counter() - w0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    summ = json.loads((ROOT / out / "summary.json").read_text())
    return dict(code="solidion", sets=sets, run_dir=str(out), status=summ["status"], steps=summ["steps"],
                rejected=summ["rejected_steps"], newton=summ["newton_iterations"], wall_s=wall,
                time_loop_s=summ["time_loop_s"], cpu_s=(r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime),
                loadavg_start=load0, loadavg_end=os.getloadavg(), dofs=summ["mesh"].get("dofs"),
                F=read_F(ROOT / out, times))


def compare(tag, ref_dir, t_end=None):
    d = json.loads((OUT / f"fipy1b_{tag}.json").read_text())
    t_end = t_end or d["fipy"]["t_end"]
    ref = (json.loads(Path(ref_dir).read_text())["F"] if str(ref_dir).endswith(".json")  # pfhub1_spectral.py
           else read_F(Path(ref_dir), output_times(t_end)))
    lines = [f"PFHub 1b, t <= {t_end:g}: F against the reference {ref_dir} (load average now {os.getloadavg()})",
             f"{'t':>6} {'F ref':>10} {'solidion':>10} {'rel err':>9} {'FiPy':>10} {'rel err':>9}"]
    err = {"solidion": 0.0, "fipy": 0.0}
    for t in [0.0] + output_times(t_end):
        k = str(float(t))
        if k not in ref:
            continue
        row = f"{t:6g} {ref[k]:10.4f}"
        for code in ("solidion", "fipy"):
            v = d[code]["F"].get(k)
            if v is None:
                row += f" {'-':>10} {'-':>9}"
                continue
            e = v / ref[k] - 1
            if t > 0:
                err[code] = max(err[code], abs(e))
            row += f" {v:10.4f} {e:+9.2e}"
        lines.append(row)
    s, f = d["solidion"], d["fipy"]
    lines.append(f"max |rel err| over the output times: solidion {err['solidion']:.2e}, FiPy {err['fipy']:.2e}")
    lines.append(f"solidion: {' '.join(s['sets'])}; {s['steps']} steps, {s['dofs']} dofs, wall {s['wall_s']:.1f} s "
                 f"(time loop {s['time_loop_s']:.1f} s), CPU {s['cpu_s']:.1f} s, load {s['loadavg_start'][0]:.1f}"
                 f"->{s['loadavg_end'][0]:.1f}")
    lines.append(f"FiPy {f['code']}: {f['nx']}^2 cells, dt {f['dt']} (x{f['grow']} after t={f['grow_after']:g}, max "
                 f"{f['dt_max']}), {f['steps']} steps, {f['sweeps']} sweeps, {f['solver']}, wall {f['wall_s']:.1f} s, "
                 f"CPU {f['cpu_s']:.1f} s, load {f['loadavg_start'][0]:.1f}->{f['loadavg_end'][0]:.1f}")
    lines.append(f"ratio FiPy / solidion: wall {f['wall_s'] / s['wall_s']:.2f}, CPU {f['cpu_s'] / s['cpu_s']:.2f}")
    text = "\n".join(lines)
    print(text)
    (OUT / f"fipy1b_{tag}_compare.txt").write_text(text + "\n")


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=("both", "fipy", "solidion", "compare"))
    ap.add_argument("--tag", default="default")
    ap.add_argument("--t-end", type=float, default=100.0)
    ap.add_argument("--nx", type=int, default=200)
    ap.add_argument("--dt", type=float, default=0.1)
    ap.add_argument("--grow-after", type=float, default=30.0)
    ap.add_argument("--grow", type=float, default=1.1)
    ap.add_argument("--dt-max", type=float, default=2.0)
    ap.add_argument("--sweep-tol", type=float, default=1e-6)
    ap.add_argument("--solidion-set", action="append", default=[], help="k=v for solidion (repeatable)")
    ap.add_argument("--ref", default=None, help="compare: reference: a run directory (refined solidion 1b) or "
                    "results/bench/pfhub1b_spectral.json (tests/bench/pfhub1_spectral.py)")
    a = ap.parse_args(argv)
    os.chdir(ROOT)
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"fipy1b_{a.tag}.json"
    if a.mode == "compare":
        compare(a.tag, a.ref)
        return
    d = json.loads(path.read_text()) if path.exists() else {}
    if a.mode in ("both", "solidion"):
        d["solidion"] = run_solidion(a, a.tag)
        path.write_text(json.dumps(d, indent=1))
        print("solidion:", {k: v for k, v in d["solidion"].items() if k != "F"}, flush=True)
    if a.mode in ("both", "fipy"):
        d["fipy"] = run_fipy(a)
        path.write_text(json.dumps(d, indent=1))
        print("fipy:", {k: v for k, v in d["fipy"].items() if k != "F"}, flush=True)
    if a.ref:
        compare(a.tag, a.ref)


if __name__ == "__main__":
    sys.exit(main())
