"""The endpoint config: one JSON file per endpoint, validated at load."""

import re
from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, Field, field_validator, model_validator

from . import jsonpaths, values
from .auth import AuthConfig
from .model_base import ConfigModel
from .payloads import DEFAULT_MAX_BODY_BYTES

ENDPOINT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
MODEL_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


def _check_jsonpath(expression: str) -> str:
    jsonpaths.compile_path(expression)
    return expression


def _check_value_spec(spec: Any) -> Any:
    try:
        values.check_spec(spec)
    except ValueError as error:
        raise ValueError(
            f"{error}; a value starting with '$' is read as a JSONPath, so write {{\"literal\": ...}} for a plain string"
        ) from None
    return spec


# A value an action reads from the event, in the form the ``values`` module resolves.
ValueSpec = Annotated[Any, AfterValidator(_check_value_spec)]


class RetryPolicy(ConfigModel):
    """How often and how fast a failing event is retried (the Cloud Tasks queue's retry config)."""

    max_attempts: int = Field(4, ge=1, le=100, description="deliveries to the worker in all, the first included")
    min_backoff_seconds: float = Field(10, ge=0)
    max_backoff_seconds: float = Field(600, ge=0)
    max_doublings: int = Field(5, ge=0)
    non_retryable_errors: list[str] = Field(
        default_factory=list,
        description="exception class names that fail the event at once, beside PermanentError",
    )

    def retry_delay_seconds(self, retry_number: int) -> float:
        """Return the seconds Cloud Tasks waits before retry ``retry_number`` (0 for the first retry).

        Cloud Tasks starts at minBackoff, doubles maxDoublings times, then
        grows by the last doubled interval each retry, capped at maxBackoff.
        """
        doubled = self.min_backoff_seconds * 2 ** min(retry_number, self.max_doublings)
        linear_steps = max(0, retry_number - self.max_doublings)
        return min(self.max_backoff_seconds, doubled * (1 + linear_steps))

    def cloud_tasks_retry_config(self) -> dict:
        """Return the queue's retry config in the Cloud Tasks API's field names (durations as "Ns")."""
        return {
            "max_attempts": self.max_attempts,
            "min_backoff": f"{self.min_backoff_seconds:g}s",
            "max_backoff": f"{self.max_backoff_seconds:g}s",
            "max_doublings": self.max_doublings,
        }

    @model_validator(mode="after")
    def _backoff_range(self):
        if self.max_backoff_seconds < self.min_backoff_seconds:
            raise ValueError(
                f"maxBackoffSeconds ({self.max_backoff_seconds}) is below minBackoffSeconds ({self.min_backoff_seconds})"
            )
        return self


class RateLimits(ConfigModel):
    """How fast the endpoint's queue may call the worker; deploy copies these to the queue."""

    max_dispatches_per_second: float = Field(50, gt=0, le=500)
    max_concurrent_dispatches: int = Field(100, ge=1, le=5000)


class SaveToCloudAction(ConfigModel):
    """Write the model, or a mapped part of the event, to a Firestore document."""

    type: Literal["saveToCloud"]
    id: str | None = None
    collection: str
    mapping: Literal["direct"] | dict[str, ValueSpec] = "direct"
    document_id: str = "{eventId}"
    write: Literal["set", "merge"] = "merge"
    order_by: str | None = Field(
        None, description="model field (timestamp or version); an event older than the stored document is skipped",
    )

    @field_validator("collection")
    @classmethod
    def _collection_path(cls, path: str) -> str:
        segments = path.split("/")
        if len(segments) % 2 != 1 or any(not segment for segment in segments):
            raise ValueError(
                f"collection {path!r} is not a collection path; use a name such as 'payments' "
                "or 'users/{uid}/orders' (an odd number of non-empty segments)"
            )
        return path


class CustomAction(ConfigModel):
    """Call a Python function registered with ``@acehooks.action(name)`` in functions/actions.py."""

    type: Literal["customAction"]
    id: str | None = None
    name: str
    params: dict[str, ValueSpec] = Field(default_factory=dict)


ActionConfig = Annotated[Union[SaveToCloudAction, CustomAction], Field(discriminator="type")]


