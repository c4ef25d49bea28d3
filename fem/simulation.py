"""The transient driver shared by every time-dependent problem.

A *model* (``fem/models``) knows its unknowns, forms and solver and nothing of
outputs.  It offers

    step(t, dt) -> SolveStats    attempt one step from the last accepted state
    reject()                     restore the last accepted state
    accept(t_new, dt, stats)     make the attempt the new state (histories, BDF)
    checkpoint_state() -> dict   (optional) what a restart needs: dolfinx
                                 Functions (and a Mesh whose coordinates move)
                                 plus picklable Python values
    restore_state(state)         (optional) set the Python values back; the
                                 Functions of the dict are already filled in

:class:`Simulation` owns everything around it, once for all problems:

* the time loop with step control (:class:`StepControl`): a failed Newton solve
  or a failed *acceptance check* (a callable ``(t, dt, stats) -> reason | None``)
  rejects the step, cuts dt and retries; easy steps grow dt; ``max_dt(t)``
  limits a step *before* it is tried; ``output_times`` are hit exactly;
* a graded start (``StepControl.startup_steps``): the first step of a new run or
  stage is taken as that many sub-steps growing by ``startup_ratio``, recorded or
  not (``startup_record``; see :class:`StepControl`);
* recorders (callables ``t -> {column: value}``, merged into one time-series
  row with ``t_s`` first), called at t0 and after each accepted step;
* field output on a schedule (every N accepted steps, the first and last
  state, and at ``output_times``);
* stop conditions (callables ``t -> reason | None``);
* the progress line, signals (SIGINT/SIGTERM/SIGUSR1: checkpoint if enabled,
  end as ``interrupted``), periodic checkpoints and restart;
* one fixed set of summary keys (:meth:`SimulationResult.summary`).

Times handed to the model, the recorders, stops and field writers are the
model's (nondimensional) times; ``time_scale`` converts to seconds for output.
"""

from __future__ import annotations

import dataclasses
import math
import signal
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Protocol, Sequence

from mpi4py import MPI

from fem.parameters import Parameters, param
from fem.solver import SolveStats

Check = Callable[[float, float, SolveStats], "str | None"]
Stop = Callable[[float], "str | None"]
Recorder = Callable[[float], dict]


class Model(Protocol):
    def step(self, t: float, dt: float) -> SolveStats: ...
    def reject(self) -> None: ...
    def accept(self, t_new: float, dt: float, stats: SolveStats) -> None: ...


@dataclass
class StepControl:
    """Step-size control in the model's (nondimensional) time."""

    t_end: float
    dt: float
    dt_min: float
    dt_max: float
    grow: float = 1.25
    cut: float = 0.5
    easy_newton: int = 4  # grow dt after a step that converged in at most this many its
    fixed: bool = False  # no growth (cuts on failure still allowed)
    max_steps: int = 10**7
    # Graded start: the first step (dt, or up to the first output time) of a new run / protocol
    # stage is taken as ``startup_steps`` sub-steps growing by ``startup_ratio``
    # (dt_1 = t1 (q - 1)/(q^n - 1)); the step after them is q times the last one.  Why: a step
    # change of a surface condition starts as c - c0 ~ erfc(x / sqrt(4 D t)), uptake ~ t^(1/2);
    # one backward-Euler step of any size t1 puts in sqrt(D t1) where the exact value is
    # 2 sqrt(D t1 / pi) (-11 %).  Not with fixed steps, not on a restart (it continues).
    startup_steps: int = 0
    startup_ratio: float = 1.5
    startup_record: bool = False  # record the sub-steps too (rows, fields on schedule)

    def startup_substeps(self, t1: float) -> list[float]:
        """The graded sub-steps that reach t1 (model time): empty when off."""
        n, q = int(self.startup_steps), float(self.startup_ratio)
        if n <= 1 or self.fixed or not t1 > 0:
            return []
        dt1 = t1 * (q - 1) / (q**n - 1)
        steps = [dt1 * q**k for k in range(n)]
        steps[-1] = t1 - sum(steps[:-1])  # sums to t1 exactly
        return steps


@dataclass
class GradedStartParameters(Parameters):
    """The graded start of :class:`StepControl` as problem parameters (a mixin)."""

    startup_steps: int = param(10, "graded start of the run (and of every protocol step): its first step "
                               "dt_s is taken as this many sub-steps growing by startup_ratio (resolves the "
                               "t^(1/2) start of a step change); 0 or 1: none; not with fixed steps", "-", ge=0)
    startup_ratio: float = param(1.5, "growth ratio of the start-up sub-steps (BDF2: below 1 + sqrt(2))", "-",
                                 gt=1, le=2.4)

    def startup(self, record: bool) -> dict:
        """The :class:`StepControl` keywords."""
        return {"startup_steps": self.startup_steps, "startup_ratio": self.startup_ratio, "startup_record": record}


