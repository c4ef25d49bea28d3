"""Names of cell and facet physical groups: the one place they are defined.

Problems refer to regions by these names, never by integers.  Families of
numbered groups (grains, primary particles, layers, shells) use an offset plus
an index, see :func:`grain`, :func:`primary`, :func:`layer`, :func:`shell`.
"""

# --- cell groups (volumes in 3D, surfaces in 2D, intervals in 1D) ------------
PARTICLE = "particle"          # the whole active particle (single phase)
CORE = "core"                  # inner phase of a core-shell / shrinking-core particle
SHELL = "shell"                # first coating shell (see shell(i) for more)
MATRIX = "matrix"              # surrounding matrix, e.g. solid electrolyte
ELECTRODE = "electrode"        # electrode layer of a bilayer
ELECTROLYTE = "electrolyte"    # solid-electrolyte layer of a bilayer
PHASE_ALPHA = "phase_alpha"    # two-phase (Stefan) problems
PHASE_BETA = "phase_beta"

# --- facet groups ------------------------------------------------------------
SURFACE = "surface"                    # outer particle surface (electrolyte side)
INTERFACE = "interface"                # internal interface between two materials
GRAIN_BOUNDARY = "grain_boundary"      # internal facets between grains
SYMMETRY = "symmetry"                  # symmetry planes / axis (zero normal flux)
CONTACT_LEFT = "contact_left"          # electrode contacts of slabs / bilayers
CONTACT_RIGHT = "contact_right"
LATERAL = "lateral"                    # side faces of slabs and bilayers
OUTER = "outer"                        # outer boundary of an embedding matrix

# Integer values of the fixed names.  Cell and facet ids are separate spaces.
CELL_IDS = {PARTICLE: 1, CORE: 2, SHELL: 3, MATRIX: 4, ELECTRODE: 5, ELECTROLYTE: 6,
            PHASE_ALPHA: 7, PHASE_BETA: 8}
FACET_IDS = {SURFACE: 1, INTERFACE: 2, GRAIN_BOUNDARY: 3, SYMMETRY: 4, CONTACT_LEFT: 5,
             CONTACT_RIGHT: 6, LATERAL: 7, OUTER: 8}

GRAIN_OFFSET = 1000
PRIMARY_OFFSET = 2000
LAYER_OFFSET = 3000
SHELL_OFFSET = 4000
INTERFACE_OFFSET = 5000


def grain(i: int) -> str:
    """Name of grain ``i`` (0-based) of a polycrystal."""
    return f"grain_{i}"


def primary(i: int) -> str:
    """Name of primary particle ``i`` of an agglomerate."""
    return f"primary_{i}"


def layer(i: int) -> str:
    """Name of layer ``i`` (0-based, from the left) of a multilayer."""
    return f"layer_{i}"


def shell(i: int) -> str:
    """Name of shell ``i`` (0 = innermost) of a coated particle."""
    return f"shell_{i}"


def interface(i: int) -> str:
    """Name of internal interface ``i`` (0 = innermost / leftmost)."""
    return f"interface_{i}"


def cell_id(name: str) -> int:
    """Integer id of a cell group name."""
    if name in CELL_IDS:
        return CELL_IDS[name]
    for prefix, offset in (("grain_", GRAIN_OFFSET), ("primary_", PRIMARY_OFFSET),
                           ("layer_", LAYER_OFFSET), ("shell_", SHELL_OFFSET)):
        if name.startswith(prefix):
            return offset + int(name[len(prefix):])
    raise KeyError(f"unknown cell group name {name!r}")


def facet_id(name: str) -> int:
    """Integer id of a facet group name."""
    if name in FACET_IDS:
        return FACET_IDS[name]
    if name.startswith("interface_"):
        return INTERFACE_OFFSET + int(name[len("interface_"):])
    raise KeyError(f"unknown facet group name {name!r}")
