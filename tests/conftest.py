"""Shared fixtures. Integration tests run against one local stack started per test session."""

import json
import os
import time
import uuid
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"

# Test ports, apart from the defaults so a `acehooks dev` running beside the tests is left alone.
# ACEHOOKS_TEST_PORT_BASE moves them all, so two test runs on one machine do not collide.
PORT_BASE = int(os.environ.get("ACEHOOKS_TEST_PORT_BASE", "15000"))
TEST_PORTS = {"functions": PORT_BASE + 1, "firestore": PORT_BASE + 80, "tasks": PORT_BASE + 90, "mail": PORT_BASE + 25}

LOCAL_SECRETS = {
    "STRIPE_WEBHOOK_SECRET": "whsec_test_current_secret_for_acehooks_tests",
    "STRIPE_WEBHOOK_SECRET_PREVIOUS": "whsec_test_previous_secret_for_acehooks_tests",
    "TEST_TOKEN": "token-for-acehooks-tests",
    "ERP_TOKEN": "erp-token-for-acehooks-tests",
    "TEST_HMAC_SECRET": "hmac-secret-for-acehooks-tests",
    "SENDGRID_API_KEY": "SG.test-key",
    "ACEHOOKS_EMAIL_FROM": "payments@acehooks.test",
    "GITHUB_WEBHOOK_SECRET": "github-secret-for-acehooks-tests",
    "SHOPIFY_CLIENT_SECRET": "shopify-client-secret-for-acehooks-tests",
    "SLACK_SIGNING_SECRET": "slack-signing-secret-for-acehooks-tests",
    "TWILIO_AUTH_TOKEN": "twilio-auth-token-for-acehooks-tests",
    "STANDARD_WEBHOOKS_SECRET": "whsec_Ss0pYCwPguefoLeUGx0RcN1aeH8suxgX",
    "SQUARE_SIGNATURE_KEY": "square-signature-key-for-acehooks-tests",
    # A P-256 key pair made for these tests only: the public half verifies, the private half signs.
    "SENDGRID_WEBHOOK_PUBLIC_KEY": "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEwlc7gdgtyeeKUH+dqoTxk90G/zcMxbEgPKg3q/ZUlYpHFzeKCMuiE/QDncuwfcAQVVZlsaINye+yR1kA2eD03Q==",
    "SENDGRID_WEBHOOK_SIGNING_KEY": "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgyYeDuL5lEUtVEFA+UJwdgOIAQ1cxQ6FUFOyr+LzdrDChRANCAATCVzuB2C3J54pQf52qhPGT3Qb/NwzFsSA8qDer9lSVikcXN4oIy6IT9AOdy7B9wBBVVmWxog3J77JHWQDZ4PTd",
}


@pytest.fixture(scope="session")
def stack():
    """Start the emulators, mail capture and functions once; yield the LocalStack."""
    from acehooks.clients import reset_clients
    from acehooks.localstack import LocalStack, Ports
    from acehooks.settings import get_settings

    os.environ.update(LOCAL_SECRETS)
    os.environ["ACEHOOKS_CONFIG_DIR"] = os.pathsep.join([str(ROOT / "functions" / "endpoints"), str(FIXTURES / "endpoints")])
    os.environ["ACEHOOKS_ACTIONS_MODULE"] = os.pathsep.join([str(ROOT / "functions" / "actions.py"), str(FIXTURES / "actions.py")])
    os.environ["ACEHOOKS_WORKER_SECRET"] = "worker-secret-for-acehooks-tests"

    stack = LocalStack(ROOT, ports=Ports(**TEST_PORTS), log_dir=ROOT / ".acehooks" / f"test-logs-{PORT_BASE}")
    for log in stack.log_dir.glob("*.log"):
        log.unlink()
    stack.start()

    for name in ("FIRESTORE_EMULATOR_HOST", "CLOUD_TASKS_EMULATOR_HOST", "ACEHOOKS_PROJECT", "ACEHOOKS_WORKER_URL",
                 "SENDGRID_API_BASE_URL"):
        os.environ[name] = stack.env[name]
    get_settings.cache_clear()
    reset_clients()
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def db(stack):
    from acehooks.clients import firestore_client

    return firestore_client()


@pytest.fixture(scope="session")
def base_url(stack) -> str:
    return stack.functions_url


@pytest.fixture
def mail(stack):
    """The mail capture server: ``messages()`` lists what it received, ``fail_next`` injects failures."""

    class Mail:
        url = f"http://127.0.0.1:{stack.ports.mail}"

        def messages(self, to: str | None = None) -> list[dict]:
            found = requests.get(f"{self.url}/messages", timeout=5).json()
            if to is None:
                return found
            return [m for m in found if any(r["email"] == to for p in m["message"]["personalizations"] for r in p["to"])]

        def fail_next(self, *statuses: int) -> None:
            requests.post(f"{self.url}/control", json={"failures": list(statuses)}, timeout=5).raise_for_status()

    yield Mail()
    Mail().fail_next()


@pytest.fixture
def functions_log(stack):
    """Read the JSON log lines the functions wrote during this test."""
    path = stack.log_dir / "functions.log"
    start = path.stat().st_size if path.exists() else 0

    def read() -> list[dict]:
        with open(path, "rb") as log:
            log.seek(start)
            lines = log.read().decode(errors="replace").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    return read


@pytest.fixture
def unique_id():
    """Return a fresh suffix so each test's events are its own."""
    return uuid.uuid4().hex[:12]


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.05):
    """Poll ``predicate`` until it returns a truthy value; fail the test on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")
