"""Checkpoint and restart of a :class:`fem.simulation.Simulation`.

A checkpoint is the directory ``RUN/checkpoint/`` holding

* ``rank<r>.npz``  each rank's local dof arrays of every Function the model
  lists in ``checkpoint_state()`` (ghosts included) and the coordinates of
  every Mesh it lists (a moving ALE mesh), as NumPy archives;
* ``state.pkl``  (rank 0) the model's Python values, the driver state (t, dt,
  step counts, totals, field-schedule counters, stage name) and the time-series
  rows so far;
* ``meta.json``  MPI size, local array sizes, time, step, written last.

It is written into a temporary directory and swapped in with renames, so the
newest *complete* checkpoint survives a ``kill -9`` at any moment (the previous
one is removed only after the new one is in place).  The snapshot is exact
(bitwise), which is what makes a restarted run end with the same observables
and step count as an uninterrupted one; the price is that a restart must use
the same number of MPI ranks (the mesh is rebuilt from the same parameters, so
the partition is the same), which is checked and otherwise refused with a
clear message.  (adios4dolfinx's N-to-M checkpoints would allow another rank
count but not a moved mesh geometry in place; see the closing notes.)
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import shutil
from pathlib import Path

import numpy as np

from fem.errors import InputError

CHECKPOINT_DIR = "checkpoint"


def _split_state(state: dict):
    import dolfinx.fem
    import dolfinx.mesh
    functions, meshes, values = {}, {}, {}
    for k, v in state.items():
        if isinstance(v, dolfinx.fem.Function):
            functions[k] = v
        elif isinstance(v, dolfinx.mesh.Mesh):
            meshes[k] = v
        else:
            values[k] = v
    return functions, meshes, values


def model_state(model) -> dict:
    if not hasattr(model, "checkpoint_state"):
        raise NotImplementedError(f"{type(model).__name__} has no checkpoint_state(): cannot checkpoint")
    return model.checkpoint_state()


def has_checkpoint(run_dir) -> bool:
    return (Path(run_dir) / CHECKPOINT_DIR / "meta.json").exists()


def read_meta(run_dir) -> dict:
    return json.loads((Path(run_dir) / CHECKPOINT_DIR / "meta.json").read_text())


class Checkpointer:
    """Writes checkpoints every ``every`` accepted steps (0: only on a signal)
    and, with ``restart=True``, restores the newest one when the simulation
    named ``stage`` (default: any) starts."""

    def __init__(self, run_dir, comm, every: int = 0, restart: bool = False):
        self.run_dir = Path(run_dir)
        self.comm, self.every, self.restart = comm, int(every), bool(restart)
        self.dir = self.run_dir / CHECKPOINT_DIR
        self.written = 0
        self._restored = False
        if restart:
            if not has_checkpoint(self.run_dir):
                raise InputError(f"{self.run_dir}: no complete checkpoint to restart from "
                                 f"(expected {self.dir}/meta.json)")
            meta = read_meta(self.run_dir)
            if meta["mpi_size"] != comm.size:
                raise InputError(f"{self.run_dir}: checkpoint written on {meta['mpi_size']} MPI rank(s); "
                                 f"restart it with the same number of ranks (got {comm.size})")
            self.meta = meta

    def due(self, steps: int) -> bool:
        return self.every > 0 and steps % self.every == 0

    # ---------------------------------------------------------------- write
    def write(self, sim, t: float, dt: float, res) -> None:
        """Write a complete checkpoint of ``sim`` (collective)."""
        comm = self.comm
        functions, meshes, values = _split_state(model_state(sim.model))
        tmp = self.run_dir / f".{CHECKPOINT_DIR}.tmp"
        if comm.rank == 0:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
        comm.barrier()
        arrays = {f"f:{k}": f.x.array for k, f in functions.items()}
        arrays.update({f"m:{k}": m.geometry.x for k, m in meshes.items()})
        with open(tmp / f"rank{comm.rank}.npz", "wb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        sizes = comm.gather({k: int(v.size) for k, v in arrays.items()}, root=0)
        ok = comm.allreduce(1, op=_sum())
        if comm.rank == 0:
            output = sim.output
            driver = {"t": t, "dt": dt, "stage": sim.name, "result": dataclasses.asdict(res),
                      "rows": sim.rows,
                      "fields_pending": [f.pending for f in sim.fields]}
            if output is not None:
                ts = output.timeseries
                driver["timeseries"] = {"columns": ts.columns, "rows": ts.rows}
            with open(tmp / "state.pkl", "wb") as fh:
                pickle.dump({"model": values, "driver": driver}, fh)
                fh.flush()
                os.fsync(fh.fileno())
            meta = {"mpi_size": comm.size, "ranks": sizes, "stage": sim.name,
                    "t": t, "t_s": t * sim.time_scale, "step": res.steps, "complete": ok == comm.size}
            with open(tmp / "meta.json", "w") as fh:
                json.dump(meta, fh, indent=2)
                fh.flush()
                os.fsync(fh.fileno())
            old = self.run_dir / f".{CHECKPOINT_DIR}.old"
            shutil.rmtree(old, ignore_errors=True)
            if self.dir.exists():
                os.replace(self.dir, old)
            os.replace(tmp, self.dir)
            shutil.rmtree(old, ignore_errors=True)
        comm.barrier()
        self.written += 1

    # -------------------------------------------------------------- restore
    def restore(self, sim):
        """Restore the newest checkpoint into ``sim`` once; returns (t, dt, result) or None."""
        from fem.simulation import SimulationResult
        if not self.restart or self._restored:
            return None
        if self.meta.get("stage", sim.name) != sim.name:
            raise InputError(f"{self.run_dir}: checkpoint belongs to stage {self.meta['stage']!r}, "
                             f"not {sim.name!r}")
        self._restored = True
        comm = self.comm
        functions, meshes, values = _split_state(model_state(sim.model))
        data = np.load(self.dir / f"rank{comm.rank}.npz")
        for k, f in functions.items():
            a = data[f"f:{k}"]
            if a.shape != f.x.array.shape:
                raise InputError(f"{self.run_dir}: checkpoint field {k!r} has {a.size} local values, "
                                 f"the rebuilt model {f.x.array.size}: the parameters or the mesh changed")
            f.x.array[:] = a
        for k, m in meshes.items():
            m.geometry.x[:] = data[f"m:{k}"]
        state = None
        if comm.rank == 0:
            with open(self.dir / "state.pkl", "rb") as fh:
                state = pickle.load(fh)
        state = comm.bcast(state, root=0)
        saved = state["model"]
        full = dict(values)
        full.update(saved)
        full.update(functions)
        full.update(meshes)
        if hasattr(sim.model, "restore_state"):
            sim.model.restore_state(full)
        d = state["driver"]
        res = SimulationResult(**d["result"])
        sim.rows = list(d["rows"])
        for f, pending in zip(sim.fields, d["fields_pending"]):
            f.pending = pending
        if sim.output is not None and "timeseries" in d:
            ts = sim.output.timeseries
            ts.columns = d["timeseries"]["columns"]
            ts.rows = [list(r) for r in d["timeseries"]["rows"]]
            sim.output.update(restarted_from_t_s=d["t"] * sim.time_scale,
                              restarted_from_step=res.steps)
        return d["t"], d["dt"], res


def _sum():
    from mpi4py import MPI
    return MPI.SUM
