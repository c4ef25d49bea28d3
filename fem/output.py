"""The output contract shared by every problem.

In the output directory:

* ``summary.json``  problem, resolved SI parameters, mesh size, MPI size,
  versions, wall time, steps, Newton/Krylov totals, ``status`` (running / ok /
  failed) and ``reason``.  Written atomically (temporary file + rename), first
  with status ``running`` so an interrupted run never looks complete.
* ``timeseries.csv``  first column ``t_s``; units in every column name.
  Rewritten atomically at each flush; non-finite values are refused.
* ``fields/*.bp``  VTX (ADIOS2) files for ParaView, in SI coordinates.
* ``plots/*.png``  matplotlib figures (rank 0).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as _dt
import io
import json
import math
import os
import platform
import time
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from fem.errors import InputError


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old or the new file, never half."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def versions(comm=None) -> dict[str, Any]:
    import dolfinx
    import fem
    from petsc4py import PETSc
    from mpi4py import MPI
    v = {"solidion": fem.__version__, "dolfinx": dolfinx.__version__,
         "petsc": ".".join(map(str, PETSc.Sys.getVersion())),
         "mpi": MPI.Get_library_version().replace("\x00", "").splitlines()[0].strip(),
         "python": platform.python_version()}
    gmsh_version = _gmsh_version()
    if gmsh_version:
        v["gmsh"] = gmsh_version
    v["mpi_size"] = (comm or MPI.COMM_WORLD).size
    return v


def _gmsh_version() -> str | None:
    """``gmsh.__version__`` without importing gmsh when no one has: importing it loads libgmsh
    (0.16-0.19 s of CPU per run, measured), which a run on a built-in mesh never needs.  The
    Python API module states its version as ``GMSH_API_VERSION = "x.y.z"`` (= ``__version__``)."""
    import sys
    mod = sys.modules.get("gmsh")
    if mod is None:
        import importlib.util
        import re
        try:
            spec = importlib.util.find_spec("gmsh")
            if spec is None or not spec.origin:
                return None
            m = re.search(r'^GMSH_API_VERSION\s*=\s*"([^"]+)"', Path(spec.origin).read_text(errors="replace"), re.M)
            if m:
                return m.group(1)
        except Exception:  # noqa: BLE001 - fall back to importing the module
            pass
        try:
            import gmsh as mod
        except Exception:  # pragma: no cover
            return None
    return getattr(mod, "__version__", None)


def default_outdir(problem: str) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("results") / f"{problem}-{stamp}"


def _clean(obj):
    """JSON-safe copy: numpy scalars to Python, non-finite floats to None."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, Path):
        return str(obj)
    return obj


class TimeSeries:
    """Columns of observables; ``t_s`` first, units in every name."""

    def __init__(self, path: Path, comm):
        self.path, self.comm = Path(path), comm
        self.columns: list[str] | None = None
        self.rows: list[list[float]] = []
        self.flush_interval_s = 10.0  # a killed run still leaves a recent CSV
        self._last_flush = time.perf_counter()

    def add(self, row: dict[str, float]) -> None:
        if self.columns is None:
            if next(iter(row)) != "t_s":
                raise ValueError("the first time-series column must be 't_s'")
            self.columns = list(row)
        elif list(row) != self.columns:
            raise ValueError(f"time-series columns changed: {list(row)} != {self.columns}")
        values = [float(row[c]) for c in self.columns]
        if not all(math.isfinite(v) for v in values):
            bad = [c for c, v in zip(self.columns, values) if not math.isfinite(v)]
            raise FloatingPointError(f"non-finite observable(s) {bad} at t = {values[0]} s")
        self.rows.append(values)
        if time.perf_counter() - self._last_flush > self.flush_interval_s:
            self.flush()

    def column(self, name: str) -> np.ndarray:
        i = self.columns.index(name)
        return np.array([r[i] for r in self.rows])

    def flush(self, rank: int = 0) -> None:
        """Write the file (on ``rank``; another rank only when rank 0 cannot)."""
        self._last_flush = time.perf_counter()
        if self.comm.rank != rank or self.columns is None:
            return
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(self.columns)
        for r in self.rows:
            w.writerow([repr(v) for v in r])
        atomic_write_text(self.path, buf.getvalue())


