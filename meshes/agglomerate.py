"""Agglomerate of N overlapping primary particles fused into one body.

Primary radii follow a log-normal distribution (median ``radius_m``, log
standard deviation ``radius_sigma``; 0 = monodisperse), drawn from ``seed``.
Particles are placed one by one: particle k touches a randomly chosen earlier
particle j with centre distance (1 - overlap) (r_j + r_k) in a random direction,
and is redrawn if it would overlap any other particle by more than that
(random sequential growth, a compact cluster).  ``shape="ellipsoid"`` scales
each primary by random semi-axis ratios in [1 - aspect_spread, 1] and rotates it.

All primaries are fragmented into one conforming body; a region covered by
several primaries belongs to the lowest-numbered one.

Tags
----
cells  : ``primary_i`` (tags.primary(i)) for every primary; alias ``particle`` = all.
facets : ``surface`` (outer surface of the agglomerate), ``grain_boundary``
         (internal surfaces between primaries; the necks).
Metadata: ``centres``, ``radii`` (mesh units), ``nominal_volumes`` (union volume is
not known in closed form; sum of primary volumes is given as ``sum_primary_volume``).
"""

from __future__ import annotations

import math

import numpy as np
from mpi4py import MPI

from fem.errors import InputError
from meshes import tags as T
from meshes._common import (aliases, generate, require_choice, require_int, require_order,
                            require_positive, require_relative_size, size_field)
from meshes.tagged import TaggedMesh, add_physical, from_gmsh


def place_primaries(n: int, radii: np.ndarray, overlap: float, rng) -> np.ndarray:
    """Centres of ``n`` spheres: each touches (with ``overlap``) a random earlier one."""
    centres = [np.zeros(3)]
    for k in range(1, n):
        for attempt in range(10000):
            j = int(rng.integers(0, k))
            u = rng.normal(size=3)
            u /= np.linalg.norm(u)
            c = centres[j] + (1 - overlap) * (radii[j] + radii[k]) * u
            d = np.linalg.norm(np.asarray(centres) - c, axis=1)
            if np.all(d >= (1 - overlap) * (radii[:k] + radii[k]) - 1e-12):
                centres.append(c)
                break
        else:
            raise InputError(f"agglomerate: could not place primary {k}; lower 'overlap' or 'n_particles'")
    return np.array(centres)


def agglomerate(n_particles: int, radius_m: float, seed: int = 0, h: float = 0.3, *,
                radius_sigma: float = 0.2, overlap: float = 0.25, shape: str = "sphere",
                aspect_spread: float = 0.3, h_interface: float | None = None, order: int = 1,
                comm=MPI.COMM_WORLD, length_scale: float | None = None,
                verbose: bool = False) -> TaggedMesh:
    """Agglomerate; see the module docstring.  ``h``/``h_interface`` are relative to the
    median primary radius (mesh units = ``length_scale``, default that radius)."""
    n = require_int("n_particles", n_particles, 1, 500)
    R_m = require_positive("radius_m", radius_m, "m")
    seed = require_int("seed", seed, 0)
    h = require_relative_size("h", h)
    if h_interface is not None:
        h_interface = require_relative_size("h_interface", h_interface)
    order = require_order(order)
    require_choice("shape", shape, ("sphere", "ellipsoid"))
    if not 0 <= radius_sigma <= 1:
        raise InputError(f"parameter 'radius_sigma' = {radius_sigma!r} is out of range; allowed: [0, 1]")
    if not 0.02 <= overlap <= 0.6:
        raise InputError(f"parameter 'overlap' = {overlap!r} is out of range; allowed: [0.02, 0.6] "
                         "(fraction of the sum of radii; 0 = point contact is not meshable)")
    if not 0 <= aspect_spread < 0.8:
        raise InputError(f"parameter 'aspect_spread' = {aspect_spread!r} is out of range; allowed: [0, 0.8)")
    L = require_positive("length_scale", length_scale, "m") if length_scale is not None else R_m
    rng = np.random.default_rng(seed)
    radii = (R_m / L) * np.exp(radius_sigma * rng.normal(size=n))
    if shape == "ellipsoid":
        from scipy.spatial.transform import Rotation
        ratios = 1 - aspect_spread * rng.uniform(size=(n, 3))
        ratios[:, 0] = 1.0
        rots = Rotation.random(n, random_state=rng)
    centres = place_primaries(n, radii, overlap, rng)
    names = [T.primary(i) for i in range(n)]
    meta = {"kind": "agglomerate", "n_particles": n, "radius_m": R_m, "seed": seed, "shape": shape,
            "overlap": overlap, "radius_sigma": radius_sigma, "h": h, "order": order,
            "centres": centres.tolist(), "radii": radii.tolist(),
            "sum_primary_volume": float(sum(4 / 3 * math.pi * r ** 3 for r in radii))}
    if shape == "ellipsoid":
        meta["semi_axis_ratios"] = ratios.tolist()
    al = aliases(cells={T.PARTICLE: names})

    def build():
        import gmsh
        occ = gmsh.model.occ
        ents = []
        for i in range(n):
            s = occ.addSphere(0, 0, 0, radii[i])
            if shape == "ellipsoid":
                occ.dilate([(3, s)], 0, 0, 0, *ratios[i])
                ax, ang = _axis_angle(rots[i].as_rotvec())
                if ang > 0:
                    occ.rotate([(3, s)], 0, 0, 0, *ax, ang)
            occ.translate([(3, s)], *centres[i])
            ents.append((3, s))
        if n > 1:
            _, out_map = occ.fragment(ents[:1], ents[1:])
        else:
            out_map = [ents]
        occ.synchronize()
        owner: dict[int, int] = {}
        for i, m in enumerate(out_map):
            for d, t in m:
                if d == 3 and t not in owner:
                    owner[t] = i
        groups: dict[int, list[int]] = {i: [] for i in range(n)}
        for t, i in owner.items():
            groups[i].append(t)
        for i in range(n):
            if not groups[i]:
                raise InputError(f"agglomerate: primary {i} is covered by others (cell group would be "
                                 "empty); lower 'overlap'")
            add_physical(3, groups[i], names[i], cell=True)
        surf, gb = [], []
        for _, s in gmsh.model.getEntities(2):
            up, _ = gmsh.model.getAdjacencies(2, s)
            owners = {owner[t] for t in up}
            if len(up) == 1:
                surf.append(s)
            elif len(owners) == 2:
                gb.append(s)
        add_physical(2, surf, T.SURFACE, cell=False)
        if gb:
            add_physical(2, gb, T.GRAIN_BOUNDARY, cell=False)
        hi = None if h_interface is None else h_interface * R_m / L
        size_field(h * R_m / L, hi, [(2, s) for s in gb])
        generate(3, order)
        return {**meta, "_aliases": al}

    return from_gmsh(build, comm, gdim=3, length_scale=L, name="agglomerate", verbose=verbose)


def _axis_angle(rotvec):
    ang = float(np.linalg.norm(rotvec))
    return (rotvec / ang if ang > 0 else np.array([0.0, 0.0, 1.0])), ang
