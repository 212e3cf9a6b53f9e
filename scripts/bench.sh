#!/usr/bin/env bash
# Install the benchmark dependencies and run every benchmark against local emulators: about 5 minutes on
# 2 cores once installed, and at most about 13 minutes, because each step has a time limit.
# Results go to bench/results/*.json, bench/results/summary.md and docs/benchmarks-latency.png.
# Ports: ACEHOOKS_BENCH_PORT_BASE (default 20300) plus offsets up to 90 for the benchmarks' own stack,
# and ACEHOOKS_TEST_PORT_BASE (default here 20000) for the operation count test's stack.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-bench.txt

export ACEHOOKS_TEST_PORT_BASE="${ACEHOOKS_TEST_PORT_BASE:-20000}"
# SIGINT from `timeout` lets each script stop the emulators it started before it exits.
# The ingest comparison runs twice: on a shared machine the ratios move from run to run.
rm -f bench/results/ingest-repeat*.json
timeout -s INT -k 20 200 .venv/bin/python bench/ingest.py
timeout -s INT -k 20 200 .venv/bin/python bench/ingest.py --output ingest-repeat1
timeout -s INT -k 20 90 .venv/bin/python bench/worker.py
timeout -s INT -k 20 90 .venv/bin/python bench/coldstart.py --proposed
timeout -s INT -k 20 45 .venv/bin/python bench/hmac_payload.py
timeout -s INT -k 20 45 .venv/bin/python bench/ingest_steps.py
timeout -s INT -k 20 90 .venv/bin/python -m pytest tests/integration/test_operation_counts.py -q -p no:cacheprovider
.venv/bin/python bench/plot.py
.venv/bin/python bench/report.py
