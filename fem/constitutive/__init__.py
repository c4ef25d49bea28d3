"""Constitutive laws shared by every physics (free energy, diffusivity, kinetics, ...).

Each law works on numbers (numpy) and inside UFL forms: functions dispatch on
the argument type through :mod:`fem.constitutive.mathops`.
"""
