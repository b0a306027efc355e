"""The package version (read by the build from here, and by `montecarlo.__version__`)."""

__version__ = "0.2.0"
