"""Estimates from folded statistics: intervals, derived quantities, control variates, diagnostics, quantiles."""
