"""Presentation of results: text and HTML tables, pandas frames, plots and the progress bar."""
