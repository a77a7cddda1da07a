#!/usr/bin/env bash
# Make sure what the test suite talks to is installed and running on this machine:
# PostgreSQL on 127.0.0.1:5432 (trust auth), Redis on 127.0.0.1:6379, Debian's chromium,
# Node.js with npm (the JavaScript checks) and a C compiler (the media fast path's C module).
# Installs Debian packages only when running as root and they are missing.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
apt_updated=0
apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "test-services: $* missing and not root; install: apt-get install $*" >&2
    return 1
  fi
  if [ $apt_updated = 0 ]; then apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if ! have redis-server; then apt_install redis-server; fi
if ! port_open 6379; then
  echo "test-services: starting redis-server on 127.0.0.1:6379"
  mkdir -p /tmp/classroom-redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /tmp/classroom-redis --logfile /tmp/classroom-redis/redis.log
fi

if ! have psql || ! ls /etc/postgresql/*/main >/dev/null 2>&1; then apt_install postgresql; fi
if ! port_open 5432; then
  echo "test-services: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
fi

# A C compiler and Python's headers: the media fast path's C module (setup.py; without them the
# install goes on and tests/media/test_rtpsend.py says it was not built).
if ! have gcc; then apt_install gcc; fi
python="${PYTHON:-python3}"
if ! "$python" -c 'import os, sysconfig, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'; then
  apt_install python3-dev
fi

# Browser tests (Playwright) drive Debian's headless Chromium; no browser is downloaded.
if ! have chromium; then apt_install chromium; fi
# A CJK font (screenshots of zh-CN pages), and zbarimg to decode the screen's QR code in a test.
if ! ls /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc >/dev/null 2>&1; then apt_install fonts-wqy-zenhei; fi
if ! have zbarimg; then apt_install zbar-tools; fi
# pdftoppm renders the completion certificate PDF to a picture whose QR code a test decodes.
if ! have pdftoppm; then apt_install poppler-utils; fi

# The cluster tests (tests/cluster) put Debian's nginx in front of local server nodes and check
# deploy/nginx with `nginx -t`; systemd-analyze checks the units. Never started as a service.
if ! have nginx && [ ! -x /usr/sbin/nginx ]; then
  apt_install nginx-light
  # Debian starts the packaged service where it may; the tests run their own nginx.
  if [ -f /run/nginx.pid ]; then /usr/sbin/nginx -s quit || true; fi
fi
if ! have systemd-analyze; then apt_install systemd; fi
# coturn: tests/media/test_turn_relay.py runs deploy/coturn/turnserver.conf on loopback (its own
# process on free ports; Debian's service stays disabled). promtool (package prometheus) checks
# deploy/prometheus/alerts.yml. Neither is started as a service.
if ! have turnserver; then apt_install coturn; fi
if ! have promtool; then apt_install prometheus; fi

# ESLint and tsc --checkJs of web_client/ (tests/test_js_quality.py) run on Node.js; the tools
# themselves come at exact versions from package-lock.json (`make test` runs `npm ci`).
if ! have node; then apt_install nodejs; fi
if ! have npm; then apt_install npm; fi

for i in $(seq 1 30); do
  if port_open 5432 && port_open 6379; then
    echo "test-services: PostgreSQL and Redis are up"
    exit 0
  fi
  sleep 1
done
echo "test-services: PostgreSQL or Redis did not come up on 127.0.0.1" >&2
exit 1
