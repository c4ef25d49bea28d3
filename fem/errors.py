"""Exceptions with a meaning for the user (exit status 2 for bad input)."""


class InputError(ValueError):
    """Invalid user input: names the parameter and the allowed range.

    Raised before any PETSc work; the CLI prints the message on one line and
    exits with status 2.
    """


class SolverError(RuntimeError):
    """A solve that failed for good (after all time-step cuts)."""
