"""Count Firestore and Cloud Tasks operations per request, for tests and benchmarks.

Nothing in acehooks imports this module, so it costs nothing in production.
``python -m acehooks.opcount ARGS`` installs the counters and then runs
``functions-framework ARGS``, so the served functions are the real ones.
Counting needs ``ACEHOOKS_COUNT_OPS=1`` and a file in ``ACEHOOKS_COUNT_OPS_FILE``.

The counters wrap the generated (GAPIC) client classes that every
``google.cloud.firestore`` and ``tasks_v2`` client calls, and each call
appends one JSON line to the file. Units follow Firestore's billing:

- ``commit`` and ``batch_write``: one write per ``Write`` in the request. A
  field transform such as a server timestamp travels inside the same
  ``Write``, so it adds nothing.
- ``batch_get_documents``: one read per document requested, found or not.
- ``run_query``: one read per document returned, and at least one.
- ``run_aggregation_query``, ``get_document``: one read.
- Every other RPC, and every Cloud Tasks RPC, counts as a call only.

Each line carries the HTTP path of the request being served (from Flask's
request context), which separates the ingest's operations from the worker's.
"""

import json
import os
import sys
import threading
from functools import wraps

ENABLE_ENV = "ACEHOOKS_COUNT_OPS"
FILE_ENV = "ACEHOOKS_COUNT_OPS_FILE"

FIRESTORE_RPCS = (
    "get_document", "list_documents", "update_document", "delete_document", "batch_get_documents",
    "begin_transaction", "commit", "rollback", "run_query", "run_aggregation_query", "partition_query",
    "write", "listen", "list_collection_ids", "batch_write", "create_document",
)
TASKS_RPCS = (
    "list_queues", "get_queue", "create_queue", "update_queue", "delete_queue", "purge_queue", "pause_queue",
    "resume_queue", "list_tasks", "get_task", "create_task", "delete_task", "run_task",
)

_lock = threading.Lock()
_installed_path: str | None = None


class CountingNotInstalled(RuntimeError):
    """The counters could not wrap a client method they expect to find."""


def _field(request, kwargs: dict, name: str):
    """Read one request field whether the caller passed a dict, a proto message or flattened keywords."""
    if request is None:
        return kwargs.get(name)
    if isinstance(request, dict):
        return request.get(name)
    return getattr(request, name, None)


def _document_name(write) -> str:
    """Return the path after ``/documents/`` of the document a ``Write`` changes."""
    if isinstance(write, dict):
        name = (write.get("update") or {}).get("name") or write.get("delete") or ""
    else:
        name = write.update.name if "update" in write else write.delete
    return name.split("/documents/", 1)[-1]


def _request_path() -> str | None:
    flask = sys.modules.get("flask")
    if flask is not None and flask.has_request_context():
        return flask.request.path
    return None


def _record(service: str, rpc: str, reads: int = 0, writes: int = 0, documents: list[str] | None = None) -> None:
    entry = {"pid": os.getpid(), "path": _request_path(), "service": service, "rpc": rpc,
             "reads": reads, "writes": writes}
    if documents:
        entry["documents"] = documents
    line = json.dumps(entry) + "\n"
    with _lock:
        with open(_installed_path, "a", encoding="utf-8") as file:
            file.write(line)


class _CountingStream:
    """Pass a query's response stream through, counting the documents it returns."""

    def __init__(self, stream, rpc: str):
        self._stream = stream
        self._rpc = rpc
        self._documents = 0
        self._recorded = False

    def __iter__(self):
        return self

    def __next__(self):
        try:
            response = next(self._stream)
        except StopIteration:
            self._finish()
            raise
        if getattr(response, "document", None) is not None and response.document.name:
            self._documents += 1
        return response

    def _finish(self) -> None:
        if not self._recorded:
            self._recorded = True
            _record("firestore", self._rpc, reads=max(1, self._documents))

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _wrap_firestore(method, rpc: str):
    @wraps(method)
    def counted(self, request=None, *args, **kwargs):
        if rpc in ("commit", "batch_write"):
            writes = list(_field(request, kwargs, "writes") or [])
            _record("firestore", rpc, writes=len(writes), documents=[_document_name(write) for write in writes])
        elif rpc == "batch_get_documents":
            documents = list(_field(request, kwargs, "documents") or [])
            _record("firestore", rpc, reads=len(documents),
                    documents=[name.split("/documents/", 1)[-1] for name in documents])
        elif rpc in ("get_document", "run_aggregation_query"):
            _record("firestore", rpc, reads=1)
        elif rpc != "run_query":
            _record("firestore", rpc)

        result = method(self, request, *args, **kwargs)
        return _CountingStream(result, rpc) if rpc == "run_query" else result

    return counted


def _wrap_call(method, service: str, rpc: str):
    @wraps(method)
    def counted(self, *args, **kwargs):
        _record(service, rpc)
        return method(self, *args, **kwargs)

    return counted


def install(path: str) -> None:
    """Wrap the Firestore and Cloud Tasks client classes so each RPC appends a line to ``path``.

    Raises CountingNotInstalled when a client class lacks an expected RPC
    method, because counters that silently wrap nothing would report zero.
    """
    global _installed_path
    from google.cloud.firestore_v1.services.firestore.client import FirestoreClient
    from google.cloud.tasks_v2.services.cloud_tasks.client import CloudTasksClient

    if _installed_path is not None:
        _installed_path = path
        return

    missing = [f"FirestoreClient.{rpc}" for rpc in FIRESTORE_RPCS if not hasattr(FirestoreClient, rpc)]
    missing += [f"CloudTasksClient.{rpc}" for rpc in TASKS_RPCS if not hasattr(CloudTasksClient, rpc)]
    if missing:
        raise CountingNotInstalled(f"client methods not found, so they cannot be counted: {', '.join(missing)}")

    for rpc in FIRESTORE_RPCS:
        setattr(FirestoreClient, rpc, _wrap_firestore(getattr(FirestoreClient, rpc), rpc))
    for rpc in TASKS_RPCS:
        setattr(CloudTasksClient, rpc, _wrap_call(getattr(CloudTasksClient, rpc), "tasks", rpc))
    _installed_path = path


def read_counts(path: str) -> list[dict]:
    """Return the lines recorded in ``path``, oldest first."""
    with open(path, encoding="utf-8") as file:
        return [json.loads(line) for line in file if line.strip()]


def totals(entries: list[dict], path: str | None = None) -> dict:
    """Sum reads, writes and calls per service, for one request path or all of them."""
    summary = {"firestore_reads": 0, "firestore_writes": 0, "firestore_calls": 0, "tasks_calls": 0}
    for entry in entries:
        if path is not None and entry["path"] != path:
            continue
        if entry["service"] == "firestore":
            summary["firestore_reads"] += entry["reads"]
            summary["firestore_writes"] += entry["writes"]
            summary["firestore_calls"] += 1
        else:
            summary["tasks_calls"] += 1
    return summary


def main() -> None:
    """Install the counters from the environment, then run functions-framework with this process's arguments."""
    if os.environ.get(ENABLE_ENV) != "1" or not os.environ.get(FILE_ENV):
        sys.exit(f"set {ENABLE_ENV}=1 and {FILE_ENV} to the file that receives the counts")
    install(os.environ[FILE_ENV])

    from functions_framework._cli import _cli

    sys.argv[0] = "functions-framework"
    _cli()


if __name__ == "__main__":
    main()
