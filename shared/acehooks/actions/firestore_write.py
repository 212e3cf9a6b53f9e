"""The ``firestoreWrite`` action (alias ``saveToCloud``): write the model, or mapped values, to a document.

A mapping value is a value spec (see ``acehooks.values``) or a field
transform on a top-level field: ``{"increment": spec}``,
``{"serverTimestamp": true}``, ``{"arrayUnion": [specs]}`` or
``{"arrayRemove": [specs]}``.

The writes are shaped so that Firestore and the local emulator
(@firestore-emulator/server 0.3.15) store the same result:

* The emulator applies the transforms of one write only up to the first
  one that is not an increment, and drops the rest. So plain values and
  increments go in one write, and every other transform gets a write of its
  own, all in the same batch or transaction.
* The emulator fails arrayUnion and arrayRemove on a field that contains no
  array, where Firestore writes the elements (or an empty array). So an
  action with array transforms reads the document first and writes the
  resulting array itself when the stored field is not an array.
"""

import logging
from dataclasses import dataclass
from typing import Any

from .. import values
from ..config import FirestoreWriteAction, field_transform
from ..errors import PermanentError
from .context import ActionContext

logger = logging.getLogger(__name__)

MAX_DOCUMENT_ID_BYTES = 1500  # Firestore's limit on one path segment
ARRAY_TRANSFORMS = ("arrayUnion", "arrayRemove")


@dataclass(frozen=True)
class Transform:
    """A field transform with its operand resolved: a number, True, or a list of elements."""

    kind: str
    operand: Any


def check_path_segment(value: str) -> str:
    """Return ``value`` when it can be one segment of a Firestore path; raise ValueError naming it otherwise."""
    if "/" in value:
        raise ValueError(f"{value!r} contains '/', which would change the document path")
    if value in (".", "..") or (value.startswith("__") and value.endswith("__")):
        raise ValueError(f"{value!r} is not allowed as a Firestore id ('.', '..' and '__name__' forms are reserved)")
    if len(value.encode()) > MAX_DOCUMENT_ID_BYTES:
        raise ValueError(f"a value of {len(value.encode())} bytes is over Firestore's {MAX_DOCUMENT_ID_BYTES}-byte id limit")
    return value


def target_path(action: FirestoreWriteAction, context: ActionContext) -> str:
    """Return the document path, with the collection and document id templates filled in.

    Raises PermanentError when a placeholder has no value, or a value contains
    '/' or is otherwise not a valid id: the event's values cannot change, so a
    retry would fail the same way.
    """
    try:
        collection = values.render_template(action.collection, context.event, context.model, quote=check_path_segment)
        document_id = values.render_template(action.document_id, context.event, context.model,
                                             quote=check_path_segment)
    except KeyError as error:
        raise PermanentError(f"{error.args[0]}; map the field in model or mark it required") from None
    except ValueError as error:
        raise PermanentError(f"document path of collection {action.collection!r}, documentId "
                             f"{action.document_id!r}: {error}") from None
    return f"{collection}/{document_id}"


def resolve_field(name: str, spec: Any, context: ActionContext) -> Any:
    """Resolve one mapping value to a plain value or a Transform.

    Raises PermanentError when an increment does not resolve to a number, or
    an array element is itself an array (Firestore rejects arrays in arrays).
    """
    transform = field_transform(spec)
    if transform is None:
        return values.resolve(spec, context.model, context.payload)

    kind, operand = transform
    if kind == "serverTimestamp":
        return Transform(kind, True)
    if kind == "increment":
        amount = values.resolve(operand, context.model, context.payload)
        if isinstance(amount, bool) or not isinstance(amount, (int, float)):
            raise PermanentError(f"mapping.{name}: increment {operand!r} resolved to {amount!r}, which is not a "
                                 "number; map it to a numeric field or mark that field required")
        return Transform(kind, amount)

    elements = []
    for element_spec in operand:
        element = values.resolve(element_spec, context.model, context.payload)
        # A spec that matches several values (a JSONPath with [*]) contributes each of them.
        for item in element if isinstance(element, list) else [element]:
            if item is None:
                continue
            if isinstance(item, list):
                raise PermanentError(f"mapping.{name}: {kind} element {element_spec!r} contains an array, and "
                                     "Firestore does not store arrays inside arrays")
            elements.append(item)
    return Transform(kind, elements)


