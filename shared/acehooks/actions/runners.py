"""The runner of each action type, and which types need a transaction.

A runner takes (action config, ActionContext, writes) and returns the
action's result, a JSON-compatible value stored on the event. Writes it adds
to ``writes`` commit together with the action's record, or not at all.

Before any runner, ``get_runner``'s wrapper applies what every action
accepts: ``eventTypes`` (another type is recorded as skipped) and
``required`` (a missing model field is a PermanentError).
"""

from functools import wraps
from typing import Callable

from ..errors import PermanentError
from . import custom, firestore_write, http_request, sendgrid_email

RUNNERS: dict[str, Callable] = {
    "firestoreWrite": firestore_write.stage,
    "saveToCloud": firestore_write.stage,
    "customAction": custom.run,
    "sendgridEmail": sendgrid_email.run,
    "httpRequest": http_request.run,
}


def _with_common_checks(runner: Callable) -> Callable:
    @wraps(runner)
    def run(action, context, writes):
        event_types = getattr(action, "event_types", None)
        if event_types is not None and context.event_type not in event_types:
            context.logger.info("action skipped: event type %r is not in its eventTypes", context.event_type,
                                extra={"reason": "event_type_not_selected"})
            return {"skipped": True, "reason": "event_type", "eventType": context.event_type}

        missing = [name for name in getattr(action, "required", []) if context.model.get(name) is None]
        if missing:
            raise PermanentError(f"action {context.action_id} requires model fields {', '.join(missing)}, which "
                                 "this event lacks or sets to null")
        return runner(action, context, writes)

    return run


def get_runner(action_type: str) -> Callable:
    """Return the runner of an action type; raises KeyError for a type with no runner."""
    return _with_common_checks(RUNNERS[action_type])


def needs_transaction(action) -> bool:
    """Return True when the action reads its target before writing it (see firestore_write.reads_target)."""
    if getattr(action, "type", None) in ("firestoreWrite", "saveToCloud"):
        return firestore_write.reads_target(action)
    return False
