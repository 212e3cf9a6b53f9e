"""Read the event id, event type and model fields out of an authenticated request."""

from typing import Any, Mapping

from . import ids, jsonpaths
from .config import EndpointConfig
from .errors import PayloadError


def _scalar_text(value: Any, what: str, source: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise PayloadError(
            422, f"{what}_invalid", f"{what.replace('_', ' ')} at {source} must be a string or number, found {type(value).__name__}"
        )
    text = str(value).strip()
    if not text:
        raise PayloadError(422, f"{what}_missing", f"{what.replace('_', ' ')} at {source} is empty")
    return text


def _read_source(source: tuple[str, str], payload: Any, headers: Mapping[str, str]) -> Any:
    kind, where = source
    if kind == "header":
        return headers.get(where, jsonpaths.MISSING) or jsonpaths.MISSING
    return jsonpaths.extract(where, payload)


def event_id(config: EndpointConfig, payload: Any, headers: Mapping[str, str], body: bytes) -> str:
    """Return the event id from the configured or preset source, else the SHA-256 of the body.

    Raises PayloadError (422) when the source is configured but absent.
    """
    source = config.event_id_source()
    if source is None:
        return ids.body_event_id(body)

    value = _read_source(source, payload, headers)
    label = f"{source[0]} {source[1]!r}"
    if value is jsonpaths.MISSING or value is None:
        raise PayloadError(422, "event_id_missing", f"event id not found at {label}")
    return _scalar_text(value, "event_id", label)


def event_type(config: EndpointConfig, payload: Any, headers: Mapping[str, str]) -> str | None:
    """Return the event type, or None when the endpoint has no type source or the payload lacks it."""
    source = config.event_type_source()
    if source is None:
        return None
    value = _read_source(source, payload, headers)
    if value is jsonpaths.MISSING or value is None:
        return None
    return _scalar_text(value, "event_type", f"{source[0]} {source[1]!r}")


def map_model(config: EndpointConfig, payload: Any) -> tuple[dict, list[str]]:
    """Map the payload to the endpoint's model; return the model and the required fields it lacks.

    A field whose path matches nothing is None in the model.
    """
    model = {}
    for name, expression in config.model.items():
        value = jsonpaths.extract(expression, payload)
        model[name] = None if value is jsonpaths.MISSING else value
    missing = [name for name in config.required if model.get(name) is None]
    return model, missing
