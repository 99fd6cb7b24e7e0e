"""The DuckDB file and the raw-mail archive: connecting, migrating, batch writes, the run lock,
SQL files and the rule check."""

# Its modules, imported by name: `from alertproc.storage import store`.
__all__ = ['store', 'lock', 'archive', 'sqlfiles', 'queries', 'sqlcheck', 'rekey']
