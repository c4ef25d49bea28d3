"""Profile (issue 14): where the wall and CPU time of one ``solidion run`` goes, phase by phase.

    docker/run python3 tests/bench/profile_run_phases.py run spinodal --quiet --overwrite \
        --out results/bench/phases_1b --set t_end_s=10 --set "output_times_s=[1.0,5.0]" \
        --set cells_per_side=50 --set element_degree=2

The arguments are those of the ``solidion`` command; the run is the same (same outputs).  Printed:
the imports before the command starts (the CLI, then solidion.app with DOLFINx/PETSc/MPI), and
inside it the cumulative wall and CPU seconds (time.process_time: the shared host's wall times are
inflated by its load, printed too) of: versions() for summary.json, RunOutput (output directory,
first summary), the problem module's import and solve, Simulation.run (the time loop with its
records and field writes), every ``out.figure`` block (import of matplotlib, drawing, PNG) and
fem.field_plots.plot_section (gather + figure), and RunOutput.finish.  Serial runs (rank 0's clock).
Add ``-X importtime`` to the python command for the import tree.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import time
from pathlib import Path

T0, C0 = time.perf_counter(), time.process_time()
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

acc: dict[str, list] = {}


def _add(name, w, c):
    a = acc.setdefault(name, [0.0, 0.0, 0])
    a[0] += w
    a[1] += c
    a[2] += 1


def wrap(owner, attr, name):
    f = getattr(owner, attr)

    @functools.wraps(f)
    def timed(*args, **kwargs):
        w, c = time.perf_counter(), time.process_time()
        try:
            return f(*args, **kwargs)
        finally:
            _add(name, time.perf_counter() - w, time.process_time() - c)
    setattr(owner, attr, timed)


def wrap_context(owner, attr, name):
    """``owner.attr`` returns a context manager: time from before the call to after the block."""
    f = getattr(owner, attr)

    @functools.wraps(f)
    def timed(*args, **kwargs):
        @contextlib.contextmanager
        def cm():
            w, c = time.perf_counter(), time.process_time()
            try:
                with f(*args, **kwargs) as v:
                    yield v
            finally:
                _add(name, time.perf_counter() - w, time.process_time() - c)
        return cm()
    setattr(owner, attr, timed)


def main(argv):
    marks = []

    def mark(name):
        marks.append((name, time.perf_counter(), time.process_time()))

    import solidion.cli as cli
    mark("import solidion.cli")
    import solidion.app  # noqa: F401 - mpi4py, petsc4py, fem.checkpoint, fem.output
    mark("import solidion.app (mpi4py, petsc4py)")
    import dolfinx.fem.petsc  # noqa: F401
    import fem.simulation
    import meshes.cli  # noqa: F401 - the CLI's parser imports it
    mark("import dolfinx, ufl, ffcx, fem.simulation, meshes")
    import fem.field_plots
    import fem.output
    import problems
    wrap(fem.output, "versions", "versions() (summary.json)")
    wrap(fem.output.RunOutput, "__init__", "RunOutput() (output dir, first summary)")
    wrap(fem.simulation.Simulation, "run", "Simulation.run (time loop)")
    wrap_context(fem.output.RunOutput, "figure", "out.figure blocks (matplotlib import, draw, PNG)")
    wrap(fem.field_plots, "plot_section", "plot_section (gather + its out.figure block above)")
    wrap(fem.output.RunOutput, "finish", "RunOutput.finish")
    get = problems.get

    def get_timed(name):
        w, c = time.perf_counter(), time.process_time()
        mod = get(name)
        _add(f"import problem module {name}", time.perf_counter() - w, time.process_time() - c)
        if not hasattr(mod, "_profiled"):
            wrap(mod, "solve", f"{name}.solve (build, loop, outputs)")
            mod._profiled = True
        return mod
    problems.get = get_timed
    rc = cli.main(argv)
    mark("solidion command")
    print(f"\n{'phase':64s} {'wall s':>7} {'CPU s':>7}   (load average {os.getloadavg()[0]:.1f})")
    pw, pc = T0, C0
    for name, w, c in marks:
        print(f"{name:64s} {w - pw:7.3f} {c - pc:7.3f}")
        pw, pc = w, c
    for name, (w, c, n) in acc.items():
        print(f"  {name + f' ({n}x)':62s} {w:7.3f} {c:7.3f}")
    print(f"{'total (this script; the interpreter start-up comes on top)':64s} "
          f"{time.perf_counter() - T0:7.3f} {time.process_time() - C0:7.3f}")
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
