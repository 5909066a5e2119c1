#!/usr/bin/env bash
# Headless Chromium for the report's phone-width test (tests/coaching/test_report.py): the test fails,
# never skips, without it. Debian's package; nothing to do when a browser is already there.
set -euo pipefail
if command -v chromium >/dev/null || command -v chromium-browser >/dev/null || command -v google-chrome >/dev/null; then
    exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium
