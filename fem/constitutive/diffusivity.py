"""Diffusivity laws: Darken, lattice gas, Arrhenius, random walk, fast paths, tensors.

All scalar laws accept numpy values or UFL expressions (T may be a field).

* Darken relation (chemical from tracer diffusivity) [m^2/s]:
      D_chem = D* (1 + dln(gamma)/dln(x)) = D* Phi(x)
* Lattice gas with site blocking (tracer, uncorrelated hops) [m^2/s]:
      D*(x) = D0 (1 - x);   ideal lattice gas Phi = 1/(1 - x)  ->  D_chem = D0
* Arrhenius [m^2/s]:  D(T) = D0 exp(-E_a / (k_B T))   (E_a in J; ``activation_eV`` in eV)
* Random walk [m^2/s]:  D = f Gamma lambda^2 / (2 d)   (d = 3: f Gamma lambda^2 / 6)
  with hop rate Gamma [1/s], hop length lambda [m], correlation factor f
  (vacancy mechanism; values in :data:`CORRELATION_FACTORS`).
* Fast grain-boundary / pipe paths (Hart 1957) [m^2/s]:
      D_eff = (1 - g) D_bulk + g D_gb,  g = q delta / d
  (delta GB width, d grain size, q = 3 for cubic grains); the series (Maclean)
  lower bound 1 / ((1-g)/D_bulk + g/D_gb) is :func:`series_effective`.
* Anisotropic tensors: a crystal-frame tensor D_cryst (e.g. layered oxides,
  fast in the Li layers, slow across them) is rotated to the lab frame by
  D_lab = Q D_cryst Q^T with Q the crystal->lab rotation; every tensor is
  checked to be symmetric positive definite (:func:`check_spd`).
"""

from __future__ import annotations

import numpy as np

from fem.constitutive.mathops import exp, is_ufl
from fem.errors import InputError
from fem.scaling import BOLTZMANN, ELEMENTARY_CHARGE

# Tracer correlation factors of the vacancy mechanism (Compaan & Haven 1956;
# Mehrer, Diffusion in Solids (2007), Table 7.2).
CORRELATION_FACTORS = {
    "honeycomb_2d": 1.0 / 3.0,
    "square_2d": 0.46694,
    "triangular_2d": 0.56006,
    "diamond": 0.5,
    "simple_cubic": 0.65311,
    "bcc": 0.72722,
    "fcc": 0.78146,
    "uncorrelated": 1.0,
}


def arrhenius(d0, temperature_K, activation_J=None, *, activation_eV=None):
    """D0 exp(-E_a / (k_B T)) [units of d0]; E_a in J or (keyword) eV."""
    if (activation_J is None) == (activation_eV is None):
        raise ValueError("give exactly one of activation_J, activation_eV")
    ea = activation_J if activation_J is not None else activation_eV * ELEMENTARY_CHARGE
    return d0 * exp(-ea / (BOLTZMANN * temperature_K))


def arrhenius_factor(temperature_K, reference_K, activation_J):
    """D(T)/D(T_ref) = exp(-(E_a/k_B) (1/T - 1/T_ref)) (dimensionless)."""
    return exp(-(activation_J / BOLTZMANN) * (1.0 / temperature_K - 1.0 / reference_K))


def darken(tracer_diffusivity, thermodynamic_factor):
    """D_chem = D* Phi, Phi = 1 + dln(gamma)/dln(x)."""
    return tracer_diffusivity * thermodynamic_factor


def lattice_gas_tracer(d0, x):
    """Site blocking: D*(x) = D0 (1 - x) (mean-field, f = 1)."""
    return d0 * (1 - x)


def lattice_gas_thermodynamic_factor(x):
    """Ideal lattice gas (ln a = ln(x/(1-x))): Phi = 1/(1 - x)."""
    return 1 / (1 - x)


