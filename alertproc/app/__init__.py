"""The application: one object (:class:`~alertproc.app.alertproc.Alertproc`) with a method per
command, which the CLI, ``watch`` and the Python API all go through, and what it needs of its
own: per-account isolation, the input registry, the doctor, the starter files, watch's loop."""

# Its modules, imported by name: `from alertproc.app import accounts`.
__all__ = ['alertproc', 'accounts', 'inputs', 'doctor', 'starter', 'watch']
