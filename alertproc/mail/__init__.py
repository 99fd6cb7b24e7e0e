"""Mail sources and sync: IMAP (with OAuth2), local Maildir/mbox/.eml, and the one path that
archives, loads and files a mailbox, and the cleanup of what was filed."""

# Its modules, imported by name: `from alertproc.mail import mailbox`.
__all__ = ['mailbox', 'imap', 'imapbounds', 'oauth', 'sources', 'ingest', 'fetch', 'cleanup', 'heartbeat']
