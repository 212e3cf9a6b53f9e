"""The clock acehooks reads, kept in one place so tests can replace it."""

import time


def now_seconds() -> float:
    """Return the current Unix time in seconds."""
    return time.time()
