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
    """Rate limits of the endpoint's queue toward the worker; deploy copies them to the queue."""

    max_dispatches_per_second: float = Field(50, gt=0, le=500)
    max_concurrent_dispatches: int = Field(100, ge=1, le=5000)


# Action models. Each action type is one model; ActionConfig picks the model by "type".

# Action ids become document ids (effects/{id}) and field names (actions.{id}) on the event.
ACTION_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
# Field names a transform may target. The local emulator fails a transform on a field path that
# needs quoting (such as "a.b"), and these names never need it, so both backends behave alike.
TRANSFORM_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
RESERVED_FIELD_NAME = re.compile(r"^__.*__$")
FIELD_TRANSFORMS = ("increment", "serverTimestamp", "arrayUnion", "arrayRemove")
# Transforms that read the stored field, which "set" drops before they apply.
STORED_VALUE_TRANSFORMS = ("increment", "arrayUnion", "arrayRemove")
HTTP_METHODS = ("POST", "PUT", "PATCH", "DELETE", "GET")
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
# Headers whose values are credentials: they come from the environment through headerEnv only.
SECRET_HEADERS = ("authorization", "proxy-authorization", "cookie")
SECRET_HEADER_WORDS = ("secret", "token", "password", "api-key", "apikey", "signature")
# Headers the httpRequest action writes itself.
RESERVED_HEADERS = ("host", "content-length", "webhook-id", "webhook-timestamp", "webhook-signature")
# Scheme and host of a URL template; placeholders may follow only after them.
URL_ORIGIN = re.compile(r"^https?://[^/?#{}\s]+(?:[/?#]|$)")
# Seconds; the worker's default lease is also 300 s, and a longer request would outlive the worker's hold on the event.
MAX_TIMEOUT_SECONDS = 300


def _check_env_name(name: str, field: str) -> str:
    if not name or not name.replace("_", "a").isalnum() or not name.isascii() or name[0].isdigit():
        # The rejected value is not repeated: it may be a secret pasted by mistake.
        raise ValueError(
            f"{field} is not an environment variable name (letters, digits and '_'); "
            "name the variable that holds the secret, never the secret itself"
        )
    return name


def field_transform(spec: Any) -> tuple[str, Any] | None:
    """Return (kind, operand) when a mapping value is a field transform such as ``{"increment": "delta"}``."""
    if isinstance(spec, dict) and len(spec) == 1:
        kind, operand = next(iter(spec.items()))
        if kind in FIELD_TRANSFORMS:
            return kind, operand
    return None


def _check_field_spec(spec: Any) -> Any:
    """Check a firestoreWrite mapping value: a value spec, or a field transform whose operands are value specs."""
    transform = field_transform(spec)
    if transform is None:
        return _check_value_spec(spec)

    kind, operand = transform
    if kind == "serverTimestamp":
        if operand is not True:
            raise ValueError('serverTimestamp takes true; write {"serverTimestamp": true}')
    elif kind == "increment":
        is_literal = isinstance(operand, dict) and set(operand) == {"literal"}
        if isinstance(operand, (bool, list)) or operand is None or (isinstance(operand, dict) and not is_literal):
            raise ValueError(
                f"increment takes a number or a value spec that resolves to one, not {operand!r}; "
                'write {"increment": "delta"} or {"increment": 1}'
            )
        _check_value_spec(operand)
    else:
        if not isinstance(operand, list) or not operand:
            raise ValueError(f'{kind} takes a non-empty list of value specs; write {{"{kind}": ["sku"]}}')
        for element in operand:
            _check_value_spec(element)
    return spec


class ActionBase(ConfigModel):
    """The keys every action accepts: an id, an event type filter and the model fields it needs."""

    id: str | None = Field(None, description="key of the action's record on the event; default {index}_{type}")
    event_types: list[str] | None = Field(
        None, description="run only for these event types; for others the action is recorded as skipped",
    )
    required: list[str] = Field(
        default_factory=list,
        description="model fields this action needs; a missing or null one fails the event with a PermanentError",
    )

    @field_validator("id")
    @classmethod
    def _action_id(cls, value: str | None) -> str | None:
        if value is not None and not ACTION_ID.match(value):
            raise ValueError(
                f"action id {value!r} must be 1 to 100 letters, digits, '_' or '-', "
                "because it becomes a Firestore document id and field name"
            )
        return value

    def secret_names(self) -> list[str]:
        """Return the environment variables holding secrets this action reads in the worker."""
        return []

    def templates(self) -> list[str]:
        """Return the templates whose ``{name}`` placeholders must be event names or model fields."""
        return []


