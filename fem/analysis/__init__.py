"""Analysis of measured or simulated data (issue 16 item 3): GITT, PITT, Boltzmann–Matano, Arrhenius.

Pure NumPy/SciPy (no DOLFINx): ``io`` reads tables (CSV, BioLogic .mpr through ``galvani``),
``sphere`` holds the 1D radial sphere diffusion responses used by the fits, and ``gitt``,
``pitt``, ``matano``, ``arrhenius`` the analyses.  ``solidion analyze KIND FILE`` is the
command-line front end (:mod:`solidion.analyze`).
"""
