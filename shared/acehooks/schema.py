"""Describe the Firestore documents acehooks writes, for an app's schema (FlutterFlow's Firestore panel).

For each collection a ``saveToCloud`` action writes, the fields come from
the endpoint config: every model field for ``"mapping": "direct"``, the
mapping's keys otherwise. A field's type is read from the endpoint's sample
payloads when there are any, because a config only names JSONPaths:

* samples live in ``emulator_data/<endpointName>/`` or, for a provider
  preset, ``emulator_data/<auth method>/`` (``emulator_data/stripe/``);
  ``*.json`` files are JSON, ``*.form`` files form-encoded;
* a sample whose event type is not in the endpoint's ``eventTypes`` is skipped;
* a field found in no sample, or only as null, has type ``any``.
"""

import argparse
import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping

from . import jsonpaths
from .config import EndpointConfig, SaveToCloudAction, field_transform
from .errors import AcehooksError, PayloadError
from .payloads import parse_body

DEFAULT_SAMPLES_DIR = Path("emulator_data")
EVENTS_COLLECTION = "webhook_events"
ANY = "any"
MAX_MAP_DEPTH = 4  # nested map levels described, so a deeper map is reported without its fields

# The FlutterFlow field type to pick for each Firestore type. A list is its element type with "Is List" on.
FLUTTERFLOW_TYPES = {
    "string": "String",
    "integer": "Integer",
    "double": "Double",
    "boolean": "Boolean",
    "timestamp": "DateTime",
    "map": "Data Type (a struct with the map's fields)",
    ANY: "unknown: no sample value; check the provider's payload",
}

# The event document fields every endpoint writes: (Firestore type, meaning).
EVENT_FIELDS: dict[str, tuple[str, str]] = {
    "endpoint": ("string", "endpointName of the endpoint that received the event"),
    "eventId": ("string", "the sender's event id, or sha256-<hex> of the body when the endpoint has no id source"),
    "eventType": ("string", "the sender's event type; null when the endpoint has no type source"),
    "status": ("string", "received, processing, retrying, succeeded, failed, ignored or invalid"),
    "receivedAt": ("timestamp", "server time the event was stored"),
    "updatedAt": ("timestamp", "server time of the last change"),
    "completedAt": ("timestamp", "server time the worker finished; null until then"),
    "expireAt": ("timestamp", "when Firestore's TTL policy may delete the event (receipt + retentionDays)"),
    "attempts": ("integer", "worker attempts so far"),
    "lastError": ("string", "the last failure, without secrets; null when none"),
    "model": ("map", "the mapped model fields"),
    "payload": ("map", "the parsed payload; null when stored as payloadText or in chunks"),
    "payloadText": ("string", "the raw body, when Firestore cannot hold the parsed payload"),
    "contentType": ("string", "the request's Content-Type"),
    "actions": ("map", "per action id: type, status, attempt, finishedAt, result or error"),
    "lease": ("map", "the worker's claim: generation, expiresAt, worker"),
}


class SchemaError(AcehooksError):
    """A sample payload cannot be read or parsed."""