class RunOutput:
    """Output directory of one run; all ranks construct it, rank 0 writes files.

    ``mode``: ``"new"`` refuses (InputError) a directory that is in use by a
    live run or holds a finished one; ``"overwrite"`` removes the old outputs
    first (still refusing a live run); ``"restart"`` continues the run there.
    A live run holds an exclusive ``flock`` on ``DIR/.solidion.lock`` (rank 0)
    until the process ends.
    """

    OUTPUTS = ("summary.json", "timeseries.csv", "fields", "plots", "checkpoint")

    def __init__(self, outdir: str | Path, problem: str, parameters: dict, comm, quiet=False,
                 mode: str = "new"):
        self.dir = Path(outdir)
        self.comm = comm
        self.quiet = quiet
        self.problem = problem
        self.mode = mode
        self.checkpointer = None
        self.output_times_s: list[float] = []  # the run's requested output times (set by the app)
        self.start = time.perf_counter()
        self.summary: dict[str, Any] = {
            "problem": problem, "status": "running", "reason": "",
            "parameters": parameters, "versions": versions(comm),
            "mpi_size": comm.size,
            "started": _dt.datetime.now().isoformat(timespec="seconds"),
        }
        error = None
        if comm.rank == 0:
            try:
                self._claim(mode)
            except Exception as e:  # noqa: BLE001 - re-raised on every rank below
                error = str(e)
        error = comm.bcast(error, root=0)
        if error:
            raise InputError(error)
        self.restarts = 0
        comm.barrier()
        self.timeseries = TimeSeries(self.dir / "timeseries.csv", comm)
        self.write_summary()

    def _claim(self, mode: str) -> None:
        """Create the directory, take the run lock, check or clear old outputs (rank 0)."""
        import fcntl
        import shutil
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            probe = self.dir / f".write-test-{os.getpid()}"
            probe.write_text("")
            probe.unlink()
        except OSError as e:
            raise InputError(f"--out {self.dir}: not a writable directory ({e.strerror or e})") from None
        self._lock = open(self.dir / ".solidion.lock", "a+")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise InputError(f"--out {self.dir}: in use by a running solidion job; choose another "
                             "directory") from None
        self._lock.seek(0)
        self._lock.truncate()
        self._lock.write(f"{platform.node()} {os.getpid()}\n")
        self._lock.flush()
        summary = self.dir / "summary.json"
        if mode == "new" and summary.exists():
            try:
                old = json.loads(summary.read_text()).get("status", "?")
            except ValueError:
                old = "unreadable"
            raise InputError(f"--out {self.dir}: holds an earlier run (status {old}); use --overwrite "
                             "to replace it, `solidion restart DIR` to continue it, or another --out")
        if mode == "overwrite":
            for name in self.OUTPUTS:
                path = self.dir / name
                if path.is_dir():
                    shutil.rmtree(path)
                elif path.exists():
                    path.unlink()
        (self.dir / "plots").mkdir(parents=True, exist_ok=True)
        (self.dir / "fields").mkdir(parents=True, exist_ok=True)

    # --- summary ---------------------------------------------------------
    def update(self, **entries) -> None:
        self.summary.update(_clean(entries))

    def write_summary(self) -> None:
        if self.comm.rank == 0:
            self.summary["wall_time_s"] = time.perf_counter() - self.start
            atomic_write_text(self.dir / "summary.json",
                              json.dumps(_clean(self.summary), indent=2) + "\n")

    def finish_local(self, status: str, reason: str, **entries) -> dict:
        """Like :meth:`finish` but without collectives: for one failing rank.

        Any rank may write the summary here (the others may be stuck in a
        collective waiting for it); the job is then aborted by the caller.
        """
        self.update(**entries)
        self.summary.update(status=status, reason=reason,
                            finished=_dt.datetime.now().isoformat(timespec="seconds"))
        try:
            if self.timeseries.columns is not None:
                self.timeseries.flush(rank=self.comm.rank)
            self.summary["wall_time_s"] = time.perf_counter() - self.start
            atomic_write_text(self.dir / "summary.json", json.dumps(_clean(self.summary), indent=2) + "\n")
        except Exception:  # noqa: BLE001 - best effort on the way to MPI_Abort
            pass
        return self.summary

    def finish(self, status: str = "ok", reason: str = "", **entries) -> dict:
        """Flush the time series and write the final summary (collective)."""
        self.update(**entries)
        self.summary["peak_memory_MB"] = peak_memory_mb(self.comm)
        self.summary["status"] = status
        self.summary["reason"] = reason
        self.summary["finished"] = _dt.datetime.now().isoformat(timespec="seconds")
        self.timeseries.flush()
        self.write_summary()
        return self.summary

    # --- fields ----------------------------------------------------------
    def vtx(self, name: str, functions, length_scale: float = 1.0):
        """VTX writer for ``functions`` (all on one mesh) with SI coordinates."""
        # A restarted run writes its fields into new files: VTX cannot append.
        restarts = int(self.summary.get("restarts", 0) or 0)
        suffix = f".restart{restarts}" if self.mode == "restart" else ""
        return ScaledVTX(self.comm, self.dir / "fields" / f"{name}{suffix}.bp", functions, length_scale)

    # --- plots -----------------------------------------------------------
    def figure(self, name: str):
        """Context manager giving a matplotlib (fig, ax) saved as plots/NAME.png on rank 0."""
        return _figure(self.dir / "plots" / f"{name}.png", self.comm)

    def log(self, *args) -> None:
        if not self.quiet and self.comm.rank == 0:
            print(*args, flush=True)


