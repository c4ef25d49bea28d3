"""``solidion mesh KIND [--set key=value ...] --out FILE.{xdmf,msh}``

Builds a mesh (rank 0 Gmsh, distributed over the MPI ranks), writes it and
``FILE.json`` beside it: cells, vertices, min/mean element quality, size range,
total volume and the volume/area of every named group (mesh units and SI),
plus the group names, length scale and generator metadata (orientations, ...).
Values of ``--set`` are TOML literals: ``--set n_grains=50 --set semi_axes_m=[1e-6,8e-7,6e-7]``.
``solidion mesh KIND --describe`` prints the generator's parameters.
``--set max_cells=N`` sets the cell limit of the estimate checked before meshing
(default ``SOLIDION_MAX_CELLS`` or 2e7, see :mod:`meshes.limits`).  The output
path is checked (directory created, writable) before any meshing.
"""

from __future__ import annotations


def add_parser(subparsers) -> None:
    from meshes.registry import GENERATORS
    p = subparsers.add_parser(
        "mesh", help="generate a tagged mesh and write it (.xdmf/.msh) with FILE.json statistics",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None)
    p.add_argument("kind", choices=sorted(GENERATORS), help="mesh kind")
    p.add_argument("--set", metavar="KEY=VALUE", action="append", default=[], dest="overrides",
                   help="generator parameter (TOML literal), repeatable")
    p.add_argument("--out", metavar="FILE", help="output mesh file, .xdmf or .msh")
    p.add_argument("--describe", action="store_true", help="print the generator's documentation")
    p.add_argument("--quiet", action="store_true", help="no summary line")
    p.add_argument("--debug", action="store_true", help="show tracebacks")


def parse_overrides(items: list[str]) -> dict:
    import tomllib
    from fem.errors import InputError
    out = {}
    for item in items:
        if "=" not in item:
            raise InputError(f"--set {item!r}: expected KEY=VALUE")
        key, val = item.split("=", 1)
        key = key.strip()
        try:
            out[key] = tomllib.loads(f"v = {val}")["v"]
        except tomllib.TOMLDecodeError:
            out[key] = val  # bare string (e.g. a path)
    return out


def run(args) -> int:
    import inspect

    from mpi4py import MPI

    from fem.errors import InputError
    from meshes.io import generate
    from meshes.registry import generator

    comm = MPI.COMM_WORLD
    func = generator(args.kind)
    if args.describe:
        if comm.rank == 0:
            # the user's parameters only (comm and verbose are the CLI's business)
            sig = inspect.signature(func)
            sig = sig.replace(parameters=[q for n, q in sig.parameters.items() if n not in ("comm", "verbose")])
            print(f"{args.kind}{sig}\n\n{inspect.getdoc(func)}\n\n"
                  f"{inspect.getdoc(inspect.getmodule(func))}")
        return 0
    if not args.out:
        raise InputError("parameter '--out' is required (FILE.xdmf or FILE.msh)")
    params = parse_overrides(args.overrides)
    if "max_cells" in params:  # the cell limit of this mesh (meshes.limits), not a generator argument
        from fem.parameters import set_max_cells
        n = params.pop("max_cells")
        if isinstance(n, bool) or not isinstance(n, (int, float)) or not n >= 1 or not float(n).is_integer():
            raise InputError(f"parameter 'max_cells' = {n!r} is out of range; allowed: integers >= 1")
        set_max_cells(int(n))
    sig = inspect.signature(func)
    accepts_any = any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values())
    for k in params:
        if k == "comm" or (k not in sig.parameters and not accepts_any):
            allowed = [n for n in sig.parameters if n not in ("comm", "verbose")]
            raise InputError(f"parameter {k!r} is not a parameter of mesh {args.kind!r}; allowed: "
                             + ", ".join(allowed))
    try:
        tm = generate(args.kind, args.out, comm=comm, **params)
    except TypeError as e:  # missing required generator arguments
        raise InputError(f"mesh {args.kind!r}: {e}") from None
    except InputError:
        raise
    except Exception as e:  # noqa: BLE001 - end every rank, never hang
        from fem.mpi import abort_on_exception
        abort_on_exception(comm, e, getattr(args, "debug", False))
        return 1
    if comm.rank == 0 and not args.quiet:
        import json
        from meshes.io import sidecar
        st = json.loads(sidecar(args.out).read_text())["statistics"]
        print(f"solidion: mesh {args.kind}: {st['cells']} cells, {st['vertices']} vertices, "
              f"quality min {st['quality_min']:.3f} mean {st['quality_mean']:.3f}, "
              f"volume {st['volume_si']:.4g} m^{st['dim']} -> {args.out} (+ .json)", flush=True)
    del tm
    return 0
