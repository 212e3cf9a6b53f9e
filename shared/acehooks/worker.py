"""The worker: claim an event, run its actions in order, record each result.

Cloud Tasks delivers at least once, so every step tolerates a repeat: the
claim admits one worker at a time, each action's record is created at most
once, and actions already recorded as succeeded are skipped.
"""

import json
import logging
import time
from datetime import datetime, timezone

from flask import Request, Response, jsonify

from . import events, leases
from .actions import runners
from .actions.context import ActionContext
from .actions.writes import BatchWrites, TransactionWrites
from .clients import firestore_client
from .config import EndpointConfig
from .errors import AuthError, PermanentError
from .payloads import read_model, read_payload
from .redaction import redact
from .worker_auth import authorize

logger = logging.getLogger(__name__)

RETRY_COUNT_HEADER = "X-CloudTasks-TaskRetryCount"


def _answer(http_status: int, **body) -> Response:
    response = jsonify(body)
    response.status_code = http_status
    return response


def handle(endpoints: dict[str, EndpointConfig], request: Request) -> Response:
    """Handle one task delivery from Cloud Tasks.

    A 2xx ends the task; any other status makes Cloud Tasks deliver it again.
    """
    try:
        authorize(request.headers)
    except AuthError as error:
        logger.warning("worker rejected caller: %s", error, extra={"reason": error.reason, "status": error.status})
        return _answer(error.status, error="unauthorized" if error.status == 401 else "forbidden")

    try:
        task = json.loads(request.get_data())
        endpoint, doc_id = task["endpoint"], task["docId"]
    except (ValueError, KeyError, TypeError):
        logger.error("worker received a task body without endpoint and docId", extra={"reason": "task_malformed"})
        return _answer(400, error="task body must be JSON with endpoint and docId")

    config = endpoints.get(endpoint)
    if config is None:
        # 503 so the task survives a deploy that has not yet added this endpoint's config.
        logger.error("no config for endpoint %r", endpoint, extra={"endpoint": endpoint, "docId": doc_id,
                                                                  "reason": "endpoint_unknown"})
        return _answer(503, error=f"unknown endpoint {endpoint}")

    retry_count = _retry_count(request.headers.get(RETRY_COUNT_HEADER))
    from google.api_core import exceptions

    try:
        return EventRun(config, doc_id, retry_count, list(endpoints.values())).run()
    except exceptions.GoogleAPIError as error:
        # Firestore failed outside an action; the task is retried and a held lease expires on its own.
        logger.error("Firestore failed while processing; Cloud Tasks will retry: %s", error,
                     extra={"endpoint": endpoint, "docId": doc_id, "reason": "backend_unavailable"})
        return _answer(503, status="backend_unavailable")


def _utc_now() -> datetime:
    # Nested fields get the worker's clock, not SERVER_TIMESTAMP: the local emulator
    # (@firestore-emulator/server 0.3.15) fails server timestamps below the top level.
    return datetime.now(timezone.utc)


def _retry_count(header: str | None) -> int:
    try:
        return max(0, int(header or 0))
    except ValueError:
        return 0


