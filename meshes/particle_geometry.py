"""Particle geometry of the particle problems: a generated sphere or Voronoi polycrystal, or a
mesh file (:mod:`meshes.user`), as a tagged mesh in units of its length scale R with the
{cell tag: crystal->lab rotation} of its grains.

Generated: a sphere (one crystal, ``single`` rotation) or a polycrystal of ``n_grains`` grains
(:mod:`meshes.polycrystal`; its random orientations) of radius R.  A mesh file: R is its
volume-equivalent radius (3V/4pi)^(1/3); grain orientations from ``euler_angles_csv``, else
the file's .json, else random from ``grain_seed``; the 'particle' group gets ``single``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fem.parameters import param
from meshes import tags as T
from meshes import user


@dataclass
class ParticleGeometryParameters(user.MeshFileParameters):
    """Size and resolution of a generated particle, or ``mesh_file`` (a mixin of a problem's Parameters)."""

    radius_m: float = param(5.22e-6, "particle radius R of the generated geometry (a mesh_file sets its own: "
                            "the volume-equivalent radius)", "m", gt=0)
    mesh_size: float = param(0.15, "element size relative to the radius (generated geometry, .stl)", "-",
                             gt=0, le=1)
    mesh_size_surface: float = param(0.0, "element size at the surface (and grain boundaries) relative "
                                     "to the radius; 0: uniform mesh_size (generated geometry)", "-", ge=0, le=1)
    geometry_order: int = param(1, "geometry order, 2: curved surface (generated geometry)", choices=(1, 2))

    def check(self):
        self.check_mesh_file(["radius_m", "mesh_size", "mesh_size_surface", "geometry_order"], ["mesh_size"])
        super().check()


def particle_domain(p: ParticleGeometryParameters, comm, *, radius_m: float, geometry: str = "sphere",
                    n_grains: int = 1, grain_seed: int = 0, euler_angles_csv: str = "", single=None):
    """(TaggedMesh of the particle (length scale R), {cell tag: crystal->lab rotation}) for
    ``p.mesh_file``, else the generated ``geometry`` ('sphere' or 'polycrystal') of radius ``radius_m``."""
    single = np.eye(3) if single is None else single
    if p.mesh_file:
        mf = user.inspect(p.mesh_file, p.mesh_unit_m)
        dom = user.load(mf, comm, h=p.mesh_size)
        rot, dom.metadata["orientation_source"] = user.rotations(dom, mf, euler_csv=euler_angles_csv,
                                                                 seed=grain_seed, single=single)
        return dom, rot
    if geometry == "polycrystal":
        from meshes.polycrystal import polycrystal
        dom = polycrystal(radius_m, n_grains, seed=grain_seed, h=p.mesh_size, comm=comm,
                          order=p.geometry_order, h_interface=p.mesh_size_surface or None)
        orient = dom.metadata.get("orientations", {})
        rotations = {dom.cell_id(name): np.asarray(Q, dtype=float) for name, Q in orient.items()}
        return dom, rotations
    from meshes.sphere import sphere
    dom = sphere(radius_m, p.mesh_size, order=p.geometry_order, comm=comm, h_surface=p.mesh_size_surface or None)
    return dom, {dom.cell_id(T.PARTICLE): single}


def has_grain_boundaries(p: ParticleGeometryParameters, geometry: str = "sphere", n_grains: int = 1) -> bool:
    """Whether the particle's mesh has a ``grain_boundary`` facet group (from the file's header alone)."""
    if p.mesh_file:
        return T.GRAIN_BOUNDARY in user.inspect(p.mesh_file, p.mesh_unit_m).facet_names
    return geometry == "polycrystal" and n_grains > 1
