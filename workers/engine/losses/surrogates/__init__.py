"""Surrogate losses, one module per kind of metric they stand in for (see
:mod:`workers.engine.losses.surrogate` for the catalogue entries in order)."""