class FirestoreWriteAction(ActionBase):
    """Write the model, or mapped values and field transforms, to a Firestore document.

    ``saveToCloud`` is the original name of this action type and stays an
    alias of ``firestoreWrite``, with the same behaviour.
    """

    type: Literal["saveToCloud", "firestoreWrite"]
    collection: str
    # Each value is a value spec or a field transform, checked by _mapping_values so errors name the field.
    mapping: Literal["direct"] | dict[str, Any] = "direct"
    document_id: str = "{eventId}"
    write: Literal["set", "merge", "update"] = Field(
        "merge",
        description="set replaces the document, merge changes the mapped fields, update changes an existing "
                    "document only and fails the event when it is missing",
    )
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

    @field_validator("mapping")
    @classmethod
    def _mapping_values(cls, mapping):
        if mapping == "direct":
            return mapping
        for name, spec in mapping.items():
            try:
                _check_field_spec(spec)
            except ValueError as error:
                raise ValueError(f"field {name!r}: {error}") from None
        return mapping

    @field_validator("document_id")
    @classmethod
    def _document_id(cls, template: str) -> str:
        if not template or "/" in template:
            raise ValueError(
                f"documentId {template!r} must be one path segment without '/'; "
                "put parent documents in collection, such as 'users/{uid}/orders'"
            )
        return template

    @model_validator(mode="after")
    def _mapping_fits_write_mode(self):
        if self.mapping == "direct":
            return self
        for name, spec in self.mapping.items():
            if not name or RESERVED_FIELD_NAME.match(name):
                raise ValueError(f"mapping field name {name!r} is empty or of the reserved form __name__; rename it")
            transform = field_transform(spec)
            if transform is None:
                continue
            kind = transform[0]
            if not TRANSFORM_FIELD_NAME.match(name):
                raise ValueError(
                    f"mapping.{name}: a field with {kind} must be named with letters, digits or '_', "
                    "starting with a letter or '_', because transforms apply to top-level fields with plain names"
                )
            if self.write == "set" and kind in STORED_VALUE_TRANSFORMS:
                raise ValueError(
                    f"mapping.{name}: {kind} needs write 'merge' or 'update', because 'set' replaces the "
                    "document and the field would start from nothing"
                )
        if self.order_by and self.order_by not in self.mapping:
            raise ValueError(
                f"orderBy {self.order_by!r} is not a mapping field, so the stored document would never hold it; "
                f"add \"{self.order_by}\": \"{self.order_by}\" to mapping"
            )
        return self

    def templates(self) -> list[str]:
        return [self.collection, self.document_id]


# The original name of FirestoreWriteAction; configs may still use "type": "saveToCloud".
SaveToCloudAction = FirestoreWriteAction


class CustomAction(ActionBase):
    """Call a Python function registered with ``@acehooks.action(name)`` in functions/actions.py."""

    type: Literal["customAction"]
    name: str
    params: dict[str, ValueSpec] = Field(default_factory=dict)


class SendgridEmailAction(ActionBase):
    """Send one email through SendGrid's v3 mail send API: plain content or a dynamic template."""

    type: Literal["sendgridEmail"]
    to: ValueSpec = Field(description="one address or a list of addresses")
    from_: ValueSpec | None = Field(None, alias="from", description="sender address; default ACEHOOKS_EMAIL_FROM")
    from_name: ValueSpec | None = None
    reply_to: ValueSpec | None = None
    subject: ValueSpec | None = None
    text: ValueSpec | None = None
    html: ValueSpec | None = None
    template_id: ValueSpec | None = Field(None, description="a dynamic template id (d-...)")
    template_data: dict[str, ValueSpec] = Field(default_factory=dict, description="the template's variables")
    api_key_env: str = Field("SENDGRID_API_KEY", description="environment variable holding the SendGrid API key")

    @field_validator("api_key_env")
    @classmethod
    def _api_key_env(cls, name: str) -> str:
        return _check_env_name(name, "apiKeyEnv")

    @model_validator(mode="after")
    def _content_or_template(self):
        has_content = self.text is not None or self.html is not None
        if self.template_id is not None:
            if has_content:
                raise ValueError("set templateId or text/html, not both; the template supplies the content")
            return self
        if self.template_data:
            raise ValueError("templateData needs templateId; set the dynamic template's id")
        if self.subject is None or not has_content:
            raise ValueError("without templateId, set subject and text or html")
        return self

    def secret_names(self) -> list[str]:
        return [self.api_key_env]


