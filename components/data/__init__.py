"""Data: sources, file formats, Great Expectations suites, fitted transforms, splits, partitioned data, and
the readers of what one stage hands the next (artifacts.py)."""
