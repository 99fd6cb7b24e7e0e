#!/usr/bin/env bash
# Installs the system programs the tests run for real: Dovecot and GNU Mailutils imap4d (IMAP
# servers; imap4d installs beside Dovecot and removes nothing), Chromium (renders the report),
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
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing ${missing[*]} (needed by the tests)" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
