"""Start and stop the local stack: Firestore and Cloud Tasks emulators, mail capture, functions.

Every child runs in its own process group, and ``stop`` ends each group,
so no emulator or gunicorn worker outlives the stack.
"""

import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .settings import LOCAL_PROJECT

logger = logging.getLogger(__name__)

STARTUP_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 10
LOCAL_ENV_FILE = Path("emulator_data/local.env")
# Written by `acehooks dev` while it runs, so other commands (events, replay, sweep) reach its stack.
DEV_ENV_FILE = Path(".acehooks/dev.env")
DEV_ENV_NAMES = ("FIRESTORE_EMULATOR_HOST", "CLOUD_TASKS_EMULATOR_HOST", "ACEHOOKS_PROJECT", "ACEHOOKS_WORKER_URL",
                 "ACEHOOKS_WORKER_SECRET", "SENDGRID_API_BASE_URL", "ACEHOOKS_FUNCTIONS_URL", "ACEHOOKS_DEV_PID")
PORT_VARIABLES = {"functions": "ACEHOOKS_FUNCTIONS_PORT", "firestore": "ACEHOOKS_FIRESTORE_PORT",
                  "tasks": "ACEHOOKS_TASKS_PORT", "mail": "ACEHOOKS_MAIL_PORT"}


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def running_dev_pid(root: Path) -> int | None:
    """Return the pid of the ``acehooks dev`` that wrote DEV_ENV_FILE, when that process still runs."""
    path = root / DEV_ENV_FILE
    if not path.is_file():
        return None
    values: dict = {}
    load_env_file(path, values)
    try:
        pid = int(values.get("ACEHOOKS_DEV_PID", ""))
        os.kill(pid, 0)
    except (ValueError, ProcessLookupError, PermissionError):
        return None
    return pid
MAX_EMULATOR_RETRIES = 100  # bounds the Cloud Tasks emulator's immediate, back-off-free retries


@dataclass
class Ports:
    functions: int = 5001
    firestore: int = 8080
    tasks: int = 9090
    mail: int = 5025

    @classmethod
    def from_environment(cls) -> "Ports":
        defaults = cls()
        return cls(
            functions=int(os.environ.get("ACEHOOKS_FUNCTIONS_PORT", defaults.functions)),
            firestore=int(os.environ.get("ACEHOOKS_FIRESTORE_PORT", defaults.firestore)),
            tasks=int(os.environ.get("ACEHOOKS_TASKS_PORT", defaults.tasks)),
            mail=int(os.environ.get("ACEHOOKS_MAIL_PORT", defaults.mail)),
        )


def load_env_file(path: Path, environment: dict) -> None:
    """Add ``NAME=value`` lines from ``path`` to ``environment`` without overriding what is set."""
    if not path.is_file():
        return
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.partition("=")
        environment.setdefault(name.strip(), value.strip())


