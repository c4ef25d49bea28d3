"""Run a problem: parameters -> output directory -> solve -> summary; restart a run.

Input errors (:class:`fem.errors.InputError`) are raised before any mesh or
PETSc work.  A solver failure is recorded in ``summary.json`` with status
``failed`` and its reason; a signal ends the run as ``interrupted``; any other
exception is recorded by the rank that raised it (without collectives, so it
cannot hang) and propagates (the CLI then aborts the whole MPI job).
"""

from __future__ import annotations

import json
from pathlib import Path

from mpi4py import MPI

from fem import petsc_options as _petsc_options
from fem.checkpoint import Checkpointer, has_checkpoint
from fem.errors import InputError, SolverError
from fem.output import RunOutput, default_outdir


def load_parameters(module, config=None, overrides=None, base: dict | None = None, **parameters):
    """Validated parameters of ``module`` from a TOML file, ``key=value`` strings and kwargs
    (on top of ``base``, a dict of parameters, e.g. those of a run being restarted)."""
    P = module.Parameters
    if base is not None:
        merged = dict(base)
        over = P.load(None, list(overrides or [])).to_dict() if overrides else {}
        # only keys given explicitly override the base
        for item in overrides or []:
            key = item.split("=", 1)[0].strip()
            merged[key] = over[key]
        merged.update(parameters)
        return P.from_dict(merged)
    params = P.load(config, list(overrides or []))
    if parameters:
        merged = params.to_dict()
        merged.update(parameters)
        params = P.from_dict(merged)
    return params


def _execute(module, name, params, output: RunOutput) -> dict:
    comm = output.comm
    output.output_times_s = list(getattr(params, "output_times_s", []) or [])
    try:
        module.solve(params, output)
    except SolverError as e:
        return output.finish("failed", str(e))
    except Exception as e:
        # Written by this rank alone: a collective here would hang the job
        # when the other ranks are not failing.
        output.finish_local("failed", f"{type(e).__name__} on rank {comm.rank}: {e}")
        raise
    if output.summary.get("status") == "running":
        output.finish("ok")
    return output.summary


def run_problem(name: str, out=None, *, config=None, overrides=None, comm=None, quiet=False,
                petsc_options=None, overwrite=False, checkpoint_every: int = 0,
                **parameters) -> dict:
    """Validate the parameters, claim the output directory and solve.

    ``overwrite``: reuse an output directory holding a finished run (its
    outputs are removed first).  ``checkpoint_every``: write a checkpoint every
    N accepted steps (and on SIGINT/SIGTERM/SIGUSR1 in any case).
    """
    import problems
    comm = comm or MPI.COMM_WORLD
    module = problems.get(name)
    params = load_parameters(module, config, overrides, **parameters)
    if checkpoint_every < 0:
        raise InputError(f"--checkpoint-every must be >= 0, got {checkpoint_every}")
    if petsc_options is not None:
        _petsc_options.set_user_options(petsc_options)
    _petsc_options.validate_user_options()
    outdir = Path(out) if out is not None else default_outdir(name)
    outdir = Path(comm.bcast(str(outdir), root=0))
    output = RunOutput(outdir, name, params.to_dict(), comm, quiet=quiet,
                       mode="overwrite" if overwrite else "new")
    output.update(output_dir=str(outdir), checkpoint_every=checkpoint_every)
    output.checkpointer = Checkpointer(outdir, comm, every=checkpoint_every)
    output.write_summary()
    return _execute(module, name, params, output)


def restart_problem(run_dir, *, overrides=None, comm=None, quiet=False, petsc_options=None,
                    checkpoint_every: int | None = None, **parameters) -> dict:
    """Continue the run in ``run_dir`` from its newest checkpoint.

    The problem and its parameters come from ``run_dir/summary.json``;
    ``overrides`` / ``parameters`` change some of them (typically ``t_end_s``).
    The restarted run must use the same number of MPI ranks.
    """
    import problems
    comm = comm or MPI.COMM_WORLD
    run_dir = Path(run_dir)
    summary_path = run_dir / "summary.json"
    if not summary_path.is_file():
        raise InputError(f"{run_dir}: not a solidion run directory (no summary.json)")
    if not has_checkpoint(run_dir):
        raise InputError(f"{run_dir}: holds no checkpoint (run with --checkpoint-every N, "
                         "or end it with SIGTERM/SIGINT/SIGUSR1, to write one)")
    try:
        old = json.loads(summary_path.read_text())
        name, base = old["problem"], old["parameters"]
    except (ValueError, KeyError) as e:
        raise InputError(f"{summary_path}: unreadable run summary ({e})") from None
    module = problems.get(name)
    params = load_parameters(module, overrides=overrides, base=base, **parameters)
    every = old.get("checkpoint_every", 0) if checkpoint_every is None else checkpoint_every
    if petsc_options is not None:
        _petsc_options.set_user_options(petsc_options)
    _petsc_options.validate_user_options()
    checkpointer = Checkpointer(run_dir, comm, every=every, restart=True)
    output = RunOutput(run_dir, name, params.to_dict(), comm, quiet=quiet, mode="restart")
    output.update(output_dir=str(run_dir), restarts=old.get("restarts", 0) + 1,
                  checkpoint_every=every)
    output.checkpointer = checkpointer
    output.write_summary()
    return _execute(module, name, params, output)
