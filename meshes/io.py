"""Write and read tagged meshes (.msh, XDMF) and their statistics.

A mesh is generated once and read in parallel later:

* ``FILE.xdmf`` (+ ``FILE.h5``): mesh, cell tags and facet tags (DOLFINx XDMF),
  written and read collectively on any number of ranks;
* ``FILE.msh``: the Gmsh model with its physical groups (written by rank 0 during
  generation, see :func:`generate`), read with ``dolfinx.io.gmshio.read_from_msh``;
* ``FILE.json`` beside either (``FILE.xdmf.json``/``FILE.msh.json``): names of the
  groups, aliases, length scale, generator metadata (orientations, nominal
  volumes, ...) and the statistics of :func:`statistics` (cells, vertices,
  min/mean element quality, size range, total volume, measure of every named
  group, in mesh units and SI).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
from mpi4py import MPI

from fem.errors import InputError
from meshes._common import facet_measure, measure
from meshes.tagged import TaggedMesh, save_msh

SUFFIXES = (".xdmf", ".msh")


def sidecar(path: str | Path) -> Path:
    return Path(str(path) + ".json")


# --- statistics -----------------------------------------------------------------------------

def cell_quality(tm: TaggedMesh) -> np.ndarray:
    """Shape quality in (0, 1] of the local cells (1 = equilateral) from the corner vertices:
    triangles 4 sqrt(3) A / sum l^2, tetrahedra 12 (3 V)^(2/3) / sum l^2 (mean ratio),
    intervals 1."""
    mesh = tm.mesh
    tdim = mesh.topology.dim
    n = mesh.topology.index_map(tdim).size_local
    if tdim == 1:
        return np.ones(n)
    nv = tdim + 1
    x = mesh.geometry.x[mesh.geometry.dofmap[:n, :nv]]  # (n, nv, 3): corners first (basix ordering)
    pairs = [(i, j) for i in range(nv) for j in range(i + 1, nv)]
    l2 = sum(np.sum((x[:, i] - x[:, j]) ** 2, axis=1) for i, j in pairs)
    if tdim == 2:
        area = 0.5 * np.linalg.norm(np.cross(x[:, 1] - x[:, 0], x[:, 2] - x[:, 0]), axis=1)
        return 4 * math.sqrt(3) * area / l2
    vol = np.abs(np.einsum("ij,ij->i", x[:, 1] - x[:, 0], np.cross(x[:, 2] - x[:, 0], x[:, 3] - x[:, 0]))) / 6
    return 12 * (3 * vol) ** (2 / 3) / l2


def statistics(tm: TaggedMesh) -> dict[str, Any]:
    """Global statistics (collective)."""
    import dolfinx.cpp.mesh
    comm, mesh = tm.comm, tm.mesh
    tdim = mesh.topology.dim
    n = mesh.topology.index_map(tdim).size_local
    q = cell_quality(tm)
    hs = dolfinx.cpp.mesh.h(mesh._cpp_object, tdim, np.arange(n, dtype=np.int32)) if n else np.empty(0)
    L = tm.length_scale
    big = np.finfo(float).max
    qmin = comm.allreduce(float(q.min()) if n else big, op=MPI.MIN)
    qsum = comm.allreduce(float(q.sum()), op=MPI.SUM)
    hmin = comm.allreduce(float(hs.min()) if n else big, op=MPI.MIN)
    hmax = comm.allreduce(float(hs.max()) if n else 0.0, op=MPI.MAX)
    ncells = mesh.topology.index_map(tdim).size_global
    volume = measure(tm)
    groups = {}
    for nm in tm.all_cell_names():
        v = measure(tm, nm)
        groups[nm] = {"kind": "cells", "measure": v, "measure_si": v * L ** tdim,
                      "cells": int(comm.allreduce(int(np.sum(tm.cells(nm) < n)), op=MPI.SUM))}
    for nm in tm.all_facet_names():
        a = facet_measure(tm, nm)
        groups[nm] = {"kind": "facets", "measure": a, "measure_si": a * L ** (tdim - 1)}
    return {"dim": tdim, "cells": int(ncells), "vertices": int(mesh.topology.index_map(0).size_global),
            "geometry_nodes": int(mesh.geometry.index_map().size_global),
            "geometry_order": int(mesh.geometry.cmap.degree),
            "quality_min": qmin, "quality_mean": qsum / max(ncells, 1),
            "h_min": hmin, "h_max": hmax, "h_min_m": hmin * L, "h_max_m": hmax * L,
            "volume": volume, "volume_si": volume * L ** tdim, "length_scale_m": L,
            "groups": groups, "mpi_size": comm.size}


def _jsonable(o):
    if isinstance(o, dict):
        return {str(k): _jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_jsonable(v) for v in o]
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    return o


def describe(tm: TaggedMesh) -> dict[str, Any]:
    """Everything needed to rebuild a TaggedMesh around a mesh read from file."""
    return {"name": tm.mesh.name, "cell_names": tm.cell_names, "facet_names": tm.facet_names,
            "cell_aliases": tm.cell_aliases, "facet_aliases": tm.facet_aliases,
            "length_scale": tm.length_scale, "metadata": _jsonable(tm.metadata)}


def write_json(tm: TaggedMesh, path: str | Path, extra: dict | None = None) -> dict:
    """Write ``path.json`` (statistics + names + metadata) on rank 0; returns the dict."""
    info = {**describe(tm), "statistics": statistics(tm), **(extra or {})}
    if tm.comm.rank == 0:
        p = sidecar(path)
        tmp = p.with_suffix(p.suffix + ".tmp")
        tmp.write_text(json.dumps(_jsonable(info), indent=1))
        tmp.replace(p)
    tm.comm.barrier()
    return info


# --- write / read ---------------------------------------------------------------------------

def write_xdmf(tm: TaggedMesh, path: str | Path) -> None:
    """Mesh + cell tags + facet tags to ``path`` (.xdmf + .h5), collective."""
    import dolfinx.io
    tdim = tm.dim
    tm.mesh.topology.create_connectivity(tdim - 1, tdim)
    with dolfinx.io.XDMFFile(tm.comm, str(path), "w") as f:
        f.write_mesh(tm.mesh)
        f.write_meshtags(tm.cell_tags, tm.mesh.geometry)
        f.write_meshtags(tm.facet_tags, tm.mesh.geometry)


def generate(kind: str, path: str | Path | None = None, comm=MPI.COMM_WORLD, **params) -> TaggedMesh:
    """Build mesh ``kind`` (see :mod:`meshes.registry`) and, if ``path`` is given, write it
    (.xdmf or .msh) with its ``path.json``."""
    from meshes.registry import GENERATORS
    if kind not in GENERATORS:
        raise InputError(f"mesh kind {kind!r} is not known; allowed: {', '.join(sorted(GENERATORS))}")
    if path is None:
        return GENERATORS[kind](comm=comm, **params)
    path = Path(path)
    if path.suffix not in SUFFIXES:
        raise InputError(f"parameter 'out' = {str(path)!r}: the suffix must be one of {', '.join(SUFFIXES)}")
    check_output_path(path, comm)
    import time
    t0 = time.perf_counter()
    if path.suffix == ".msh":
        if kind == "bilayer" and params.get("dim", 1) == 1:
            raise InputError("1D bilayers are built without Gmsh; write them as .xdmf")
        with save_msh(path):
            tm = GENERATORS[kind](comm=comm, **params)
    else:
        tm = GENERATORS[kind](comm=comm, **params)
        write_xdmf(tm, path)
    wall = comm.allreduce(time.perf_counter() - t0, op=MPI.MAX)
    write_json(tm, path, extra={"kind": kind, "parameters": _jsonable(params), "generate_and_write_s": wall})
    return tm


def _output_problem(path: Path) -> str | None:
    """Why ``path`` (and its .h5/.json companions) cannot be written, or None."""
    import os
    if path.is_dir():
        return f"--out {str(path)!r}: is a directory; give a FILE.xdmf or FILE.msh"
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        return f"--out {str(path)!r}: cannot create the directory {str(parent)!r} ({e.strerror or e})"
    companions = [path, sidecar(path)] + ([path.with_suffix(".h5")] if path.suffix == ".xdmf" else [])
    for f in companions:
        if f.is_dir() or (f.exists() and not os.access(f, os.W_OK)):
            return f"--out {str(path)!r}: {str(f)!r} exists and is not a writable file"
    probe = parent / f".{path.name}.{os.getpid()}.probe"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        return f"--out {str(path)!r}: the directory {str(parent)!r} is not writable ({e.strerror or e})"
    return None


def check_output_path(path: str | Path, comm=MPI.COMM_WORLD) -> None:
    """InputError (on every rank) unless ``path`` can be written (its directory is created)."""
    error = _output_problem(Path(path)) if comm.rank == 0 else None
    error = comm.bcast(error, root=0)
    if error:
        raise InputError(error)


def read(path: str | Path, comm=MPI.COMM_WORLD) -> TaggedMesh:
    """Read a mesh written by :func:`generate` / :func:`write_xdmf` (+ its .json), distributed
    over ``comm``."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"mesh file {str(path)!r} does not exist")
    info = json.loads(sidecar(path).read_text()) if sidecar(path).exists() else None
    if path.suffix == ".xdmf":
        import dolfinx.io
        import dolfinx.mesh
        name = info["name"] if info else "mesh"
        with dolfinx.io.XDMFFile(comm, str(path), "r") as f:
            mesh = f.read_mesh(name=name, ghost_mode=dolfinx.mesh.GhostMode.shared_facet)
            tdim = mesh.topology.dim
            mesh.topology.create_connectivity(tdim - 1, tdim)
            cell_tags = f.read_meshtags(mesh, name=f"{name}_cells")
            facet_tags = f.read_meshtags(mesh, name=f"{name}_facets")
    elif path.suffix == ".msh":
        mesh, cell_tags, facet_tags = _read_msh(path, comm, info["statistics"]["dim"] if info else 3)
        tdim = mesh.topology.dim
        mesh.topology.create_connectivity(tdim - 1, tdim)
        if info is None:
            info = {"name": "mesh", **_names_from_msh(path, comm), "length_scale": 1.0, "metadata": {}}
    else:
        raise InputError(f"mesh file {str(path)!r}: the suffix must be one of {', '.join(SUFFIXES)}")
    if info is None:
        raise InputError(f"mesh file {str(path)!r} has no {sidecar(path).name} with its group names")
    return TaggedMesh(mesh, cell_tags, facet_tags, dict(info["cell_names"]), dict(info["facet_names"]),
                      float(info["length_scale"]), info.get("metadata", {}),
                      cell_aliases={k: tuple(v) for k, v in info.get("cell_aliases", {}).items()},
                      facet_aliases={k: tuple(v) for k, v in info.get("facet_aliases", {}).items()})


