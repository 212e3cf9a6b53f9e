"""acehooks: verified, idempotent webhook receivers on Cloud Functions, Firestore and Cloud Tasks."""

from .actions.context import ActionContext
from .actions.registry import action
from .errors import ActionError, PermanentError

__all__ = ["ActionContext", "ActionError", "PermanentError", "action"]
__version__ = "0.1.0"
