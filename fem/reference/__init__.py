"""Independent reference solvers (1D) used to verify the finite-element physics."""
