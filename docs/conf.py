"""Sphinx configuration: the documentation site, from docs/*.md and the package's docstrings.

Build it with ``python -m sphinx -W -b html docs build/docs`` (CI does, warnings as errors).
"""

import montecarlo

project = "montecarlo"
release = version = montecarlo.__version__
extensions = ["myst_parser", "sphinx.ext.autodoc", "numpydoc", "sphinx.ext.mathjax"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["examples", "conf.py"]
myst_heading_anchors = 3
numpydoc_show_class_members = False
numpydoc_validation_checks: set[str] = set()
autodoc_default_options = {"members": True, "undoc-members": False}
html_theme = "alabaster"
html_title = f"montecarlo {release}"
suppress_warnings = ["myst.xref_missing"]
