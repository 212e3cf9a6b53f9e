"""The retry policy: Cloud Tasks' backoff schedule and the queue config built from it."""

import pytest
from pydantic import ValidationError

from acehooks.config import RetryPolicy


def test_backoff_doubles_then_grows_linearly():
    policy = RetryPolicy(min_backoff_seconds=10, max_backoff_seconds=300, max_doublings=3, max_attempts=10)

    delays = [policy.retry_delay_seconds(n) for n in range(8)]

    assert delays == [10, 20, 40, 80, 160, 240, 300, 300]


def test_backoff_without_doublings_is_linear():
    policy = RetryPolicy(min_backoff_seconds=5, max_backoff_seconds=60, max_doublings=0)

    assert [policy.retry_delay_seconds(n) for n in range(4)] == [5, 10, 15, 20]


def test_defaults():
    policy = RetryPolicy()

    assert policy.max_attempts == 4
    assert policy.retry_delay_seconds(0) == 10
    assert policy.retry_delay_seconds(10) == 600


def test_cloud_tasks_config_names_and_units():
    policy = RetryPolicy.model_validate({"maxAttempts": 6, "minBackoffSeconds": 1.5, "maxBackoffSeconds": 120,
                                         "maxDoublings": 4})

    assert policy.cloud_tasks_retry_config() == {
        "max_attempts": 6, "min_backoff": "1.5s", "max_backoff": "120s", "max_doublings": 4}


def test_max_below_min_rejected():
    with pytest.raises(ValidationError, match="maxBackoffSeconds"):
        RetryPolicy.model_validate({"minBackoffSeconds": 30, "maxBackoffSeconds": 10})


def test_zero_attempts_rejected():
    with pytest.raises(ValidationError):
        RetryPolicy.model_validate({"maxAttempts": 0})
