"""The portal's other outputs as events: SMS exports, the access log, the list of active tokens,
and their CSV/XLSX reading."""

# Its modules, imported by name: `from alertproc.portal import sms`.
__all__ = ['sms', 'accesslog', 'portal_tokens', 'tabular']
