"""Weak forms: plain functions (unknowns, test functions, coefficients, measures) -> UFL form.

They hold no solver state; all quantities are nondimensional.
"""
