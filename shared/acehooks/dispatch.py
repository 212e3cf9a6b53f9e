"""Enqueue events for the worker as Cloud Tasks, one queue per endpoint."""

import json
import logging

from . import ids
from .clients import tasks_client
from .errors import BackendUnavailable
from .settings import get_settings

logger = logging.getLogger(__name__)

WORKER_SECRET_HEADER = "X-Acehooks-Worker-Secret"


def queue_path(endpoint: str) -> str:
    settings = get_settings()
    return f"projects/{settings.project}/locations/{settings.region}/queues/{ids.queue_id(endpoint)}"


def build_task(endpoint: str, doc_id: str, task_name: str) -> dict:
    """Build the task: a POST of the event's document id to the worker.

    Production tasks carry an OIDC token for the queue's service account; on
    the local stack they carry the worker's shared secret instead.
    """
    settings = get_settings()
    headers = {"Content-Type": "application/json"}
    http_request = {
        "http_method": "POST",
        "url": settings.worker_url,
        "headers": headers,
        "body": json.dumps({"endpoint": endpoint, "docId": doc_id}).encode(),
    }
    if settings.worker_secret:
        headers[WORKER_SECRET_HEADER] = settings.worker_secret
    elif settings.tasks_service_account:
        http_request["oidc_token"] = {
            "service_account_email": settings.tasks_service_account,
            "audience": settings.worker_audience or settings.worker_url,
        }
    return {"name": f"{queue_path(endpoint)}/tasks/{task_name}", "http_request": http_request}


def enqueue(endpoint: str, doc_id: str, suffix: str | None = None, timeout: float | None = None) -> str:
    """Create the event's task and return its name.

    A task that already exists (ALREADY_EXISTS) counts as enqueued, so a
    repeated call is harmless. Raises BackendUnavailable on any other failure.
    """
    from google.api_core import exceptions

    task_name = ids.task_id(doc_id, suffix)
    task = build_task(endpoint, doc_id, task_name)
    from .ingest import bounded_call_options

    timeout = timeout if timeout is not None else get_settings().tasks_timeout_seconds
    try:
        # Retrying is safe: a second create of the same task name fails with ALREADY_EXISTS.
        tasks_client().create_task(parent=queue_path(endpoint), task=task, **bounded_call_options(timeout))
    except exceptions.AlreadyExists:
        logger.info("task %s already exists; counted as enqueued", task_name, extra={"endpoint": endpoint, "docId": doc_id})
    except exceptions.GoogleAPIError as error:
        raise BackendUnavailable(f"Cloud Tasks create_task failed for {task_name}: {type(error).__name__}: {error}") from error
    return task_name


def ensure_queue(endpoint: str) -> None:
    """Create the endpoint's queue unless it exists (local stack only; deploy creates real queues)."""
    from google.api_core import exceptions

    settings = get_settings()
    parent = f"projects/{settings.project}/locations/{settings.region}"
    try:
        tasks_client().create_queue(parent=parent, queue={"name": queue_path(endpoint)})
    except exceptions.AlreadyExists:
        pass
