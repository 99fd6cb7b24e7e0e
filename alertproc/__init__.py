"""alertproc: GST portal API-access alerts → archive → DuckDB → findings → HTML report.

The CLI is a thin layer over :mod:`alertproc.pipeline`; everything it does is callable
from Python.
"""

__version__ = "0.1.0"
