"""The ``customAction`` action: call a registered Python function with resolved params."""

from .. import values
from .context import ActionContext
from .registry import get_action


def run(action, context: ActionContext, writes):
    """Resolve the params, call the function and return its result.

    The function's own Firestore writes are not part of ``writes``; only its
    record is committed with the guard that keeps it from being recorded twice.
    For a side effect that must not repeat when the action runs again, the
    function wraps it in ``context.once(key, function)``.
    """
    context.params = values.resolve_params(action.params, context.model, context.payload)
    return get_action(action.name)(context)
