"""Firestore and Cloud Tasks clients, created once per process and only when first needed.

The imports sit inside the functions so that a cold start pays for each
client library only when a request needs it.
"""

import os
from functools import lru_cache

from .settings import get_settings


@lru_cache(maxsize=1)
def firestore_client():
    """Return the Firestore client; it uses FIRESTORE_EMULATOR_HOST when that is set."""
    from google.cloud import firestore

    return firestore.Client(project=get_settings().project)


@lru_cache(maxsize=1)
def tasks_client():
    """Return the Cloud Tasks client, over plain gRPC to CLOUD_TASKS_EMULATOR_HOST when that is set."""
    from google.cloud import tasks_v2

    emulator = os.environ.get("CLOUD_TASKS_EMULATOR_HOST")
    if not emulator:
        return tasks_v2.CloudTasksClient()

    import grpc
    from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

    channel = grpc.insecure_channel(emulator)
    return tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=channel))


def reset_clients() -> None:
    """Drop the cached clients, so the next call connects anew (tests change emulator hosts)."""
    firestore_client.cache_clear()
    tasks_client.cache_clear()
