"""Shared pieces of the solver benchmarks (bench_pnp.py, bench_spinodal.py): per-step timers
split into assembly / preconditioner setup / the rest of the linear solve, memory, load
average, and JSON-lines output.  Not collected by pytest.

Memory: ``rss_mb`` (current resident set of this rank, /proc/self/status VmRSS) and
``peak_rss_mb`` (the high-water mark VmHWM, which :func:`reset_peak` resets to the current
resident set, Linux >= 4.0; ru_maxrss where /proc is missing); a benchmark resets the peak and
records the resident set after the mesh is built and before the model is, and reports
(peak - before) summed over ranks per degree of freedom, i.e. the bytes per dof that the model
and its solver add to a running Python/DOLFINx process (Gmsh's own peak while meshing excluded).
"""

from __future__ import annotations

import json
import os
import resource
import time
from pathlib import Path


def rss_mb() -> float:
    """Current resident set of this process [MB]."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def peak_rss_mb() -> float:
    """High-water mark of the resident set since the start or the last :func:`reset_peak` [MB]."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def reset_peak() -> bool:
    """Reset this process's VmHWM to its current resident set (``echo 5 > /proc/self/clear_refs``);
    False where that is not allowed (the peak then counts from the process start)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


class PCSetupTimer:
    """Cumulative seconds in PETSc's PCSetUp event (AMG hierarchies, factorizations, submatrix
    extraction) on this rank; PETSc logging is switched on by the first instance."""

    def __init__(self):
        from petsc4py import PETSc
        PETSc.Log.begin()
        self.event = PETSc.Log.Event("PCSetUp")

    def __call__(self) -> float:
        return float(self.event.getPerfInfo().get("time", 0.0))


def timed_fixed_steps(model, dt: float, steps: int, comm) -> "StepTimer":
    """``steps`` fixed steps of ``dt`` (model time) of a model with step/accept, each timed by a
    :class:`StepTimer`; stops at the first step that does not converge."""
    timer = StepTimer(model.solver, comm)
    for _ in range(steps):
        with timer:
            s = model.step(0.0, dt)
            timer.record(s)
        if not s.converged:
            break
        model.accept(0.0, dt, s)
    return timer


class StepTimer:
    """Per-step wall time split into assembly (F and J), preconditioner setup and the rest of
    the linear solves, from a :class:`fem.solver.SNESSolver`'s timers and PCSetUp (max over ranks)."""

    def __init__(self, solver, comm):
        self.solver, self.comm, self.pc = solver, comm, PCSetupTimer()
        self.rows = []

    def __enter__(self):
        self.comm.barrier()
        t = self.solver.timings()
        self._t0 = (time.perf_counter(), t["assembly_s"], t["snes_s"], self.pc())
        self._cpu0 = time.process_time()
        return self

    def record(self, stats):
        from mpi4py import MPI
        self.comm.barrier()
        t = self.solver.timings()
        w0, a0, s0, p0 = self._t0
        wall = time.perf_counter() - w0
        asm = t["assembly_s"] - a0
        pcs = self.pc() - p0
        solve = (t["snes_s"] - s0) - asm - pcs
        cpu = time.process_time() - self._cpu0  # this rank's CPU time: less sensitive to the machine's load
        vals = [self.comm.allreduce(v, op=MPI.MAX) for v in (wall, asm, pcs, solve, cpu)]
        row = {"wall_s": vals[0], "assembly_s": vals[1], "pc_setup_s": vals[2], "solve_s": vals[3],
               "cpu_s": vals[4], "newton": stats.newton_iterations, "krylov": stats.krylov_iterations,
               "converged": bool(stats.converged)}
        self.rows.append(row)
        return row

    def __exit__(self, *exc):
        return False


def summarize(rows, skip_first=True) -> dict:
    """Means per step (the first step, with JIT/first setup, left out when there are more)."""
    use = rows[1:] if skip_first and len(rows) > 1 else rows
    n = len(use)
    newton = sum(r["newton"] for r in use)
    krylov = sum(r["krylov"] for r in use)
    out = {k: sum(r.get(k, 0.0) for r in use) / n for k in ("wall_s", "assembly_s", "pc_setup_s", "solve_s", "cpu_s")}
    out = {f"{k[:-2]}_per_step_s": v for k, v in out.items()}
    out.update(newton_per_step=newton / n, krylov_per_newton=krylov / max(newton, 1),
               krylov_max_step=max(r["krylov"] / max(r["newton"], 1) for r in use),
               converged=all(r["converged"] for r in rows), first_step_s=rows[0]["wall_s"])
    return out


def memory_per_dof(comm, rss_before_mb: float, dofs: int) -> dict:
    """Peak resident memory added since ``rss_before_mb`` (summed over ranks) per dof [bytes]."""
    from mpi4py import MPI
    added = comm.allreduce(max(peak_rss_mb() - rss_before_mb, 0.0), op=MPI.SUM)
    total = comm.allreduce(peak_rss_mb(), op=MPI.SUM)
    return {"peak_rss_total_mb": total, "model_rss_mb": added, "bytes_per_dof": added * 2**20 / max(dofs, 1)}


def write_row(path: Path, row: dict, comm) -> None:
    if comm.rank == 0:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as f:
            f.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)


def table(rows, cols) -> str:
    """Markdown table of ``rows`` (dicts) with columns [(key, header, format)]."""
    head = "| " + " | ".join(h for _, h, _ in cols) + " |"
    sep = "|" + "|".join("---" for _ in cols) + "|"
    lines = [head, sep]
    for r in rows:
        cells = []
        for k, _, fmt in cols:
            v = r.get(k, "")
            cells.append(format(v, fmt) if isinstance(v, (int, float)) and fmt else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
