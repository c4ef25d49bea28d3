"""The ``solidion`` command.

    solidion list
    solidion run [PROBLEM] [--config FILE.toml] [--set key=value ...] [--out DIR]
                 [--quiet] [--debug] [-- PETSc options]
    solidion params PROBLEM
    solidion info

Bad input exits with status 2 and a one-line message before any PETSc work
(``--debug`` shows the traceback); a failed solve exits with status 1 after
writing what it has; an exception on any MPI rank ends the whole job.
"""

from __future__ import annotations

import argparse
import sys
import traceback

EXIT_OK, EXIT_FAILED, EXIT_INPUT = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="solidion",
        description="Finite-element ion transport in battery solids (DOLFINx/PETSc).",
        epilog="PETSc options go after '--', e.g.  solidion run sphere_diffusion -- -snes_monitor")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    sub.add_parser("list", help="list the problems with one-line descriptions")
    sub.add_parser("info", help="versions of solidion, DOLFINx, PETSc, MPI and the MPI size")

    r = sub.add_parser("run", help="run a problem (default: sphere_diffusion)",
                       description="Run a problem. Parameters are SI; see `solidion params PROBLEM`. "
                                   "PETSc options after '--' reach the solvers.")
    r.add_argument("problem", nargs="?", default=None, help="problem name (see `solidion list`)")
    r.add_argument("--config", metavar="FILE.toml", help="TOML file of parameters")
    r.add_argument("--set", metavar="KEY=VALUE", action="append", default=[], dest="overrides",
                   help="set one parameter (TOML literal), repeatable")
    r.add_argument("--out", metavar="DIR", help="output directory (default results/<problem>-<timestamp>/)")
    r.add_argument("--quiet", action="store_true", help="no progress lines")
    r.add_argument("--debug", action="store_true", help="show tracebacks")

    pp = sub.add_parser("params", help="list a problem's parameters, units, defaults and ranges")
    pp.add_argument("problem")
    _add_mesh_parser(sub)
    return p


def _add_mesh_parser(sub) -> None:
    try:
        from meshes.cli import add_parser
    except ImportError:
        return
    add_parser(sub)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    petsc_argv: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, petsc_argv = argv[:i], argv[i + 1:]
    parser = _parser()
    args = parser.parse_args(argv)
    debug = getattr(args, "debug", False)
    from fem.errors import InputError
    try:
        if args.command is None:
            parser.print_help()
            return EXIT_OK
        if args.command == "list":
            return _list()
        if args.command == "params":
            import problems
            mod = problems.get(args.problem)
            print(f"{args.problem}: {problems.REGISTRY[args.problem][1]}\n")
            print(mod.Parameters.describe())
            return EXIT_OK
        if args.command == "info":
            return _info()
        if args.command == "run":
            return _run(args, petsc_argv, debug)
        if args.command == "mesh":
            from meshes.cli import run as mesh_run
            return mesh_run(args)
    except InputError as e:
        _input_error(e, debug)
        return EXIT_INPUT
    return EXIT_OK


def _input_error(e, debug):
    from mpi4py import MPI
    if MPI.COMM_WORLD.rank == 0:
        if debug:
            traceback.print_exc()
        print(f"solidion: error: {e}", file=sys.stderr, flush=True)


def _list() -> int:
    import problems
    width = max(map(len, problems.REGISTRY))
    for name, (_, desc) in sorted(problems.REGISTRY.items()):
        mark = " (default)" if name == problems.DEFAULT else ""
        print(f"{name:{width}s}  {desc}{mark}")
    return EXIT_OK


def _info() -> int:
    from mpi4py import MPI
    from fem.output import versions
    if MPI.COMM_WORLD.rank == 0:
        for k, v in versions(MPI.COMM_WORLD).items():
            print(f"{k:10s} {v}")
    return EXIT_OK


def _run(args, petsc_argv, debug) -> int:
    from mpi4py import MPI
    import problems
    from fem import petsc_options
    from fem.errors import InputError
    from fem.mpi import abort_on_exception
    from fem.run import run_problem

    comm = MPI.COMM_WORLD
    name = args.problem or problems.DEFAULT
    try:
        petsc_options.set_user_options(petsc_argv)
    except ValueError as e:
        raise InputError(str(e)) from None
    try:
        summary = run_problem(name, out=args.out, config=args.config, overrides=args.overrides,
                              comm=comm, quiet=args.quiet)
    except InputError:
        raise
    except Exception as e:  # noqa: BLE001 - end every rank, never hang
        abort_on_exception(comm, e, debug)
        return EXIT_FAILED
    if comm.rank == 0 and not args.quiet:
        out = summary.get("output_dir", args.out)
        print(f"solidion: {name} {summary['status']}"
              f"{': ' + summary['reason'] if summary.get('reason') else ''}"
              f" ({summary.get('wall_time_s', 0):.1f} s) -> {out}", flush=True)
    return EXIT_OK if summary["status"] == "ok" else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
