"""The engine: plan, worker side, in-order fold and monitor, scheduling.

``plan`` cuts a run into tasks of consecutive blocks; ``worker`` runs a
task's blocks wherever the backend puts it; ``fold`` merges their
accumulators in block order and ``monitor`` decides stopping and records the
trace after each block; ``scheduler`` keeps tasks in flight, replaces dead
workers and saves checkpoints. Backends live in `montecarlo.engine.backends`.
"""
