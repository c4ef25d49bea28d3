"""Gmsh geometry library: geometric description -> DOLFINx mesh with named tags.

Every generator returns a :class:`meshes.tagged.TaggedMesh` (mesh, cell tags,
facet tags, name -> integer maps from :mod:`meshes.tags`, aliases, metadata),
built on rank 0 with Gmsh (OCC kernel) and distributed over the communicator
with shared-facet ghosting (interface integrals ``dS`` work in parallel).

Generators (``meshes.registry.GENERATORS``; CLI ``solidion mesh KIND``):

=====================  ====================================================  ==========================
kind                   function                                              cells / facets
=====================  ====================================================  ==========================
sphere                 :func:`meshes.sphere.sphere` (dim 3, or 2 = section)  particle / surface (symmetry)
ellipsoid              :func:`meshes.particle.ellipsoid`                     particle / surface (symmetry)
platelet, rod          :func:`meshes.particle.platelet`, ``rod``             particle / surface
polycrystal            :func:`meshes.polycrystal.polycrystal`                grain_i / surface, grain_boundary
agglomerate            :func:`meshes.agglomerate.agglomerate`                primary_i / surface, grain_boundary
core_shell             :func:`meshes.core_shell.core_shell` (dim 3 or 2)     core, shell_i / interface_i, surface
bilayer                :func:`meshes.bilayer.bilayer` (dim 1, 2, 3)          layers / contacts, interfaces, lateral
particle_in_matrix     :func:`meshes.particle_in_matrix.particle_in_matrix`  particle, matrix / interface, outer
stl                    :func:`meshes.stl.from_stl`                           particle / surface
=====================  ====================================================  ==========================

Conventions: lengths in metres (``*_m``), element sizes ``h`` relative to the
characteristic size of the shape (radius, total thickness, ...), coordinates in
units of ``TaggedMesh.length_scale``; ``order=2`` gives curved quadratic geometry;
``seed`` fixes every random choice (same seed, same mesh).  Bad input raises
``fem.errors.InputError`` naming the parameter before any Gmsh/PETSc work.
Files: :mod:`meshes.io` (``generate``/``read`` .xdmf and .msh with ``FILE.json``).
"""

from meshes.tagged import TaggedMesh  # noqa: F401
