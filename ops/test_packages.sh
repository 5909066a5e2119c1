#!/usr/bin/env sh
# The machine's packages that `make test` needs beyond Python's: headless Chromium (the report's
# phone-width test) and PostgreSQL's server programs (the ledger's PostgreSQL tests start a cluster of
# their own: tests/postgres.py). Installs the missing ones from Debian's packages when it can; else one
# line says what to install. Nothing to do when both are there.
set -eu
missing=""
if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null && ! command -v google-chrome >/dev/null; then
    missing="chromium"
fi
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then
    missing="$missing postgresql"
fi
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing$missing from Debian's packages (once)"
    # shellcheck disable=SC2086 # one word per package
    if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null; then
        exit 0
    fi
fi
echo "error: the tests need$missing: install it as root with: apt-get install -y$missing (or your system's packages)" >&2
exit 1
