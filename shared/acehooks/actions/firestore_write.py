"""The ``saveToCloud`` action: write the model, or mapped values, to a Firestore document."""

from ..config import SaveToCloudAction
from .. import values
from .context import ActionContext


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


def stage(action: SaveToCloudAction, context: ActionContext, batch) -> dict:
    """Add the write to ``batch`` and return the action's result record."""
    path = target_path(action, context)
    batch.set(context.db.document(path), document_data(action, context), merge=action.write == "merge")
    return {"path": path, "write": action.write}
