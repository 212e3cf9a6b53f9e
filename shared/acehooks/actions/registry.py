"""Custom actions: Python functions registered by name with ``@acehooks.action``."""

import importlib.util
import sys
from pathlib import Path
from typing import Callable

from ..errors import ConfigError

_REGISTRY: dict[str, Callable] = {}


def action(name: str) -> Callable[[Callable], Callable]:
    """Register the decorated function as the custom action ``name``.

    The function takes one ActionContext and may return a JSON-compatible
    value, which is stored as the action's result on the event.
    """

    def register(function: Callable) -> Callable:
        existing = _REGISTRY.get(name)
        if existing is not None and existing.__qualname__ != function.__qualname__:
            raise ConfigError(f"custom action {name!r} is registered twice: {existing.__qualname__} and {function.__qualname__}")
        _REGISTRY[name] = function
        return function

    return register


def get_action(name: str) -> Callable:
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise ConfigError(
            f"custom action {name!r} is not registered (registered: {known}); "
            f"decorate a function in functions/actions.py with @action({name!r})"
        ) from None


def registered_names() -> list[str]:
    return sorted(_REGISTRY)


def load_actions_module(path: Path) -> None:
    """Import the file that registers custom actions, once per process.

    Raises ConfigError when the file is missing or fails to import.
    """
    if not path.is_file():
        raise ConfigError(f"{path}: custom actions file not found; create it or set ACEHOOKS_ACTIONS_MODULE")
    module_name = "actions"
    existing = sys.modules.get(module_name)
    if existing is not None and Path(getattr(existing, "__file__", "")).resolve() == path.resolve():
        return
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[module_name]
        raise ConfigError(f"{path}: import failed: {type(error).__name__}: {error}") from error