def type_of(value: Any) -> str | None:
    """Return the Firestore type of a JSON value, or None for null."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return "timestamp"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        element = merge_types([type_of(item) for item in value])
        return f"array<{element}>"
    return ANY


def merge_types(types: Iterable[str | None]) -> str:
    """Return the one type that fits every observed type: integers widen to double, a mix is ``any``."""
    seen = {found for found in types if found is not None}
    if seen == {"integer", "double"}:
        return "double"
    if len(seen) == 1:
        return seen.pop()
    return ANY


def flutterflow_type(firestore_type: str) -> str:
    if firestore_type.startswith("array<"):
        element = firestore_type[len("array<"):-1]
        return f"{FLUTTERFLOW_TYPES.get(element, element)}, Is List on"
    return FLUTTERFLOW_TYPES.get(firestore_type, firestore_type)


def describe_value(values: list[Any], depth: int = 0) -> dict:
    """Describe the values one field took across samples: its type and, for maps, their fields."""
    field = {"type": merge_types(type_of(value) for value in values)}
    maps = [value for value in values if isinstance(value, dict)]
    if field["type"] == "map" and depth < MAX_MAP_DEPTH:
        names = list(dict.fromkeys(name for value in maps for name in value))
        field["fields"] = {name: describe_value([value.get(name) for value in maps], depth + 1) for name in names}
    field["flutterFlowType"] = flutterflow_type(field["type"])
    return field


def sample_files(config: EndpointConfig, samples_dir: Path) -> list[Path]:
    """Return the endpoint's sample files: its own folder when it exists, else its auth methods' folders."""
    own = samples_dir / config.endpoint_name
    folders = [own] if own.is_dir() else [samples_dir / method.method for method in config.auth]
    files = []
    for folder in folders:
        if folder.is_dir():
            files.extend(sorted(path for path in folder.iterdir() if path.suffix in (".json", ".form")))
    return files


def load_samples(config: EndpointConfig, samples_dir: Path) -> list[tuple[Path, Any]]:
    """Return the parsed sample payloads of the endpoint, one per event, skipping unsubscribed event types.

    Raises SchemaError naming the file when a sample cannot be parsed.
    """
    samples = []
    for path in sample_files(config, samples_dir):
        content_type = "application/x-www-form-urlencoded" if path.suffix == ".form" else "application/json"
        try:
            payload = parse_body(path.read_bytes(), content_type)
        except PayloadError as error:
            raise SchemaError(f"{path}: sample payload of endpoint {config.endpoint_name} does not parse: {error}") from None
        events = payload if isinstance(payload, list) and config.splits_batches() else [payload]
        samples.extend((path, event) for event in events if _subscribed(config, event))
    return samples


def _subscribed(config: EndpointConfig, payload: Any) -> bool:
    source = config.event_type_source()
    if not config.event_types or source is None or source[0] != "path":
        return True
    event_type = jsonpaths.extract(source[1], payload)
    return event_type in config.event_types


def _path_values(expression: str, payloads: list[Any]) -> list[Any]:
    values = []
    for payload in payloads:
        value = jsonpaths.extract(expression, payload)
        values.append(None if value is jsonpaths.MISSING else value)
    return values


def _spec_values(spec: Any, config: EndpointConfig, payloads: list[Any]) -> tuple[list[Any], str]:
    """Return the values a mapping value spec takes in the samples, and where it comes from.

    Follows the value-spec rules of acehooks.values: a model field name, a
    ``$`` JSONPath, ``{"literal": X}``, or a constant.
    """
    transform = field_transform(spec)
    if transform is not None:
        kind, operand = transform
        if kind == "serverTimestamp":
            return [datetime.now(timezone.utc)], "serverTimestamp"
        if kind == "increment":
            values, source = _spec_values(operand, config, payloads)
            return values, f"increment by {source}"
        elements = [_spec_values(item, config, payloads)[0] for item in operand]
        return [[value for found in elements for value in found]], kind
    if isinstance(spec, dict) and set(spec) == {"literal"}:
        return [spec["literal"]], f"literal {json.dumps(spec['literal'])}"
    if isinstance(spec, str) and spec in config.model:
        return _path_values(config.model[spec], payloads), f"model.{spec} = {config.model[spec]}"
    if isinstance(spec, str) and spec.startswith("$"):
        return _path_values(spec, payloads), spec
    return [spec], f"constant {json.dumps(spec)}"


def _action_fields(action: SaveToCloudAction, config: EndpointConfig, payloads: list[Any]) -> dict[str, dict]:
    if action.mapping == "direct":
        specs = {name: name for name in config.model}
    else:
        specs = action.mapping
    fields = {}
    for name, spec in specs.items():
        values, source = _spec_values(spec, config, payloads)
        field = describe_value(values)
        field["from"] = [f"{config.endpoint_name}: {source}"]
        fields[name] = field
    return fields


def _merge_field(existing: dict, new: dict) -> dict:
    """Combine what two endpoints write to one field: one type when they agree, ``any`` otherwise."""
    merged = dict(existing)
    if existing["type"] != new["type"]:
        known = [found for found in (existing["type"], new["type"]) if found != ANY]
        merged["type"] = merge_types(known) if known else ANY
        merged["flutterFlowType"] = flutterflow_type(merged["type"])
        merged.pop("fields", None)
    merged["from"] = existing["from"] + new["from"]
    return merged


def describe_collections(endpoints: Mapping[str, EndpointConfig] | Iterable[EndpointConfig],
                         samples_dir: Path | str = DEFAULT_SAMPLES_DIR) -> dict:
    """Describe every collection the endpoints' saveToCloud actions write, and webhook_events.

    Returns ``{"collections": {path: {"writtenBy": [...], "fields": {...}}},
    "webhook_events": {"fields": {...}}, "samples": {endpoint: [files]}}``.
    A field is ``{"type", "flutterFlowType", "from", "fields" (maps only)}``.
    Raises SchemaError when a sample payload does not parse.
    """
    values = endpoints.values() if isinstance(endpoints, Mapping) else endpoints
    configs = sorted(values, key=lambda config: config.endpoint_name)
    samples_dir = Path(samples_dir)

    collections: dict[str, dict] = {}
    samples_used: dict[str, list[str]] = {}
    for config in configs:
        samples = load_samples(config, samples_dir)
        samples_used[config.endpoint_name] = list(dict.fromkeys(str(path) for path, _ in samples))
        payloads = [payload for _, payload in samples]
        for index, action in enumerate(config.actions):
            if not isinstance(action, SaveToCloudAction):
                continue
            collection = collections.setdefault(action.collection, {"writtenBy": [], "fields": {}})
            collection["writtenBy"].append({
                "endpoint": config.endpoint_name,
                "action": config.action_id(index),
                "documentId": action.document_id,
                "write": action.write,
            })
            for name, field in _action_fields(action, config, payloads).items():
                existing = collection["fields"].get(name)
                collection["fields"][name] = field if existing is None else _merge_field(existing, field)

    event_fields = {
        name: {"type": kind, "flutterFlowType": flutterflow_type(kind), "meaning": meaning}
        for name, (kind, meaning) in EVENT_FIELDS.items()
    }
    return {
        "collections": dict(sorted(collections.items())),
        EVENTS_COLLECTION: {"fields": event_fields},
        "samples": samples_used,
    }


def _field_rows(fields: dict, prefix: str = "") -> list[tuple[str, str, str, str]]:
    rows = []
    for name, field in fields.items():
        detail = "; ".join(field.get("from", [])) or field.get("meaning", "")
        rows.append((prefix + name, field["type"], field["flutterFlowType"], detail))
        rows.extend(_field_rows(field.get("fields", {}), prefix=f"{prefix}{name}."))
    return rows


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    header = ("field", "Firestore type", "FlutterFlow type", "source")
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]

    def line(row) -> str:
        return "| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths)) + " |"

    return [line(header), "|" + "|".join("-" * (width + 2) for width in widths) + "|", *map(line, rows)]


def render_table(description: dict) -> str:
    """Return the description as Markdown tables, one per collection, for setting up FlutterFlow's schema."""
    lines = []
    for path, collection in description["collections"].items():
        writers = ", ".join(f"{writer['endpoint']} action {writer.get('action', '?')} "
                            f"({writer['write']}, id {writer['documentId']})"
                            for writer in collection["writtenBy"])
        lines += [f"## {path}", "", f"Written by: {writers}", "", *_table(_field_rows(collection["fields"])), ""]
    lines += [f"## {EVENTS_COLLECTION}", "", "Written by acehooks for every event; readable by admins only.", "",
              *_table(_field_rows(description[EVENTS_COLLECTION]["fields"])), ""]
    for endpoint, files in description["samples"].items():
        if not files:
            lines.append(f"No sample payload for {endpoint}: its field types are 'any'; add samples under "
                         f"emulator_data/{endpoint}/ to infer them.")
    return "\n".join(lines).rstrip() + "\n"


