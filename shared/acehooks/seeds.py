"""Seed documents for the local stack: a JSON file of document path to fields, written with set().

The file is one JSON object whose keys are document paths and whose values
are the documents' fields::

    {"products/SKU-1001": {"name": "Espresso beans 1 kg", "quantity": 40}}

Writing the same file again stores the same documents, so loading is
idempotent. NOTE: on the local emulator (@firestore-emulator/server 0.3.15)
set() keeps top-level fields that a document has and its seed lacks, where
Firestore removes them. So on the emulator a seed resets only the fields it names.
"""

import json
import logging
import os
from pathlib import Path

from .errors import ConfigError

logger = logging.getLogger(__name__)

DEFAULT_SEEDS_FILE = Path("emulator_data/seeds.json")
BATCH_SIZE = 500  # Firestore's maximum number of writes in one batch


def read_seeds(path: Path) -> dict[str, dict]:
    """Read and check a seeds file; raises ConfigError naming the file and the entry that is wrong."""
    try:
        seeds = json.loads(Path(path).read_text())
    except OSError as error:
        raise ConfigError(f"{path}: cannot be read: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise ConfigError(f"{path}: line {error.lineno} column {error.colno}: invalid JSON: {error.msg}") from None

    if not isinstance(seeds, dict):
        raise ConfigError(f"{path}: expected a JSON object of document path to fields, found {type(seeds).__name__}")
    for document_path, fields in seeds.items():
        segments = document_path.split("/")
        if len(segments) % 2 != 0 or any(not segment for segment in segments):
            raise ConfigError(f"{path}: {document_path!r} is not a document path; write 'collection/documentId' "
                              "(an even number of non-empty segments)")
        if not isinstance(fields, dict):
            raise ConfigError(f"{path}: {document_path!r}: expected an object of fields, found {type(fields).__name__}")
    return seeds


def load_seeds(db, path: Path | str = DEFAULT_SEEDS_FILE) -> list[str]:
    """Write every seed document with set(), in batches, and return the paths written.

    Raises ConfigError when the file is missing or malformed, before anything is written.
    """
    seeds = read_seeds(Path(path))
    paths = list(seeds)
    for start in range(0, len(paths), BATCH_SIZE):
        batch = db.batch()
        for document_path in paths[start:start + BATCH_SIZE]:
            batch.set(db.document(document_path), seeds[document_path])
        batch.commit()
    logger.info("loaded %d seed document(s) from %s", len(paths), path)
    return paths


def seed_emulator(emulator_host: str, project: str, path: Path | str = DEFAULT_SEEDS_FILE) -> list[str]:
    """Load a seeds file into the Firestore emulator at ``emulator_host`` (host:port) and return the paths written.

    For ``acehooks dev``, whose own process does not point at the emulator.
    A missing file loads nothing, because seeds are optional. Raises
    ConfigError when the file is malformed.
    """
    from google.cloud import firestore

    if not Path(path).is_file():
        logger.info("no seeds file at %s; nothing loaded", path)
        return []

    # The client reads FIRESTORE_EMULATOR_HOST once, when it is created, so the variable is set only for that.
    saved = os.environ.get("FIRESTORE_EMULATOR_HOST")
    os.environ["FIRESTORE_EMULATOR_HOST"] = emulator_host
    try:
        db = firestore.Client(project=project)
    finally:
        if saved is None:
            del os.environ["FIRESTORE_EMULATOR_HOST"]
        else:
            os.environ["FIRESTORE_EMULATOR_HOST"] = saved
    return load_seeds(db, path)
