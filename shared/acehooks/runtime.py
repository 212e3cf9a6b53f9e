"""Build the Cloud Functions entry points from the endpoint configs.

``functions/main.py`` calls ``entry_points()`` at import, so an invalid
config or a missing custom action stops the function from starting, with
the file, the field and the fix in the error.
"""

import logging
import os
from functools import lru_cache
from pathlib import Path
from typing import Callable

from . import logs
from .actions.registry import get_action, load_actions_module
from .config import CustomAction, EndpointConfig
from .errors import ConfigError
from .loading import load_endpoints
from .settings import get_settings

logger = logging.getLogger(__name__)

WORKER_ENTRY_POINT = "process_event"
SWEEPER_ENTRY_POINT = "sweep_events"
LOCAL_ENTRY_POINT = "acehooks_local"


def split_paths(value: Path | str) -> list[Path]:
    """Split a setting that may list several paths separated by os.pathsep."""
    return [Path(part) for part in str(value).split(os.pathsep) if part]


def load_all_endpoints() -> dict[str, EndpointConfig]:
    """Load the configs from every directory in ACEHOOKS_CONFIG_DIR; names must be unique across them."""
    endpoints: dict[str, EndpointConfig] = {}
    for directory in split_paths(get_settings().config_dir):
        for name, config in load_endpoints(directory).items():
            if name in endpoints:
                raise ConfigError(f"{directory}: endpointName {name!r} is defined in more than one config directory")
            endpoints[name] = config
    return endpoints


def load_custom_actions(endpoints: dict[str, EndpointConfig]) -> None:
    """Import the custom actions files and check that every action the configs name is registered."""
    for path in split_paths(get_settings().actions_module):
        load_actions_module(path)

    problems = []
    for config in endpoints.values():
        for index, action in enumerate(config.actions):
            if isinstance(action, CustomAction):
                try:
                    get_action(action.name)
                except ConfigError as error:
                    problems.append(f"endpoint {config.endpoint_name}: actions[{index}].name: {error}")
    if problems:
        raise ConfigError("\n".join(problems))


@lru_cache(maxsize=1)
def endpoints() -> dict[str, EndpointConfig]:
    loaded = load_all_endpoints()
    load_custom_actions(loaded)
    return loaded


def _ingest_entry_point(config: EndpointConfig) -> Callable:
    def ingest(request):
        from . import ingest as ingest_module

        return ingest_module.handle(config, request)

    ingest.__name__ = config.endpoint_name
    ingest.__doc__ = f"Ingest function of endpoint {config.endpoint_name}."
    return ingest


def process_event(request):
    """Worker entry point that Cloud Tasks calls with one event."""
    from . import worker

    return worker.handle(endpoints(), request)


def sweep_events(request):
    """Sweeper entry point that Cloud Scheduler calls: enqueue events left stuck.

    The query parameter ``olderThan`` (seconds) overrides the default age.
    """
    from flask import jsonify

    from . import operations, worker_auth
    from .errors import AuthError

    try:
        worker_auth.authorize(request.headers, audience=get_settings().sweeper_audience)
    except AuthError as error:
        logger.warning("sweeper rejected caller: %s", error, extra={"reason": error.reason})
        response = jsonify(error="unauthorized" if error.status == 401 else "forbidden")
        response.status_code = error.status
        return response

    try:
        older_than = float(request.args.get("olderThan", operations.DEFAULT_SWEEP_AGE_SECONDS))
    except ValueError:
        response = jsonify(error="olderThan must be a number of seconds")
        response.status_code = 400
        return response
    swept = operations.sweep(endpoints(), older_than_seconds=older_than)
    return jsonify(swept=[{"docId": doc_id, "status": status} for doc_id, status in swept])


def acehooks_local(request):
    """Serve every endpoint and the worker from one process, for the local stack.

    Paths: ``/{endpointName}``, ``/{project}/{region}/{endpointName}`` (the
    Firebase emulator's URL shape) and ``/process_event``.
    """
    from flask import jsonify

    segments = [segment for segment in request.path.split("/") if segment]
    if segments == [WORKER_ENTRY_POINT]:
        return process_event(request)
    if segments == [SWEEPER_ENTRY_POINT]:
        return sweep_events(request)
    if len(segments) in (1, 3) and segments[-1] in endpoints():
        return _ingest_entry_point(endpoints()[segments[-1]])(request)

    known = ", ".join(f"/{name}" for name in endpoints())
    response = jsonify(error=f"no endpoint at {request.path}; endpoints: {known}")
    response.status_code = 404
    return response


def missing_secrets(configs: list[EndpointConfig]) -> list[str]:
    """Describe each auth entry none of whose secret variables is set to a non-empty value."""
    problems = []
    for config in configs:
        for index, method in enumerate(config.auth):
            names = method.secret_names()
            if names and not any(os.environ.get(name, "").strip() for name in names):
                problems.append(
                    f"endpoint {config.endpoint_name}: auth[{index}].secretEnv: none of {', '.join(names)} is set "
                    "to a non-empty value; set at least one (from Secret Manager in production)"
                )
    return problems


def check_startup_secrets(configs: dict[str, EndpointConfig], target: str | None) -> None:
    """Refuse to start an ingest function whose secrets are unset, so the mistake shows at deploy.

    Only the endpoint being served is checked (every endpoint for the local
    router), because the worker's environment contains no provider secrets.
    """
    if target == LOCAL_ENTRY_POINT:
        selected = list(configs.values())
    else:
        selected = [configs[target]] if target in configs else []
    problems = missing_secrets(selected)
    if problems:
        raise ConfigError("\n".join(problems))


def entry_points() -> dict[str, Callable]:
    """Return every entry point by name: one per endpoint, the worker, and the local router."""
    logs.configure()
    check_startup_secrets(endpoints(), os.environ.get("FUNCTION_TARGET"))
    functions = {name: _ingest_entry_point(config) for name, config in endpoints().items()}
    clashes = {WORKER_ENTRY_POINT, SWEEPER_ENTRY_POINT, LOCAL_ENTRY_POINT} & set(functions)
    if clashes:
        raise ConfigError(f"endpointName {', '.join(sorted(clashes))} is reserved for acehooks' own functions; rename it")
    functions[WORKER_ENTRY_POINT] = process_event
    functions[SWEEPER_ENTRY_POINT] = sweep_events
    functions[LOCAL_ENTRY_POINT] = acehooks_local
    return functions
