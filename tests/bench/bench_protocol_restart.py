"""kill -9 and ``solidion restart`` of a protocol run (issue 16): a 3-step protocol on a tiny
sphere is run uninterrupted (A) and killed with SIGKILL after its checkpoint inside the hold,
then restarted through the CLI (B); prints the largest relative difference of every time-series
column and writes results/bench/protocol_restart.json.  ~40 s on 2 busy cores (3 CLI starts),
hence not in the suite (tests/test_protocols.py restarts the same case in-process).

    docker/run python3 tests/bench/bench_protocol_restart.py
"""
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from restart_util import assert_same_run, kill_and_restart  # noqa: E402

PROTOCOL = ["Discharge at 5C for 30 s", "Hold at 4.1 V for 120 s", "Charge at 2C for 20 s"]

if __name__ == "__main__":
    print(f"load average {os.getloadavg()}")
    with tempfile.TemporaryDirectory(dir=Path(__file__).resolve().parents[2] / "results") as tmp:
        sets = ["geometry='sphere'", "mesh_size=0.4", "fields_every=5", "section_plot=false",
                "protocol=" + json.dumps(PROTOCOL)]
        # step 0 has 13 steps: the first checkpoint at step >= 14 is inside the hold (step 1)
        A, B = kill_and_restart("particle_discharge", Path(tmp), sets, every=7, kill_after_step=14)
        (sa, ta), (sb, tb) = A, B
        assert_same_run(A, B, rtol=1e-10)
        assert sb["protocol_step_ends"] == sa["protocol_step_ends"]
        worst = {c: max(abs(x - y) for x, y in zip(ta[c], tb[c])) / max(max(abs(v) for v in ta[c]), 1e-300)
                 for c in ta}
        print(f"{'column':28s} max rel diff")
        for c, w in worst.items():
            print(f"{c:28s} {w:.2e}")
        print(f"restarted from step {sb['restarted_from_step']} of stage; steps {sa['steps']} = {sb['steps']}")
        out = Path(__file__).resolve().parents[2] / "results" / "bench"
        out.mkdir(parents=True, exist_ok=True)
        (out / "protocol_restart.json").write_text(json.dumps(
            {"load": os.getloadavg(), "restarted_from_step": sb["restarted_from_step"], "max_rel_diff": worst,
             "steps": sa["steps"], "step_ends": sa["protocol_step_ends"]}, indent=1))
