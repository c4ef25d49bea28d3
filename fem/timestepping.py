"""TRANSITIONAL: superseded by :mod:`fem.simulation`; removed once every problem uses it.

Adaptive time stepping with step rejection and retry on Newton failure.

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

from fem.simulation import Progress, StepControl  # noqa: F401 (transitional)
from fem.solver import SolveStats


class TimeDependent(Protocol):
    def step(self, t: float, dt: float) -> SolveStats: ...
    def reject(self) -> None: ...
    def accept(self, t_new: float, dt: float, stats: SolveStats) -> None: ...


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
