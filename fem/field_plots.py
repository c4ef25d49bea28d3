"""Plots of scalar P1 fields: the whole 2D field, or a planar section of a 3D one.

Collective (every rank calls); rank 0 writes the PNG through ``out.figure``.
"""

from __future__ import annotations

import numpy as np
from mpi4py import MPI

import dolfinx.fem


def gather_dofs(V, values, comm):
    """(coordinates, values) of the owned dofs of a scalar P1 space, gathered on rank 0."""
    n = V.dofmap.index_map.size_local
    X = V.tabulate_dof_coordinates()[:n]
    parts = comm.gather((X, np.asarray(values)[:n]), root=0)
    if comm.rank != 0:
        return None, None
    return np.vstack([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def section_values(V, values, axis="z", n=160):
    """Values of a P1 field on a regular n x n grid in the plane ``axis`` = 0 (NaN outside
    the mesh), on every rank (collective)."""
    import dolfinx.geometry
    mesh = V.mesh
    ax_id = "xyz".index(axis)
    others = [i for i in range(3) if i != ax_id]
    x = mesh.geometry.x
    lo = np.array([mesh.comm.allreduce(float(x[:, i].min()), op=MPI.MIN) for i in others])
    hi = np.array([mesh.comm.allreduce(float(x[:, i].max()), op=MPI.MAX) for i in others])
    g0, g1 = np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n)
    G0, G1 = np.meshgrid(g0, g1, indexing="xy")
    pts = np.zeros((n * n, 3))
    pts[:, others[0]], pts[:, others[1]] = G0.ravel(), G1.ravel()
    f = dolfinx.fem.Function(V)
    f.x.array[:] = values
    f.x.scatter_forward()
    tree = dolfinx.geometry.bb_tree(mesh, mesh.topology.dim)
    coll = dolfinx.geometry.compute_colliding_cells(
        mesh, dolfinx.geometry.compute_collisions_points(tree, pts), pts)
    nlocal = mesh.topology.index_map(mesh.topology.dim).size_local
    vals = np.full(n * n, -np.inf)
    idx, cells = [], []
    for i in range(n * n):
        c = coll.links(i)
        c = c[c < nlocal]
        if len(c):
            idx.append(i)
            cells.append(c[0])
    if idx:
        vals[idx] = f.eval(pts[idx], np.array(cells, dtype=np.int32))[:, 0]
    mesh.comm.Allreduce(MPI.IN_PLACE, vals, op=MPI.MAX)
    vals[~np.isfinite(vals)] = np.nan
    return G0, G1, vals.reshape(n, n)


def plot_section(out, name, V, values, comm, *, length_scale=1.0, unit="", title="",
                 section_axis=None, vmin=None, vmax=None, label="c / c_max"):
    """PNG of a scalar P1 field: 2D, the whole field (triangulated dofs); 3D, the plane
    ``section_axis`` = 0 sampled on a regular grid by point evaluation."""
    if V.mesh.geometry.dim == 3 and section_axis is not None:
        G0, G1, vals = section_values(V, values, section_axis)
        with out.figure(name) as (fig, ax):
            if fig is None:
                return
            cs = ax.pcolormesh(G0 * length_scale, G1 * length_scale, np.ma.masked_invalid(vals),
                               cmap="RdBu_r", vmin=vmin, vmax=vmax, shading="auto")
            fig.colorbar(cs, ax=ax, label=label)
            ax.set_aspect("equal")
            o = [a for a in "xyz" if a != section_axis]
            ax.set_xlabel(f"{o[0]} {unit}")
            ax.set_ylabel(f"{o[1]} {unit}")
            if title:
                ax.set_title(title)
        return
    X, v = gather_dofs(V, values, comm)
    with out.figure(name) as (fig, ax):
        if fig is None:
            return
        X = X[:, :2] * length_scale
        import matplotlib.tri as mtri
        tri = mtri.Triangulation(X[:, 0], X[:, 1])
        cs = ax.tricontourf(tri, v, levels=32, cmap="RdBu_r", vmin=vmin, vmax=vmax)
        fig.colorbar(cs, ax=ax, label=label)
        ax.set_aspect("equal")
        ax.set_xlabel(f"x {unit}")
        ax.set_ylabel(f"y {unit}")
        if title:
            ax.set_title(title)
