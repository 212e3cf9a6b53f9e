"""The staged source runs on its own: a clean venv with only its requirements.txt, no repository on the path.

This mirrors what Cloud Functions does with the folder: install
requirements.txt, then start functions-framework with the folder as the
working directory and the deploy plan's environment. Building the venv
downloads the runtime dependencies from PyPI and takes a minute or two.
"""

import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from acehooks.staging import MARKER_FILE, STAGED_ENVIRONMENT, StagingError, runtime_requirements, stage

ROOT = Path(__file__).resolve().parents[2]
PORT_RANGE = (18100, 18999)  # ports reserved for this test's own servers on 127.0.0.1
STARTUP_TIMEOUT_SECONDS = 60
TEST_SECRET = "whsec_staged_source_test_secret"


def test_stage_copies_functions_package_and_requirements(tmp_path):
    staged = stage(ROOT, tmp_path / "source")

    assert sorted(path.name for path in staged.glob("*.py")) == sorted(
        path.name for path in (ROOT / "functions").glob("*.py"))
    assert sorted(path.name for path in (staged / "endpoints").iterdir()) == sorted(
        path.name for path in (ROOT / "functions" / "endpoints").glob("*.json"))
    assert (staged / "acehooks" / "__init__.py").is_file()
    assert (staged / "acehooks" / "auth" / "stripe.py").is_file()
    assert not list(staged.rglob("__pycache__"))
    assert not list(staged.rglob("*.pyc"))

    requirements = (staged / "requirements.txt").read_text().splitlines()
    assert [line for line in requirements if not line.startswith("#")] == runtime_requirements(ROOT / "requirements.txt")
    assert any(line.startswith("functions-framework") for line in requirements)


def test_stage_replaces_earlier_staged_folder(tmp_path):
    out = tmp_path / "source"
    stage(ROOT, out)
    (out / "stale.py").write_text("left from an earlier stage\n")
    stage(ROOT, out)
    assert not (out / "stale.py").exists()
    assert (out / MARKER_FILE).is_file()


def test_stage_refuses_to_replace_foreign_folder(tmp_path):
    out = tmp_path / "source"
    out.mkdir()
    (out / "notes.txt").write_text("not made by acehooks\n")
    with pytest.raises(StagingError, match="was not made by acehooks deploy"):
        stage(ROOT, out)
    assert (out / "notes.txt").read_text() == "not made by acehooks\n"


def test_requirements_with_local_path_rejected(tmp_path):
    path = tmp_path / "requirements.txt"
    path.write_text("requests>=2\n-e ./shared\n")
    with pytest.raises(StagingError, match=r"line 2: '-e ./shared' is an option or a local path"):
        runtime_requirements(path)


def free_port() -> int:
    for _ in range(50):
        port = random.randint(*PORT_RANGE)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORT_RANGE}")


@pytest.fixture(scope="module")
def staged_venv(tmp_path_factory):
    """Stage the source and install its requirements.txt into a new venv; yield (staged folder, venv python)."""
    base = tmp_path_factory.mktemp("staged")
    staged = stage(ROOT, base / "source")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "-r", str(staged / "requirements.txt")],
        capture_output=True, text=True, timeout=900,
    )
    assert install.returncode == 0, f"pip install of the staged requirements failed:\n{install.stderr[-3000:]}"
    yield staged, python


def clean_environment(**extra: str) -> dict:
    """Return an environment without the repository: no PYTHONPATH, no emulator hosts, no acehooks settings."""
    inherited = {name: value for name, value in os.environ.items()
            if name in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")}
    return {**inherited, **STAGED_ENVIRONMENT, "PYTHONUNBUFFERED": "1", **extra}


class StagedFunction:
    """functions-framework serving one target of the staged source, started as Cloud Functions starts it."""

    def __init__(self, staged: Path, python: Path, target: str, env: dict, log_path: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        binary = python.parent / "functions-framework"
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                [str(binary), "--target", target, "--source", str(staged / "main.py"),
                 "--host", "127.0.0.1", "--port", str(self.port)],
                cwd=staged, env={**env, "FUNCTION_TARGET": target}, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )

    def wait_until_serving(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"function exited with {self.process.returncode}:\n{self.log()}")
            try:
                requests.get(self.url, timeout=1)
                return
            except requests.ConnectionError:
                time.sleep(0.2)
        raise AssertionError(f"function did not answer within {STARTUP_TIMEOUT_SECONDS} s:\n{self.log()}")

    def wait_for_exit(self, timeout: float = STARTUP_TIMEOUT_SECONDS) -> int:
        return self.process.wait(timeout=timeout)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def start_function(staged_venv, tmp_path):
    started = []

    def start(target: str, **env: str) -> StagedFunction:
        staged, python = staged_venv
        function = StagedFunction(staged, python, target, clean_environment(**env), tmp_path / f"{target}.log")
        started.append(function)
        return function

    yield start
    for function in started:
        function.stop()


@pytest.mark.timeout(1200)
def test_staged_venv_has_no_acehooks_installed(staged_venv):
    staged, python = staged_venv
    # Run from outside the staged folder: acehooks must come from the folder, not from an installed package.
    found = subprocess.run([str(python), "-c", "import importlib.util; print(importlib.util.find_spec('acehooks'))"],
                           cwd=staged.parent, env=clean_environment(), capture_output=True, text=True)
    assert found.stdout.strip() == "None"


@pytest.mark.timeout(1200)
def test_staged_ingest_rejects_get_and_unsigned_post(start_function):
    function = start_function("stripe_webhook", STRIPE_WEBHOOK_SECRET=TEST_SECRET)
    function.wait_until_serving()

    get = requests.get(f"{function.url}/", timeout=10)
    assert get.status_code == 405

    unsigned = requests.post(f"{function.url}/", data=b'{"id": "evt_unsigned", "type": "checkout.session.completed"}',
                             headers={"Content-Type": "application/json"}, timeout=10)
    assert unsigned.status_code == 401
    assert unsigned.json() == {"error": "unauthorized"}


@pytest.mark.timeout(1200)
def test_staged_ingest_without_secret_fails_to_start(start_function):
    function = start_function("stripe_webhook")
    assert function.wait_for_exit() != 0
    assert "STRIPE_WEBHOOK_SECRET" in function.log()


@pytest.mark.timeout(1200)
def test_staged_worker_rejects_call_without_token(start_function):
    function = start_function("process_event", ACEHOOKS_TASKS_SERVICE_ACCOUNT="invoker@acehooks-test.iam.gserviceaccount.com",
                              ACEHOOKS_WORKER_AUDIENCE="https://worker.invalid")
    function.wait_until_serving()

    response = requests.post(f"{function.url}/", json={"endpoint": "stripe_webhook", "docId": "x"}, timeout=10)
    assert response.status_code == 401


@pytest.mark.timeout(1200)
def test_staged_sweeper_rejects_call_without_token(start_function):
    function = start_function("sweep_events", ACEHOOKS_TASKS_SERVICE_ACCOUNT="invoker@acehooks-test.iam.gserviceaccount.com",
                              ACEHOOKS_WORKER_AUDIENCE="https://worker.invalid")
    function.wait_until_serving()

    response = requests.post(f"{function.url}/", timeout=10)
    assert response.status_code == 401
    assert response.json() == {"error": "unauthorized"}
