"""Reusable physics models: each owns its unknowns, forms and solver and offers
the ``step / reject / accept`` protocol of :class:`fem.simulation.Simulation`
(plus ``checkpoint_state / restore_state`` for restart).  Models take region
names as arguments and never import ``meshes.tags`` or ``problems``; they know
nothing of outputs."""
