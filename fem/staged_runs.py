"""Pieces shared by problems that run one :class:`fem.simulation.Simulation` per C-rate
(stages ``rate_<i>``, e.g. ``phase_separating_charge``, ``platelet_intercalation``): the stage a
restart continues, the closing summary over the stages, the voltage-capacity plot."""

from __future__ import annotations

from fem.errors import SolverError
from fem.scaling import ELEMENTARY_CHARGE

COUNTS = ("steps", "rejected_steps", "newton_iterations", "krylov_iterations", "time_loop_s")


def first_stage(out) -> int:
    """Index of the stage a restart continues (0 for a new run)."""
    if getattr(out, "mode", "new") != "restart":
        return 0
    return int(out.checkpointer.meta["stage"].rsplit("_", 1)[1])


def finish_stages(out, done: list[dict], **entries) -> tuple[str, str]:
    """Write the summary of the stages ``done`` (each dict(rate, status, reason, counts, entries));
    the run's status is that of the last stage that was not ok.  Returns (status, reason)."""
    bad = [d for d in done if d["status"] != "ok"]
    status, reason = (bad[-1]["status"], f"{bad[-1]['rate']}: {bad[-1]['reason']}") if bad else ("ok", "")
    total = {k: sum(d["counts"][k] for d in done) for k in COUNTS}
    out.finish(status, reason, rates={d["rate"]: d["entries"] for d in done}, **total,
               t_final_s=done[-1]["counts"]["t_final_s"], stop_reason=done[-1]["counts"]["stop_reason"], **entries)
    return status, reason


def close_rate_sweep(out, model, done: list[dict], c_rates, free_energy, title: str) -> None:
    """End of a C-rate sweep: the voltage-capacity plot, the summary over the stages ``done``
    (:func:`finish_stages`, with the solver timings), the model freed; a failed stage raises
    :class:`fem.errors.SolverError` (after everything is written)."""
    plot_voltage_capacity(out, c_rates, free_energy, title)
    status, reason = finish_stages(out, done, timings=model.solver.timings())
    model.destroy()
    if status == "failed":
        raise SolverError(reason)


def plot_voltage_capacity(out, c_rates, free_energy, title: str) -> None:
    """plots/voltage.png: voltage_V against capacity_fraction per C-rate, with the common tangent."""
    if out.comm.rank != 0:
        return
    ts = out.timeseries
    rates, Q, V = ts.column("c_rate"), ts.column("capacity_fraction"), ts.column("voltage_V")
    fe = free_energy
    with out.figure("voltage") as (fig, ax):
        for r in c_rates:
            sel = rates == r
            ax.plot(Q[sel], V[sel], label=f"{r:g}C")
        if fe.binodal():
            ax.axhline(fe.u0_V - fe.kT / ELEMENTARY_CHARGE * fe.plateau_mu(), color="k", ls=":",
                       label="common tangent")
        ax.set_xlabel("capacity fraction")
        ax.set_ylabel("voltage [V]")
        ax.set_title(title)
        ax.legend()
