"""Adaptive time stepping with step rejection and retry on Newton failure.

A time-dependent problem provides ``step(t, dt) -> SolveStats`` (attempt one
step from the last accepted state), ``reject()`` (restore that state) and
``accept(t_new, dt)`` (make the attempt the new state, record observables).
:func:`integrate` drives it: a failed Newton solve halves dt and retries; easy
steps grow dt up to ``dt_max``; below ``dt_min`` the run fails with a reason.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Protocol

from fem.solver import SolveStats


class TimeDependent(Protocol):
    def step(self, t: float, dt: float) -> SolveStats: ...
    def reject(self) -> None: ...
    def accept(self, t_new: float, dt: float, stats: SolveStats) -> None: ...


@dataclass
class StepControl:
    """Step-size control in the solver's (nondimensional) time."""

    t_end: float
    dt: float
    dt_min: float
    dt_max: float
    grow: float = 1.25
    cut: float = 0.5
    easy_newton: int = 4  # grow dt after a step that converged in at most this many its
    fixed: bool = False  # no growth (cuts on failure still allowed)
    max_steps: int = 10**7


@dataclass
class LoopResult:
    t: float
    steps: int
    rejected: int
    newton: int
    krylov: int
    status: str = "ok"
    reason: str = ""
    wall_s: float = 0.0
    dts: list = field(default_factory=list)


class Progress:
    """One progress line on rank 0 every ``interval`` seconds."""

    def __init__(self, comm, t_end: float, time_scale: float = 1.0, quiet=False, interval=5.0):
        self.comm, self.t_end, self.ts, self.quiet, self.interval = comm, t_end, time_scale, quiet, interval
        self.start = time.perf_counter()
        self.last = -1e30

    def __call__(self, step, t, dt, newton, force=False):
        if self.quiet or self.comm.rank != 0:
            return
        now = time.perf_counter()
        if not force and now - self.last < self.interval:
            return
        self.last = now
        elapsed = now - self.start
        frac = min(t / self.t_end, 1.0) if self.t_end > 0 else 1.0
        eta = elapsed * (1 - frac) / frac if frac > 0 else float("nan")
        print(f"step {step:6d}  t = {t * self.ts:.4e} s  dt = {dt * self.ts:.3e} s  "
              f"newton {newton:2d}  {100 * frac:5.1f}%  elapsed {elapsed:7.1f} s  ETA {eta:7.1f} s",
              flush=True)


def integrate(problem: TimeDependent, control: StepControl, t0: float = 0.0,
              stop: Callable[[float], str | None] | None = None,
              progress: Progress | None = None) -> LoopResult:
    """Advance ``problem`` from t0 to ``control.t_end`` (or until ``stop`` says why)."""
    t, dt = t0, min(control.dt, control.dt_max)
    res = LoopResult(t, 0, 0, 0, 0)
    start = time.perf_counter()
    eps = 1e-12 * max(control.t_end, 1.0)
    while t < control.t_end - eps:
        if res.steps >= control.max_steps:
            res.status, res.reason = "failed", f"max_steps={control.max_steps} reached at t={t}"
            break
        dt_try = min(dt, control.t_end - t)
        stats = problem.step(t, dt_try)
        res.newton += stats.newton_iterations
        res.krylov += stats.krylov_iterations
        if not stats.converged:
            problem.reject()
            res.rejected += 1
            dt = dt_try * control.cut
            if dt < control.dt_min:
                res.status = "failed"
                res.reason = (f"Newton solver did not converge at t={t:.6g} with dt={dt_try:.3g} "
                              f"(dt_min={control.dt_min:.3g}): {stats.reason}")
                break
            continue
        t += dt_try
        res.steps += 1
        res.dts.append(dt_try)
        problem.accept(t, dt_try, stats)
        if progress is not None:
            progress(res.steps, t, dt_try, stats.newton_iterations)
        why = stop(t) if stop is not None else None
        if why:
            res.reason = why
            break
        if not control.fixed and stats.newton_iterations <= control.easy_newton and dt_try >= dt * (1 - 1e-12):
            dt = min(dt * control.grow, control.dt_max)
    res.t = t
    res.wall_s = time.perf_counter() - start
    if progress is not None:
        progress(res.steps, t, dt, 0, force=True)
    return res
