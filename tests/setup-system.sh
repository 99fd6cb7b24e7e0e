#!/usr/bin/env bash
# Installs the system programs the tests run for real: Dovecot and GNU Mailutils imap4d (IMAP
# servers; imap4d installs beside Dovecot and removes nothing), Cyrus IMAP (unpacked, see
# below), Chromium (renders the report),
# isync's mbsync (the benchmark's baseline) and Java (PySpark). Does nothing when they are
# already there.
set -euo pipefail
missing=()
# The IMAP daemon itself (dovecot-imapd), not only the master process (dovecot-core).
{ [ -x /usr/sbin/dovecot ] && [ -x /usr/lib/dovecot/imap ]; } || missing+=(dovecot-imapd)
[ -x /usr/sbin/imap4d ] || missing+=(mailutils-imap4d)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v mbsync >/dev/null 2>&1 || missing+=(isync)  # the benchmark's baseline
command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)  # PySpark, for the Spark parity test
# Cyrus IMAP (a server of the test matrix) is never installed: installing it removes
# dovecot-imapd. Its packages are downloaded and unpacked into a cache folder instead
# (tests/helpers/cyrus_server.py runs it from there); only the libraries it links are installed.
# As root, Cyrus drops to 'nobody', who must reach its binaries: not under /root.
cache="${ALERTPROC_TEST_CACHE:-$HOME/.cache/alertproc-tests}"
[ -n "${ALERTPROC_TEST_CACHE:-}" ] || [ "$(id -u)" -ne 0 ] || cache=/var/cache/alertproc-tests
cyrus="$cache/cyrus"
for lib in libxapian30 libpcre3 libical3; do
    dpkg -s "$lib" >/dev/null 2>&1 || missing+=("$lib")
done
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
updated=""
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} (needed by the tests)" >&2
    $sudo apt-get update -qq && updated=1
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ ! -x "$cyrus/usr/lib/cyrus/bin/master" ]; then
    echo "unpacking Cyrus IMAP into $cyrus (never installed: it would remove dovecot-imapd)" >&2
    [ -n "$updated" ] || $sudo apt-get update -qq
    download="$(mktemp -d)"
    (cd "$download" && apt-get download -qq cyrus-imapd cyrus-common 2>/dev/null)
    mkdir -p "$cyrus"
    for deb in "$download"/*.deb; do dpkg-deb -x "$deb" "$cyrus"; done
    rm -rf "$download"
fi

# Other projects' test vectors, read as data by tests/reading/test_peer_vectors.py: the source
# distributions of dkimpy (signed messages) and authres (Authentication-Results headers), from PyPI.
peer="$cache/peer-vectors"
if [ ! -d "$peer/dkimpy-1.1.8" ] || [ ! -d "$peer/authres-1.2.0" ]; then
    echo "fetching peer test vectors (dkimpy and authres sources) into $peer" >&2
    download="$(mktemp -d)"
    python3 -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: \
        dkimpy==1.1.8 authres==1.2.0 -d "$download"
    mkdir -p "$peer"
    for archive in "$download"/*.tar.gz; do tar -xzf "$archive" -C "$peer"; done
    rm -rf "$download"
fi

# Other DuckDBs that must read the database users open (tests/storage/test_published.py): the
# oldest supported (1.1.3, storage version 64) and the newest duckdb CLI on PyPI (1.5.6, which
# reads versions 64-68). Each in its own folder, never over the DuckDB alertproc runs on.
readers="$cache/duckdb-readers"
if [ ! -d "$readers/python-1.1.3/duckdb" ] || [ ! -x "$readers/cli-1.5.6/duckdb_cli/duckdb" ]; then
    echo "installing DuckDB 1.1.3 and duckdb-cli 1.5.6 into $readers (readers of the published database)" >&2
    rm -rf "$readers" && mkdir -p "$readers"
    python3 -m pip install -q --disable-pip-version-check --no-deps --target "$readers/python-1.1.3" duckdb==1.1.3
    python3 -m pip install -q --disable-pip-version-check --no-deps --target "$readers/cli-1.5.6" duckdb-cli==1.5.6
fi
