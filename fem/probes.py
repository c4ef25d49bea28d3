"""Point evaluation of functions, collective over the mesh communicator."""

from __future__ import annotations

import numpy as np
from mpi4py import MPI

import dolfinx.geometry


class PointProbe:
    """Values of functions at fixed points (in mesh coordinates), on every rank."""

    def __init__(self, mesh, points, tree=None):
        pts = np.zeros((len(points), 3))
        p = np.asarray(points, dtype=float)
        pts[:, : p.shape[1]] = p
        self.mesh, self.points = mesh, pts
        if tree is None:  # pass a cached tree when probing moving points often
            tree = dolfinx.geometry.bb_tree(mesh, mesh.topology.dim)
        candidates = dolfinx.geometry.compute_collisions_points(tree, pts)
        colliding = dolfinx.geometry.compute_colliding_cells(mesh, candidates, pts)
        owned = []
        nlocal = mesh.topology.index_map(mesh.topology.dim).size_local
        for i in range(len(pts)):
            cells = colliding.links(i)
            cells = cells[cells < nlocal]
            owned.append(int(cells[0]) if len(cells) else -1)
        # one owner per point: the lowest rank that has it
        has = np.array([c >= 0 for c in owned], dtype=bool)
        ranks = np.where(has, mesh.comm.rank, mesh.comm.size).astype(np.int32)
        owner = np.empty_like(ranks)
        mesh.comm.Allreduce(ranks, owner, op=MPI.MIN)
        if np.any(owner == mesh.comm.size):
            missing = np.where(owner == mesh.comm.size)[0]
            raise ValueError(f"probe points {pts[missing].tolist()} are outside the mesh")
        self.local = [(i, owned[i]) for i in range(len(pts)) if owner[i] == mesh.comm.rank]

    def __call__(self, u) -> np.ndarray:
        vs = u.function_space.value_size if hasattr(u.function_space, "value_size") else 1
        vals = np.zeros((len(self.points), vs))
        for i, cell in self.local:
            vals[i] = u.eval(self.points[i], np.array([cell], dtype=np.int32))
        self.mesh.comm.Allreduce(MPI.IN_PLACE, vals, op=MPI.SUM)
        return vals[:, 0] if vs == 1 else vals