@dataclass
class SimulationResult:
    t: float
    steps: int = 0
    rejected: int = 0
    newton: int = 0
    krylov: int = 0
    status: str = "ok"  # ok | failed | interrupted
    reason: str = ""  # why the loop ended early (stop condition, failure, signal)
    wall_s: float = 0.0
    dts: list = field(default_factory=list)
    signal: str = ""
    checkpoints: int = 0
    startup_steps: int = 0  # of ``steps``: the sub-steps of graded starts

    def summary(self, time_scale: float = 1.0) -> dict[str, Any]:
        """The fixed summary keys of every transient run."""
        return {"steps": self.steps, "startup_steps": self.startup_steps, "rejected_steps": self.rejected,
                "newton_iterations": self.newton, "krylov_iterations": self.krylov,
                "time_loop_s": self.wall_s, "t_final_s": self.t * time_scale,
                "stop_reason": self.reason if self.status == "ok" else "",
                **({"signal": self.signal} if self.signal else {})}


class Progress:
    """One progress line on rank 0 every ``interval`` seconds."""

    def __init__(self, comm, t_end: float, time_scale: float = 1.0, quiet=False, interval=5.0,
                 t0: float = 0.0):
        self.comm, self.t_end, self.ts, self.quiet, self.interval = comm, t_end, time_scale, quiet, interval
        self.t0 = t0
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
        span = self.t_end - self.t0
        frac = min((t - self.t0) / span, 1.0) if span > 0 else 1.0
        eta = elapsed * (1 - frac) / frac if frac > 0 else float("nan")
        print(f"step {step:6d}  t = {t * self.ts:.4e} s  dt = {dt * self.ts:.3e} s  "
              f"newton {newton:2d}  {100 * frac:5.1f}%  elapsed {elapsed:7.1f} s  ETA {eta:7.1f} s",
              flush=True)


class FieldOutput:
    """Field writer on a schedule: ``write(t)`` is called at t0, every ``every``
    accepted steps (0: first and last only), at the end (unless just written),
    and at the driver's output times; ``close()`` at the end."""

    def __init__(self, write: Callable[[float], None], every: int = 0,
                 close: Callable[[], None] | None = None):
        self._write, self.every, self._close = write, int(every), close
        self.pending = 0

    def write(self, t: float) -> None:
        self._write(t)
        self.pending = 0

    def step(self, t: float) -> None:
        self.pending += 1
        if self.every and self.pending >= self.every:
            self.write(t)

    def final(self, t: float) -> None:
        if self.pending:
            self.write(t)

    def close(self) -> None:
        if self._close is not None:
            self._close()


class _Signals:
    """Turn SIGINT/SIGTERM/SIGUSR1 into a flag checked between steps.

    The handler only records the signal: a KeyboardInterrupt raised inside a
    PETSc callback would look like a solver failure.  Restores the previous
    handlers on exit; a second SIGINT while waiting raises KeyboardInterrupt.
    """

    NAMES = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM", signal.SIGUSR1: "SIGUSR1"}

    def __init__(self):
        self.received: int | None = None
        self._old = {}

    def __enter__(self):
        import threading
        if threading.current_thread() is not threading.main_thread():
            return self
        for s in self.NAMES:
            try:
                self._old[s] = signal.signal(s, self._handle)
            except (ValueError, OSError):  # pragma: no cover
                pass
        return self

    def _handle(self, signum, frame):
        if self.received == signal.SIGINT and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.received = signum

    def __exit__(self, *exc):
        for s, h in self._old.items():
            signal.signal(s, h)
        return False

    def collective(self, comm) -> int:
        """The signal received on any rank (0: none); collective."""
        return int(comm.allreduce(int(self.received or 0), op=MPI.MAX))


#: exit status of a run ended by a signal (shell convention 128 + signal number)
def signal_exit_status(name: str) -> int:
    return 128 + int(getattr(signal, name, 0)) if name else 1


