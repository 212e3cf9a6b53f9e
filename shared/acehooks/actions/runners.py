"""Which function runs each action type, and which types need a transaction.

A runner takes (action config, ActionContext, writes) and returns the
action's result, a JSON-compatible value stored on the event. Writes it adds
to ``writes`` commit together with the action's record, or not at all.
"""

from typing import Callable

from . import custom, firestore_write

RUNNERS: dict[str, Callable] = {
    "saveToCloud": firestore_write.stage,
    "customAction": custom.run,
}


def get_runner(action_type: str) -> Callable:
    """Return the runner of an action type; raises KeyError for a type with no runner."""
    return RUNNERS[action_type]


def needs_transaction(action) -> bool:
    """Return True when the action reads its target before writing it (saveToCloud with orderBy)."""
    return bool(getattr(action, "order_by", None))
