"""A user's two-phase (core | shell) particle mesh for the sharp-interface model (``shrinking_core``
with ``geometry=mesh_file``): checked from the file's header before any PETSc work, then read.

File: a Gmsh ``.msh`` (format 2.2 or 4.1, ASCII or binary) with named physical groups
(:mod:`meshes.tags`; the ``mesh_file`` convention of :mod:`meshes.user`):

* 3D cell groups ``core`` (the initial core, phase alpha) and ``shell`` (or ``shell_0``, the shell,
  phase beta), no others;
* 2D facet groups ``interface`` (or ``interface_0``: the facets between core and shell) and
  ``surface`` (the particle surface, where the surface condition acts).

The file carries no unit: ``mesh_unit_m`` (metres per mesh unit) is required.  Like the generated
ellipsoid the core must be star-shaped about its centroid (a remesh resamples the interface along
rays from it, :func:`meshes.core_shell.star_shaped_resample`).

:func:`load` returns the mesh in units of the particle's volume-equivalent radius
R = (3 V / (4 pi))^(1/3) (the length scale of the nondimensional model), translated so that the core's
centroid is the origin (the remesher's and the core semi-axes' centre), with the aliases the Stefan
geometry uses (``shell_0``, ``interface_0``) and in ``metadata``: ``interface_edge`` (mean interface
edge length / R, the size a remesh keeps there), ``mesh_unit_m``, ``volume_equivalent_radius_m``,
``core_centroid_m``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from fem.errors import InputError
from meshes import tags as T
from meshes.tagged import entity_coordinates

# (name, dimension, accepted spellings)
REQUIRED = ((T.CORE, 3, (T.CORE,)), (T.SHELL, 3, (T.SHELL, T.shell(0))),
            (T.INTERFACE, 2, (T.INTERFACE, T.interface(0))), (T.SURFACE, 2, (T.SURFACE,)))


def inspect(path: str, unit_m: float, *, param: str = "mesh_file", unit_param: str = "mesh_unit_m") -> dict:
    """{group name (as in REQUIRED): the file's spelling} from the header alone; InputError (one line,
    naming ``param``, the file and the missing group) for a missing/unreadable file, another suffix, a
    missing group or one of the wrong dimension, other 3D groups, or no unit."""
    from meshes.io import msh_header
    p = Path(path)

    def bad(msg):
        return InputError(f"parameter '{param}' = {str(path)!r}: {msg}")
    if not p.is_file():
        raise bad("no such file")
    if p.suffix != ".msh":
        raise bad("a Gmsh .msh file with physical groups 'core', 'shell', 'interface', 'surface' is required")
    groups = msh_header(p, param=param)["groups"]
    dims = {n: d for d, _, n in groups}
    found = {}
    for name, dim, spellings in REQUIRED:
        have = [s for s in spellings if s in dims]
        if not have:
            raise bad(f"no physical group '{name}' ({dim}D; naming convention of meshes/tags.py, see "
                      f"meshes/stefan_user.py); the file has {sorted(dims) or 'no named groups'}")
        if dims[have[0]] != dim:
            raise bad(f"physical group '{have[0]}' has dimension {dims[have[0]]}, expected {dim}")
        found[name] = have[0]
    other = sorted(n for n, d in dims.items() if d == 3 and n not in found.values())
    if other:
        raise bad(f"3D physical groups {other}: a two-phase particle has only 'core' and 'shell'")
    if not unit_m:
        raise InputError(f"parameter '{unit_param}' is required for {str(path)!r}: a .msh file carries no unit; "
                         f"give metres per mesh unit (e.g. {unit_param}=1e-9 for nanometres)")
    return found


def load(path: str, unit_m: float, comm) -> "TaggedMesh":  # noqa: F821
    """The mesh of ``path`` (checked by :func:`inspect`) in units of R, core centroid at the origin
    (module docstring); ``length_scale`` = R [m].  Collective."""
    import dolfinx.fem
    import ufl
    from meshes.io import read
    found = inspect(path, unit_m)
    tm = read(path, comm)
    if tm.dim != 3:
        raise InputError(f"parameter 'mesh_file' = {str(path)!r}: a {tm.dim}D mesh; a 3D particle mesh is required")
    if found[T.SHELL] != T.shell(0):
        tm.cell_aliases[T.shell(0)] = (found[T.SHELL],)
    if found[T.INTERFACE] != T.interface(0):
        tm.facet_aliases[T.interface(0)] = (found[T.INTERFACE],)
    x = ufl.SpatialCoordinate(tm.mesh)

    def integral(expr, measure):
        return comm.allreduce(dolfinx.fem.assemble_scalar(dolfinx.fem.form(expr * measure)))
    one = dolfinx.fem.Constant(tm.mesh, 1.0)
    v_core = integral(one, tm.dx(T.CORE))
    v_all = integral(one, tm.dx())
    centroid = np.array([integral(x[i], tm.dx(T.CORE)) for i in range(3)]) / v_core
    # mean interface edge length (mesh units, each owned facet's three edges): the size a remesh keeps
    facets = tm.facets(T.interface(0))
    facets = facets[facets < tm.mesh.topology.index_map(2).size_local]
    xyz = entity_coordinates(tm.mesh, 2, facets)  # (n, 3, 3); none on a rank without interface facets
    lengths = np.linalg.norm(xyz - np.roll(xyz, 1, axis=1), axis=2)
    total, count = comm.allreduce(float(lengths.sum())), comm.allreduce(lengths.size)
    R = (3 * v_all * unit_m ** 3 / (4 * math.pi)) ** (1 / 3)
    if not 0 < R <= 1.0 or v_core <= 0:
        raise InputError(f"parameter 'mesh_file' = {str(path)!r}: volume {v_all * unit_m ** 3:.4g} m^3 (core "
                         f"{v_core * unit_m ** 3:.4g}); check the unit ({unit_m:g} m per mesh unit)")
    tm.mesh.geometry.x[:] = (tm.mesh.geometry.x - centroid) * (unit_m / R)
    tm.length_scale = R
    tm.metadata.update(mesh_file=str(path), mesh_unit_m=unit_m, volume_equivalent_radius_m=R,
                       core_centroid_m=(centroid * unit_m).tolist(),
                       interface_edge=total / max(count, 1) * unit_m / R)
    return tm
