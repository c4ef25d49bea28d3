"""Checkpoint and restart of a :class:`fem.simulation.Simulation`.

A checkpoint is the directory ``RUN/checkpoint/`` holding

* ``functions.npz``  every dolfinx Function the model lists in
  ``checkpoint_state()`` (BDF histories included) as a table over the cells of
  the *input* mesh: row = original (input) cell index, columns = the cell's dof
  values in reference order.  Every restart rebuilds the same input mesh from
  the same parameters, so the table can be read back on any partition and any
  number of ranks: each rank fills its dofs (ghosts included) from the rows of
  its cells.  Exact (float64 copies) for Lagrange/DG spaces of degree <= 2,
  blocked and mixed ones included (one dof per entity: no orientation issue);
* ``geometry.npz``  the coordinates of every Mesh the model lists (a moving
  ALE mesh), by input node index (also partition independent);
* ``state.pkl``  (rank 0) the model's Python values, the driver state (t, dt,
  step counts, totals, field-schedule counters, stage name) and the time-series
  rows so far;
* ``meta.json``  MPI size, time, step: written last.

It is written into a temporary directory and swapped in with renames, so the
newest *complete* checkpoint survives a ``kill -9`` at any moment (the previous
one is removed only after the new one is in place).

Why not adios4dolfinx's ``write_function_on_input_mesh``: it gives the same
N-to-M property, but its ``MPI_Dist_graph_create`` hung in 6 of 16 two-rank
runs on an oversubscribed node here (Open MPI 5); plain gathers do not.
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
        self.last = None  # (t, copy of the driver's result, stage) of the newest checkpoint this run wrote
        self._restored = False
        if restart:
            if not has_checkpoint(self.run_dir):
                raise InputError(f"{self.run_dir}: no complete checkpoint to restart from "
                                 f"(expected {self.dir}/meta.json)")
            self.meta = read_meta(self.run_dir)

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
        tables = {k: _gather_cell_table(f) for k, f in functions.items()}
        geometry = {k: _gather_geometry(m) for k, m in meshes.items()}
        if comm.rank == 0:
            with open(tmp / "functions.npz", "wb") as fh:
                np.savez(fh, **tables)
                fh.flush()
                os.fsync(fh.fileno())
            with open(tmp / "geometry.npz", "wb") as fh:
                np.savez(fh, **geometry)
                fh.flush()
                os.fsync(fh.fileno())
            output = sim.output
            driver = {"t": t, "dt": dt, "stage": sim.name, "result": dataclasses.asdict(res),
                      "rows": sim.rows,
                      "fields_pending": [f.pending for f in sim.fields]}
            if output is not None:
                ts = output.timeseries
                driver["timeseries"] = {"columns": ts.columns, "rows": ts.rows}
            with open(tmp / "state.pkl", "wb") as fh:
                pickle.dump({"model": values, "driver": driver, "functions": list(functions)}, fh)
                fh.flush()
                os.fsync(fh.fileno())
            meta = {"mpi_size": comm.size, "stage": sim.name, "t": t, "t_s": t * sim.time_scale,
                    "step": res.steps, "functions": list(functions), "meshes": list(meshes)}
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
        self.last = (t, dataclasses.replace(res, dts=list(res.dts)), sim.name)

    def holds(self, sim, t: float, steps: int) -> bool:
        """Whether the newest checkpoint this run wrote is of ``sim`` at step ``steps`` (time ``t``)."""
        return self.last is not None and self.last[1].steps == steps and self.last[0] == t \
            and self.last[2] == sim.name

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
        saved_names = set(self.meta.get("functions", []))
        if set(functions) != saved_names:
            raise InputError(f"{self.run_dir}: checkpoint holds fields {sorted(saved_names)}, the model "
                             f"{sorted(functions)}: not the same problem set-up")
        tables = np.load(self.dir / "functions.npz", mmap_mode="r")
        for key, f in functions.items():
            _scatter_cell_table(f, tables[key], key, self.run_dir)
        if meshes:
            geometry = np.load(self.dir / "geometry.npz")
            for key, m in meshes.items():
                _scatter_geometry(m, geometry[key], self.run_dir)
        state = None
        if comm.rank == 0:
            with open(self.dir / "state.pkl", "rb") as fh:
                state = pickle.load(fh)
        state = comm.bcast(state, root=0)
        full = dict(values)
        full.update(state["model"])
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
                              restarted_from_step=res.steps, restarted_from_mpi_size=self.meta["mpi_size"])
        return d["t"], d["dt"], res


def _cell_dofs(f):
    """(original cell index, local dof indices x block size) of every local cell (ghosts included)."""
    V = f.function_space
    mesh = V.mesh
    tdim = mesh.topology.dim
    imap = mesh.topology.index_map(tdim)
    n_cells = min(imap.size_local + imap.num_ghosts, len(mesh.topology.original_cell_index))
    original = np.asarray(mesh.topology.original_cell_index[:n_cells], dtype=np.int64)
    dofmap, bs = V.dofmap, V.dofmap.bs
    blocks = np.asarray(dofmap.list[:n_cells], dtype=np.int64)
    dofs = (blocks[:, :, None] * bs + np.arange(bs)[None, None, :]).reshape(n_cells, -1)
    return original, dofs, imap.size_local, imap.size_global


def _gather_cell_table(f) -> np.ndarray | None:
    """The function as a (global input cells x cell dofs) table, on rank 0."""
    original, dofs, n_owned, n_global = _cell_dofs(f)
    values = f.x.array[dofs[:n_owned]]
    parts = f.function_space.mesh.comm.gather((original[:n_owned], values), root=0)
    if parts is None:
        return None
    table = np.empty((n_global, dofs.shape[1]))
    for idx, vals in parts:
        table[idx] = vals
    return table


def _scatter_cell_table(f, table, key, run_dir) -> None:
    original, dofs, n_owned, n_global = _cell_dofs(f)
    if table.shape != (n_global, dofs.shape[1]):
        raise InputError(f"{run_dir}: checkpoint field {key!r} has shape {table.shape}, the rebuilt model "
                         f"{(n_global, dofs.shape[1])}: were mesh or discretisation parameters changed?")
    # owned cells cover every owned dof; ghost values then come from their owners
    f.x.array[dofs[:n_owned].ravel()] = np.asarray(table[original[:n_owned]]).ravel()
    f.x.scatter_forward()


def _gather_geometry(mesh) -> np.ndarray | None:
    """All node coordinates ordered by input node index (on rank 0)."""
    g = mesh.geometry
    n_owned = g.index_map().size_local
    idx = np.asarray(g.input_global_indices[:n_owned], dtype=np.int64)
    x = g.x[:n_owned]
    parts = mesh.comm.gather((idx, x), root=0)
    if mesh.comm.rank != 0:
        return None
    idx = np.concatenate([p[0] for p in parts])
    x = np.concatenate([p[1] for p in parts])
    out = np.empty((int(idx.max()) + 1, x.shape[1]))
    out[idx] = x
    return out


def _scatter_geometry(mesh, x_all: np.ndarray, run_dir) -> None:
    idx = np.asarray(mesh.geometry.input_global_indices, dtype=np.int64)
    if idx.size and idx.max() >= x_all.shape[0]:
        raise InputError(f"{run_dir}: checkpoint mesh has {x_all.shape[0]} nodes, the rebuilt one more: "
                         "were mesh parameters changed?")
    mesh.geometry.x[:] = x_all[idx]


def _sum():
    from mpi4py import MPI
    return MPI.SUM
