"""The ``solidion`` command.

    solidion list
    solidion run [PROBLEM] [--config FILE.toml] [--set key=value ...] [--out DIR]
                 [--overwrite] [--checkpoint-every N] [--quiet] [--debug] [-- PETSc options]
    solidion restart DIR [--set key=value ...] [--checkpoint-every N] [-- PETSc options]
    solidion params PROBLEM
    solidion info
    solidion mesh KIND --set key=value ... --out FILE
    solidion analyze gitt|pitt|matano|arrhenius FILE [options] [--out DIR]

Exit status: 0 ok; 1 a failed solve (after writing what it has) or an error;
2 bad input (one line naming the parameter and the allowed range, before any
mesh or PETSc work; ``--debug`` shows the traceback); 128+N a run ended by
signal N (SIGINT 130, SIGUSR1 138, SIGTERM 143), after writing a checkpoint if
enabled.  An exception on any MPI rank ends the whole job (MPI_Abort).
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
    r.add_argument("--params-file", metavar="FILE.json",
                   help="Battery Parameter eXchange (BPX) file for the particle problems "
                        "(= --set bpx_file=FILE)")
    r.add_argument("--electrode", choices=("positive", "negative"),
                   help="the electrode of --params-file (= --set bpx_electrode=...; default positive)")
    r.add_argument("--out", metavar="DIR", help="output directory (default results/<problem>-<timestamp>/)")
    r.add_argument("--overwrite", action="store_true",
                   help="reuse an --out directory holding a finished run (its outputs are removed first)")
    _add_run_options(r)

    rs = sub.add_parser("restart", help="continue a run from its checkpoint",
                        description="Continue the run in DIR from its newest checkpoint (same number of "
                                    "MPI ranks). --set changes parameters, typically t_end_s.")
    rs.add_argument("run_dir", metavar="DIR", help="output directory of the run to continue")
    rs.add_argument("--set", metavar="KEY=VALUE", action="append", default=[], dest="overrides",
                    help="change one parameter (TOML literal), repeatable")
    _add_run_options(rs, checkpoint_default=None)

    pp = sub.add_parser("params", help="list a problem's parameters, units, defaults and ranges")
    pp.add_argument("problem")
    _add_mesh_parser(sub)
    from solidion.analyze import add_parser as add_analyze_parser
    add_analyze_parser(sub)
    return p


def _add_run_options(p, checkpoint_default=0) -> None:
    p.add_argument("--checkpoint-every", metavar="N", type=int, default=checkpoint_default,
                   help="write a checkpoint every N accepted steps (one is also written on "
                        "SIGTERM/SIGINT/SIGUSR1); continue with `solidion restart DIR`")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.add_argument("--debug", action="store_true", help="show tracebacks")


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
        if args.command in ("run", "restart"):
            return _run(args, petsc_argv, debug)
        if args.command == "mesh":
            from meshes.cli import run as mesh_run
            return mesh_run(args)
        if args.command == "analyze":
            from solidion.analyze import run as analyze_run
            return analyze_run(args)
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
    sys.stdout.flush()
    return EXIT_OK


def _info() -> int:
    from mpi4py import MPI
    from fem.output import versions
    if MPI.COMM_WORLD.rank == 0:
        for k, v in versions(MPI.COMM_WORLD).items():
            print(f"{k:10s} {v}")
    return EXIT_OK


def _bpx_overrides(args) -> list[str]:
    """``--params-file``/``--electrode`` as the parameter overrides they stand for."""
    import json
    from fem.errors import InputError
    if args.electrode and not args.params_file:
        raise InputError("--electrode needs --params-file FILE.json (the BPX file it selects from)")
    out = [f"bpx_file={json.dumps(args.params_file)}"] if args.params_file else []
    return out + ([f"bpx_electrode={json.dumps(args.electrode)}"] if args.electrode else [])


def _run(args, petsc_argv, debug) -> int:
    from mpi4py import MPI
    import problems
    from fem import petsc_options
    from fem.errors import InputError
    from fem.mpi import abort_on_exception
    from fem.simulation import signal_exit_status
    from solidion.app import restart_problem, run_problem

    comm = MPI.COMM_WORLD
    try:
        petsc_options.set_user_options(petsc_argv)
    except ValueError as e:
        raise InputError(str(e)) from None
    try:
        if args.command == "restart":
            summary = restart_problem(args.run_dir, overrides=args.overrides, comm=comm, quiet=args.quiet,
                                      checkpoint_every=args.checkpoint_every)
            name = summary.get("problem", "?")
        else:
            name = args.problem or problems.DEFAULT
            args.overrides += _bpx_overrides(args)
            summary = run_problem(name, out=args.out, config=args.config, overrides=args.overrides,
                                  comm=comm, quiet=args.quiet, overwrite=args.overwrite,
                                  checkpoint_every=args.checkpoint_every)
    except InputError:
        raise
    except Exception as e:  # noqa: BLE001 - end every rank, never hang
        abort_on_exception(comm, e, debug)
        return EXIT_FAILED
    if comm.rank == 0 and not args.quiet:
        out = summary.get("output_dir", getattr(args, "out", None))
        print(f"solidion: {name} {summary['status']}"
              f"{': ' + summary['reason'] if summary.get('reason') else ''}"
              f" ({summary.get('wall_time_s', 0):.1f} s) -> {out}", flush=True)
    if summary["status"] == "interrupted":
        return signal_exit_status(summary.get("signal", ""))
    return EXIT_OK if summary["status"] == "ok" else EXIT_FAILED


def _quiet_broken_pipe(func):
    """``solidion list | head -1``: a closed stdout ends the command quietly."""
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except BrokenPipeError:
            import os
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return EXIT_OK
    return wrapper


main = _quiet_broken_pipe(main)


if __name__ == "__main__":
    sys.exit(main())
