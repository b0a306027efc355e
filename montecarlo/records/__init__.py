"""Records and files: results, checkpoints, the cache, provenance, and the files they are read from and written to."""
