"""Command-line errors a user meets before any stack runs."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from acehooks.localstack import LocalStack, Ports

ROOT = Path(__file__).resolve().parents[2]
BACKEND_VARIABLES = ("FIRESTORE_EMULATOR_HOST", "CLOUD_TASKS_EMULATOR_HOST", "ACEHOOKS_PROJECT", "GOOGLE_CLOUD_PROJECT")


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in BACKEND_VARIABLES}
    return subprocess.run([sys.executable, "-m", "acehooks", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


def test_events_without_stack_or_project(tmp_path):
    result = run_cli("events", "list", cwd=tmp_path)

    assert result.returncode == 2
    assert "no local stack is running here" in result.stderr
    assert "ACEHOOKS_PROJECT" in result.stderr
    assert "Traceback" not in result.stderr


def test_send_to_closed_port_names_the_fix():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]

    result = run_cli("send", "stripe_webhook", "emulator_data/stripe/checkout.session.completed.json",
                     "--url", f"http://127.0.0.1:{closed_port}", cwd=ROOT)

    assert result.returncode == 1
    assert f"connection refused at http://127.0.0.1:{closed_port}" in result.stderr
    assert "is `python -m acehooks dev` running?" in result.stderr


def test_busy_port_names_its_variable(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        stack = LocalStack(ROOT, ports=Ports(mail=port), log_dir=tmp_path)
        stack.env = dict(os.environ)

        with pytest.raises(RuntimeError) as raised:
            stack.start_mail()

    assert f"port {port} for the mail process is already in use" in str(raised.value)
    assert "ACEHOOKS_MAIL_PORT=PORT" in str(raised.value)
