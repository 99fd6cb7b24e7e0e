"""The web app (``alertproc serve``), a face over the application object: ``server`` (routes and
pages), ``guard`` (sessions, CSRF tokens, roles, login throttling, security headers).

__all__ lists its modules."""

__all__ = ["guard", "server"]
