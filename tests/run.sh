#!/usr/bin/env bash
# The README's test command: installs what the tests need (the spark, m365, google and web extras too: the
# DuckDB/Spark parity test, the OAuth2 tests and the web app's), then runs them.
# Extra arguments go to pytest (e.g. `bash tests/run.sh -k imap -x`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/setup-system.sh
python3 -m pip install -q --disable-pip-version-check -e '.[test,spark,m365,google,web]'
exec python3 -m pytest "$@"
