"""Values: the options of a run, its `RunSpec`, stopping rules, seeds and the checks of single values.

Nothing here runs anything or imports numpy at module level beyond what a
value needs; every layer above builds on these records.
"""
