"""Run a problem: parameters -> output directory -> solve -> summary."""

from __future__ import annotations

from pathlib import Path

from mpi4py import MPI

from fem import petsc_options as _petsc_options
from fem.errors import SolverError
from fem.output import RunOutput, default_outdir


def load_parameters(module, config=None, overrides=None, **parameters):
    """Validated parameters of ``module`` from a TOML file, ``key=value`` strings and kwargs."""
    items = list(overrides or [])
    P = module.Parameters
    base = P.load(config, items)
    if parameters:
        merged = base.to_dict()
        merged.update(parameters)
        base = P.from_dict(merged)
    return base


def run_problem(name: str, out=None, *, config=None, overrides=None, comm=None, quiet=False,
                petsc_options=None, **parameters) -> dict:
    """Validate the parameters, create the output directory and solve.

    Input errors (:class:`fem.errors.InputError`) are raised before any PETSc
    work.  A solver failure is recorded in ``summary.json`` with status
    ``failed`` and its reason; other exceptions propagate after the summary
    records them.
    """
    import problems
    comm = comm or MPI.COMM_WORLD
    module = problems.get(name)
    params = load_parameters(module, config, overrides, **parameters)
    if petsc_options is not None:
        _petsc_options.set_user_options(petsc_options)
    outdir = Path(out) if out is not None else default_outdir(name)
    outdir = Path(comm.bcast(str(outdir), root=0))
    output = RunOutput(outdir, name, params.to_dict(), comm, quiet=quiet)
    output.update(output_dir=str(outdir))
    try:
        module.solve(params, output)
    except SolverError as e:
        return output.finish("failed", str(e))
    except Exception as e:
        output.finish("failed", f"{type(e).__name__}: {e}")
        raise
    if output.summary.get("status") == "running":
        output.finish("ok")
    return output.summary