class HttpRequestAction(ActionBase):
    """Send the event payload, the model or a mapped body to a URL, optionally signed as Standard Webhooks."""

    type: Literal["httpRequest"]
    url: str = Field(description="template; placeholders may appear in the path and query, never in the host")
    method: Literal[HTTP_METHODS] = "POST"
    body: Literal["payload", "model"] | dict[str, ValueSpec] = Field(
        "payload", description="payload (default), model, or a map of value specs; GET sends no body",
    )
    headers: dict[str, ValueSpec] = Field(default_factory=dict)
    header_env: dict[str, str] = Field(
        default_factory=dict, description="header name to the environment variable holding its value (credentials)",
    )
    timeout_seconds: float = Field(
        10, gt=0, le=MAX_TIMEOUT_SECONDS,
        description="seconds to wait for the connection and for each read of the response; default 10",
    )
    signing_secret_env: str | None = Field(
        None, description="environment variable holding a whsec_ secret; signs the request as Standard Webhooks",
    )

    @field_validator("url")
    @classmethod
    def _url_origin_is_fixed(cls, url: str) -> str:
        if not URL_ORIGIN.match(url):
            raise ValueError(
                f"url {url!r} must start with http:// or https:// and a host without placeholders, "
                "so an event's values cannot choose where the request goes"
            )
        return url

    @field_validator("header_env")
    @classmethod
    def _header_env_names(cls, names: dict[str, str]) -> dict[str, str]:
        for header, name in names.items():
            _check_env_name(name, f"headerEnv.{header}")
        return names

    @field_validator("signing_secret_env")
    @classmethod
    def _signing_secret_env(cls, name: str | None) -> str | None:
        return None if name is None else _check_env_name(name, "signingSecretEnv")

    @model_validator(mode="after")
    def _header_rules(self):
        for header in [*self.headers, *self.header_env]:
            if not HEADER_NAME.match(header):
                raise ValueError(f"header name {header!r} is not a valid HTTP header name")
            if header.lower() in RESERVED_HEADERS:
                raise ValueError(f"header {header!r} is set by the action itself; remove it")
        for header in self.headers:
            lowered = header.lower()
            if lowered in SECRET_HEADERS or any(word in lowered for word in SECRET_HEADER_WORDS):
                raise ValueError(
                    f"headers.{header} looks like a credential; keep it out of config files: put the value in an "
                    f"environment variable and write \"headerEnv\": {{\"{header}\": \"VARIABLE_NAME\"}}"
                )
        both = sorted({header.lower() for header in self.headers} & {header.lower() for header in self.header_env})
        if both:
            raise ValueError(f"headers {', '.join(both)} are set in both headers and headerEnv; keep one")
        if self.method == "GET" and isinstance(self.body, dict):
            raise ValueError("a GET request sends no body; remove body or use POST")
        return self

    def secret_names(self) -> list[str]:
        names = list(self.header_env.values())
        if self.signing_secret_env:
            names.append(self.signing_secret_env)
        return names

    def templates(self) -> list[str]:
        return [self.url]


ACTION_MODELS = (FirestoreWriteAction, CustomAction, SendgridEmailAction, HttpRequestAction)
ActionConfig = Annotated[Union[ACTION_MODELS], Field(discriminator="type")]


def action_secret_names(actions) -> list[str]:
    """Return the secret variables the worker reads for ``actions``, each once, in order."""
    return list(dict.fromkeys(name for action in actions for name in action.secret_names()))


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
            for template in action.templates():
                for name in values.template_names(template):
                    if name not in values.EVENT_NAMES and name not in self.model:
                        raise ValueError(
                            f"actions[{index}]: placeholder {{{name}}} in {template!r} is neither eventId, eventType, "
                            "endpoint nor a model field; add it to model"
                        )
            unknown_required = [name for name in action.required if name not in self.model]
            if unknown_required:
                raise ValueError(f"actions[{index}].required: {', '.join(unknown_required)} not in the model; "
                                 "add them to model")
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

    def action_secret_names(self) -> list[str]:
        """Return the environment variables the worker reads secrets from for this endpoint's actions."""
        return action_secret_names(self.actions)
