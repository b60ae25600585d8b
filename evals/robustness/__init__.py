"""Metamorphic robustness suite: seeded nuisance perturbations of a case's traces that must not move the verdict.

`perturb.py` holds the perturbations (one function each, over the parsed trace model), `suite.py` runs every
case unperturbed and under each perturbation and reports whether the primary layer and the decisive span stay.
"""