def random_walk(hop_rate_hz, hop_length_m, correlation_factor=1.0, dim=3):
    """D = f Gamma lambda^2 / (2 d) [m^2/s]; ``correlation_factor`` a number or a
    key of :data:`CORRELATION_FACTORS`."""
    f = CORRELATION_FACTORS[correlation_factor] if isinstance(correlation_factor, str) else correlation_factor
    return f * hop_rate_hz * hop_length_m**2 / (2 * dim)


def hart_effective(d_bulk, d_gb, gb_width_m, grain_size_m, geometry_factor=3.0):
    """Hart (1957): parallel mixing of bulk and fast-path diffusivities [m^2/s]."""
    g = geometry_factor * gb_width_m / grain_size_m
    if not is_ufl(g) and not 0 <= g <= 1:
        raise InputError(f"grain-boundary volume fraction q delta/d = {g:.3g} is out of range; allowed: [0, 1]")
    return (1 - g) * d_bulk + g * d_gb


def series_effective(d_bulk, d_gb, gb_width_m, grain_size_m, geometry_factor=3.0):
    """Series (Maclean) lower bound 1/((1-g)/D_bulk + g/D_gb) [m^2/s]."""
    g = geometry_factor * gb_width_m / grain_size_m
    return 1 / ((1 - g) / d_bulk + g / d_gb)


# --- tensors ------------------------------------------------------------------

def check_spd(tensor, name="diffusivity", rtol=1e-10) -> np.ndarray:
    """Return ``tensor`` as a float array; raise InputError unless it is SPD."""
    D = np.asarray(tensor, dtype=float)
    if D.ndim != 2 or D.shape[0] != D.shape[1] or D.shape[0] not in (1, 2, 3):
        raise InputError(f"parameter '{name}' must be a 1x1, 2x2 or 3x3 matrix, got shape {D.shape}")
    if not np.all(np.isfinite(D)):
        raise InputError(f"parameter '{name}' has non-finite entries")
    scale = np.max(np.abs(D)) or 1.0
    if np.max(np.abs(D - D.T)) > rtol * scale:
        raise InputError(f"parameter '{name}' is not symmetric (max |D - D^T| = "
                         f"{np.max(np.abs(D - D.T)):.3g}); a diffusivity tensor must be symmetric positive definite")
    lam = np.linalg.eigvalsh(0.5 * (D + D.T))
    if lam.min() <= 0:
        raise InputError(f"parameter '{name}' is not positive definite (eigenvalues {lam.tolist()}); "
                         "allowed: symmetric with all eigenvalues > 0")
    return 0.5 * (D + D.T)


def rotation_matrix(euler_deg, convention="ZXZ") -> np.ndarray:
    """Crystal->lab rotation from Bunge Euler angles (phi1, Phi, phi2) in degrees,
    Q = Rz(phi1) Rx(Phi) Rz(phi2) (active rotations, ``convention`` ZXZ)."""
    if convention != "ZXZ":
        raise ValueError("only the Bunge ZXZ convention is implemented")
    a, b, c = np.radians(np.asarray(euler_deg, dtype=float))

    def rz(t):
        return np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]])

    def rx(t):
        return np.array([[1, 0, 0], [0, np.cos(t), -np.sin(t)], [0, np.sin(t), np.cos(t)]])

    return rz(a) @ rx(b) @ rz(c)


def rotation_2d(angle_rad: float) -> np.ndarray:
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    return np.array([[c, -s], [s, c]])


def rotate_tensor(d_cryst, rotation) -> np.ndarray:
    """D_lab = Q D_cryst Q^T (Q: crystal -> lab rotation, checked orthogonal)."""
    Q = np.asarray(rotation, dtype=float)
    if Q.shape[0] != Q.shape[1] or np.max(np.abs(Q @ Q.T - np.eye(Q.shape[0]))) > 1e-8:
        raise InputError("rotation matrix must be orthogonal (Q Q^T = I)")
    D = check_spd(d_cryst, "crystal diffusivity tensor")
    return Q @ D @ Q.T


def layered_tensor(d_in_plane, d_out_of_plane, dim=3) -> np.ndarray:
    """Crystal-frame tensor of a layered (hexagonal) compound, c axis = z:
    diag(D_ab, D_ab, D_c) (2D: diag(D_ab, D_c))."""
    diag = [d_in_plane] * (dim - 1) + [d_out_of_plane]
    return check_spd(np.diag(diag), "layered diffusivity tensor")


