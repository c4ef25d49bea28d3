"""Cycling protocols (issue 16): the step parser, and particle_discharge runs with protocols on a
tiny sphere: CC then rest (relaxation to the OCV of the mean stoichiometry), limits hit exactly,
CC-CV, GITT charge."""
from __future__ import annotations

import csv

import numpy as np
import pytest
from mpi4py import MPI

from fem.errors import InputError
from fem.protocols import CurrentStep, Rest, VoltageHold, gitt, parse_protocol, parse_step

TINY = dict(geometry="sphere", mesh_size=0.4, section_plot=False, fields_every=0)


def test_parser_examples():
    assert parse_step("Discharge at 1C until 3.0 V") == [CurrentStep(1.0, until_voltage_V=3.0,
                                                                      text="Discharge at 1C until 3.0 V")]
    (r,) = parse_step("Rest for 1 hour")
    assert isinstance(r, Rest) and r.duration_s == 3600
    (c,) = parse_step("Charge at C/2 until 4.2 V")
    assert c.charge and c.c_rate == 0.5 and c.until_voltage_V == 4.2
    (h,) = parse_step("Hold at 4.2 V until C/50")
    assert isinstance(h, VoltageHold) and h.voltage_V == 4.2 and h.until_c_rate == pytest.approx(0.02)
    (d,) = parse_step("Discharge at 2 A/m^2 for 10 min or until 3.0 V")
    assert d.current_density_A_m2 == 2 and d.c_rate == 0 and d.duration_s == 600 and d.until_voltage_V == 3.0
    (x,) = parse_step("discharge at 0.5C until x = 0.9")
    assert x.until_x == 0.9
    (h2,) = parse_step("Hold at 4.2 V for 30 min or until 0.01 A/m2")
    assert h2.duration_s == 1800 and h2.until_current_density_A_m2 == 0.01
    rep = parse_step("Repeat 10 times: Discharge at 1C for 60 s; Rest for 10 min")
    assert len(rep) == 20 and [s.kind for s in rep[:2]] == ["current", "rest"] and rep[3].duration_s == 600
    assert parse_step("Rest for 90 s")[0].duration_s == 90 and parse_step("rest for 2 h")[0].duration_s == 7200


def test_parser_tables_and_gitt():
    steps = parse_protocol([{"type": "discharge", "c_rate": 1.0, "until_voltage_V": 3.0},
                            {"repeat": 2, "steps": ["Rest for 1 s", {"type": "hold", "voltage_V": 4.2,
                                                                     "until_c_rate": 0.02}]},
                            {"type": "gitt", "pulse_c_rate": 1.0, "pulse_s": 60, "rest_s": 600, "n_pulses": 3}])
    assert [s.kind for s in steps] == ["current"] + ["rest", "voltage"] * 2 + ["current", "rest"] * 3
    assert parse_protocol("Rest for 1 s\nCharge at 1C for 2 s") == parse_step("Rest for 1 s") + parse_step(
        "Charge at 1C for 2 s")
    g = gitt(0.5, 30, 120, 4)
    assert len(g) == 8 and g[0].c_rate == 0.5 and g[0].duration_s == 30 and g[1].duration_s == 120


@pytest.mark.parametrize("bad", ["Discharge at 1C", "Rest for 1 fortnight", "Jump at 1C until 3 V",
                                 "Hold at 4.2 V", "Discharge at C/0 until 3 V", "Charge at 1C until x = 1.5",
                                 "Repeat 0 times: Rest for 1 s"])
def test_bad_steps_name_the_step(bad):
    with pytest.raises(InputError, match="protocol step") as e:
        parse_protocol(["Rest for 1 s", bad])
    assert bad.lower() in str(e.value).lower()


def test_bad_tables_and_parameter_check():
    for bad in ({"type": "jump"}, {"type": "rest"}, {"type": "rest", "duration_s": 1, "c_rate": 2},
                {"repeat": 2}, 3):
        with pytest.raises(InputError, match="protocol step"):
            parse_protocol([bad])
    from problems.particle_discharge import Parameters
    p = Parameters(**TINY, protocol=["Rest for 1 s", "Discharge at 1C"])
    with pytest.raises(InputError, match="Discharge at 1C"):
        p.validate()


