"""PETSc options: solver defaults per problem, overridden by the user's options.

The CLI passes everything after ``--`` here (``-snes_monitor``,
``-ksp_type gmres`` ...).  Each solver has its own options prefix; an option the
user gives without a prefix reaches every solver, one given with a solver's
prefix (``-diffusion_ksp_type``) reaches only that one.
"""

from __future__ import annotations

_user_options: dict[str, str | None] = {}


def parse_options(argv: list[str]) -> dict[str, str | None]:
    """Parse ``['-ksp_type', 'cg', '-snes_monitor']`` into a dict."""
    opts: dict[str, str | None] = {}
    i = 0
    while i < len(argv):
        a = argv[i]
        if not a.startswith("-") or len(a) < 2:
            raise ValueError(f"PETSc option expected (starting with '-'), got {a!r}")
        key = a.lstrip("-")
        if i + 1 < len(argv) and not _is_option(argv[i + 1]):
            opts[key] = argv[i + 1]
            i += 2
        else:
            opts[key] = None
            i += 1
    return opts


def _is_option(s: str) -> bool:
    if not s.startswith("-"):
        return False
    try:  # negative numbers are values
        float(s)
        return False
    except ValueError:
        return True


def set_user_options(argv_or_dict) -> None:
    """Record the user's PETSc options (from the CLI or a script)."""
    global _user_options
    if isinstance(argv_or_dict, dict):
        _user_options = dict(argv_or_dict)
    else:
        _user_options = parse_options(list(argv_or_dict))


def user_options() -> dict[str, str | None]:
    return dict(_user_options)


def get_int(prefix: str, name: str, default: int) -> int:
    """Integer option ``-{prefix}{name}``: the user's (CLI or script), else PETSc's database, else
    ``default``; for model options read before any solver has applied the user's options."""
    from petsc4py import PETSc

    key = prefix + name
    opts = PETSc.Options()
    if key in _user_options:
        try:
            opts[key] = int(_user_options[key])
        except (TypeError, ValueError):
            raise ValueError(f"-{key} must be an integer, got {_user_options[key]!r}") from None
    return opts.getInt(key, default)  # (read from the database: PETSc counts the option as used)


def apply(prefix: str, defaults: dict[str, object]) -> None:
    """Write defaults, then the user's options, under ``prefix`` into PETSc's database."""
    from petsc4py import PETSc

    opts = PETSc.Options()
    merged: dict[str, object] = {k.lstrip("-"): v for k, v in defaults.items()}
    for k, v in _user_options.items():
        if k.startswith(prefix):
            merged[k[len(prefix):]] = v
        elif not any(k.startswith(p) for p in _known_prefixes if p != prefix):
            merged[k] = v
    for k, v in merged.items():
        opts[f"{prefix}{k}"] = "" if v is None else v


_known_prefixes: set[str] = set()


def register_prefix(prefix: str) -> None:
    _known_prefixes.add(prefix)


def direct_lu() -> dict[str, object]:
    """Sparse direct solve (MUMPS): robust, for small or 2D runs."""
    return {"ksp_type": "preonly", "pc_type": "lu", "pc_factor_mat_solver_type": "mumps"}


def boomeramg() -> dict[str, object]:
    """hypre BoomerAMG tuned for 3D (and higher-order) operators: HMIS coarsening,
    extended+i interpolation truncated to 4 entries, one level of aggressive
    coarsening and strong threshold 0.5 keep the operator complexity low
    (3x faster solves than the defaults on P2 tetrahedra, measured)."""
    return {"pc_type": "hypre", "pc_hypre_type": "boomeramg",
            "pc_hypre_boomeramg_strong_threshold": 0.5,
            "pc_hypre_boomeramg_coarsen_type": "HMIS",
            "pc_hypre_boomeramg_interp_type": "ext+i",
            "pc_hypre_boomeramg_P_max": 4,
            "pc_hypre_boomeramg_agg_nl": 1}


def gamg_sor() -> dict[str, object]:
    """PETSc's smoothed-aggregation AMG (GAMG, one level of aggressive coarsening) with two
    Richardson/SSOR sweeps as the level smoother instead of Chebyshev/Jacobi: cheap V-cycles (low
    operator complexity) for the mass + stiffness operators of the Cahn–Hilliard Schur factors
    (fem.solver.FactoredSchurPC; tests/bench/README.md)."""
    return {"pc_type": "gamg", "mg_levels_ksp_type": "richardson", "mg_levels_pc_type": "sor"}


def cg_amg() -> dict[str, object]:
    """CG with hypre BoomerAMG: scalable for symmetric positive-definite systems."""
    return {"ksp_type": "cg", **boomeramg(), "ksp_rtol": 1e-12, "ksp_atol": 1e-14}


def gmres_amg() -> dict[str, object]:
    """GMRES with hypre BoomerAMG: scalable for nonsymmetric scalar systems."""
    return {"ksp_type": "gmres", **boomeramg(), "ksp_rtol": 1e-10, "ksp_atol": 1e-14,
            "ksp_gmres_restart": 100}


_NUMERIC_SUFFIXES = ("_rtol", "_atol", "_stol", "_divtol", "_max_it", "_max_funcs", "_restart",
                     "_strong_threshold", "_P_max", "_agg_nl", "_levels", "_overlap")


def _type_names(kind: str) -> set[str]:
    from petsc4py import PETSc
    cls = {"ksp": PETSc.KSP.Type, "pc": PETSc.PC.Type, "snes": PETSc.SNES.Type}[kind]
    return {str(v).lower() for k, v in vars(cls).items() if not k.startswith("_") and isinstance(v, str)}


def validate_user_options() -> None:
    """Refuse obviously invalid user options before any PETSc work (InputError).

    Checked: ``*ksp_type``, ``*pc_type`` and ``*snes_type`` against the types
    this PETSc knows, and numeric options (tolerances, iteration counts) for a
    numeric value.  Everything else is left to PETSc.
    """
    from fem.errors import InputError
    for key, value in _user_options.items():
        for kind in ("ksp", "pc", "snes"):
            if key == f"{kind}_type" or key.endswith(f"_{kind}_type"):
                if value is None or value.lower() not in _type_names(kind):
                    allowed = ", ".join(sorted(_type_names(kind)))
                    raise InputError(f"PETSc option '-{key}': unknown {kind.upper()} type {value!r}; "
                                     f"allowed: {allowed}")
        if key.endswith("bordered_solves") and value not in ("one", "two"):
            # fem.galvanostatic.BorderedNewton's scheme: one GMRES solve per Newton step, or two
            raise InputError(f"PETSc option '-{key}': allowed one, two; got {value!r}")
        if key.endswith(_NUMERIC_SUFFIXES):
            try:
                float(value)
            except (TypeError, ValueError):
                raise InputError(f"PETSc option '-{key}' needs a number, got {value!r}") from None
