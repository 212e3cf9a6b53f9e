"""Write the deploy plan: the gcloud and firebase commands that put acehooks in a Google Cloud project.

``python -m acehooks deploy`` stages the function source and prints the
plan. It runs no gcloud or firebase command itself, so a person reviews
every change before it reaches the project. Each step of the plan can be
run again: resources are created only when missing, and queues and
functions are updated to match the configs.

What the plan sets up:

* one public gen2 HTTP function per endpoint;
* a private worker that only the queue's service account may invoke, which
  Cloud Tasks calls with an OIDC token;
* one Cloud Tasks queue per endpoint, with that endpoint's retry policy and
  rate limits;
* secrets from Secret Manager;
* a sweeper that Cloud Scheduler calls every 10 minutes;
* the TTL policy on events, and the Firestore rules and indexes.
"""

import argparse
import os
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from . import ids
from .config import EndpointConfig, RateLimits, RetryPolicy
from .errors import AcehooksError
from .runtime import LOCAL_ENTRY_POINT, SWEEPER_ENTRY_POINT, WORKER_ENTRY_POINT
from .staging import DEFAULT_OUT_DIR, STAGED_ENVIRONMENT

RUNTIME = "python312"
APIS = (
    "cloudfunctions.googleapis.com",
    "run.googleapis.com",
    "cloudbuild.googleapis.com",
    "artifactregistry.googleapis.com",
    "cloudtasks.googleapis.com",
    "firestore.googleapis.com",
    "firebaserules.googleapis.com",
    "secretmanager.googleapis.com",
    "cloudscheduler.googleapis.com",
    "iam.googleapis.com",
)
INGEST_ACCOUNT = "acehooks-ingest"
WORKER_ACCOUNT = "acehooks-worker"
INVOKER_ACCOUNT = "acehooks-tasks-invoker"
SWEEP_JOB = "acehooks-sweep"
SWEEP_SCHEDULE = "*/10 * * * *"  # cron, in the scheduler's default time zone (UTC): every 10 minutes
EMAIL_SECRET = "SENDGRID_API_KEY"  # read by the worker's email actions, not by any endpoint
EVENTS_COLLECTION = "webhook_events"
EVENT_SUBCOLLECTIONS = ("claims", "effects", "payload_chunks", "once")
TTL_FIELD = "expireAt"
# Requests one instance serves at once. Ingest and the worker mostly wait on Firestore and Cloud Tasks,
# so one CPU keeps up with several. The gen2 default of 1 would start an instance per concurrent request.
# NOTE: these are starting values, not measured on Google Cloud. docs/scaling.md explains how to size them.
INGEST_CONCURRENCY = 16
WORKER_CONCURRENCY = 16
# Cloud Tasks gives up on an HTTP request after its dispatch deadline, 600 s unless a task sets
# another, so a longer worker timeout would only let an abandoned attempt run on.
MAX_WORKER_TIMEOUT_SECONDS = 600
RESERVED_NAMES = (WORKER_ENTRY_POINT, LOCAL_ENTRY_POINT, SWEEPER_ENTRY_POINT)
MAX_LINE = 100  # characters per line before a command continues over lines, one flag a line
PROJECT_ID = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
REGION = re.compile(r"^[a-z]+-[a-z]+[0-9]+$")
FUNCTION_NAME_END = re.compile(r"[A-Za-z0-9]$")


class PlanError(AcehooksError):
    """The project, region or endpoint names cannot be deployed as given."""


@dataclass(frozen=True)
class Step:
    """One group of the plan: a key for tests and tools, a title, the reason for it, and its shell lines."""

    key: str
    title: str
    reason: str
    lines: tuple[str, ...]


def account_email(account: str, project: str) -> str:
    return f"{account}@{project}.iam.gserviceaccount.com"