def tensor_field(mesh, cell_tags, tensors_by_tag: dict[int, np.ndarray], name="diffusivity_tensor"):
    """Cell-wise constant (DG0) tensor Function with value ``tensors_by_tag[tag]`` on
    cells tagged ``tag`` (every owned cell must be covered).  Each tensor is checked SPD."""
    import basix.ufl
    import dolfinx.fem

    gdim = mesh.geometry.dim
    el = basix.ufl.element("DG", mesh.basix_cell(), 0, shape=(gdim, gdim))
    W = dolfinx.fem.functionspace(mesh, el)
    D = dolfinx.fem.Function(W, name=name)
    arr = D.x.array.reshape(-1, gdim * gdim)
    tdim = mesh.topology.dim
    n_owned = mesh.topology.index_map(tdim).size_local
    covered = np.zeros(n_owned + mesh.topology.index_map(tdim).num_ghosts, dtype=bool)
    for tag, T in tensors_by_tag.items():
        T = check_spd(T, f"diffusivity tensor of cell group {tag}")
        if T.shape != (gdim, gdim):
            raise InputError(f"diffusivity tensor of cell group {tag} has shape {T.shape}, expected {(gdim, gdim)}")
        cells = cell_tags.find(tag)
        dofs = np.asarray(W.dofmap.list[cells, 0], dtype=np.int64)
        arr[dofs] = T.reshape(-1)
        covered[cells] = True
    if not covered[:n_owned].all():
        missing = int((~covered[:n_owned]).sum())
        raise InputError(f"{missing} cells have no diffusivity tensor (cell groups {sorted(tensors_by_tag)})")
    D.x.scatter_forward()
    return D


def layered_grain_tensors(mesh, cell_tags, rotations: dict, anisotropy_ratio: float):
    """Diffusivity tensor of a (poly)crystal of a layered compound, relative to D_ab:
    per cell group ``tag`` D = Q diag(1, 1, r) Q^T (r = ``anisotropy_ratio`` = D_c/D_ab,
    Q = ``rotations[tag]`` the crystal->lab rotation).  One group: a constant UFL
    matrix; several: a cell-wise (DG0) tensor Function (:func:`tensor_field`)."""
    import ufl
    gdim = mesh.geometry.dim
    d_cryst = layered_tensor(1.0, anisotropy_ratio, dim=gdim)
    tensors = {tag: rotate_tensor(d_cryst, np.asarray(Q)[:gdim, :gdim]) for tag, Q in rotations.items()}
    if len(tensors) == 1:
        return ufl.as_matrix(next(iter(tensors.values())).tolist())
    return tensor_field(mesh, cell_tags, tensors)


def concentration_factor(model: str, beta: float = 0.0, x_ref: float = 0.5, table=None):
    """g(x) of D(x) = D_ref g(x), for numpy values and UFL: ``constant`` (1),
    ``exponential`` exp(beta (x - x_ref)), or ``table`` (a callable, e.g. a log-PCHIP
    :class:`fem.constitutive.tabulated.Tabulated`)."""
    if model == "constant":
        return lambda x: 1.0
    if model == "exponential":
        return lambda x: exp(beta * (x - x_ref))
    if model == "table":
        if table is None:
            raise InputError("diffusivity model 'table' needs a table (CSV of x, D/D_ref)")
        return table
    raise InputError(f"unknown diffusivity model {model!r}; allowed: constant, exponential, table")


def concentration_factor_derivative(model: str, beta: float = 0.0, x_ref: float = 0.5):
    """g'(x) of :func:`concentration_factor` for numpy values (``constant``: 0, ``exponential``:
    beta g(x)); None for ``table`` (no closed-form derivative here)."""
    if model == "constant":
        return lambda x: 0.0
    if model == "exponential":
        g = concentration_factor(model, beta, x_ref)
        return lambda x: beta * g(x)
    return None
