"""The `dev` and `demo` commands as a user runs them: start, work, and leave no process behind."""

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import PORT_BASE, ROOT

PORTS = {"ACEHOOKS_FUNCTIONS_PORT": PORT_BASE + 601, "ACEHOOKS_FIRESTORE_PORT": PORT_BASE + 680,
         "ACEHOOKS_TASKS_PORT": PORT_BASE + 690, "ACEHOOKS_MAIL_PORT": PORT_BASE + 625}


def command_env() -> dict:
    """The user's environment: no emulator hosts or test settings, only the ports moved off the defaults."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("ACEHOOKS_") and key not in ("FIRESTORE_EMULATOR_HOST", "CLOUD_TASKS_EMULATOR_HOST",
                                                              "SENDGRID_API_BASE_URL", "STRIPE_WEBHOOK_SECRET")}
    env.update({key: str(value) for key, value in PORTS.items()})
    return env


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def descendants(pid: int) -> list[int]:
    """Return the pids of every process whose parent chain leads to ``pid``."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_dev_stops_every_child(signum):
    process = subprocess.Popen([sys.executable, "-m", "acehooks", "dev"], cwd=ROOT, env=command_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        output.append(line)
        if "press Ctrl-C to stop" in line or not line:
            break
    assert "local stack running" in "".join(output), "".join(output)
    children = descendants(process.pid)
    assert len(children) >= 4
    assert all(port_open(port) for port in PORTS.values())
    assert (ROOT / ".acehooks" / "dev.env").exists()

    process.send_signal(signum)
    process.wait(timeout=30)

    time.sleep(0.5)
    still_running = [pid for pid in children if os.path.exists(f"/proc/{pid}")]
    assert still_running == []
    assert not any(port_open(port) for port in PORTS.values())
    assert not (ROOT / ".acehooks" / "dev.env").exists()


def test_demo_prints_the_three_results():
    result = subprocess.run([sys.executable, "-m", "acehooks", "demo"], cwd=ROOT, env=command_env(),
                            capture_output=True, text=True, timeout=180)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "POST /stripe_webhook -> 200" in result.stdout
    assert "event reached 'succeeded'" in result.stdout
    assert "payments/cs_test_" in result.stdout
    assert '"customerEmail": "stripe@example.com"' in result.stdout
    assert "captured email (1)" in result.stdout
    assert "Thank you for your payment of 30.00 USD" in result.stdout
