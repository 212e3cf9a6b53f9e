#!/usr/bin/env bash
# Install everything the local stack and the tests need, from scratch or on top of an earlier install:
# the project venv (.venv), the Cloud Tasks emulator's own venv (.acehooks/tasks-venv, protobuf<5)
# and the npm Firestore emulator (tools/firestore-emulator/node_modules, pinned by package-lock.json).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt

if [ ! -x .acehooks/tasks-venv/bin/gcloud-tasks-emulator ]; then
  mkdir -p .acehooks
  "$PYTHON" -m venv .acehooks/tasks-venv
  .acehooks/tasks-venv/bin/python -m pip install --quiet --disable-pip-version-check \
    -r tools/tasks-emulator/requirements.txt
fi

# npm ci also applies tools/firestore-emulator/patches (patch-package); the grep detects an unpatched copy.
if ! grep -q "acehooks patch" tools/firestore-emulator/node_modules/@firestore-emulator/server/dist/index.js 2>/dev/null; then
  (cd tools/firestore-emulator && npm ci --no-audit --no-fund --loglevel=error)
fi
