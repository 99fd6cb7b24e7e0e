"""alertproc: GST portal API-access alerts → archive → DuckDB → findings → HTML report.

The CLI is a thin layer over one application object; everything it does is callable from Python:

    import alertproc
    with alertproc.open("alertproc.duckdb") as ap:
        ap.import_mail("sample_mailbox/mail")
        ap.detect()
        findings = ap.sql("select * from findings").df()

docs/api.md describes the API.
"""

from .app.alertproc import Alertproc, open  # noqa: A004 (alertproc.open is the API's entry point)
from .errors import (AlertprocError, ArchiveError, ConfigError, DatabaseError, FetchError, LockedError,
                     RuleError, SourceError)

__version__ = "0.1.0"
__all__ = ["Alertproc", "open", "AlertprocError", "ArchiveError", "ConfigError", "DatabaseError", "FetchError",
           "LockedError", "RuleError", "SourceError", "__version__"]
