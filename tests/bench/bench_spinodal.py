"""Benchmarks of the Cahn-Hilliard solver (not collected by pytest).

1. PFHub benchmark 1b (no-flux square) on the same grid and fixed time step in
   solidion and in FiPy (finite volumes, the peer code that ships this benchmark):

       python3 tests/bench/bench_spinodal.py fipy --nx 100 --dt 1 --t-end 1000     # host python + pip fipy
       docker/run python3 tests/bench/bench_spinodal.py solidion --nx 100 --dt 1 --t-end 1000
       python3 tests/bench/bench_spinodal.py compare                               # table: wall ratio, F(t) agreement

   FiPy is *not* a dependency of solidion or its tests: it is imported only
   in the ``fipy`` mode, run outside the image.

2. 3D particle (regular solution, sphere): for each mesh size, fixed dt [R^2/D] and Schur
   preconditioner ('factored': fem.solver.FactoredSchurPC, the default; 'selfp': the earlier
   one; 'lu'), per-step assembly / PC setup / solve / wall time, Newton per step, Krylov per
   Newton, peak memory per dof, load average; JSON lines in results/bench/ch_solvers.jsonl
   (tests/bench/make_report.py -> tests/bench/README.md, where the measured tables are):

       docker/run python3 tests/bench/bench_spinodal.py particle --h 0.12,0.08,0.04,0.024 --schur factored,selfp
       docker/run python3 tests/bench/bench_spinodal.py particle --h 0.06 --dts 0.002,0.02,0.2 --schur factored
       docker/run mpirun -n 2 python3 tests/bench/bench_spinodal.py particle --h 0.024 --steps 3
       docker/run python3 tests/bench/bench_spinodal.py particle --h 0.024 --dts 0.0008 --schur selfp \
           --petsc "-pspin_fieldsplit_c_pc_type jacobi"          (the 33.4 s/step baseline below, today's code)
       ... --dts 0.02,0.2 --warmup-dt 0.0008   (one untimed 8e-4 step first: the quench's mu has
                                               mesh-scale gradients that stall the first Newton step)
       ... --petsc "-pspin_fieldsplit_mu_l_pc_type lu"     (any PETSc option; the model's prefix is pspin_)

Results go to results/bench/ (JSON/CSV).

Measured (2 shared cores, 2026-11-21)
-------------------------------------
PFHub 1b, 100 x 100 cells (h = 2), dt = 1 fixed; solidion: Q1 mixed (c, mu), fully implicit
backward Euler, Newton + MUMPS; FiPy 4.0.3: FV, coupled c & mu, sweeps to 1e-3 (max 10), scipy LU.

    t      F solidion   F FiPy    rel diff      (F solidion h = 1 (200^2): t=50 168.0, t=100 129.5)
    0      319.042      319.040   7e-6          (analytic F(0) = 319.043)
    10     294.64       292.70    6.6e-3
    50     166.38       157.83    5.4e-2
    100    128.76       121.48    6.0e-2
    300    98.42        93.95     4.8e-2
    30 steps on an idle machine: solidion 10.8 s wall (3.7 Newton/step), FiPy 39.5 s (9.4 sweeps/step):
    wall ratio solidion/FiPy = 0.27.  solidion's F changes by < 0.7 % from h = 2 to h = 1, so the
    6 % gap is FiPy's under-resolved interface (lambda = 1.1 < h) / cell-centred gradient energy.

3D sphere, regular solution, fieldsplit (FGMRES, Schur selfp, Jacobi / BoomerAMG), dt = 0.02 s
= 8e-4 R^2/D (R = 50 nm, D = 1e-16 m^2/s: R^2/D = 25 s; the bench of d0ed4ba stepped 0.02 s / (R^2/D);
since 06a80fc ``--dts`` is in R^2/D, so its '0.02' is a 25x larger step), first step from the quench:

    dofs     ranks  s/step (wall)  CPU s/step  Newton/step  Krylov/Newton
    13 386   1      1.6 (loaded)   -           2.0          4.9-8.9
    48 690   1      15.7 (loaded)  -           2.0          7.3
    399 944  1      33.4           33.0        2.0          11.7
    399 944  2      46.9           23.2        2.0          11.7    (machine shared with other jobs)
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
OUT = Path("results/bench")
PF = dict(L=200.0, rho=5.0, ca=0.3, cb=0.7, kappa=2.0, M=5.0, c0=0.5, eps=0.01)


def run_fipy(nx, dt, t_end, sweeps_max=10, tol=1e-3):
    import fipy as fp
    L, rho, ca, cb, kappa, M = (PF[k] for k in ("L", "rho", "ca", "cb", "kappa", "M"))
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
        g = c.grad.mag
        return float(np.sum((f0.value + 0.5 * kappa * np.asarray(g) ** 2) * vol))

    rows = [(0.0, energy(), 0)]
    t, sweeps_total = 0.0, 0
    start, cpu0 = time.perf_counter(), time.process_time()
    nsteps = int(round(t_end / dt))
    for _ in range(nsteps):
        c.updateOld()
        mu.updateOld()
        res0 = None
        for s in range(sweeps_max):
            res = eq.sweep(dt=dt)
            sweeps_total += 1
            res0 = res0 or res
            if res < tol * max(res0, 1e-30) or res < 1e-10:
                break
        t += dt
        rows.append((t, energy(), s + 1))
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "fipy_spinodal.csv", "w") as f:
        w = csv.writer(f)
        w.writerow(["t", "free_energy", "sweeps"])
        w.writerows(rows)
    info = dict(code="fipy " + fp.__version__, nx=nx, dt=dt, t_end=t_end, steps=nsteps, sweeps=sweeps_total,
                wall_s=wall, cpu_s=cpu, solver=type(fp.solvers.DefaultSolver()).__name__)
    (OUT / "fipy_spinodal.json").write_text(json.dumps(info, indent=1))
    print(info)


def run_solidion(nx, dt, t_end, scheme="implicit"):
    from solidion import run
    out = OUT / "solidion_spinodal"
    cpu0 = time.process_time()
    s = run("spinodal", out=out, quiet=True, cells_per_side=nx, cell_type="quadrilateral", dt_s=dt,
            dt_max_s=dt, t_end_s=t_end, fixed_dt=True, dc_max=1.0, scheme=scheme)
    info = dict(code="solidion", nx=nx, dt=dt, t_end=t_end, scheme=scheme, steps=s["steps"],
                newton=s["newton_iterations"], wall_s=s["time_loop_s"], status=s["status"],
                rejected=s["rejected_steps"], cpu_s=time.process_time() - cpu0)
    (OUT / "solidion_spinodal.json").write_text(json.dumps(info, indent=1))
    print(info)


def compare():
    fi = json.loads((OUT / "fipy_spinodal.json").read_text())
    so = json.loads((OUT / "solidion_spinodal.json").read_text())
    with open(OUT / "fipy_spinodal.csv") as f:
        r = list(csv.DictReader(f))
    tf, Ff = np.array([float(x["t"]) for x in r]), np.array([float(x["free_energy"]) for x in r])
    with open(OUT / "solidion_spinodal" / "timeseries.csv") as f:
        r = list(csv.DictReader(f))
    ts, Fs = np.array([float(x["t_s"]) for x in r]), np.array([float(x["free_energy"]) for x in r])
    times = [t for t in (0, 10, 50, 100, 200, 300, 500, 1000, 2000, 5000, 10000) if t <= min(tf[-1], ts[-1])]
    print(f"PFHub 1b, {so['nx']}x{so['nx']} cells, dt = {so['dt']}, t_end = {so['t_end']}")
    print(f"{'t':>8} {'F solidion':>12} {'F FiPy':>12} {'rel diff':>10}")
    for t in times:
        a, b = np.interp(t, ts, Fs), np.interp(t, tf, Ff)
        print(f"{t:8g} {a:12.4f} {b:12.4f} {abs(a - b) / abs(b):10.2e}")
    common = np.linspace(0, min(tf[-1], ts[-1]), 400)
    rel = np.abs(np.interp(common, ts, Fs) - np.interp(common, tf, Ff)) / np.abs(np.interp(common, tf, Ff))
    print(f"max rel diff over [0, {common[-1]:g}]: {rel.max():.3e}")
    print(f"wall: solidion {so['wall_s']:.1f} s ({so['steps']} steps, {so['newton']} Newton), "
          f"FiPy {fi['wall_s']:.1f} s ({fi['steps']} steps, {fi['sweeps']} sweeps, {fi['solver']}); "
          f"ratio solidion/FiPy = {so['wall_s'] / fi['wall_s']:.2f}")
    if "cpu_s" in so and "cpu_s" in fi:
        print(f"CPU:  solidion {so['cpu_s']:.1f} s (incl. form compilation), FiPy {fi['cpu_s']:.1f} s; "
              f"ratio = {so['cpu_s'] / fi['cpu_s']:.2f}")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
        ax.loglog(ts[1:], Fs[1:], label="solidion (FEM Q1, mixed c-mu)")
        ax.loglog(tf[1:], Ff[1:], "--", label="FiPy (FV)")
        ax.set_xlabel("t")
        ax.set_ylabel("F")
        ax.set_title(f"PFHub 1b, {so['nx']}^2 cells, dt = {so['dt']}")
        ax.legend()
        fig.tight_layout()
        fig.savefig(OUT / "spinodal_fipy_vs_solidion.png")
    except ImportError:  # pragma: no cover
        pass


SCHUR = {"lu": None, "factored": "factored", "selfp": "selfp"}


def run_particle(h, steps, schur="factored", dt=0.02, scheme="split", tag="", extra="", warmup_dt=0.0):
    """One 3D particle_spinodal case: ``steps`` fixed steps of dt [R^2/D] from the noisy quench.

    ``warmup_dt`` > 0: one untimed step of that size [R^2/D] first (the adaptive driver's first
    step is dt_s = 0.01 s = 4e-4 R^2/D): the quench's chemical potential has mesh-scale gradients
    that the first step removes (see tests/bench/README.md, Cahn-Hilliard).
    """
    from mpi4py import MPI

    import bench_common as bc
    from fem import petsc_options
    from fem.models import cahn_hilliard as ch
    from problems.particle_spinodal import ParticleSpinodalParameters, build
    comm = MPI.COMM_WORLD
    solver = "lu" if schur == "lu" else "fieldsplit"
    import shlex
    petsc_options.set_user_options(shlex.split(extra))
    if schur == "selfp":  # the earlier default, through the documented options
        petsc_options.set_user_options({**petsc_options.user_options(),
                                        "pspin_pc_fieldsplit_schur_precondition": "selfp",
                                        "pspin_fieldsplit_mu_pc_type": "hypre",
                                        "pspin_fieldsplit_mu_pc_hypre_type": "boomeramg"})
    p = ParticleSpinodalParameters(mesh_size=h, interface_length_m=max(5e-9, 0.5 * h * 50e-9), solver=solver,
                                   scheme=scheme)
    p.check()
    bc.reset_peak()
    rss0 = bc.rss_mb()
    t0 = time.perf_counter()
    domain, fe, m = build(p, comm)
    t_setup = comm.allreduce(time.perf_counter() - t0, op=MPI.MAX)
    ndofs = m.W.dofmap.index_map.size_global * m.W.dofmap.index_map_bs
    if comm.rank == 0:
        print(f"[bench_spinodal] h={h} dofs={ndofs} setup {t_setup:.1f} s wall, {time.process_time():.1f} s CPU so far, "
              f"load {bc.loadavg()}", flush=True)
    t_warm = 0.0
    if warmup_dt > 0:
        s = m.step(0.0, warmup_dt)
        if comm.rank == 0:
            print(f"[bench_spinodal] warm-up step dt {warmup_dt:g}: Newton {s.newton_iterations}, Krylov "
                  f"{s.krylov_iterations}, converged {s.converged}", flush=True)
        assert s.converged, s
        m.accept(warmup_dt, warmup_dt, s)
        t_warm = warmup_dt
    timer = bc.StepTimer(m.solver, comm)
    for i in range(steps):  # bc.timed_fixed_steps with a progress line per step
        with timer:
            s = m.step(t_warm, dt)
            r = timer.record(s)
        if comm.rank == 0:
            print(f"[bench_spinodal] step {i}: wall {r['wall_s']:.1f} s, CPU {r['cpu_s']:.1f} s, Newton {r['newton']}, "
                  f"Krylov {r['krylov']}, converged {r['converged']}, load {bc.loadavg()}", flush=True)
        if not s.converged:
            break
        m.accept(t_warm, dt, s)
    info = dict(physics="cahn_hilliard_3d", tag=tag, ranks=comm.size, dofs=ndofs,
                cells=m.mesh.topology.index_map(3).size_global, h=h, schur=schur, scheme=scheme,
                dt_R2_D=dt, warmup_dt_R2_D=warmup_dt, kappa=m.kappa, petsc_extra=extra, setup_s=t_setup, steps=len(timer.rows), **bc.summarize(timer.rows),
                **bc.memory_per_dof(comm, rss0, ndofs), loadavg=bc.loadavg(),
                petsc_options=ch.fieldsplit_options(schur) if solver == "fieldsplit" else "lu")
    bc.write_row(OUT / "ch_solvers.jsonl", info, comm)
    m.destroy()
    return info


CH_COLS = [("dofs", "dofs", "d"), ("ranks", "ranks", "d"), ("schur", "Schur PC", ""), ("dt_R2_D", "dt [R^2/D]", "g"),
           ("setup_s", "setup s", ".1f"), ("assembly_per_step_s", "assembly s/step", ".2f"),
           ("pc_setup_per_step_s", "PC setup s/step", ".2f"), ("solve_per_step_s", "solve s/step", ".2f"),
           ("wall_per_step_s", "wall s/step", ".2f"), ("newton_per_step", "Newton/step", ".1f"),
           ("krylov_per_newton", "Krylov/Newton", ".1f"), ("bytes_per_dof", "B/dof", ".0f"),
           ("loadavg", "load avg", "")]


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=("fipy", "solidion", "compare", "particle"))
    ap.add_argument("--nx", type=int, default=100)
    ap.add_argument("--dt", type=float, default=1.0)
    ap.add_argument("--t-end", type=float, default=1000.0)
    ap.add_argument("--scheme", default="implicit")
    ap.add_argument("--h", default="0.05", help="particle: mesh sizes (comma separated)")
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--schur", default="factored", help="particle: factored, selfp or lu (comma separated)")
    ap.add_argument("--dts", default="0.02", help="particle: fixed steps [R^2/D] (comma separated)")
    ap.add_argument("--particle-scheme", default="split", choices=("split", "implicit"))
    ap.add_argument("--warmup-dt", type=float, default=0.0,
                    help="particle: one untimed first step of this size [R^2/D] (0: none; the quench is the first timed step)")
    ap.add_argument("--tag", default="")
    ap.add_argument("--petsc", default="", help="extra PETSc options (particle), e.g. '-pspin_ksp_monitor'")
    a = ap.parse_args(argv)
    if a.mode == "fipy":
        run_fipy(a.nx, a.dt, a.t_end)
    elif a.mode == "solidion":
        run_solidion(a.nx, a.dt, a.t_end, a.scheme)
    elif a.mode == "compare":
        compare()
    else:
        rows = [run_particle(float(h), a.steps, schur, float(dt), a.particle_scheme, a.tag, a.petsc, a.warmup_dt)
                for h in a.h.split(",") for dt in a.dts.split(",") for schur in a.schur.split(",")]
        from mpi4py import MPI
        if MPI.COMM_WORLD.rank == 0:
            import bench_common as bc
            print(bc.table(rows, CH_COLS))


if __name__ == "__main__":
    sys.exit(main())
