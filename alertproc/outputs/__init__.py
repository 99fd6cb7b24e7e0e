"""What people get: the HTML report, exports, evidence packs, notifications, mail by SMTP, status,
and safe file writing."""

# Its modules, imported by name: `from alertproc.outputs import report`.
__all__ = ['report', 'export', 'evidence', 'notify', 'mailer', 'files', 'status']