class Simulation:
    """Drive ``model`` from ``t0`` to ``control.t_end`` (see the module docstring).

    Parameters
    ----------
    model : the step/reject/accept object.
    control : :class:`StepControl` in model time.
    comm : the model's communicator.
    time_scale : seconds per unit of model time (progress line, ``t_s``).
    recorders : callables ``t -> dict``; their rows are merged (``t_s`` first) and
        added to ``output.timeseries`` when an output is given.
    fields : :class:`FieldOutput` objects.
    stops : callables ``t -> reason | None`` checked after each accepted step.
    checks : acceptance checks ``(t, dt, stats) -> reason | None``; a reason rejects.
    max_dt : callable ``t -> largest dt`` for the next attempt (None: no limit).
    output_times : model times at which a step must end (recorded and fields written).
    output : :class:`fem.output.RunOutput` or None (then rows are kept in ``rows``).
    checkpoint : :class:`fem.checkpoint.Checkpointer` or None.
    name : stage name (checkpoints of a multi-stage problem carry it).
    """

    def __init__(self, model, control: StepControl, *, comm, time_scale: float = 1.0,
                 recorders: Sequence[Recorder] = (), fields: Sequence[FieldOutput] = (),
                 stops: Sequence[Stop] = (), checks: Sequence[Check] = (),
                 max_dt: Callable[[float], float] | None = None,
                 output_times: Iterable[float] = (), output=None, checkpoint=None,
                 quiet: bool | None = None, name: str = "main"):
        from fem.mpi import install_excepthook
        install_excepthook()
        self.model, self.control, self.comm, self.time_scale = model, control, comm, float(time_scale)
        self.recorders, self.fields = list(recorders), list(fields)
        self.stops, self.checks, self.max_dt = list(stops), list(checks), max_dt
        output_times = list(output_times)
        if not output_times and output is not None:
            # the run's ``output_times_s`` parameter (SI) -> model time
            output_times = [t / float(time_scale) for t in getattr(output, "output_times_s", ())]
        self.output_times = sorted(float(t) for t in output_times)
        self.output, self.name = output, name
        if checkpoint is None and output is not None:
            checkpoint = getattr(output, "checkpointer", None)
        self.checkpoint = checkpoint
        self.quiet = bool(getattr(output, "quiet", False)) if quiet is None else quiet
        self.rows: list[dict] = []
        # driver state that a checkpoint must carry (besides the model's)
        self.t, self.dt = None, None
        self.result: SimulationResult | None = None

    # ------------------------------------------------------------------ rows
    def row(self, t: float) -> dict:
        row = {"t_s": t * self.time_scale}
        for rec in self.recorders:
            for k, v in rec(t).items():
                if k != "t_s":
                    row[k] = v
        return row

    def record(self, t: float, at_output_time: bool = False) -> None:
        if not self.recorders:
            return
        row = self.row(t)
        if self.output_times:
            # marks the rows at requested output times (column present only when some are requested)
            row["at_output_time"] = 1.0 if at_output_time else 0.0
        self.rows.append(row)
        if self.output is not None:
            self.output.timeseries.add(row)

    # --------------------------------------------------------------- driver
    def _next_output_time(self, t: float, eps: float) -> float | None:
        for to in self.output_times:
            if to > t + eps:
                return to
        return None

    def run(self, t0: float = 0.0) -> SimulationResult:
        """Advance from ``t0`` (or from the restart checkpoint) and return the result."""
        c = self.control
        res = SimulationResult(t0)
        t, dt = t0, min(c.dt, c.dt_max)
        restored = None
        if self.checkpoint is not None:
            restored = self.checkpoint.restore(self)
        if restored is not None:
            t, dt, res = restored
            t0 = t
            if res.status == "interrupted":  # the signal ended the run that wrote the checkpoint
                res.status, res.reason, res.signal = "ok", "", ""
        startup: list[float] = []  # the graded start's remaining sub-steps
        if restored is None:
            self.record(t)
            for f in self.fields:
                f.write(t)
            t_out = self._next_output_time(t, 1e-12 * max(c.t_end, 1.0))
            startup = c.startup_substeps(min(dt, c.t_end - t, *([t_out - t] if t_out is not None else [])))
        progress = Progress(self.comm, c.t_end, self.time_scale, quiet=self.quiet, t0=t0)
        start = time.perf_counter() - res.wall_s
        eps = 1e-12 * max(c.t_end, 1.0)
        with _Signals() as signals:
            while t < c.t_end - eps:
                if res.steps >= c.max_steps:
                    res.status, res.reason = "failed", f"max_steps={c.max_steps} reached at t = {t * self.time_scale:.6g} s"
                    break
                dt_try = min(startup[0] if startup else dt, c.t_end - t)
                if self.max_dt is not None:
                    dt_try = min(dt_try, self.max_dt(t))
                t_out = self._next_output_time(t, eps)
                hit = t_out is not None and t + dt_try >= t_out - eps
                if hit:
                    dt_try = t_out - t
                stats = self.model.step(t, dt_try)
                res.newton += stats.newton_iterations
                res.krylov += stats.krylov_iterations
                if stats.converged:
                    for check in self.checks:
                        why = check(t, dt_try, stats)
                        if why:
                            stats.converged, stats.reason = False, why
                            break
                if not stats.converged:
                    self.model.reject()
                    res.rejected += 1
                    if startup:  # cut the sub-step, keep its remainder
                        startup[0:1] = [dt_try * c.cut, startup[0] - dt_try * c.cut]
                    dt = dt_try * c.cut
                    if dt < c.dt_min:
                        res.status = "failed"
                        res.reason = (f"Newton solver did not converge at t={t * self.time_scale:.6g} s "
                                      f"with dt={dt_try * self.time_scale:.3g} s "
                                      f"(dt_min={c.dt_min * self.time_scale:.3g} s): {stats.reason}")
                        break
                    if not startup and signals.collective(self.comm):
                        break
                    continue
                t = t_out if hit else t + dt_try
                res.steps += 1
                res.dts.append(dt_try)
                self.model.accept(t, dt_try, stats)
                if startup:
                    res.startup_steps += 1
                    startup[0] -= dt_try
                    if startup[0] <= 1e-9 * dt_try:
                        startup.pop(0)
                    if startup and not hit and not c.startup_record:  # unrecorded, unless a stop ends it
                        why = next((w for w in (stop(t) for stop in self.stops) if w), None)
                        if why:
                            self.record(t)
                            res.reason = why
                            break
                        continue
                    if not startup:  # the graded start is over: go on from q x its last sub-step
                        dt = min(dt_try * c.startup_ratio, c.dt_max)
                self.record(t, at_output_time=hit)
                for f in self.fields:
                    if hit:
                        f.write(t)
                    else:
                        f.step(t)
                progress(res.steps, t, dt_try, stats.newton_iterations)
                why = None
                for stop in self.stops:
                    why = stop(t)
                    if why:
                        break
                if why:
                    res.reason = why
                    break
                if (not c.fixed and not startup and stats.newton_iterations <= c.easy_newton
                        and dt_try >= dt * (1 - 1e-12)):
                    dt = min(dt * c.grow, c.dt_max)
                res.t, res.wall_s = t, time.perf_counter() - start
                if startup:  # inside the graded start: no growth, no checkpoint, no signal yet
                    continue
                if self.checkpoint is not None and self.checkpoint.due(res.steps):
                    self.checkpoint.write(self, t, dt, res)
                    res.checkpoints += 1
                sig = signals.collective(self.comm)
                if sig:
                    break
            sig = signals.collective(self.comm)
        res.t = t
        res.wall_s = time.perf_counter() - start
        if sig and res.status == "ok" and not (t >= c.t_end - eps and not res.reason):
            name = _Signals.NAMES.get(sig, f"signal {sig}")
            res.status, res.signal = "interrupted", name
            res.reason = f"interrupted by {name} at t = {t * self.time_scale:.6g} s"
            if self.checkpoint is not None:
                ck = self.checkpoint
                current = ck.holds(self, t, res.steps)
                if ck.last is not None and ck.last[2] == self.name and not current and self.output is not None:
                    # A launcher that got the signal itself may kill the ranks within a second or two
                    # (under load, before the new checkpoint is on disk): say interrupted at once, for
                    # the newest complete checkpoint (summary and checkpoint agree at every moment)
                    t_ck, res_ck, _ = ck.last
                    res_ck = dataclasses.replace(res_ck, status="interrupted", signal=name, reason=(
                        f"interrupted by {name} at t = {t_ck * self.time_scale:.6g} s; checkpoint written "
                        f"(continue with: solidion restart {ck.run_dir})"))
                    self.output.finish(res_ck.status, res_ck.reason, **res_ck.summary(self.time_scale))
                if not current:
                    ck.write(self, t, dt, res)
                    res.checkpoints += 1
                res.reason += f"; checkpoint written (continue with: solidion restart {ck.run_dir})"
            if self.output is not None:
                # Say so now: writing the last fields and pictures takes seconds, and a launcher that
                # got the signal itself (mpirun/prterun on SIGTERM) may kill the ranks meanwhile.
                res.t, res.wall_s = t, time.perf_counter() - start
                self.output.finish(res.status, res.reason, **res.summary(self.time_scale))
        for f in self.fields:
            f.final(t)
            f.close()
        progress(res.steps, t, dt, 0, force=True)
        self.t, self.dt, self.result = t, dt, res
        return res
