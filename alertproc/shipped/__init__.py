"""The data alertproc ships: ``rules/`` (rules, formats, queries, scenarios, example policy) and
``reports/`` (templates). In the repository they live at the top level; a wheel carries them
here, as ``alertproc/shipped/rules`` and ``alertproc/shipped/reports`` (pyproject.toml maps them).
"""