def _run(tmp_path, name, protocol, **kw):
    from solidion import run
    s = run("particle_discharge", out=tmp_path / name, comm=MPI.COMM_SELF, quiet=True, **TINY, protocol=protocol,
            **kw)
    rows = list(csv.DictReader(open(tmp_path / name / "timeseries.csv")))
    cols = {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}
    return s, cols


def test_cc_rest_charge_cccv(tmp_path):
    """Discharge at 2C to 3.7 V (lands on it), rest 2 h (I = 0, V rises monotonically to the
    OCV of the mean stoichiometry), charge at 1C to 4.1 V, hold at 4.1 V until C/20."""
    from fem.constitutive.materials import MATERIALS
    s, c = _run(tmp_path, "cccv", ["Discharge at 2C until 3.7 V", "Rest for 2 hours", "Charge at 1C until 4.1 V",
                                   "Hold at 4.1 V until C/20"])
    assert s["status"] == "ok" and s["protocol_steps"] == 4, s["stop_reason"]
    step, kind, V, I = c["protocol_step"], c["protocol_step_type"], c["voltage_V"], c["current_A"]
    assert set(step) == {0, 1, 2, 3} and list(kind[np.searchsorted(step, [0, 1, 2, 3])]) == [1, 0, 1, 2]
    last = [np.flatnonzero(step == i)[-1] for i in range(4)]
    assert abs(V[last[0]] - 3.7) < 1e-6 and abs(V[last[2]] - 4.1) < 1e-6  # limits hit exactly
    rest = step == 1
    assert np.all(I[rest] == 0.0)
    assert np.all(np.diff(V[rest]) > 0)  # relaxation after a discharge: monotone rise
    ocv_mean = float(MATERIALS["nmc811_chen2020"].ocv_V(c["x_mean"][last[1]]))
    assert abs(V[last[1]] - ocv_mean) < 5e-3
    hold = step == 3
    assert np.all(V[hold] == 4.1)
    I1C = abs(I[step == 2][0])
    assert np.all(np.diff(I[hold][1:]) < 0)  # the charging current decays
    assert abs(I[last[3]] - I1C / 20) <= 1e-4 * I1C / 20  # ... exactly to the limit
    assert c["mass_balance_rel_error"].max() < 1e-6


def test_gitt_pulses_and_charge(tmp_path):
    n, pulse_s, rest_s = 3, 60.0, 300.0
    s, c = _run(tmp_path, "gitt", [{"type": "gitt", "pulse_c_rate": 1.0, "pulse_s": pulse_s, "rest_s": rest_s,
                                    "n_pulses": n}])
    assert s["status"] == "ok" and s["protocol_steps"] == 2 * n
    step, t, I = c["protocol_step"], c["t_s"], c["current_A"]
    pulses = [i for i in range(2 * n) if c["protocol_step_type"][np.flatnonzero(step == i)[0]] == 1]
    assert len(pulses) == n
    for i in range(2 * n):
        ti = t[step == i]
        assert ti[-1] - ti[0] == pytest.approx(pulse_s if i in pulses else rest_s, rel=1e-12)
    I_pulse = I[step == 0][0]
    assert I_pulse < 0 and np.all(I[np.isin(step, pulses)] == I_pulse)
    Q = I_pulse * pulse_s * n
    assert c["charge_passed_C"][-1] == pytest.approx(Q, rel=1e-10)
    from fem.scaling import FARADAY  # the particle took up the charge (discrete mass balance)
    assert -FARADAY * (c["moles_mol"][-1] - c["moles_mol"][0]) == pytest.approx(Q, rel=1e-7)
    assert s["t_final_s"] == pytest.approx(n * (pulse_s + rest_s), rel=1e-12)


def test_protocol_refuses_checkpointing(tmp_path):
    from solidion import run
    with pytest.raises(InputError, match="protocol"):
        run("particle_discharge", out=tmp_path / "ck", comm=MPI.COMM_SELF, quiet=True, checkpoint_every=5,
            **TINY, protocol=["Rest for 10 s"])