@contextlib.contextmanager
def _figure(path: Path, comm):
    if comm.rank != 0:
        yield None, None
        return
    # A bare Figure on the Agg canvas (the same renderer and PNG as pyplot with the Agg backend,
    # measured byte-identical) without pyplot's import and figure-manager bookkeeping.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(6, 4), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    yield fig, ax
    fig.tight_layout()
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.png")
    fig.savefig(tmp)
    os.replace(tmp, path)


class FieldSchedule:
    """When to write fields: every ``every`` accepted steps (0: only first and last).

    ``write(t)`` is the problem's field writer; call :meth:`step` after each
    accepted step and :meth:`final` at the end (writes unless just written).
    """

    def __init__(self, every: int, write):
        self.every, self._write, self.pending = int(every), write, 0

    def write(self, t) -> None:
        self._write(t)
        self.pending = 0

    def step(self, t) -> None:
        self.pending += 1
        if self.every and self.pending >= self.every:
            self.write(t)

    def final(self, t) -> None:
        if self.pending:
            self.write(t)


class ScaledVTX:
    """VTX output whose mesh coordinates are written in metres.

    The solver's mesh lives in nondimensional coordinates x^ = x / L; around
    each write the geometry is scaled by L and restored, so ParaView shows SI.
    """

    def __init__(self, comm, path: Path, functions, length_scale: float):
        import dolfinx.io
        if not isinstance(functions, (list, tuple)):
            functions = [functions]
        self.mesh = functions[0].function_space.mesh
        self.L = float(length_scale)
        self.writer = dolfinx.io.VTXWriter(comm, str(path), list(functions), engine="BP4")

    def write(self, t_s: float) -> None:
        x = self.mesh.geometry.x
        x0 = x.copy()  # restored bitwise: writing fields must not perturb the solution
        x *= self.L
        try:
            self.writer.write(float(t_s))
        finally:
            x[:] = x0

    def close(self) -> None:
        self.writer.close()


def peak_memory_mb(comm) -> dict[str, float]:
    """Peak resident memory: largest rank and sum over ranks [MB]."""
    import resource
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux
    return {"max_rank": comm.allreduce(rss, op=_max()), "total": comm.allreduce(rss)}


def _max():
    from mpi4py import MPI
    return MPI.MAX


def mesh_summary(mesh, spaces: Iterable = ()) -> dict[str, int]:
    """Global cell, vertex and dof counts."""
    tdim = mesh.topology.dim
    out = {"cells": int(mesh.topology.index_map(tdim).size_global),
           "vertices": int(mesh.topology.index_map(0).size_global)}
    dofs = 0
    for V in spaces:
        dofs += int(V.dofmap.index_map.size_global * V.dofmap.index_map_bs)
    out["dofs"] = dofs
    return out


def si_fields(out: RunOutput, name: str, items, scales, every: int = 0):
    """A :class:`fem.simulation.FieldOutput` writing SI copies of fields to ``fields/NAME.bp``.

    ``items``: ``(field, si_name, factor)`` with ``field`` a Function (its SI
    copy lives in the same space and is ``factor * field``), or
    ``(si_function, fill)`` with ``fill(si_function)`` computing the SI values
    (e.g. from a sub-function of a mixed space).  Coordinates are written in
    metres (``scales.length``) and times in seconds (``scales.time``).
    """
    import dolfinx.fem
    from fem.simulation import FieldOutput
    copies, fills = [], []
    for item in items:
        if len(item) == 3:
            src, si_name, factor = item
            dst = dolfinx.fem.Function(src.function_space, name=si_name)

            def fill(d, src=src, factor=factor):
                d.x.array[:] = src.x.array * factor
        else:
            dst, fill = item
        copies.append(dst)
        fills.append(fill)
    vtx = out.vtx(name, copies, scales.length)

    def write(t):
        for dst, fill in zip(copies, fills):
            fill(dst)
        vtx.write(t * scales.time)

    return FieldOutput(write, every, close=vtx.close)
