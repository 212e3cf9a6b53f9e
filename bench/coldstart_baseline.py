"""Cold start baseline: a functions-framework app whose handler imports only the Firestore client.

Serve it with ``functions-framework --target handler --source bench/coldstart_baseline.py``.
Each request creates one document, so the first response includes the client's
import, its gRPC channel and one round trip to Firestore.
"""

import os
import uuid
from functools import lru_cache


@lru_cache(maxsize=1)
def _client():
    from google.cloud import firestore

    return firestore.Client(project=os.environ["ACEHOOKS_PROJECT"])


def handler(request):
    """Create one document and return 200."""
    from google.cloud.firestore import SERVER_TIMESTAMP

    _client().collection("bench_coldstart").document(uuid.uuid4().hex).create({"at": SERVER_TIMESTAMP})
    return {"status": "ok"}
