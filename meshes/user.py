"""A user's particle mesh: checked from its header before any PETSc work, read,
given its unit, and rescaled to its volume-equivalent radius.

Files (``mesh_file`` of the particle problems)
----------------------------------------------
* ``FILE.xdmf`` (+ ``FILE.h5``) or ``FILE.msh`` written by ``solidion mesh`` (or
  :func:`meshes.io.generate`): the ``FILE.json`` beside it gives the group names, the
  length scale (metres per mesh unit) and the generator's metadata (grain orientations);
* any other Gmsh ``FILE.msh`` (format 2.2 or 4.1, ASCII or binary, e.g. written by
  your own Gmsh script): the physical-group names must follow the convention below;
  the file carries no unit, so ``mesh_unit_m`` (metres per mesh unit) is required;
* ``FILE.stl``: a closed surface, meshed by :func:`meshes.stl.from_stl` at the
  problem's element size; ``mesh_unit_m`` (metres per STL unit) is required.

Group names (:mod:`meshes.tags`)
--------------------------------
3D cell groups ``particle`` (a single crystal) and/or ``grain_0``, ``grain_1``, ...
(grains of a polycrystal, any indices); the 2D facet group ``surface`` (the
particle surface, where the reaction happens).  Other facet groups (e.g.
``grain_boundary``) are allowed and unused; other cell groups are refused.  Each
cell belongs to one group.

Length scale: the volume-equivalent radius R = (3 V / (4 pi))^(1/3), V the mesh
volume in m^3; :func:`load` rescales the coordinates to units of R (what the
particle models' nondimensionalisation x^ = x / R expects).

Grain orientations (:func:`rotations`): a CSV table (columns grain, phi1, Phi,
phi2: Bunge Euler angles in degrees; ``grain`` is n or ``grain_n``; one row per
grain of the mesh; ``#`` comments and one header line allowed), else the
orientations stored in the file's ``.json`` (``solidion mesh polycrystal``), else
uniform random rotations from a seed (the ones :mod:`meshes.polycrystal` draws for
the same seed, in the order of the grain index).  ``particle`` cells get one
given rotation.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fem.errors import InputError
from fem.parameters import Parameters, param
from meshes import tags as T

SUFFIXES = (".xdmf", ".msh", ".stl")
GRAIN = re.compile(r"^grain_(\d+)$")


@dataclass
class MeshFile:
    """What the header of a mesh file says (see :func:`inspect`)."""

    path: Path
    kind: str  # "solidion" (with FILE.json), "msh" (bare Gmsh file) or "stl"
    unit_m: float  # metres per file unit
    cell_names: list[str]
    facet_names: list[str]
    orientations: dict = field(default_factory=dict)  # grain name -> 3x3 rotation (from FILE.json)

    @property
    def grains(self) -> list[str]:
        """Grain group names, by grain index."""
        return sorted((n for n in self.cell_names if GRAIN.match(n)), key=lambda n: int(n[6:]))


def _bad(param, value, msg) -> InputError:
    return InputError(f"parameter '{param}' = {str(value)!r}: {msg}")


def inspect(path: str | Path, unit_m: float = 0.0, *, param: str = "mesh_file",
            unit_param: str = "mesh_unit_m") -> MeshFile:
    """Check ``path`` from its header (and its ``.json`` sidecar) alone: suffix, companions,
    3D, the required groups and the unit (``unit_m`` metres per file unit, 0: from the
    file).  InputError naming ``param`` / ``unit_param`` / the missing group."""
    from meshes.io import msh_header, sidecar
    p = Path(path)
    if not p.is_file():
        raise _bad(param, path, "no such file")
    if p.suffix not in SUFFIXES:
        raise _bad(param, path, f"the suffix must be one of {', '.join(SUFFIXES)}")
    meta, orientations = None, {}
    if p.suffix != ".stl" and sidecar(p).is_file():
        try:
            meta = json.loads(sidecar(p).read_text())
            cells = list(meta["cell_names"]) + list(meta.get("cell_aliases", {}))
            facets = list(meta["facet_names"]) + list(meta.get("facet_aliases", {}))
            file_unit = float(meta["length_scale"])
            dim = int(meta.get("statistics", {}).get("dim", 3))
            orientations = meta.get("metadata", {}).get("orientations", {}) or {}
        except (ValueError, KeyError, TypeError) as e:
            raise _bad(param, path, f"unreadable {sidecar(p).name} ({e})") from None
        kind = "solidion"
        if dim != 3:
            raise _bad(param, path, f"a {dim}D mesh; a 3D particle mesh is required")
    elif p.suffix == ".xdmf":
        raise _bad(param, path, f"no {sidecar(p).name} beside it (the group names and length scale that "
                   "'solidion mesh' writes); for your own mesh give a Gmsh .msh with named physical groups")
    elif p.suffix == ".msh":
        groups = msh_header(p, param=param)["groups"]
        kind, file_unit = "msh", 0.0
        named = {n: d for d, _, n in groups}
        for n, d in named.items():
            if (n == T.PARTICLE or GRAIN.match(n)) and d != 3:
                raise _bad(param, path, f"physical group {n!r} has dimension {d}; a 3D particle mesh with "
                           "volume groups is required")
        cells = [n for n, d in named.items() if d == 3]
        facets = [n for n, d in named.items() if d == 2]
    else:
        kind, file_unit, cells, facets = "stl", 0.0, [T.PARTICLE], [T.SURFACE]
    if p.suffix == ".xdmf" and not p.with_suffix(".h5").is_file():
        raise _bad(param, path, f"its data file {p.with_suffix('.h5').name} is missing")
    if T.SURFACE not in facets:
        raise _bad(param, path, f"no facet group '{T.SURFACE}' (the particle surface; naming convention of "
                   f"meshes/tags.py); the file has facet groups {sorted(facets)}")
    other = [n for n in cells if n != T.PARTICLE and not GRAIN.match(n)]
    if other or not cells:
        raise _bad(param, path, f"cell groups {sorted(cells)}: a particle mesh needs 3D cell groups "
                   f"'{T.PARTICLE}' and/or 'grain_<n>' only" + (f" (not {other})" if other else ""))
    if file_unit:
        if unit_m and not math.isclose(unit_m, file_unit, rel_tol=1e-9):
            raise _bad(unit_param, unit_m, f"{p.name} carries its unit in {sidecar(p).name} "
                       f"({file_unit:g} m per mesh unit); leave {unit_param} at 0 or give that value")
        unit = file_unit
    elif not unit_m:
        raise InputError(f"parameter '{unit_param}' is required for {str(path)!r}: a {p.suffix} file without "
                         f"{sidecar(p).name} carries no unit; give metres per mesh unit "
                         f"(e.g. {unit_param}=1e-6 for micrometres)")
    else:
        unit = float(unit_m)
    return MeshFile(p, kind, unit, cells, facets, orientations)


@dataclass
class MeshFileParameters(Parameters):
    """``mesh_file`` and ``mesh_unit_m`` (a mixin of a problem's Parameters): :meth:`check_mesh_file`
    inspects the file's header (before any PETSc work) and refuses parameters of the generated
    geometry set away from their defaults (they would be ignored)."""

    mesh_file: str = param("", "particle mesh: .xdmf/.msh from 'solidion mesh', a Gmsh .msh with groups "
                           "'surface' and 'particle'/'grain_<n>', or a closed .stl (see meshes/user.py); "
                           "'': generated")
    mesh_unit_m: float = param(0.0, "metres per mesh_file unit; required for a .msh without .json and for "
                               ".stl (0: from the file's .json)", "m", ge=0)

    def check_mesh_file(self, generated_only=(), stl_uses=()) -> MeshFile | None:
        """The :class:`MeshFile` of ``mesh_file`` (None without one); ``generated_only``: parameters
        of the generated geometry (``stl_uses``: those an .stl still needs)."""
        if not self.mesh_file:
            self.refuse_unused(["mesh_unit_m"], "without mesh_file")
            return None
        mf = inspect(self.mesh_file, self.mesh_unit_m)
        self.refuse_unused([n for n in generated_only if mf.kind != "stl" or n not in stl_uses],
                           "with mesh_file (the file sets it)")
        return mf


def load(mf: MeshFile, comm, *, h: float = 0.15) -> "TaggedMesh":  # noqa: F821
    """Read (``.stl``: mesh at relative size ``h``) the file of ``mf``, distributed over ``comm``,
    in units of its volume-equivalent radius R (``length_scale`` = R; the file's unit in
    ``metadata['mesh_unit_m']``).  Collective."""
    from meshes._common import measure
    from meshes.io import read
    if mf.kind == "stl":
        from meshes.stl import from_stl
        tm = from_stl(str(mf.path), mf.unit_m, h=h, comm=comm)
    else:
        tm = read(mf.path, comm)
        tm.length_scale = mf.unit_m
        grains = [n for n in tm.cell_names if GRAIN.match(n)]
        if grains and T.PARTICLE not in tm.cell_names and T.PARTICLE not in tm.cell_aliases:
            tm.cell_aliases[T.PARTICLE] = tuple(grains)
    if tm.dim != 3:
        raise _bad("mesh_file", mf.path, f"a {tm.dim}D mesh; a 3D particle mesh is required")
    volume_m3 = measure(tm) * tm.length_scale**3
    R = (3 * volume_m3 / (4 * math.pi)) ** (1 / 3)
    if not 0 < R <= 1.0:
        raise _bad("mesh_file", mf.path, f"volume {volume_m3:.4g} m^3 (volume-equivalent radius {R:.4g} m); "
                   f"check the unit ({mf.unit_m:g} m per mesh unit)")
    tm.mesh.geometry.x[:] *= tm.length_scale / R
    tm.metadata.update(mesh_unit_m=mf.unit_m, volume_equivalent_radius_m=R, mesh_file=str(mf.path))
    tm.length_scale = R
    return tm


def read_euler_csv(path: str | Path, grains: list[str] | None = None,
                   param: str = "euler_angles_csv") -> dict[str, np.ndarray]:
    """{grain name: (phi1, Phi, phi2) in degrees} from a CSV table (module docstring); with
    ``grains``: exactly one row for each of them.  InputError naming ``param``."""
    p = Path(path)
    try:
        text = p.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise _bad(param, path, f"not a readable text file ({getattr(e, 'strerror', None) or e})") from None
    rows: dict[str, np.ndarray] = {}
    header = False
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        cells = [c.strip() for c in line.split(",")]
        m = re.fullmatch(r"(?:grain_)?(\d+)", cells[0])
        try:
            angles = np.array([float(c) for c in cells[1:]])
        except ValueError:
            angles = None
        if m is None or angles is None or len(angles) != 3 or not np.all(np.isfinite(angles)):
            if not rows and not header:
                header = True
                continue
            raise _bad(param, path, f"line {lineno}: expected 'grain, phi1, Phi, phi2' (degrees), got {line[:60]!r}")
        name = T.grain(int(m.group(1)))
        if name in rows:
            raise _bad(param, path, f"line {lineno}: a second row for {name}")
        rows[name] = angles
    if not rows:
        raise _bad(param, path, "no rows 'grain, phi1, Phi, phi2'")
    if grains is not None:
        missing = [g for g in grains if g not in rows]
        extra = sorted(set(rows) - set(grains))
        if missing:
            raise _bad(param, path, f"no row for {missing[0]}" + (f" (nor {len(missing) - 1} more)"
                                                                  if len(missing) > 1 else "")
                       + f"; the mesh has {len(grains)} grains")
        if extra:
            raise _bad(param, path, f"rows for grains the mesh does not have: {extra[:5]}")
    return rows


def rotation(euler_deg) -> np.ndarray:
    """Crystal -> lab rotation of Bunge Euler angles (phi1, Phi, phi2) in degrees."""
    from scipy.spatial.transform import Rotation
    return Rotation.from_euler("ZXZ", np.asarray(euler_deg, dtype=float), degrees=True).as_matrix()


def rotations(tm, mf: MeshFile, *, euler_csv: str = "", seed: int = 0, single=None) -> tuple[dict, str]:
    """({cell id: crystal->lab rotation}, source): grains from ``euler_csv``, else the file's
    orientations, else random from ``seed``; ``particle`` cells get ``single`` (identity)."""
    from meshes.polycrystal import orientations
    grains = [n for n in mf.grains if n in tm.cell_names]
    if euler_csv:
        table = read_euler_csv(euler_csv, grains)
        rot, source = {g: rotation(table[g]) for g in grains}, f"euler_angles_csv {euler_csv}"
    elif grains and all(g in mf.orientations for g in grains):
        rot, source = {g: np.asarray(mf.orientations[g], dtype=float) for g in grains}, "mesh file (.json)"
    else:
        Q = orientations(len(grains), seed) if grains else []
        rot, source = {g: Q[i] for i, g in enumerate(grains)}, f"random (seed {seed})"
    if T.PARTICLE in tm.cell_names:
        rot[T.PARTICLE] = np.eye(3) if single is None else np.asarray(single, dtype=float)
        source = source if grains else "single crystal"
    return {tm.cell_id(n): Q for n, Q in rot.items()}, source
