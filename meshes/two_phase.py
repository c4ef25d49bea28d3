"""Native (non-Gmsh) meshes of two-phase particles with a sharp, interface-conforming phase boundary.

* :func:`radial_core_shell` -- the radius [0, 1] of the unit ball (1D spherically
  symmetric models): ``core`` [0, r_c], ``shell_0`` [r_c, 1]; vertices ``symmetry``
  (r = 0), ``interface_0`` (r = r_c), ``surface`` (r = 1).
* :func:`two_phase_slab` -- the planar slab [0, L] x [0, W]^(dim-1): ``phase_alpha``
  for x < s, ``phase_beta`` for x > s; facets ``contact_left`` (x = 0), ``surface``
  (x = L), ``interface`` (x = s), ``lateral`` (2D/3D).  In 2D/3D a structured
  simplex grid mapped piecewise linearly so that a grid plane lies on x = s.

Coordinates in units of ``length_scale`` metres (the shrinking core uses the
particle radius).  The 2D axisymmetric and 3D core-shell balls come from
:func:`meshes.core_shell.core_shell`.
"""

from __future__ import annotations

import math

import numpy as np

from meshes import tags as T
from meshes._common import interval_mesh
from meshes.tagged import TaggedMesh


def tag_by_markers(mesh, cell_markers, facet_markers, cell_id, facet_id, length_scale: float,
                   metadata: dict | None = None, name: str | None = None) -> TaggedMesh:
    """TaggedMesh of a native dolfinx ``mesh`` from marker functions: ``cell_markers`` and
    ``facet_markers`` are (name, marker) with ``marker(X) -> bool array`` as for
    ``dolfinx.mesh.locate_entities``; an entity matched by several groups keeps the first."""
    import dolfinx.mesh

    tdim = mesh.topology.dim
    mesh.topology.create_connectivity(tdim - 1, tdim)

    def tags(dim, markers, ids):
        idx, val, names = [], [], {}
        for nm, marker in markers:
            ent = dolfinx.mesh.locate_entities(mesh, dim, marker)
            idx.append(ent)
            val.append(np.full(len(ent), ids(nm), dtype=np.int32))
            names[nm] = ids(nm)
        idx = np.concatenate(idx) if idx else np.empty(0, np.int32)
        val = np.concatenate(val) if val else np.empty(0, np.int32)
        order = np.argsort(idx, kind="stable")
        idx, first = np.unique(idx[order], return_index=True)
        return dolfinx.mesh.meshtags(mesh, dim, idx.astype(np.int32), val[order][first]), names

    cell_tags, cell_names = tags(tdim, cell_markers, cell_id)
    facet_tags, facet_names = tags(tdim - 1, facet_markers, facet_id)
    if name:
        mesh.name = name
        cell_tags.name = f"{name}_cells"
        facet_tags.name = f"{name}_facets"
    return TaggedMesh(mesh, cell_tags, facet_tags, cell_names, facet_names, length_scale, metadata or {})


def _cells_per_phase(length: float, h: float) -> int:
    return max(2, math.ceil(length / h))


def radial_core_shell(core_radius: float, h: float, comm, length_scale: float = 1.0,
                      h_shell: float | None = None) -> TaggedMesh:
    """1D radial mesh of the unit ball's radius: core [0, r_c], shell_0 [r_c, 1], uniform
    cells of size <= ``h`` in the core and <= ``h_shell`` (default ``h``) in the shell (at
    least two per phase)."""
    n_c = _cells_per_phase(core_radius, h)
    n_s = _cells_per_phase(1 - core_radius, h if h_shell is None else h_shell)
    nodes = np.concatenate([np.linspace(0, core_radius, n_c + 1), np.linspace(core_radius, 1, n_s + 1)[1:]])
    meta = {"kind": "radial_core_shell", "core_radius": core_radius, "h": h, "h_shell": h_shell}
    return interval_mesh(nodes, comm, [(T.CORE, 0, core_radius), (T.shell(0), core_radius, 1)],
                         [(T.SYMMETRY, 0), (T.interface(0), core_radius), (T.SURFACE, 1)],
                         T.cell_id, T.facet_id, length_scale, meta, name="radial_core_shell")


def two_phase_slab(dim: int, thickness: float, interface_at: float, h: float, comm,
                   length_scale: float = 1.0, width: float | None = None) -> TaggedMesh:
    """Planar slab [0, L] x [0, W]^(dim-1) (W = ``width``, default 2 h): alpha for x < s,
    beta for x > s (see the module docstring)."""
    import dolfinx.mesh

    L, s = thickness, interface_at
    n_a = _cells_per_phase(s, h)
    n_b = _cells_per_phase(L - s, h)
    meta = {"kind": "two_phase_slab", "dim": dim, "thickness": L, "interface_at": s, "h": h}
    if dim == 1:
        nodes = np.concatenate([np.linspace(0, s, n_a + 1), np.linspace(s, L, n_b + 1)[1:]])
        return interval_mesh(nodes, comm, [(T.PHASE_ALPHA, 0, s), (T.PHASE_BETA, s, L)],
                             [(T.CONTACT_LEFT, 0), (T.INTERFACE, s), (T.SURFACE, L)],
                             T.cell_id, T.facet_id, length_scale, meta, name="two_phase_slab")
    eps = 1e-9 * L
    W = width if width is not None else 2 * h
    meta["width"] = W
    nw = max(1, round(W / h))
    n = n_a + n_b
    if dim == 2:
        mesh = dolfinx.mesh.create_rectangle(comm, [[0, 0], [1, W]], [n, nw], dolfinx.mesh.CellType.triangle)
    else:
        mesh = dolfinx.mesh.create_box(comm, [[0, 0, 0], [1, W, W]], [n, nw, nw],
                                       dolfinx.mesh.CellType.tetrahedron)
    x = mesh.geometry.x
    xi = x[:, 0] * n
    x[:, 0] = np.where(xi <= n_a, xi / n_a * s, s + (xi - n_a) / n_b * (L - s))

    def lateral(X):
        hit = (np.abs(X[1]) < eps) | (np.abs(X[1] - W) < eps)
        if dim == 3:
            hit |= (np.abs(X[2]) < eps) | (np.abs(X[2] - W) < eps)
        return hit

    return tag_by_markers(
        mesh, [(T.PHASE_ALPHA, lambda X: X[0] <= s + eps), (T.PHASE_BETA, lambda X: X[0] >= s - eps)],
        [(T.CONTACT_LEFT, lambda X: np.abs(X[0]) < eps), (T.SURFACE, lambda X: np.abs(X[0] - L) < eps),
         (T.INTERFACE, lambda X: np.abs(X[0] - s) < eps), (T.LATERAL, lateral)],
        T.cell_id, T.facet_id, length_scale, meta, name="two_phase_slab")