def worker_timeout_seconds(configs: list[EndpointConfig]) -> int:
    """Return the worker's timeout: 90% of the shortest lease, at most MAX_WORKER_TIMEOUT_SECONDS.

    The timeout must stay below every endpoint's ``leaseSeconds``, or a
    second worker could take over an event the first is still running.
    """
    shortest_lease = min(config.lease_seconds for config in configs)
    return max(1, min(MAX_WORKER_TIMEOUT_SECONDS, shortest_lease * 9 // 10))


def queue_flags(retry: RetryPolicy, limits: RateLimits) -> list[str]:
    """Return the ``gcloud tasks queues create/update`` flags for an endpoint's retry policy and rate limits."""
    # The retry fields come from RetryPolicy, the one place the queue's retry config is defined.
    retry_config = retry.cloud_tasks_retry_config()
    return [
        f"--max-attempts={retry_config['max_attempts']}",
        f"--min-backoff={retry_config['min_backoff']}",
        f"--max-backoff={retry_config['max_backoff']}",
        f"--max-doublings={retry_config['max_doublings']}",
        f"--max-dispatches-per-second={limits.max_dispatches_per_second:g}",
        f"--max-concurrent-dispatches={limits.max_concurrent_dispatches}",
    ]


def shell_variable(name: str) -> str:
    """Return a marker for a shell variable inside a flag value; ``flag`` expands it in double quotes."""
    return f"\0{name}\0"


def flag(name: str, value: str) -> str:
    """Return ``--name=value`` quoted for the shell; shell_variable() markers stay expandable."""
    parts = value.split("\0")
    quoted = []
    for index, part in enumerate(parts):
        if index % 2:
            quoted.append(f'"${part}"')
        elif part:
            quoted.append(shlex.quote(part))
    return f"--{name}=" + "".join(quoted)


def env_flag(variables: dict[str, str]) -> str:
    """Return ``--set-env-vars`` for ``variables``; gcloud splits on commas, so values may not contain one."""
    for name, value in variables.items():
        if "," in value:
            raise PlanError(f"environment variable {name}: value {value!r} contains a comma, which gcloud cannot pass")
    return flag("set-env-vars", ",".join(f"{name}={value}" for name, value in variables.items()))


def command(*words: str) -> str:
    """Join already-quoted words into one command, one flag a line when it is long."""
    line = " ".join(words)
    if len(line) <= MAX_LINE:
        return line
    first_flag = next((index for index, word in enumerate(words) if word.startswith("--")), len(words))
    head = " ".join(words[:first_flag])
    return head + "".join(f" \\\n    {word}" for word in words[first_flag:])


def indent(text: str, prefix: str = "  ") -> str:
    return "\n".join(prefix + line for line in text.split("\n"))


def unless_exists(describe: str, create: str) -> str:
    """Return shell lines that run ``create`` only when ``describe`` fails (the resource is missing)."""
    return f"if ! {describe} >/dev/null 2>&1; then\n{indent(create)}\nfi"


def create_or_update(describe: str, update: str, create: str) -> str:
    """Return shell lines that run ``update`` when ``describe`` succeeds, else ``create``."""
    return f"if {describe} >/dev/null 2>&1; then\n{indent(update)}\nelse\n{indent(create)}\nfi"


def validate_target(project: str, region: str, configs: list[EndpointConfig]) -> None:
    """Raise PlanError unless the project, region and endpoint names can be deployed."""
    if not PROJECT_ID.match(project):
        raise PlanError(
            f"project {project!r} is not a Google Cloud project id: 6 to 30 lowercase letters, digits or '-', "
            "starting with a letter"
        )
    if project.startswith("demo-"):
        raise PlanError(f"project {project!r} is a demo- project, which exists only in the emulators; pass a real project id")
    if not REGION.match(region):
        raise PlanError(f"region {region!r} is not a region name such as us-central1 or europe-west1")
    if not configs:
        raise PlanError("no endpoint configs to deploy; add one under functions/endpoints/")

    services: dict[str, str] = {}
    for config in configs:
        name = config.endpoint_name
        if name in RESERVED_NAMES:
            raise PlanError(f"endpointName {name!r} is the name of an acehooks function; rename the endpoint")
        if not FUNCTION_NAME_END.search(name):
            raise PlanError(f"endpointName {name!r} ends with '_'; Cloud Functions names must end with a letter or digit")
        # Cloud Run names each function's service in lowercase with '-' for '_', so these must differ.
        service = name.lower().replace("_", "-")
        if service in services:
            raise PlanError(
                f"endpointNames {services[service]!r} and {name!r} map to the same Cloud Run service {service!r}; "
                "rename one"
            )
        services[service] = name


def build_plan(endpoints: Mapping[str, EndpointConfig] | Iterable[EndpointConfig], project: str, region: str,
               staged_dir: Path | str, *, email_from: str | None = None) -> list[Step]:
    """Return the deploy plan for ``endpoints`` as ordered steps.

    ``staged_dir`` is the folder stage() built; every function deploys from
    it. ``email_from`` becomes the worker's ACEHOOKS_EMAIL_FROM. Raises
    PlanError when the project, region or an endpoint name cannot be deployed.
    """
    values = endpoints.values() if isinstance(endpoints, Mapping) else endpoints
    configs = sorted(values, key=lambda config: config.endpoint_name)
    validate_target(project, region, configs)
    plan = _Plan(configs, project, region, str(staged_dir), email_from)
    return [
        plan.preflight(),
        plan.enable_apis(),
        plan.firestore_database(),
        plan.service_accounts(),
        plan.project_roles(),
        plan.secrets(),
        plan.secret_versions(),
        plan.secret_access(),
        plan.queues(),
        plan.worker(),
        plan.ingest_functions(),
        plan.sweeper(),
        plan.ttl_policy(),
        plan.firestore_rules(),
        plan.endpoint_urls(),
    ]


def render_plan(steps: list[Step], project: str, region: str) -> str:
    """Return the plan as a bash script with a comment before each step."""
    lines = [
        "#!/usr/bin/env bash",
        f"# acehooks deploy plan for project {project}, region {region}.",
        "# Review before running; nothing here was run. Written by `python -m acehooks deploy`.",
        "# Run it with bash from the repository root. Every step is safe to run again.",
        "set -euo pipefail",
        "export CLOUDSDK_CORE_DISABLE_PROMPTS=1  # gcloud takes the default answer instead of waiting for input",
    ]
    for number, step in enumerate(steps, start=1):
        lines.append("")
        lines.append(f"# {number}. {step.title}")
        lines.extend(f"# {line}" if line else "#" for line in step.reason.split("\n"))
        lines.extend(step.lines)
    return "\n".join(lines) + "\n"


class _Plan:
    """The values every step needs, and one method per step."""

    def __init__(self, configs: list[EndpointConfig], project: str, region: str, source: str, email_from: str | None):
        self.configs = configs
        self.project = project
        self.region = region
        self.source = source
        self.email_from = email_from
        self.ingest = account_email(INGEST_ACCOUNT, project)
        self.worker_account = account_email(WORKER_ACCOUNT, project)
        self.invoker = account_email(INVOKER_ACCOUNT, project)

    # Words that many commands repeat.
    def _project(self) -> str:
        return flag("project", self.project)

    def _location(self, name: str = "region") -> list[str]:
        return [flag(name, self.region), self._project()]

    def _describe_url(self, function: str) -> str:
        return command("gcloud", "functions", "describe", shlex.quote(function), "--gen2", *self._location(),
                       flag("format", "value(serviceConfig.uri)"))

    def endpoint_secrets(self, config: EndpointConfig) -> list[str]:
        return list(dict.fromkeys(config.secret_names()))

    def worker_secrets(self) -> list[str]:
        """Return the secrets the worker's actions read: SendGrid's key and any apiKeyEnv, headerEnv or signing secret."""
        names = [name for config in self.configs for name in config.action_secret_names()]
        return list(dict.fromkeys([EMAIL_SECRET] + names))

    def all_secrets(self) -> list[str]:
        names = [name for config in self.configs for name in self.endpoint_secrets(config)]
        return list(dict.fromkeys(names + self.worker_secrets()))

    def _base_env(self) -> dict[str, str]:
        return {"ACEHOOKS_PROJECT": self.project, "ACEHOOKS_REGION": self.region, **STAGED_ENVIRONMENT,
                "ACEHOOKS_TASKS_SERVICE_ACCOUNT": self.invoker}

    def _worker_env(self) -> dict[str, str]:
        worker_url = shell_variable("WORKER_URL")
        return {**self._base_env(), "ACEHOOKS_WORKER_URL": worker_url, "ACEHOOKS_WORKER_AUDIENCE": worker_url}

    def _deploy(self, name: str, entry_point: str, *, public: bool, account: str, env: dict[str, str],
                secrets: list[str], timeout_seconds: int | None = None, concurrency: int = 1) -> str:
        if concurrency > 1:
            # functions-framework serves this many requests at once only with as many gunicorn threads.
            env = {**env, "THREADS": str(concurrency)}
        words = [
            "gcloud", "functions", "deploy", shlex.quote(name), "--gen2",
            flag("runtime", RUNTIME), *self._location(), flag("source", self.source),
            flag("entry-point", entry_point), "--trigger-http",
            "--allow-unauthenticated" if public else "--no-allow-unauthenticated",
            flag("service-account", account), env_flag(env),
        ]
        if concurrency > 1:
            # Cloud Run allows more than one request per instance only with at least one whole CPU.
            words += [flag("concurrency", str(concurrency)), flag("cpu", "1")]
        if secrets:
            words.append(flag("set-secrets", ",".join(f"{secret}={secret}:latest" for secret in secrets)))
        else:
            words.append("--clear-secrets")
        if timeout_seconds is not None:
            words.append(flag("timeout", f"{timeout_seconds}s"))
        return command(*words)

    def preflight(self) -> Step:
        staged_main = shlex.quote(f"{self.source.rstrip('/')}/main.py")
        return Step("preflight", "Check the tools, the folder and the staged source",
                    "Stop before any change when a tool or a file the later steps need is missing.", (
            'command -v gcloud >/dev/null || { echo "gcloud not found; install the Google Cloud CLI" >&2; exit 1; }',
            'command -v firebase >/dev/null || { echo "firebase not found; npm install -g firebase-tools" >&2; exit 1; }',
            'test -f firebase.json || { echo "run this plan from the repository root" >&2; exit 1; }',
            f"test -f {staged_main} || "
            '{ echo "staged source missing; run python -m acehooks deploy without --dry-run" >&2; exit 1; }',
        ))

    def enable_apis(self) -> Step:
        return Step("apis", "Enable the APIs",
                    "Functions (gen2 runs on Cloud Run, built by Cloud Build into Artifact Registry), queues,\n"
                    "Firestore and its rules, secrets, the sweeper's scheduler, and IAM for the service accounts.",
                    (command("gcloud", "services", "enable", *APIS, self._project()),))

    def firestore_database(self) -> Step:
        database = command("gcloud", "firestore", "databases", "describe", flag("database", "(default)"),
                           self._project())
        create = command("gcloud", "firestore", "databases", "create", flag("location", self.region),
                         flag("type", "firestore-native"), self._project())
        return Step("firestore-database", "Create the Firestore database unless it exists",
                    "Its location cannot be changed later; this uses the functions' region.",
                    (unless_exists(database, create),))

    def service_accounts(self) -> Step:
        accounts = [
            (INGEST_ACCOUNT, self.ingest, "acehooks ingest functions and sweeper"),
            (WORKER_ACCOUNT, self.worker_account, "acehooks worker"),
            (INVOKER_ACCOUNT, self.invoker, "acehooks Cloud Tasks and Scheduler invoker"),
        ]
        lines = []
        for account, email, display_name in accounts:
            describe = command("gcloud", "iam", "service-accounts", "describe", email, self._project())
            create = command("gcloud", "iam", "service-accounts", "create", account,
                             flag("display-name", display_name), self._project())
            lines.append(unless_exists(describe, create))
        return Step("service-accounts", "Create the three service accounts unless they exist",
                    f"{INGEST_ACCOUNT}: the endpoints' functions and the sweeper. {WORKER_ACCOUNT}: the worker.\n"
                    f"{INVOKER_ACCOUNT}: the identity in the OIDC tokens Cloud Tasks and Cloud Scheduler send.",
                    tuple(lines))

    def project_roles(self) -> Step:
        def project_role(email: str, role: str) -> str:
            return command("gcloud", "projects", "add-iam-policy-binding", shlex.quote(self.project),
                           flag("member", f"serviceAccount:{email}"), flag("role", role), "--condition=None")

        act_as_invoker = command("gcloud", "iam", "service-accounts", "add-iam-policy-binding", self.invoker,
                                 flag("member", f"serviceAccount:{self.ingest}"),
                                 flag("role", "roles/iam.serviceAccountUser"), self._project())
        return Step("roles", "Grant each service account only what it uses",
                    "Both read and write Firestore. Only the ingest account may act as the invoker, which it must\n"
                    "to put the invoker's OIDC token on the tasks it creates; the role is granted on that one\n"
                    "account, not the project. The worker enqueues nothing, so it gets no Cloud Tasks role.",
                    (project_role(self.ingest, "roles/datastore.user"),
                     project_role(self.worker_account, "roles/datastore.user"),
                     act_as_invoker))

    def secrets(self) -> Step:
        lines = []
        for secret in self.all_secrets():
            describe = command("gcloud", "secrets", "describe", secret, self._project())
            create = command("gcloud", "secrets", "create", secret, "--replication-policy=automatic", self._project())
            lines.append(unless_exists(describe, create))
        return Step("secrets", "Create an empty Secret Manager secret for each secret variable",
                    "One per secretEnv name of every endpoint, and SENDGRID_API_KEY for the worker's email.\n"
                    "This plan never holds a secret value. Add each value yourself, before the next step:\n"
                    f"  gcloud secrets versions add NAME --data-file=- --project={self.project}\n"
                    "(see docs/deploy.md: a trailing newline in the input becomes part of the secret).",
                    tuple(lines))

    def secret_versions(self) -> Step:
        names = " ".join(self.all_secrets())
        versions = command("gcloud", "secrets", "versions", "list", '"$secret"', self._project(),
                           flag("filter", "state:ENABLED"), "--limit=1", flag("format", "value(name)"))
        check = (
            f"for secret in {names}; do\n"
            f'  if [ -z "$({versions})" ]; then\n'
            f'    echo "secret $secret has no enabled version; add one: '
            f'gcloud secrets versions add $secret --data-file=- --project={self.project}" >&2\n'
            "    exit 1\n"
            "  fi\n"
            "done"
        )
        return Step("secret-versions", "Stop unless every secret has a value",
                    "A function that references a secret without an enabled version fails to deploy.",
                    (check,))

    def secret_access(self) -> Step:
        readers: dict[str, list[str]] = {}
        for config in self.configs:
            for secret in self.endpoint_secrets(config):
                readers.setdefault(secret, []).append(self.ingest)
        for secret in self.worker_secrets():
            readers.setdefault(secret, []).append(self.worker_account)

        lines = []
        for secret, members in readers.items():
            for member in dict.fromkeys(members):
                lines.append(command("gcloud", "secrets", "add-iam-policy-binding", secret,
                                     flag("member", f"serviceAccount:{member}"),
                                     flag("role", "roles/secretmanager.secretAccessor"), self._project()))
        # NOTE: every endpoint function runs as the one ingest account, so that account can read every
        # endpoint's secret; --set-secrets below still gives each function only its own.
        return Step("secret-access", "Let each secret be read only by the account of the functions that use it",
                    "Endpoint secrets: the ingest account. SENDGRID_API_KEY: the worker account. The grant is on\n"
                    "each secret, not on the project. All endpoint functions share the ingest account, so it can\n"
                    "read every endpoint's secret; each function is still given only its own (--set-secrets).",
                    tuple(lines))

    def queues(self) -> Step:
        lines = []
        for config in self.configs:
            queue = shlex.quote(ids.queue_id(config.endpoint_name))
            where = self._location("location")
            settings = queue_flags(config.retry, config.rate_limits)
            describe = command("gcloud", "tasks", "queues", "describe", queue, *where)
            lines.append(create_or_update(describe, command("gcloud", "tasks", "queues", "update", queue, *where, *settings),
                                          command("gcloud", "tasks", "queues", "create", queue, *where, *settings)))
            lines.append(command("gcloud", "tasks", "queues", "add-iam-policy-binding", queue, *where,
                                 flag("member", f"serviceAccount:{self.ingest}"),
                                 flag("role", "roles/cloudtasks.enqueuer")))
        return Step("queues", "Create or update one Cloud Tasks queue per endpoint",
                    "Each queue carries its endpoint's retry policy (attempts, backoff) and rate limits, so a\n"
                    "failing endpoint does not hold up the others. The ingest account may enqueue on these queues only.",
                    tuple(lines))

    def _deploy_knowing_own_url(self, name: str, variable: str, first_deploy: str, deploy: str) -> tuple[str, ...]:
        """Return lines that set ``variable`` to the function's URL, deploying it once first when it is new."""
        return (
            f"{variable}=$({self._describe_url(name)} 2>/dev/null || true)",
            f'if [ -z "${variable}" ]; then\n'
            f"{indent(first_deploy)}\n"
            f"  {variable}=$({self._describe_url(name)})\n"
            "fi",
            deploy,
        )

    def worker(self) -> Step:
        timeout_seconds = worker_timeout_seconds(self.configs)
        env_without_url = {**self._base_env(), **self._email_env()}
        env = {**self._worker_env(), **self._email_env()}
        first_deploy = self._deploy(WORKER_ENTRY_POINT, WORKER_ENTRY_POINT, public=False, account=self.worker_account,
                                    env=env_without_url, secrets=self.worker_secrets(), timeout_seconds=timeout_seconds,
                                    concurrency=WORKER_CONCURRENCY)
        deploy = self._deploy(WORKER_ENTRY_POINT, WORKER_ENTRY_POINT, public=False, account=self.worker_account,
                              env=env, secrets=self.worker_secrets(), timeout_seconds=timeout_seconds,
                              concurrency=WORKER_CONCURRENCY)
        invoker = command("gcloud", "functions", "add-invoker-policy-binding", WORKER_ENTRY_POINT, *self._location(),
                          flag("member", f"serviceAccount:{self.invoker}"))
        reason = (
            "Private: only the invoker account may call it, with the OIDC token Cloud Tasks attaches.\n"
            "The worker checks that token's audience against its own URL, which exists only after a first\n"
            "deploy, so a new worker is deployed once, then again with its URL.\n"
            f"Timeout {timeout_seconds} s: below every endpoint's leaseSeconds, so no second worker takes over\n"
            "an event the first is still running."
        )
        if not self.email_from:
            reason += "\nACEHOOKS_EMAIL_FROM is unset (pass --email-from): email actions will fail without a sender."
        lines = self._deploy_knowing_own_url(WORKER_ENTRY_POINT, "WORKER_URL", first_deploy, deploy)
        return Step("worker", "Deploy the worker", reason, (*lines, invoker))

    def _email_env(self) -> dict[str, str]:
        return {"ACEHOOKS_EMAIL_FROM": self.email_from} if self.email_from else {}

    def ingest_functions(self) -> Step:
        lines = tuple(
            self._deploy(config.endpoint_name, config.endpoint_name, public=True, account=self.ingest,
                         env=self._worker_env(), secrets=self.endpoint_secrets(config), concurrency=INGEST_CONCURRENCY)
            for config in self.configs
        )
        return Step("ingest", "Deploy one public function per endpoint",
                    "Providers call these without Google credentials; each checks its sender's signature or token\n"
                    "itself and gets only its own secrets. Tasks it creates target the worker URL with the\n"
                    "invoker's OIDC token.", lines)

    def sweeper(self) -> Step:
        first_deploy = self._deploy(SWEEPER_ENTRY_POINT, SWEEPER_ENTRY_POINT, public=False, account=self.ingest,
                                    env=self._worker_env(), secrets=[])
        # NOTE: Settings has no sweeper_audience yet. Until it has, the sweeper checks the scheduler's token
        # against ACEHOOKS_WORKER_AUDIENCE (the worker's URL) and rejects every scheduled call with 401.
        env = {**self._worker_env(), "ACEHOOKS_SWEEPER_AUDIENCE": shell_variable("SWEEPER_URL")}
        deploy = self._deploy(SWEEPER_ENTRY_POINT, SWEEPER_ENTRY_POINT, public=False, account=self.ingest,
                              env=env, secrets=[])
        invoker = command("gcloud", "functions", "add-invoker-policy-binding", SWEEPER_ENTRY_POINT,
                          *self._location(), flag("member", f"serviceAccount:{self.invoker}"))
        job = shlex.quote(SWEEP_JOB)
        where = self._location("location")
        job_flags = [flag("schedule", SWEEP_SCHEDULE), flag("uri", shell_variable("SWEEPER_URL")),
                     "--http-method=POST", flag("oidc-service-account-email", self.invoker),
                     flag("oidc-token-audience", shell_variable("SWEEPER_URL"))]
        describe = command("gcloud", "scheduler", "jobs", "describe", job, *where)
        schedule = create_or_update(
            describe,
            command("gcloud", "scheduler", "jobs", "update", "http", job, *where, *job_flags),
            command("gcloud", "scheduler", "jobs", "create", "http", job, *where, *job_flags),
        )
        lines = self._deploy_knowing_own_url(SWEEPER_ENTRY_POINT, "SWEEPER_URL", first_deploy, deploy)
        return Step("sweeper", "Deploy the sweeper and call it every 10 minutes",
                    "It enqueues again the events left stuck, such as one stored but never queued. It does what\n"
                    "ingest does, so it runs as the ingest account. Private: Cloud Scheduler calls it with the\n"
                    "invoker account's OIDC token, whose audience is the sweeper's own URL, so like the worker a\n"
                    "new sweeper is deployed once to learn that URL. The invoker may call the sweeper too.",
                    (*lines, invoker, schedule))

    def ttl_policy(self) -> Step:
        # The documents stored under an event (claims, action guards, payload chunks, once() markers)
        # carry the event's expireAt, since Firestore does not delete subcollections with their parent.
        groups = (EVENTS_COLLECTION, *EVENT_SUBCOLLECTIONS)
        return Step("ttl", f"Let Firestore delete events after their {TTL_FIELD} time",
                    f"Each event stores {TTL_FIELD} = receipt time + the endpoint's retentionDays, and so do the\n"
                    "documents stored under it. Firestore deletes expired documents in the background,\n"
                    "typically within 24 hours after that time.",
                    tuple(command("gcloud", "firestore", "fields", "ttls", "update", TTL_FIELD,
                                  flag("collection-group", group), "--enable-ttl", self._project())
                          for group in groups))

    def firestore_rules(self) -> Step:
        return Step("rules", "Deploy the Firestore rules and indexes",
                    "firestore.rules keeps app clients off webhook_events; firestore.indexes.json holds the\n"
                    "event-listing indexes and the same TTL setting. The project must be a Firebase project\n"
                    "(once: firebase projects:addfirebase PROJECT).",
                    (command("firebase", "deploy", "--only", "firestore:rules,firestore:indexes",
                             "--project", shlex.quote(self.project)),))

    def endpoint_urls(self) -> Step:
        lines = tuple(
            f'echo "{config.endpoint_name}: $({self._describe_url(config.endpoint_name)})"'
            for config in self.configs
        )
        return Step("urls", "Print the URL of each endpoint",
                    "Give each URL to its provider as the webhook destination.", lines)


def command_deploy(args) -> int:
    """Stage the function source and print, or write, the deploy plan."""
    from .loading import load_endpoints
    from .staging import stage

    root = Path(args.root).resolve()
    try:
        configs = load_endpoints(root / "functions" / "endpoints")
        staged_dir = (root / args.out).resolve()
        steps = build_plan(configs, args.project, args.region, staged_dir, email_from=args.email_from)
        if not args.dry_run:
            stage(root, staged_dir)
    except AcehooksError as error:
        print(error, file=sys.stderr)
        return 1

    text = render_plan(steps, args.project, args.region)
    if not args.email_from:
        print("warning: no --email-from (or ACEHOOKS_EMAIL_FROM); email actions will fail until the worker "
              "has a sender address", file=sys.stderr)
    if args.write:
        path = Path(args.write)
        path.write_text(text)
        path.chmod(0o755)
        print(f"plan written to {path}; review it, then run: bash {shlex.quote(str(path))}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def add_deploy_command(commands) -> argparse.ArgumentParser:
    """Register ``deploy`` on the subparsers object ``commands``; return its parser."""
    deploy = commands.add_parser(
        "deploy",
        help="stage the function source and print the gcloud/firebase commands that deploy it (runs none)",
        description="Stage the function source into --out and print the deploy plan. No gcloud or firebase "
                    "command is run: review the plan, then run it with bash from the repository root.",
    )
    deploy.add_argument("--project", default=os.environ.get("ACEHOOKS_PROJECT"),
                        required="ACEHOOKS_PROJECT" not in os.environ,
                        help="Google Cloud project id to deploy to (env ACEHOOKS_PROJECT)")
    deploy.add_argument("--region", default=os.environ.get("ACEHOOKS_REGION"),
                        required="ACEHOOKS_REGION" not in os.environ,
                        help="region of the functions, queues, scheduler job and Firestore database, "
                             "such as us-central1 (env ACEHOOKS_REGION)")
    deploy.add_argument("--dry-run", action="store_true",
                        help="print the plan without staging the source; the plan's first step then stops "
                             "until a run without --dry-run stages it")
    deploy.add_argument("--write", metavar="FILE", help="write the plan to FILE (executable) instead of printing it")
    deploy.add_argument("--out", default=os.environ.get("ACEHOOKS_STAGE_DIR", str(DEFAULT_OUT_DIR)),
                        help=f"folder to stage the function source in, relative to --root "
                             f"(env ACEHOOKS_STAGE_DIR); default {DEFAULT_OUT_DIR}; replaced on each run")
    deploy.add_argument("--root", default=".", help="repository root holding functions/ and shared/; default .")
    deploy.add_argument("--email-from", default=os.environ.get("ACEHOOKS_EMAIL_FROM"),
                        help="sender address of the worker's email actions (env ACEHOOKS_EMAIL_FROM)")
    deploy.set_defaults(run=command_deploy)
    return deploy
