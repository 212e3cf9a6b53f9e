"""The ``saveToCloud`` action: write the model, or mapped values, to a Firestore document."""

import logging

from .. import values
from ..config import SaveToCloudAction
from .context import ActionContext

logger = logging.getLogger(__name__)


def document_data(action: SaveToCloudAction, context: ActionContext) -> dict:
    """Return the fields to write: the whole model for ``direct``, else each mapped value spec resolved."""
    if action.mapping == "direct":
        return dict(context.model)
    return {name: values.resolve(spec, context.model, context.payload) for name, spec in action.mapping.items()}


def target_path(action: SaveToCloudAction, context: ActionContext) -> str:
    """Return the document path, with the collection and document id templates filled in.

    Raises ValueError when a filled-in id is empty or contains '/'.
    """
    collection = values.render_template(action.collection, context.event, context.model)
    document_id = values.render_template(action.document_id, context.event, context.model)
    if "/" in document_id or document_id in (".", "..") or not document_id:
        raise ValueError(f"documentId {action.document_id!r} became {document_id!r}, which is not a valid document id")
    return f"{collection}/{document_id}"


def is_older(incoming, stored) -> bool:
    """Return True when ``incoming`` orders strictly before ``stored``; values of different types never do."""
    if incoming is None or stored is None:
        return False
    numbers = (int, float)
    if isinstance(incoming, numbers) and isinstance(stored, numbers) and not isinstance(incoming, bool):
        return incoming < stored
    if type(incoming) is type(stored):
        try:
            return incoming < stored
        except TypeError:
            return False
    return False


def stage(action: SaveToCloudAction, context: ActionContext, writes) -> dict:
    """Add the write to ``writes`` and return the action's result record.

    With ``orderBy``, the target is read first (inside the transaction) and
    an event older than what it holds writes nothing; the result says so.
    """
    path = target_path(action, context)
    target = context.db.document(path)
    data = document_data(action, context)

    if action.order_by:
        incoming = context.model.get(action.order_by)
        snapshot = writes.read(target)
        stored = (snapshot.to_dict() or {}).get(action.order_by) if snapshot.exists else None
        if is_older(incoming, stored):
            context.logger.info("skipped write to %s: %s %r is older than the stored %r", path, action.order_by,
                                incoming, stored, extra={"reason": "out_of_order"})
            return {"path": path, "skipped": True, "reason": "out_of_order",
                    "orderBy": action.order_by, "incoming": incoming, "stored": stored}

    writes.set(target, data, merge=action.write == "merge")
    return {"path": path, "write": action.write}
