"""Analyses built on runs: each is one or more ordinary runs of a model the analysis derives.

An analysis never draws or folds samples itself: it builds model records
(`montecarlo.models.record.Model`) and RunSpecs, runs them through the
engine, and reads its answers from their folded statistics. So its numbers
keep every promise of a run: the same bits for any worker count, executor,
task order, interruption or resume.
"""