class EndpointConfig(ConfigModel):
    """One webhook endpoint: who may call it, what to extract, what to do."""

    endpoint_name: str
    auth: list[AuthConfig] = Field(min_length=1)
    event_id_path: str | None = None
    event_id_header: str | None = None
    event_type_path: str | None = None
    event_type_header: str | None = None
    event_types: list[str] | None = None
    model: dict[str, str] = Field(default_factory=dict)
    required: list[str] = Field(default_factory=list)
    actions: list[ActionConfig] = Field(default_factory=list)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    rate_limits: RateLimits = Field(default_factory=RateLimits)
    retention_days: int = Field(30, ge=1, le=3650, description="days before Firestore's TTL policy deletes an event")
    batch: bool = Field(False, description="treat a top-level JSON array as one event per element")
    max_body_bytes: int = Field(DEFAULT_MAX_BODY_BYTES, ge=1024, le=32 * 1024 * 1024,
                                description="larger bodies are rejected with 413; default 10 MiB")
    lease_seconds: int = Field(
        300, ge=2, le=3600,
        description="how long a worker holds an event before another may take it over; keep it above the worker's timeout",
    )

    @field_validator("endpoint_name")
    @classmethod
    def _endpoint_name(cls, name: str) -> str:
        if not ENDPOINT_NAME.match(name):
            raise ValueError(
                f"{name!r} is not a valid endpoint name; use a letter then letters, digits or '_' "
                "(at most 63), because it becomes a Python function and a Cloud Function name"
            )
        return name

    @field_validator("event_id_path", "event_type_path")
    @classmethod
    def _paths(cls, expression: str | None) -> str | None:
        return None if expression is None else _check_jsonpath(expression)

    @field_validator("model")
    @classmethod
    def _model_paths(cls, model: dict[str, str]) -> dict[str, str]:
        for name, expression in model.items():
            if not MODEL_FIELD_NAME.match(name):
                raise ValueError(f"model field name {name!r} must be letters, digits or '_', starting with a letter or '_'")
            try:
                _check_jsonpath(expression)
            except ValueError as error:
                raise ValueError(f"model field {name!r}: {error}") from None
        return model

    @model_validator(mode="after")
    def _cross_checks(self):
        unknown = [name for name in self.required if name not in self.model]
        if unknown:
            raise ValueError(f"required lists {', '.join(unknown)}, which the model does not define; add them to model")

        if self.event_id_path and self.event_id_header:
            raise ValueError("set eventIdPath or eventIdHeader, not both")
        if self.event_type_path and self.event_type_header:
            raise ValueError("set eventTypePath or eventTypeHeader, not both")

        ids = [self.action_id(index) for index in range(len(self.actions))]
        repeated = sorted({action_id for action_id in ids if ids.count(action_id) > 1})
        if repeated:
            raise ValueError(f"action ids {', '.join(repeated)} appear more than once; give each action its own id")

        for index, action in enumerate(self.actions):
            if isinstance(action, SaveToCloudAction) and action.order_by and action.order_by not in self.model:
                raise ValueError(f"actions[{index}].orderBy: {action.order_by!r} is not a model field; add it to model")
            if isinstance(action, SaveToCloudAction):
                for name in values.template_names(action.document_id) + values.template_names(action.collection):
                    if name not in values.EVENT_NAMES and name not in self.model:
                        raise ValueError(
                            f"actions[{index}]: placeholder {{{name}}} is neither eventId, eventType, endpoint "
                            "nor a model field; add it to model"
                        )
        return self

    def action_id(self, index: int) -> str:
        """Return the key under which an action's record is stored on the event."""
        action = self.actions[index]
        return action.id or f"{index}_{action.type}"

    def event_id_source(self) -> tuple[str, str] | None:
        """Return where the event id comes from: ("path", p), ("header", h), or None for a body hash."""
        if self.event_id_path:
            return ("path", self.event_id_path)
        if self.event_id_header:
            return ("header", self.event_id_header)
        for method in self.auth:
            if method.default_event_id:
                return method.default_event_id
        return None

    def event_type_source(self) -> tuple[str, str] | None:
        if self.event_type_path:
            return ("path", self.event_type_path)
        if self.event_type_header:
            return ("header", self.event_type_header)
        for method in self.auth:
            if method.default_event_type:
                return method.default_event_type
        return None

    def splits_batches(self) -> bool:
        return self.batch or any(method.splits_batches for method in self.auth)

    def secret_names(self) -> list[str]:
        return [name for method in self.auth for name in method.secret_names()]
