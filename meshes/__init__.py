"""Gmsh geometry library: geometric description -> DOLFINx mesh with named tags.

Every generator returns a :class:`meshes.tagged.TaggedMesh` (mesh, cell tags,
facet tags, name -> integer maps from :mod:`meshes.tags`, metadata), built on
rank 0 with Gmsh and distributed over the communicator.
"""

from meshes.tagged import TaggedMesh  # noqa: F401
