#!/usr/bin/env bash
# Install what is needed and run every test; integration tests start their own local stack.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
exec .venv/bin/python -m pytest "$@"
