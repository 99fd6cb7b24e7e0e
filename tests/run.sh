#!/usr/bin/env bash
# The README's test command: installs what the tests need (the spark, m365, google and web extras too: the
# DuckDB/Spark parity test, the OAuth2 tests and the web app's), then runs them.
# Extra arguments go to pytest (e.g. `bash tests/run.sh -k imap -x`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/setup-system.sh
python3 -m pip install -q --disable-pip-version-check -e '.[test,spark,m365,google,web]'
# Two workers, a test file each at a time (its module fixtures stay in one process): the suite
# takes 8.5 minutes on the 2-core CI machine instead of 14.5. ALERTPROC_TEST_WORKERS=0 runs it serially.
exec python3 -m pytest -n "${ALERTPROC_TEST_WORKERS:-2}" --dist loadfile "$@"
