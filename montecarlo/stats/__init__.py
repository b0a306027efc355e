"""Block statistics: the accumulators every block returns and their merges, in the engine's own order."""
