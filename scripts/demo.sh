#!/usr/bin/env bash
# Install what is needed, start the local stack, send the sample Stripe event and print the results.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
exec .venv/bin/python -m acehooks demo
