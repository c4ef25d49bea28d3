"""The transient driver (fem.simulation.Simulation) on a toy model: step control,
acceptance checks, max_dt, output times, stops, signals."""

from __future__ import annotations

import math
import os
import signal

import numpy as np
import pytest
from mpi4py import MPI

from fem.simulation import FieldOutput, Simulation, StepControl
from fem.solver import SolveStats


class Decay:
    """du/dt = -k u by backward Euler; 'Newton' fails when dt > fail_above."""

    def __init__(self, k=1.0, fail_above=math.inf, on_step=None):
        self.k, self.fail_above, self.on_step = k, fail_above, on_step
        self.u = self.u_old = 1.0
        self.attempts = []

    def step(self, t, dt):
        self.attempts.append(dt)
        if self.on_step:
            self.on_step(t, dt)
        if dt > self.fail_above:
            return SolveStats(False, 3, 0, "diverged")
        self.u = self.u_old / (1 + self.k * dt)
        return SolveStats(True, 1, 2, "converged")

    def reject(self):
        self.u = self.u_old

    def accept(self, t_new, dt, stats):
        self.u_old = self.u


def _sim(model, control, **kw):
    return Simulation(model, control, comm=MPI.COMM_SELF, quiet=True,
                      recorders=[lambda t: {"u": model.u}], **kw)


def test_backward_euler_and_counters():
    m = Decay()
    c = StepControl(t_end=1.0, dt=0.1, dt_min=1e-6, dt_max=0.1, fixed=True)
    res = _sim(m, c).run()
    assert res.status == "ok" and res.steps == 10 and res.rejected == 0
    assert res.newton == 10 and res.krylov == 20
    assert m.u == pytest.approx((1 / 1.1) ** 10, rel=1e-14)
    s = res.summary(2.0)
    assert s["t_final_s"] == pytest.approx(2.0) and s["steps"] == 10 and s["stop_reason"] == ""


def test_failed_step_is_cut_and_retried():
    m = Decay(fail_above=0.03)
    c = StepControl(t_end=0.5, dt=0.1, dt_min=1e-6, dt_max=0.1)
    res = _sim(m, c).run()
    assert res.status == "ok" and res.rejected >= 2
    assert max(res.dts) <= 0.03
    assert m.attempts[:3] == [0.1, 0.05, 0.025]


def test_dt_below_dt_min_fails_with_reason():
    m = Decay(fail_above=1e-9)
    c = StepControl(t_end=1.0, dt=0.1, dt_min=1e-3, dt_max=0.1)
    res = _sim(m, c).run()
    assert res.status == "failed" and "did not converge" in res.reason and res.steps == 0


def test_acceptance_check_rejects_and_max_dt_limits_up_front():
    m = Decay()
    seen = []

    def check(t, dt, stats):
        seen.append(dt)
        return "too large a change" if abs(m.u - m.u_old) > 0.05 else None

    c = StepControl(t_end=1.0, dt=0.2, dt_min=1e-8, dt_max=0.2)
    sim = _sim(m, c, checks=[check])
    res = sim.run()
    assert res.status == "ok" and res.rejected > 0
    # every accepted step passed the check
    u = [r["u"] for r in sim.rows]
    assert max(abs(np.diff(u))) <= 0.05
    m2 = Decay()
    res2 = _sim(m2, c, max_dt=lambda t: 0.03).run()
    assert res2.rejected == 0 and max(m2.attempts) <= 0.03 + 1e-15


def test_output_times_are_hit_exactly_and_fields_written_there():
    m = Decay()
    written = []
    c = StepControl(t_end=1.0, dt=0.07, dt_min=1e-8, dt_max=0.3)
    sim = _sim(m, c, output_times=[0.25, 0.5, 0.8], fields=[FieldOutput(written.append, every=0)])
    res = sim.run()
    times = [r["t_s"] for r in sim.rows]
    for to in (0.25, 0.5, 0.8, 1.0):
        assert to in times
    assert written[0] == 0.0 and {0.25, 0.5, 0.8} <= set(written) and written[-1] == pytest.approx(1.0)
    assert res.status == "ok"


def test_stop_condition_ends_with_reason():
    m = Decay()
    c = StepControl(t_end=10.0, dt=0.1, dt_min=1e-8, dt_max=0.1, fixed=True)
    res = _sim(m, c, stops=[lambda t: "u below 0.5" if m.u < 0.5 else None]).run()
    assert res.status == "ok" and res.reason == "u below 0.5" and m.u < 0.5
    assert res.summary()["stop_reason"] == "u below 0.5"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGUSR1])
def test_signal_ends_the_run_as_interrupted_after_the_current_step(sig):
    def on_step(t, dt):
        if len(m.attempts) == 5:
            os.kill(os.getpid(), sig)

    m = Decay(on_step=on_step)
    c = StepControl(t_end=10.0, dt=0.1, dt_min=1e-8, dt_max=0.1, fixed=True)
    res = _sim(m, c).run()
    assert res.status == "interrupted" and res.steps == 5
    assert res.signal == signal.Signals(sig).name and res.signal in res.reason
    # the handlers are restored afterwards
    assert signal.getsignal(signal.SIGTERM) is not None