def document_fields(action: FirestoreWriteAction, context: ActionContext) -> dict:
    """Return the fields to write: the whole model for ``direct``, else each mapping value resolved."""
    if action.mapping == "direct":
        return dict(context.model)
    return {name: resolve_field(name, spec, context) for name, spec in action.mapping.items()}


def reads_target(action: FirestoreWriteAction) -> bool:
    """Return True when the action reads its document before writing, which needs a transaction.

    It reads for ``orderBy``, for write ``update`` (a missing document is a
    PermanentError) and for array transforms on a field that may hold no array.
    """
    if action.order_by or action.write == "update":
        return True
    if action.mapping == "direct":
        return False
    return any((field_transform(spec) or ("",))[0] in ARRAY_TRANSFORMS for spec in action.mapping.values())


def union(stored: list, elements: list) -> list:
    """Return ``stored`` followed by each element it lacks, as Firestore's arrayUnion does."""
    result = list(stored)
    for element in elements:
        if element not in result:
            result.append(element)
    return result


def plan_writes(mode: str, fields: dict, stored: dict | None) -> list[tuple[str, dict]]:
    """Split resolved fields into the writes to stage, as (operation, data) pairs.

    ``operation`` is set, merge or update. ``stored`` is the document read before the write, or None when it was
    not read or does not exist. See the module docstring for why the writes
    are split and why array transforms on a non-array field become plain arrays.
    """
    from google.cloud import firestore
    from google.cloud.firestore_v1.field_path import FieldPath

    def key(name: str) -> str:
        # update() reads a key as a field path, so a name such as "a.b" is quoted to stay one field.
        return FieldPath(name).to_api_repr() if mode == "update" else name

    primary: dict = {}
    separate: list[dict] = []
    for name, value in fields.items():
        if not isinstance(value, Transform):
            primary[key(name)] = value
        elif value.kind == "increment":
            primary[key(name)] = firestore.Increment(value.operand)
        elif value.kind == "serverTimestamp":
            separate.append({key(name): firestore.SERVER_TIMESTAMP})
        elif not value.operand:
            continue  # every element spec resolved to nothing, so the field is left as it is
        else:
            current = (stored or {}).get(name)
            if not isinstance(current, list):
                array = union([], value.operand) if value.kind == "arrayUnion" else []
                primary[key(name)] = array
            elif value.kind == "arrayUnion":
                separate.append({key(name): firestore.ArrayUnion(value.operand)})
            else:
                separate.append({key(name): firestore.ArrayRemove(value.operand)})

    later = "update" if mode == "update" else "merge"
    writes = []
    # "set" always writes its primary data, even when empty, because that write is what replaces the document.
    if primary or mode == "set":
        writes.append((mode, primary))
    writes.extend((later, data) for data in separate)
    return writes


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


def stage(action: FirestoreWriteAction, context: ActionContext, writes) -> dict:
    """Add the action's writes to ``writes`` and return its result record.

    With ``orderBy``, an event older than the stored document writes nothing
    and the result records the skip. Raises PermanentError for write ``update`` on a
    missing document, because update changes existing documents only.
    """
    path = target_path(action, context)
    target = context.db.document(path)
    fields = document_fields(action, context)

    stored = None
    if reads_target(action):
        snapshot = writes.read(target)
        stored = snapshot.to_dict() if snapshot.exists else None
        if stored is None and action.write == "update":
            raise PermanentError(f"document {path} not found; write 'update' changes existing documents only, "
                                 "so create it first or use write 'merge'")

    if action.order_by:
        incoming = context.model.get(action.order_by)
        current = (stored or {}).get(action.order_by)
        if is_older(incoming, current):
            context.logger.info("skipped write to %s: %s %r is older than the stored %r", path, action.order_by,
                                incoming, current, extra={"reason": "out_of_order"})
            return {"path": path, "skipped": True, "reason": "out_of_order",
                    "orderBy": action.order_by, "incoming": incoming, "stored": current}

    for operation, data in plan_writes(action.write, fields, stored):
        if operation == "update":
            writes.update(target, data)
        else:
            writes.set(target, data, merge=operation == "merge")

    result = {"path": path, "write": action.write}
    transforms = {name: value.kind for name, value in fields.items() if isinstance(value, Transform)}
    if transforms:
        result["transforms"] = transforms
    return result