def _read_msh(path: Path, comm, gdim: int):
    """``dolfinx.io.gmshio.read_from_msh`` without Gmsh's terminal output."""
    import gmsh
    import dolfinx.io.gmshio
    import dolfinx.mesh
    partitioner = dolfinx.mesh.create_cell_partitioner(dolfinx.mesh.GhostMode.shared_facet)
    init = comm.rank == 0 and not gmsh.isInitialized()
    if comm.rank == 0:
        if init:
            gmsh.initialize(readConfigFiles=False)
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.add("mesh_file")
        gmsh.merge(str(path))
    try:
        return dolfinx.io.gmshio.model_to_mesh(gmsh.model, comm, 0, gdim=gdim, partitioner=partitioner)
    finally:
        if comm.rank == 0:
            gmsh.model.remove()
            if init:
                gmsh.finalize()


def msh_header(path: str | Path, *, param: str = "mesh_file") -> dict:
    """Format version and physical groups of a Gmsh ``.msh`` file (2.2 or 4.1, ASCII or
    binary) from its ``$MeshFormat`` and ``$PhysicalNames`` sections alone (the file is
    read only up to ``$EndPhysicalNames``; no Gmsh, no MPI): ``{"version": "4.1",
    "binary": bool, "groups": [(dim, tag, name), ...]}``.  InputError naming ``param``
    if the file is not a .msh file."""
    path = Path(path)

    def bad(msg):
        return InputError(f"parameter '{param}' = {str(path)!r}: {msg}")

    try:
        with open(path, "rb") as f:
            data = b""
            while b"$EndPhysicalNames" not in data:
                chunk = f.read(1 << 20)
                if not chunk:
                    break
                data += chunk
                start = data.find(b"$PhysicalNames")
                if (start < 0 and (b"$Nodes" in data or b"$Entities" in data)) or len(data) > (64 << 20):
                    break
    except OSError as e:
        raise bad(f"not readable ({e.strerror or e})") from None
    if not data.startswith(b"$MeshFormat"):
        raise bad("not a Gmsh .msh file (no $MeshFormat header)")
    head = data.split(b"\n", 2)[1].split() if data.count(b"\n") >= 2 else []
    if len(head) < 2 or not head[0][:1] in (b"2", b"4"):
        raise bad("unsupported .msh format (Gmsh 2.2 or 4.1 expected)")
    groups = []
    start, end = data.find(b"$PhysicalNames"), data.find(b"$EndPhysicalNames")
    if 0 <= start < end:
        lines = data[start:end].decode("utf-8", errors="replace").splitlines()[2:]
        for line in lines:
            m = re.match(r'\s*(\d+)\s+(-?\d+)\s+"(.*)"\s*$', line)
            if m:
                groups.append((int(m.group(1)), int(m.group(2)), m.group(3)))
    return {"version": head[0].decode(), "binary": head[1] == b"1", "groups": groups}


def _names_from_msh(path, comm) -> dict:
    """Cell groups (the highest dimension) and facet groups (one below) of a .msh file."""
    groups = msh_header(path)["groups"] if comm.rank == 0 else None
    groups = comm.bcast(groups, root=0)
    top = max((d for d, _, _ in groups), default=0)
    return {"cell_names": {n: t for d, t, n in groups if d == top},
            "facet_names": {n: t for d, t, n in groups if d == top - 1}}
