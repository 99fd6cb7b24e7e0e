"""Reading one mail: MIME to text, is it GSTN's (sender check), forwards, and the alert's words to
an event by the formats."""

# Its modules, imported by name: `from alertproc.reading import mailview`.
__all__ = ['mailview', 'text', 'senders', 'forwards', 'formats', 'extract', 'parse', 'explain']
