"""The solidion application: the ``solidion`` command and :func:`run`.

This layer sits on top of everything (``fem`` -> ``meshes`` -> ``problems`` ->
``solidion``)::

    from solidion import run
    summary = run("sphere_diffusion", out="results/r2um", radius_m=2e-6)
"""

from fem import __version__  # noqa: F401


def run(name: str, out=None, **kwargs) -> dict:
    """Run problem ``name`` and return its summary dict (see :func:`solidion.app.run_problem`)."""
    from solidion.app import run_problem
    return run_problem(name, out=out, **kwargs)


def restart(run_dir, **kwargs) -> dict:
    """Continue the run in ``run_dir`` from its checkpoint (see :func:`solidion.app.restart_problem`)."""
    from solidion.app import restart_problem
    return restart_problem(run_dir, **kwargs)
