"""Load and validate every endpoint config file in a directory."""

import json
from pathlib import Path

from pydantic import ValidationError

from typing import get_args

from .auth import AUTH_METHODS
from .config import ACTION_MODELS, EndpointConfig
from .errors import ConfigError

# pydantic puts the union member's tag in an error's location; the file already shows it.
UNION_TAGS = {tag for model, key in [(m, "method") for m in AUTH_METHODS] + [(m, "type") for m in ACTION_MODELS]
              for tag in get_args(model.model_fields[key].annotation)}


def _field_path(location: tuple) -> str:
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in UNION_TAGS:
            continue
        else:
            path += f".{part}" if path else str(part)
    return path or "(top level)"


def format_validation_error(path: Path, error: ValidationError) -> str:
    """Describe each problem as ``file: field: message``, one per line."""
    lines = []
    for problem in error.errors():
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            message = "unknown key; check its spelling against the endpoint config reference"
        location = problem["loc"]
        if problem["type"] == "union_tag_invalid":
            context = problem.get("ctx", {})
            location = (*location, context.get("discriminator", "").strip("'") or "method")
            message = f"{context.get('tag')!r} is not a known value; expected one of {context.get('expected_tags', '')}"
        lines.append(f"{path}: {_field_path(location)}: {message}")
    return "\n".join(lines)


def load_endpoint(path: Path) -> EndpointConfig:
    """Read one config file; raises ConfigError naming the file, the field and the fix."""
    try:
        data = json.loads(path.read_bytes())
    except json.JSONDecodeError as error:
        raise ConfigError(f"{path}: line {error.lineno} column {error.colno}: invalid JSON: {error.msg}") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot be read: {error.strerror}") from None

    if not isinstance(data, dict):
        raise ConfigError(f"{path}: (top level): expected a JSON object, found {type(data).__name__}")

    try:
        return EndpointConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(format_validation_error(path, error)) from None


def load_endpoints(directory: Path) -> dict[str, EndpointConfig]:
    """Load every ``*.json`` file in ``directory``, keyed by endpoint name.

    Raises ConfigError listing every invalid file and every repeated endpoint name.
    """
    if not directory.is_dir():
        raise ConfigError(f"{directory}: endpoint config directory not found; create it or set ACEHOOKS_CONFIG_DIR")

    problems = []
    endpoints: dict[str, EndpointConfig] = {}
    origins: dict[str, Path] = {}
    for path in sorted(directory.glob("*.json")):
        try:
            config = load_endpoint(path)
        except ConfigError as error:
            problems.append(str(error))
            continue

        name = config.endpoint_name
        if name in endpoints:
            problems.append(
                f"{path}: endpointName: {name!r} is already used by {origins[name]}; each endpoint needs its own name"
            )
            continue
        endpoints[name] = config
        origins[name] = path

    if problems:
        raise ConfigError("\n".join(problems))
    return endpoints
