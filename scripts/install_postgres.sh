#!/usr/bin/env bash
# Install Debian's PostgreSQL server for the store tests where we can (root on Debian/Ubuntu).
# The tests start their own throw-away server (initdb + pg_ctl as an unprivileged user, in a temp
# dir, on a free port; core/store/pgserver.py): nothing here starts or enables a system service.
set -u
found() { ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; }
if found; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian postgresql for the store tests (about a minute)..."
  apt-get update -qq >/dev/null 2>&1 || true
  # policy-rc.d 101: the package must not start its own cluster service (we start ours per run).
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d.negaudit && chmod +x /usr/sbin/policy-rc.d.negaudit
  [ -e /usr/sbin/policy-rc.d ] || cp /usr/sbin/policy-rc.d.negaudit /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql \
    >/dev/null 2>&1 \
    || echo "warning: could not install postgresql; PostgreSQL tests will skip (fail under CI=true)"
  cmp -s /usr/sbin/policy-rc.d /usr/sbin/policy-rc.d.negaudit && rm -f /usr/sbin/policy-rc.d
  rm -f /usr/sbin/policy-rc.d.negaudit
else
  echo "note: PostgreSQL (initdb) missing and not root: PostgreSQL tests will skip (fail under CI=true)"
fi
exit 0
