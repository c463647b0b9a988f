#!/usr/bin/env bash
# A local SMTP sink for the tests: aiosmtpd (PyPI, into target/smtp-venv, pinned) storing every
# message it receives in a Maildir. The tests start it themselves through this script:
#   tools/smtp-sink.sh PORT MAILDIR [aiosmtpd options, e.g. --tlscert C --tlskey K]
# (`tools/smtp-sink.sh --install` only makes the venv; .ci/run calls it before the tests.)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=target/smtp-venv
install() {
  mkdir -p target
  # Tests start sinks in parallel: one of them installs, the others wait for it.
  exec 9>target/smtp-venv.lock
  flock 9
  if ! "$VENV/bin/python" -c 'import aiosmtpd' 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q aiosmtpd==1.4.6
  fi
  flock -u 9
}
install
[ "${1:-}" = "--install" ] && exit 0
PORT=$1
MAILDIR=$2
shift 2
exec "$VENV/bin/python" -m aiosmtpd -n -l "127.0.0.1:$PORT" "$@" -c aiosmtpd.handlers.Mailbox "$MAILDIR"