def command_schema(args) -> int:
    """Print the collections and fields the endpoints write, as tables and as JSON."""
    from . import runtime

    try:
        description = describe_collections(runtime.load_all_endpoints(), args.samples)
    except AcehooksError as error:
        print(error, file=sys.stderr)
        return 1

    document = json.dumps(description, indent=2) + "\n"
    sys.stdout.write(render_table(description))
    if args.out:
        Path(args.out).write_text(document)
        print(f"\nJSON written to {args.out}")
    else:
        sys.stdout.write("\n" + document)
    return 0


def add_schema_command(commands) -> argparse.ArgumentParser:
    """Register ``schema`` on the subparsers object ``commands``; return its parser."""
    schema = commands.add_parser(
        "schema",
        help="list the collections and fields the endpoints write, with types for FlutterFlow's schema",
        description="Describe each collection saveToCloud actions write, and webhook_events, as Markdown tables "
                    "and JSON. Types come from sample payloads; configs come from ACEHOOKS_CONFIG_DIR.",
    )
    schema.add_argument("--out", metavar="FILE", help="write the JSON to FILE instead of printing it after the tables")
    schema.add_argument("--samples", default=os.environ.get("ACEHOOKS_SAMPLES_DIR", str(DEFAULT_SAMPLES_DIR)),
                        help=f"folder of sample payloads (env ACEHOOKS_SAMPLES_DIR); default {DEFAULT_SAMPLES_DIR}")
    schema.set_defaults(run=command_schema)
    return schema