def wait_for_port(port: int, process: subprocess.Popen | None, name: str, log_path: Path) -> None:
    """Wait until 127.0.0.1:``port`` accepts connections; raise RuntimeError with the log's tail if not."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    tail = log_path.read_text(errors="replace")[-2000:] if log_path.exists() else "(no log)"
    state = f"exited with {process.returncode}" if process is not None and process.poll() is not None else "timed out"
    raise RuntimeError(f"{name} did not start on port {port} ({state}); log {log_path}:\n{tail}")


@dataclass
class LocalStack:
    """The local processes, rooted at the project directory ``root``."""

    root: Path
    ports: Ports = field(default_factory=Ports.from_environment)
    log_dir: Path | None = None
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    env: dict = field(default_factory=dict)
    # Variables that differ for the functions process alone (tests route it through fault proxies).
    functions_env: dict = field(default_factory=dict)

    def __post_init__(self):
        self.root = self.root.resolve()
        self.log_dir = (self.log_dir or self.root / ".acehooks" / "logs").resolve()
        self.log_dir.mkdir(parents=True, exist_ok=True)

    @property
    def functions_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.functions}"

    def build_env(self) -> dict:
        """Return the environment the functions run with: emulator hosts, local secrets and URLs."""
        env = dict(os.environ)
        load_env_file(self.root / LOCAL_ENV_FILE, env)
        env.setdefault("FIRESTORE_EMULATOR_HOST", f"127.0.0.1:{self.ports.firestore}")
        env["CLOUD_TASKS_EMULATOR_HOST"] = f"127.0.0.1:{self.ports.tasks}"
        env.setdefault("ACEHOOKS_PROJECT", LOCAL_PROJECT)
        env.setdefault("GOOGLE_CLOUD_PROJECT", env["ACEHOOKS_PROJECT"])
        env["ACEHOOKS_WORKER_URL"] = f"{self.functions_url}/process_event"
        env["ACEHOOKS_FUNCTIONS_URL"] = self.functions_url
        env.setdefault("ACEHOOKS_WORKER_SECRET", secrets.token_urlsafe(24))
        env["SENDGRID_API_BASE_URL"] = f"http://127.0.0.1:{self.ports.mail}"
        env.setdefault("ACEHOOKS_CONFIG_DIR", str(self.root / "functions" / "endpoints"))
        env.setdefault("ACEHOOKS_ACTIONS_MODULE", str(self.root / "functions" / "actions.py"))
        env.setdefault("THREADS", "32")  # functions-framework's gunicorn threads per process
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def _spawn(self, name: str, command: list[str], port: int, env: dict | None = None) -> None:
        if port_in_use(port):
            raise RuntimeError(
                f"port {port} for the {name} process is already in use; stop what listens there, or choose "
                f"another port with {PORT_VARIABLES.get(name, 'the port variables')}=PORT"
            )
        log_path = self.log_dir / f"{name}.log"
        log_file = open(log_path, "ab")
        process = subprocess.Popen(
            command, cwd=self.root, env=env or self.env, stdout=log_file, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        log_file.close()
        self.processes[name] = process
        wait_for_port(port, process, name, log_path)

    def start_firestore(self) -> None:
        if "FIRESTORE_EMULATOR_HOST" in os.environ:
            print(f"using the Firestore emulator at {os.environ['FIRESTORE_EMULATOR_HOST']}", flush=True)
            return
        server = self.root / "tools" / "firestore-emulator" / "server.js"
        self._spawn("firestore", ["node", str(server), str(self.ports.firestore)], self.ports.firestore)

    def start_tasks(self) -> None:
        python = self.root / ".acehooks" / "tasks-venv" / "bin" / "python"
        if not python.exists():
            raise RuntimeError(f"{python} not found; run scripts/install.sh first")
        runner = self.root / "tools" / "tasks-emulator" / "run.py"
        command = [str(python), str(runner), "start", "-p", str(self.ports.tasks), "-q", "-r", str(MAX_EMULATOR_RETRIES)]
        self._spawn("tasks", command, self.ports.tasks)

    def start_mail(self) -> None:
        command = [sys.executable, "-m", "acehooks.mailcapture", "--port", str(self.ports.mail),
                   "--dir", str(self.log_dir / "mail")]
        self._spawn("mail", command, self.ports.mail)

    def start_functions(self) -> None:
        binary = Path(sys.executable).parent / "functions-framework"
        command = [str(binary), "--target", "acehooks_local", "--source", str(self.root / "functions" / "main.py"),
                   "--host", "127.0.0.1", "--port", str(self.ports.functions)]
        self._spawn("functions", command, self.ports.functions, env={**self.env, **self.functions_env})

    @contextmanager
    def _stack_environment(self):
        """Run a block with this process's environment and settings switched to the stack's."""
        from .clients import reset_clients
        from .settings import get_settings

        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(self.env)
        get_settings.cache_clear()
        reset_clients()
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)
            get_settings.cache_clear()
            reset_clients()

    def check_configs(self) -> None:
        """Fail before anything starts when a config is invalid or an endpoint's secret is unset."""
        from . import runtime
        from .errors import ConfigError

        with self._stack_environment():
            try:
                endpoints = runtime.load_all_endpoints()
                runtime.load_custom_actions(endpoints)
            except ConfigError as error:
                raise RuntimeError(f"the functions cannot start: {error}") from None
            problems = runtime.missing_secrets(list(endpoints.values()))
        if problems:
            raise RuntimeError(
                "the functions cannot start:\n" + "\n".join(problems)
                + f"\nexport the variable, or add it to {LOCAL_ENV_FILE} for the local stack"
            )

    def create_queues(self) -> list[str]:
        """Create one Cloud Tasks queue per endpoint in the emulator, as deploy does in Google Cloud."""
        from . import dispatch, runtime

        with self._stack_environment():
            names = list(runtime.load_all_endpoints())
            for name in names:
                dispatch.ensure_queue(name)
        return names

    def start(self) -> None:
        """Start every process and create the queues; on failure stop what started and re-raise."""
        self.env = self.build_env()
        self.check_configs()
        try:
            self.start_firestore()
            self.start_tasks()
            self.start_mail()
            self.endpoints = self.create_queues()
            self.start_functions()
        except BaseException:
            self.stop()
            raise

    def write_env_file(self) -> bool:
        """Write the stack's addresses and worker secret to DEV_ENV_FILE (mode 600); ``stop`` removes it.

        Returns False, writing nothing, when another running ``acehooks dev`` owns the file.
        """
        path = self.root / DEV_ENV_FILE
        other = running_dev_pid(self.root)
        if other is not None and other != os.getpid():
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        values = {**self.env, "ACEHOOKS_DEV_PID": str(os.getpid())}
        lines = [f"{name}={values[name]}" for name in DEV_ENV_NAMES if name in values]
        path.touch(mode=0o600)
        path.write_text("\n".join(lines) + "\n")
        self._env_file = path
        return True

    def stop(self) -> None:
        """Send SIGTERM to every child's process group, then SIGKILL to any still running."""
        for process in self.processes.values():
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait()
        self.processes.clear()
        env_file = getattr(self, "_env_file", None)
        if env_file is not None and env_file.exists():
            env_file.unlink()

    def restart(self, name: str) -> None:
        """Stop and start one child (tests use it to simulate an outage)."""
        self.stop_one(name)
        getattr(self, f"start_{name}")()

    def stop_one(self, name: str, signum: int = signal.SIGTERM) -> None:
        """Stop one child; tests pass SIGKILL to simulate a crash."""
        process = self.processes.pop(name, None)
        if process is None:
            return
        _signal_group(process, signum)
        try:
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait()

        # Children of the group (gunicorn's worker) may hold the port a moment longer than the leader.
        port = getattr(self.ports, name, None)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        while port is not None and port_in_use(port) and time.monotonic() < deadline:
            time.sleep(0.05)

    def describe(self) -> str:
        lines = [f"functions      {self.functions_url}"]
        for name in getattr(self, "endpoints", []):
            lines.append(f"  endpoint     {self.functions_url}/{name}  (also /{self.env['ACEHOOKS_PROJECT']}/"
                         f"{self.env.get('ACEHOOKS_REGION', 'us-central1')}/{name})")
        lines.append(f"  worker       {self.functions_url}/process_event")
        lines.append(f"firestore      {self.env['FIRESTORE_EMULATOR_HOST']}")
        lines.append(f"cloud tasks    {self.env['CLOUD_TASKS_EMULATOR_HOST']}")
        lines.append(f"mail capture   http://127.0.0.1:{self.ports.mail}/messages")
        lines.append(f"logs           {self.log_dir}")
        return "\n".join(lines)


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass
