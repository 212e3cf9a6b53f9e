"""ActionContext: the event logger and the checks once() makes before touching Firestore."""

import logging

import pytest

from acehooks.actions.context import ActionContext, EventLogger
from acehooks.logs import CloudLoggingFormatter


def make_context(**fields) -> ActionContext:
    values = dict(endpoint="orders", event_id="evt_1", event_type="order.paid", doc_id="orders-evt_1-abc",
                  payload={}, model={}, params={}, attempt=2, action_id="notify")
    values.update(fields)
    return ActionContext(**values)


def test_default_logger_carries_event_fields(caplog):
    context = make_context()

    with caplog.at_level(logging.INFO, logger="acehooks"):
        context.logger.info("stock low", extra={"reason": "stock_low"})

    [record] = caplog.records
    assert (record.endpoint, record.eventId, record.docId, record.action, record.attempt) == (
        "orders", "evt_1", "orders-evt_1-abc", "notify", 2)
    assert record.reason == "stock_low"


def test_plain_adapter_from_worker_keeps_call_extra(caplog):
    adapter = logging.LoggerAdapter(logging.getLogger("acehooks.worker"),
                                    {"endpoint": "orders", "eventId": "evt_1", "action": "notify"})
    context = make_context(logger=adapter)

    with caplog.at_level(logging.INFO, logger="acehooks"):
        context.logger.info("sent", extra={"reason": "email_sent"})

    assert isinstance(context.logger, EventLogger)
    [record] = caplog.records
    assert record.reason == "email_sent"
    assert record.eventId == "evt_1"
    line = CloudLoggingFormatter().format(record)
    assert '"reason": "email_sent"' in line
    assert '"action": "notify"' in line


def test_event_names_for_templates():
    assert make_context().event == {"eventId": "evt_1", "eventType": "order.paid", "endpoint": "orders"}


@pytest.mark.parametrize("key", ["", "a-b", "a/b", "x" * 101, 3, None])
def test_once_rejects_bad_keys(key):
    called = []

    with pytest.raises(ValueError, match="must be 1 to 100 letters, digits or '_'"):
        make_context().once(key, lambda: called.append(True))

    assert called == []
