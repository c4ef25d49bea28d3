"""Name -> generator of every mesh kind (used by ``solidion mesh KIND``)."""

from __future__ import annotations


def _lazy(module: str, func: str):
    def make(**kwargs):
        import importlib
        return getattr(importlib.import_module(module), func)(**kwargs)
    make.__name__ = func
    make.module, make.func = module, func
    return make


GENERATORS = {
    "sphere": _lazy("meshes.sphere", "sphere"),
    "ellipsoid": _lazy("meshes.particle", "ellipsoid"),
    "platelet": _lazy("meshes.particle", "platelet"),
    "rod": _lazy("meshes.particle", "rod"),
    "polycrystal": _lazy("meshes.polycrystal", "polycrystal"),
    "agglomerate": _lazy("meshes.agglomerate", "agglomerate"),
    "core_shell": _lazy("meshes.core_shell", "core_shell"),
    "bilayer": _lazy("meshes.bilayer", "bilayer"),
    "particle_in_matrix": _lazy("meshes.particle_in_matrix", "particle_in_matrix"),
    "stl": _lazy("meshes.stl", "from_stl"),
}


def generator(kind: str):
    """The generator function of ``kind`` (for its signature and docstring)."""
    import importlib
    g = GENERATORS[kind]
    return getattr(importlib.import_module(g.module), g.func)