def test_rows_have_t_s_first_and_model_time_scaled():
    m = Decay()
    c = StepControl(t_end=0.2, dt=0.1, dt_min=1e-8, dt_max=0.1, fixed=True)
    sim = Simulation(m, c, comm=MPI.COMM_SELF, quiet=True, time_scale=10.0,
                     recorders=[lambda t: {"a": 1.0}, lambda t: {"b": t}])
    sim.run()
    assert list(sim.rows[0]) == ["t_s", "a", "b"]
    assert sim.rows[-1]["t_s"] == pytest.approx(2.0) and sim.rows[-1]["b"] == pytest.approx(0.2)
    assert np.all(np.diff([r["t_s"] for r in sim.rows]) > 0)


# ------------------------------------------------------------------ graded start (startup_steps)
def _graded(t_end=1.0, dt=0.1, **kw):
    return StepControl(t_end=t_end, dt=dt, dt_min=1e-9, dt_max=0.5, grow=1.2, startup_steps=10,
                       startup_ratio=1.5, **kw)


def test_graded_start_substeps_are_unrecorded_and_sum_to_the_first_step():
    m = Decay(k=100.0)  # stiff: one BE step of 0.1 gives 1/11 where exp(-10) = 4.5e-5
    sim = _sim(m, _graded())
    res = sim.run()
    sub = m.attempts[:10]
    assert np.allclose(np.array(sub[1:]) / np.array(sub[:-1]), 1.5, rtol=1e-12)
    assert sum(sub) == pytest.approx(0.1, rel=1e-14)
    times = [r["t_s"] for r in sim.rows]
    assert times[0] == 0.0 and times[1] == pytest.approx(0.1, rel=1e-14)  # nothing in between
    assert res.startup_steps == 10 and res.steps == 10 + len(times) - 2
    assert res.summary()["startup_steps"] == 10
    assert m.attempts[10] == pytest.approx(1.5 * sub[-1], rel=1e-12)  # then q x the last sub-step, growing
    # accuracy at the first recorded time: the product of the BE factors of the sub-steps (computed here
    # independently) is what the row holds, and it is far closer to exp(-10) than one BE step
    u1 = np.prod([1.0 / (1.0 + 100.0 * d) for d in sub])
    assert sim.rows[1]["u"] == pytest.approx(u1, rel=1e-12)
    assert abs(u1 - math.exp(-10.0)) < 0.1 * abs(1 / 11 - math.exp(-10.0))  # measured 0.0325x


def test_graded_start_rejection_inside_is_cut_and_still_lands_on_the_first_step():
    m = Decay(k=1.0, fail_above=0.02)  # the largest sub-steps (0.034) fail and are cut
    sim = _sim(m, _graded())
    res = sim.run()
    assert res.status == "ok" and res.rejected >= 1
    times = [r["t_s"] for r in sim.rows]
    assert times[1] == pytest.approx(0.1, rel=1e-12) and sum(res.dts[:res.startup_steps]) == pytest.approx(0.1)
    assert res.startup_steps > 10


def test_graded_start_reaches_an_earlier_output_time_and_a_stop_inside_is_recorded():
    m = Decay()
    sim = _sim(m, _graded(), output_times=[0.04, 0.5])
    sim.run()
    assert sum(m.attempts[:10]) == pytest.approx(0.04, rel=1e-14)
    assert [r["t_s"] for r in sim.rows][1] == pytest.approx(0.04)
    m2 = Decay()
    sim2 = _sim(m2, _graded(), stops=[lambda t: "u below 0.999" if m2.u < 0.999 else None])
    res2 = sim2.run()
    assert res2.reason == "u below 0.999" and 0 < sim2.rows[-1]["t_s"] < 0.1 and sim2.rows[-1]["u"] < 0.999
    m3 = Decay()
    res3 = _sim(m3, _graded(fixed=True)).run()  # fixed steps: no graded start
    assert res3.startup_steps == 0 and m3.attempts[0] == 0.1


def test_graded_start_a_signal_inside_finishes_it_first():
    def on_step(t, dt):
        if len(m.attempts) == 3:
            os.kill(os.getpid(), signal.SIGTERM)

    m = Decay(on_step=on_step)
    sim = _sim(m, _graded())
    res = sim.run()
    assert res.status == "interrupted" and res.t == pytest.approx(0.1, rel=1e-14) and res.steps == 10
    assert [r["t_s"] for r in sim.rows][-1] == pytest.approx(0.1)


def test_graded_start_recorded_on_request():
    m = Decay()
    sim = _sim(m, _graded(startup_record=True))
    res = sim.run()
    times = np.array([r["t_s"] for r in sim.rows])
    assert np.allclose(np.diff(times[:11]), m.attempts[:10], rtol=1e-12) and times[10] == pytest.approx(0.1)
    assert res.startup_steps == 10
