#!/usr/bin/env bash
# Install Debian's Chromium for the real-browser tests where we can (root on Debian/Ubuntu).
# Never `playwright install`: browsers come from the distribution, not from a download at test time.
set -u
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian chromium for the browser tests (about two minutes)..."
  apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 \
    || echo "warning: could not install chromium; browser tests will skip (fail under CI=true)"
else
  echo "note: /usr/bin/chromium missing and not root: browser tests will skip (fail under CI=true)"
fi
exit 0
