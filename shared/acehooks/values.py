"""One rule for every value an action reads from an event: action params, mappings and templates.

Every action type reads through this module: customAction params,
firestoreWrite mappings (and the operands of their field transforms),
sendgridEmail fields and templateData, httpRequest bodies and headers.
A value spec is resolved against the event like this:

* a string equal to a model field name is that field's value;
* a string starting with ``$`` is a JSONPath into the payload;
* ``{"literal": X}`` is X, unchanged (use it for a literal string that
  would otherwise read as a field name or a path);
* anything else (other strings, numbers, booleans, lists, maps) is itself.

Templates (collection paths, document ids, httpRequest URLs) replace each
``{name}`` with ``eventId``, ``eventType``, ``endpoint`` or a model field of
that name. The action passes each filled-in value through its own ``quote``
function: a Firestore path rejects a value containing ``/``, and a URL
percent-encodes it, so an event's values cannot change the path's shape.
"""

import re
from typing import Any, Callable

from . import jsonpaths

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
EVENT_NAMES = ("eventId", "eventType", "endpoint")


def resolve(spec: Any, model: dict, payload: Any) -> Any:
    """Resolve one value spec; a missing field or path resolves to None."""
    if isinstance(spec, dict) and set(spec) == {"literal"}:
        return spec["literal"]
    if isinstance(spec, str):
        if spec in model:
            return model[spec]
        if spec.startswith("$"):
            value = jsonpaths.extract(spec, payload)
            return None if value is jsonpaths.MISSING else value
    return spec


def check_spec(spec: Any) -> None:
    """Raise ValueError when a ``$`` spec is not a valid JSONPath; other specs are always valid."""
    if isinstance(spec, str) and spec.startswith("$"):
        jsonpaths.compile_path(spec)


def resolve_params(params: dict, model: dict, payload: Any) -> dict:
    return {name: resolve(spec, model, payload) for name, spec in params.items()}


def template_names(template: str) -> list[str]:
    return PLACEHOLDER.findall(template)


def render_template(template: str, event: dict, model: dict, quote: Callable[[str], str] | None = None) -> str:
    """Fill ``{name}`` placeholders from the event's id, type and endpoint, then the model.

    ``quote``, when given, receives each value as a string and returns what
    is inserted; it may raise ValueError to reject the value. Raises KeyError
    naming the placeholder when it has no value.
    """

    def replace(match: re.Match) -> str:
        name = match.group(1)
        value = event.get(name) if name in EVENT_NAMES else model.get(name)
        if value is None or value == "":
            raise KeyError(f"template {template!r}: {{{name}}} has no value for this event")
        return str(value) if quote is None else quote(str(value))

    return PLACEHOLDER.sub(replace, template)
