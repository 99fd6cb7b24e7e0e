"""The ``alertproc`` command line: a thin layer over the library (``alertproc.api``, ``pipeline``).

``common`` holds the group, the shared options and ``main``; each other module adds its
commands to the group when imported: ``jobs`` (run, import, detect, report, reparse),
``mailbox`` (fetch, cleanup, watch, status, doctor, init), ``data`` (sql, export, rules),
``authoring`` (explain, formats), ``auth`` (auth login, auth status), ``findings`` (triage), ``evidence`` (packs),
``web`` (serve, user), ``policy`` (policy draft|show, approve, unapprove).
"""

from . import auth, authoring, data, evidence, findings, jobs, mailbox, policy, web  # noqa: F401 (each registers its commands on cli)
from .common import EXIT_FAILURE, EXIT_FINDINGS, EXIT_LOCKED, EXIT_USAGE, cli, main, settings_options

__all__ = ["EXIT_FAILURE", "EXIT_FINDINGS", "EXIT_LOCKED", "EXIT_USAGE", "cli", "main", "settings_options"]
