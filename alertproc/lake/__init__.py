"""The Parquet event lake and the engines that run the rules on it.

``parquet``: writing the lake (``alertproc export lake``); ``engines``: ``detect --lake`` on
DuckDB or Spark; ``spark``: the Spark engine (the ``spark`` extra); ``portable``: rule SQL
transpiled for Spark by sqlglot.
"""

from .parquet import LakeWrite, export_lake
from .portable import ENGINES

__all__ = ["ENGINES", "LakeWrite", "export_lake"]
