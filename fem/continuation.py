"""Parameter continuation: a steady (or equilibrium) solve carried from one value
of a parameter to another in steps, as a pseudo-time run of
:class:`fem.simulation.Simulation`.

The parameter follows ``p(s) = start + s (target - start)`` for the pseudo-time
s in [0, 1].  The first attempt is the whole way (``first = 1``); a failed
Newton solve restores the last converged state and halves the increment (the
driver's cut/retry logic), an easy solve doubles it again; the run fails once
the increment would drop below ``min_step``.  So a solve that converges
directly costs exactly one Newton solve at the target value.
"""

from __future__ import annotations

from typing import Callable

from fem.simulation import Simulation, SimulationResult, StepControl
from fem.solver import SolveStats


class ParameterPath:
    """Model (step/reject/accept) of a parameter continuation.

    solve : the steady solve (``() -> SolveStats``) of ``u`` at the current parameter value.
    u : the unknown Function (restored on a rejected step).
    set_value : ``value -> None`` sets the parameter.
    """

    def __init__(self, solve: Callable[[], SolveStats], u, set_value: Callable[[float], None],
                 start: float, target: float):
        self.solve, self.u, self.set_value = solve, u, set_value
        self.start, self.target = float(start), float(target)
        self.good = u.x.array.copy()
        self.value = self.start
        self.last: SolveStats | None = None

    def at(self, s: float) -> float:
        return self.start + s * (self.target - self.start)

    def step(self, t: float, dt: float) -> SolveStats:
        self.set_value(self.at(t + dt))
        self.last = self.solve()
        return self.last

    def reject(self) -> None:
        self.u.x.array[:] = self.good

    def accept(self, t_new: float, dt: float, stats: SolveStats) -> None:
        self.good[:] = self.u.x.array
        self.value = self.at(t_new)


def continuation(solve: Callable[[], SolveStats], u, set_value: Callable[[float], None], start: float,
                 target: float, *, comm, first: float = 1.0, min_step: float = 1.0 / 32,
                 grow: float = 2.0, name: str = "continuation") -> SimulationResult:
    """Carry the solution ``u`` from the parameter value ``start`` to ``target``.

    Returns the driver's result (``status``, ``reason``, ``newton``, ``krylov``,
    ``steps``, ``rejected``); on failure the parameter and ``u`` are left at the
    last converged value (``reason`` names it and the solver's last reason).
    """
    path = ParameterPath(solve, u, set_value, start, target)
    control = StepControl(t_end=1.0, dt=first, dt_min=min_step, dt_max=1.0, grow=grow, cut=0.5,
                          easy_newton=10**9)
    res = Simulation(path, control, comm=comm, quiet=True, name=name).run()
    if res.status != "ok":
        set_value(path.value)
        if res.status == "failed":
            res.reason = (f"continuation from {path.start:.6g} to {path.target:.6g} stopped at {path.value:.6g} "
                          f"(step below {min_step:.3g} of the range): "
                          f"{path.last.reason if path.last is not None else res.reason}")
    return res
