"""Functions source for the benchmarks: the product's entry points and bare baselines in one process.

Serve it with ``functions-framework --target bench_router --source bench/main.py``.
Routes, all POST:

- ``/stripe_webhook``: the product's ingest function, as ``functions/main.py`` exports it.
- ``/process_event``: the product's worker.
- ``/baseline_ingest``, ``/baseline_worker``, ``/baseline_ingest_product_document``:
  the bare handlers of bench/baseline.py.

The baselines share the process, the Python interpreter and the emulators
with the product, so a ratio between them measures what acehooks adds.
"""

import logging
import os

from flask import jsonify

from acehooks.runtime import entry_points
from baseline import baseline_ingest, baseline_ingest_product_document, baseline_worker

PRODUCT = entry_points()
globals().update(PRODUCT)

# Diagnostic only: BENCH_ACEHOOKS_LOG_LEVEL=WARNING silences acehooks' info lines, to measure what they cost.
if os.environ.get("BENCH_ACEHOOKS_LOG_LEVEL"):
    logging.getLogger("acehooks").setLevel(os.environ["BENCH_ACEHOOKS_LOG_LEVEL"])

ROUTES = {
    "/stripe_webhook": PRODUCT["stripe_webhook"],
    "/process_event": PRODUCT["process_event"],
    "/baseline_ingest": baseline_ingest,
    "/baseline_worker": baseline_worker,
    "/baseline_ingest_product_document": baseline_ingest_product_document,
}


def bench_router(request):
    """Send each benchmark path to its handler; 404 for any other path."""
    handler = ROUTES.get(request.path)
    if handler is None:
        return jsonify(error=f"no route {request.path}; routes: {', '.join(ROUTES)}"), 404
    return handler(request)
