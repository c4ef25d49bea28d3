"""Gmsh model -> distributed DOLFINx mesh with named tags.

``dolfinx.io.gmshio.model_to_mesh`` returns integer tags only; the
name -> integer maps are kept here, next to the mesh, and travel with it.
Geometry is built in units of ``length_scale`` metres (nondimensional, which
also keeps OpenCASCADE's absolute tolerances meaningful for micrometre
particles); ``TaggedMesh.length_scale`` converts back to SI.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from mpi4py import MPI

from meshes import tags as T


@dataclass
class TaggedMesh:
    """A distributed mesh with named cell and facet groups.

    Attributes
    ----------
    mesh : dolfinx.mesh.Mesh, coordinates in units of ``length_scale``.
    cell_tags, facet_tags : dolfinx.mesh.MeshTags.
    cell_names, facet_names : name -> integer id of every physical group present.
    length_scale : metres per mesh unit.
    metadata : generator inputs, grain orientations, nominal volumes, ...
    cell_aliases, facet_aliases : name -> names of several groups (e.g. ``interface``
        = all ``interface_i`` of a multilayer, ``shell`` = all shells); ``dx``/``ds``/
        ``dS``/``cells``/``facets`` and ``*_id`` (then a tuple of ids) accept them.
    """

    mesh: Any
    cell_tags: Any
    facet_tags: Any
    cell_names: dict[str, int]
    facet_names: dict[str, int]
    length_scale: float = 1.0
    metadata: dict[str, Any] = field(default_factory=dict)
    cell_aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)
    facet_aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def comm(self):
        return self.mesh.comm

    @property
    def dim(self) -> int:
        return self.mesh.topology.dim

    def cell_id(self, name: str):
        """Integer id of a cell group (a tuple of ids for an alias)."""
        if name in self.cell_names:
            return self.cell_names[name]
        if name in self.cell_aliases:
            return tuple(self.cell_names[n] for n in self.cell_aliases[name])
        raise KeyError(f"mesh has no cell group {name!r}; it has "
                       f"{sorted(self.cell_names) + sorted(self.cell_aliases)}")

    def facet_id(self, name: str):
        """Integer id of a facet group (a tuple of ids for an alias)."""
        if name in self.facet_names:
            return self.facet_names[name]
        if name in self.facet_aliases:
            return tuple(self.facet_names[n] for n in self.facet_aliases[name])
        raise KeyError(f"mesh has no facet group {name!r}; it has "
                       f"{sorted(self.facet_names) + sorted(self.facet_aliases)}")

    def all_cell_names(self) -> list[str]:
        return list(self.cell_names) + list(self.cell_aliases)

    def all_facet_names(self) -> list[str]:
        return list(self.facet_names) + list(self.facet_aliases)

    def dx(self, name: str | None = None, **kw):
        """Cell measure, optionally restricted to a named cell group."""
        import ufl
        dx = ufl.Measure("dx", domain=self.mesh, subdomain_data=self.cell_tags, **kw)
        return dx if name is None else dx(self.cell_id(name))

    def ds(self, name: str | None = None, **kw):
        """Exterior facet measure, optionally restricted to a named facet group."""
        import ufl
        ds = ufl.Measure("ds", domain=self.mesh, subdomain_data=self.facet_tags, **kw)
        return ds if name is None else ds(self.facet_id(name))

    def dS(self, name: str | None = None, **kw):
        """Interior facet measure, optionally restricted to a named facet group."""
        import ufl
        dS = ufl.Measure("dS", domain=self.mesh, subdomain_data=self.facet_tags, **kw)
        return dS if name is None else dS(self.facet_id(name))

    def facets(self, name: str) -> np.ndarray:
        """Local indices of the facets of a named group (or alias)."""
        ids = np.atleast_1d(self.facet_id(name))
        return np.unique(np.concatenate([self.facet_tags.find(int(i)) for i in ids])).astype(np.int32)

    def cells(self, name: str) -> np.ndarray:
        """Local indices of the cells of a named group (or alias)."""
        ids = np.atleast_1d(self.cell_id(name))
        return np.unique(np.concatenate([self.cell_tags.find(int(i)) for i in ids])).astype(np.int32)


def from_gmsh(build: Callable[[], dict[str, Any]], comm=MPI.COMM_WORLD, *, gdim: int = 3,
              length_scale: float = 1.0, name: str = "solidion",
              gmsh_options: dict[str, float] | None = None, verbose: bool = False,
              retries: int = 0) -> TaggedMesh:
    """Run ``build`` on rank 0 inside an initialized Gmsh session and distribute the mesh.

    ``build()`` creates the geometry, physical groups and mesh in ``gmsh.model``
    and returns metadata; it must add physical groups with names from
    :mod:`meshes.tags` (via :func:`add_physical`).  Exceptions on rank 0 are
    re-raised on every rank (no hang).  ``retries`` > 0: a failing ``build`` (other
    than InputError) is called again in a fresh Gmsh session (it may count its calls
    to change e.g. the meshing algorithm).
    """
    import gmsh
    import dolfinx.io.gmshio
    import dolfinx.mesh

    metadata: dict[str, Any] = {}
    error = None
    initialized_here = False
    if comm.rank == 0:
        import time
        from fem.errors import InputError
        initialized_here = not gmsh.isInitialized()
        for attempt in range(retries + 1):
            if not gmsh.isInitialized():
                gmsh.initialize(readConfigFiles=False)
            gmsh.option.setNumber("General.Terminal", 1 if verbose else 0)
            gmsh.option.setNumber("General.NumThreads", 1)
            for k, v in (gmsh_options or {}).items():
                gmsh.option.setNumber(k, v)
            gmsh.model.add(name)
            t0 = time.perf_counter()
            try:
                metadata = build() or {}
                metadata["_gmsh_build_s"] = time.perf_counter() - t0
                cell_names, facet_names = _physical_names(gmsh.model, gdim_of_model=gmsh.model.getDimension())
                metadata["_names"] = (cell_names, facet_names)
                error = None
                break
            except InputError as e:
                error = e
                break
            except Exception as e:  # noqa: BLE001 - retried, else re-raised on every rank below
                error = e
                if attempt < retries and initialized_here:
                    gmsh.finalize()  # a failed Gmsh call may leave the session busy: start afresh
                elif attempt < retries:
                    gmsh.model.remove()
    error = comm.bcast(None if error is None else (type(error), str(error)), root=0)
    if error is not None:
        if comm.rank == 0:
            gmsh.model.remove()
            if initialized_here:
                gmsh.finalize()
        etype, msg = error
        raise etype(msg) if issubclass(etype, Exception) else RuntimeError(msg)
    tdim = comm.bcast(gmsh.model.getDimension() if comm.rank == 0 else None, root=0)
    import time
    t1 = time.perf_counter()
    if comm.rank == 0 and _MSH_OUT:
        gmsh.option.setNumber("Mesh.MshFileVersion", 4.1)
        gmsh.option.setNumber("Mesh.SaveAll", 0)
        gmsh.write(str(_MSH_OUT[-1]))
    # shared-facet ghosting: interior-facet integrals (interfaces, grain boundaries) work in parallel
    partitioner = dolfinx.mesh.create_cell_partitioner(dolfinx.mesh.GhostMode.shared_facet)
    mesh, cell_tags, facet_tags = dolfinx.io.gmshio.model_to_mesh(gmsh.model, comm, 0, gdim=gdim,
                                                                  partitioner=partitioner)
    if comm.rank == 0:
        gmsh.model.remove()
        if initialized_here:
            gmsh.finalize()
    metadata = comm.bcast(metadata, root=0)
    LAST_TIMINGS.clear()
    LAST_TIMINGS.update(gmsh_build_s=metadata.pop("_gmsh_build_s", 0.0),
                        distribute_s=comm.allreduce(time.perf_counter() - t1, op=MPI.MAX))
    cell_names, facet_names = metadata.pop("_names")
    aliases = metadata.pop("_aliases", {})
    mesh.topology.create_connectivity(tdim - 1, tdim)
    mesh.name = name
    cell_tags.name = f"{name}_cells"
    facet_tags.name = f"{name}_facets"
    return TaggedMesh(mesh, cell_tags, facet_tags, cell_names, facet_names, length_scale, metadata,
                      cell_aliases=dict(aliases.get("cells", {})),
                      facet_aliases=dict(aliases.get("facets", {})))


_MSH_OUT: list[str] = []
LAST_TIMINGS: dict[str, float] = {}  # wall times of the last from_gmsh call (build on rank 0, distribute)


class save_msh:
    """Context manager: every mesh built by :func:`from_gmsh` inside it is also written
    (rank 0, Gmsh model with physical groups) to ``path`` (.msh, format 4.1).

        with save_msh("results/p.msh"):
            tm = polycrystal(...)
    """

    def __init__(self, path):
        self.path = str(path)

    def __enter__(self):
        _MSH_OUT.append(self.path)
        return self

    def __exit__(self, *exc):
        _MSH_OUT.pop()
        return False


def entity_coordinates(mesh, dim: int, entities) -> np.ndarray:
    """Coordinates (n, nodes per entity, gdim) of the geometry nodes of the local mesh entities
    ``entities`` of dimension ``dim`` (affine simplices: dim + 1 nodes each).  An empty list gives an
    empty (0, dim + 1, gdim) array: DOLFINx 0.9's entities_to_geometry divides by zero on it (SIGFPE),
    which happens on a rank that holds none of a small facet group (a shrinking core's interface)."""
    import dolfinx.mesh
    entities = np.asarray(entities, dtype=np.int32)
    gdim = mesh.geometry.dim
    if entities.size == 0:
        return np.empty((0, dim + 1, gdim))
    return mesh.geometry.x[dolfinx.mesh.entities_to_geometry(mesh, dim, entities, False)][:, :, :gdim]


def add_physical(dim: int, entities, name: str, *, cell: bool) -> int:
    """Add a Gmsh physical group with the solidion id of ``name``."""
    import gmsh
    tag = T.cell_id(name) if cell else T.facet_id(name)
    gmsh.model.addPhysicalGroup(dim, list(entities), tag=tag, name=name)
    return tag


def _physical_names(model, gdim_of_model: int):
    cells, facets = {}, {}
    for dim, tag in model.getPhysicalGroups():
        nm = model.getPhysicalName(dim, tag)
        if dim == gdim_of_model:
            cells[nm] = tag
        elif dim == gdim_of_model - 1:
            facets[nm] = tag
    return cells, facets