class EventRun:
    """One worker attempt at one event."""

    def __init__(self, config: EndpointConfig, doc_id: str, retry_count: int, all_endpoints: list[EndpointConfig]):
        self.config = config
        self.doc_id = doc_id
        self.retry_count = retry_count
        self.all_endpoints = all_endpoints
        self.ref = events.event_ref(doc_id)
        self.log_fields = {"endpoint": config.endpoint_name, "docId": doc_id}

    def run(self) -> Response:
        snapshot = self.ref.get()
        if not snapshot.exists:
            logger.error("event document not found; task dropped", extra={**self.log_fields, "reason": "event_missing"})
            return _answer(200, status="missing")

        event = snapshot.to_dict()
        self.event = event
        self.log_fields["eventId"] = event.get("eventId")
        status = event.get("status")
        if status in events.FINAL_STATUSES:
            logger.info("event already %s; nothing to do", status, extra={**self.log_fields, "status": status})
            return _answer(200, status=status)

        try:
            claim = leases.claim(self.doc_id, event, self.config.lease_seconds)
        except leases.LeaseHeld as held:
            logger.info("event is held by another worker; retry later: %s", held,
                        extra={**self.log_fields, "reason": "lease_held"})
            return _answer(409, status="lease_held")

        self.log_fields["attempt"] = claim.generation
        logger.info("claimed event", extra=self.log_fields)
        return self._run_actions(event, claim)

    def _run_actions(self, event: dict, claim: leases.Claim) -> Response:
        from google.cloud.firestore import SERVER_TIMESTAMP

        payload = read_payload(event, self.ref)
        model = read_model(event)
        records = event.get("actions") or {}

        settled_in_last_action = False
        for index, action in enumerate(self.config.actions):
            action_id = self.config.action_id(index)
            if (records.get(action_id) or {}).get("status") in events.ACTION_DONE_STATUSES:
                logger.info("action %s already done; skipped", action_id, extra={**self.log_fields, "action": action_id})
                continue
            if not claim.is_live():
                logger.warning("lease expired before action %s; leaving the event to the next attempt", action_id,
                               extra={**self.log_fields, "action": action_id, "reason": "lease_expired"})
                return _answer(503, status="lease_expired")

            context = ActionContext(
                endpoint=self.config.endpoint_name,
                event_id=event.get("eventId"),
                event_type=event.get("eventType"),
                doc_id=self.doc_id,
                payload=payload,
                model=model,
                params={},
                attempt=claim.generation,
                action_id=action_id,
                db=firestore_client(),
                logger=logging.LoggerAdapter(logger, {**self.log_fields, "action": action_id}),
                expire_at=event.get("expireAt"),
            )
            started = time.perf_counter()
            try:
                is_last = index == len(self.config.actions) - 1
                self._run_action(action, action_id, context, claim, settles_event=is_last)
                settled_in_last_action = is_last
            except Exception as error:  # every action failure is recorded, whatever its type
                return self._fail(action, action_id, error, claim, time.perf_counter() - started)
            logger.info("action %s succeeded", action_id, extra={
                **self.log_fields, "action": action_id, "durationMs": round((time.perf_counter() - started) * 1000, 1)})

        if not settled_in_last_action:
            self.ref.update(self._succeeded_fields())
        logger.info("event succeeded", extra={**self.log_fields, "status": events.SUCCEEDED})
        return _answer(200, status=events.SUCCEEDED)

    @staticmethod
    def _succeeded_fields() -> dict:
        from google.cloud.firestore import SERVER_TIMESTAMP

        return {
            "status": events.SUCCEEDED,
            "completedAt": SERVER_TIMESTAMP,
            "updatedAt": SERVER_TIMESTAMP,
            **leases.release_fields(),
        }

    def _run_action(self, action, action_id: str, context: ActionContext, claim: leases.Claim,
                    settles_event: bool = False) -> None:
        """Run one action and record its result in the same commit as its own writes, when it has any.

        With ``settles_event`` (the last action), the same commit marks the
        event succeeded, which saves a separate write.
        """
        from google.api_core import exceptions
        from google.cloud import firestore

        def run_and_record(writes) -> None:
            result = self._execute(action, context, writes)
            self._stage_record(writes, action, action_id, claim, result, settles_event)
            writes.commit()

        try:
            if runners.needs_transaction(action):
                transaction = context.db.transaction()
                firestore.transactional(lambda txn: run_and_record(TransactionWrites(context.db, txn)))(transaction)
            else:
                run_and_record(BatchWrites(context.db))
        except exceptions.AlreadyExists:
            logger.warning("action %s was already recorded by another worker; its result here is dropped", action_id,
                           extra={**self.log_fields, "action": action_id, "reason": "effect_exists"})

    def _execute(self, action, context: ActionContext, writes):
        try:
            runner = runners.get_runner(action.type)
        except KeyError:
            raise PermanentError(f"action type {action.type!r} has no runner") from None
        return runner(action, context, writes)

    def _stage_record(self, writes, action, action_id: str, claim: leases.Claim, result, settles_event: bool) -> None:
        from google.cloud.firestore import SERVER_TIMESTAMP
        from google.cloud.firestore_v1.field_path import FieldPath

        skipped = isinstance(result, dict) and result.get("skipped") is True
        record = {
            "type": action.type,
            "status": events.SKIPPED if skipped else events.SUCCEEDED,
            "attempt": claim.generation,
            "finishedAt": _utc_now(),
            "result": result,
        }
        # The effect document can be created once only, so a second worker that ran the same
        # action after a lease takeover cannot record it, or commit its writes, a second time.
        writes.create_first(self.ref.collection("effects").document(action_id),
                            {"generation": claim.generation, "finishedAt": SERVER_TIMESTAMP,
                             "expireAt": self.event.get("expireAt")})
        update = {FieldPath("actions", action_id).to_api_repr(): record, "updatedAt": SERVER_TIMESTAMP}
        if settles_event:
            update.update(self._succeeded_fields())
        writes.update(self.ref, update)

    def _fail(self, action, action_id: str, error: Exception, claim: leases.Claim, duration: float) -> Response:
        """Record a failed action; respond 5xx to retry, or mark the event failed after the last attempt."""
        from google.cloud.firestore import SERVER_TIMESTAMP
        from google.cloud.firestore_v1.field_path import FieldPath

        retry = self.config.retry
        permanent = isinstance(error, PermanentError) or type(error).__name__ in retry.non_retryable_errors
        # Attempts count from the last replay, which starts a fresh set of retries.
        attempts_here = claim.generation - int(self.event.get("attemptBase") or 0)
        last_attempt = max(self.retry_count + 1, attempts_here) >= retry.max_attempts
        final = permanent or last_attempt
        message = redact(f"{type(error).__name__}: {error}", self.all_endpoints)
        fields = {**self.log_fields, "action": action_id, "durationMs": round(duration * 1000, 1), "error": message}

        if not claim.is_live():
            logger.warning("action %s failed after the lease expired; not recorded", action_id, extra=fields)
            return _answer(503, status="lease_expired")

        update = {
            FieldPath("actions", action_id).to_api_repr(): {
                "type": action.type,
                "status": events.FAILED,
                "attempt": claim.generation,
                "finishedAt": _utc_now(),
                "error": message,
            },
            "lastError": message,
            "status": events.FAILED if final else events.RETRYING,
            "updatedAt": SERVER_TIMESTAMP,
            **leases.release_fields(),
        }
        if final:
            update["completedAt"] = SERVER_TIMESTAMP
        self.ref.update(update)

        if final:
            why = "a non-retryable error" if permanent else f"attempt {attempts_here} of {retry.max_attempts}"
            logger.warning("event failed after %s", why, extra={**fields, "status": events.FAILED})
            # 200 ends the task: Cloud Tasks would otherwise keep delivering an event that is settled.
            return _answer(200, status=events.FAILED)

        logger.info("action %s failed; Cloud Tasks will retry", action_id, extra={**fields, "status": events.RETRYING})
        return _answer(503, status=events.RETRYING)
