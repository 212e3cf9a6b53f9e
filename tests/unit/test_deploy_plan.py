"""The deploy plan for a two-endpoint project: golden text, then the properties that matter one by one.

Regenerate the golden file after an intended change with
``ACEHOOKS_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/unit/test_deploy_plan.py`` and review its diff.
"""

import argparse
import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from acehooks import deploy
from acehooks.config import EndpointConfig
from acehooks.deploy import PlanError, build_plan, render_plan
from acehooks.loading import load_endpoints

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
PROJECT = "acehooks-prod"
REGION = "europe-west1"
STAGED = Path("build/functions-source")
EMAIL_FROM = "orders@shop.example"
INGEST = f"acehooks-ingest@{PROJECT}.iam.gserviceaccount.com"
WORKER = f"acehooks-worker@{PROJECT}.iam.gserviceaccount.com"
INVOKER = f"acehooks-tasks-invoker@{PROJECT}.iam.gserviceaccount.com"

SECRET_VALUES = {
    "SHOP_STRIPE_SECRET": "whsec_golden_current_value_must_not_leak",
    "SHOP_STRIPE_SECRET_PREVIOUS": "whsec_golden_previous_value_must_not_leak",
    "ERP_API_TOKEN": "erp-token-value-must-not-leak",
    "SENDGRID_API_KEY": "SG.sendgrid-value-must-not-leak",
}


@pytest.fixture(scope="module")
def configs() -> dict[str, EndpointConfig]:
    return load_endpoints(GOLDEN / "endpoints")


@pytest.fixture(scope="module")
def steps(configs):
    return build_plan(configs, PROJECT, REGION, STAGED, email_from=EMAIL_FROM)


@pytest.fixture(scope="module")
def plan_text(steps) -> str:
    return render_plan(steps, PROJECT, REGION)


def commands(text: str) -> list[list[str]]:
    """Return every gcloud and firebase command of a plan text as argv lists."""
    found = []
    for line in text.replace("\\\n", " ").splitlines():
        line = line.strip()
        if line.startswith(("gcloud ", "firebase ")):
            found.append(shlex.split(line))
    return found


def flag_value(argv: list[str], name: str) -> str | None:
    prefix = f"--{name}="
    values = [word[len(prefix):] for word in argv if word.startswith(prefix)]
    assert len(values) <= 1, f"{name} given {len(values)} times in {argv}"
    return values[0] if values else None


def function_deploys(text: str) -> dict[str, list[list[str]]]:
    """Return each deployed function's `gcloud functions deploy` commands, by function name."""
    deploys: dict[str, list[list[str]]] = {}
    for argv in commands(text):
        if argv[:3] == ["gcloud", "functions", "deploy"]:
            deploys.setdefault(argv[3], []).append(argv)
    return deploys


def env_vars(argv: list[str]) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in flag_value(argv, "set-env-vars").split(","))


def test_plan_matches_golden_file(plan_text):
    golden = GOLDEN / "plan.txt"
    if os.environ.get("ACEHOOKS_UPDATE_GOLDEN") == "1":
        golden.write_text(plan_text)
    assert plan_text == golden.read_text()


def test_plan_groups_in_order(steps):
    assert [step.key for step in steps] == [
        "preflight", "apis", "firestore-database", "service-accounts", "roles", "secrets", "secret-versions",
        "secret-access", "queues", "worker", "ingest", "sweeper", "ttl", "rules", "urls",
    ]


def test_plan_comment_before_each_group(plan_text, steps):
    for number, step in enumerate(steps, start=1):
        assert f"\n# {number}. {step.title}\n# " in plan_text


def test_plan_header_says_nothing_was_run(plan_text):
    assert "Review before running; nothing here was run." in plan_text.splitlines()[2]
    assert "set -euo pipefail" in plan_text.splitlines()


def test_plan_is_valid_bash(plan_text, tmp_path):
    script = tmp_path / "plan.sh"
    script.write_text(plan_text)
    # -n parses the script without running any command.
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_apis_enabled_first(plan_text):
    enable = next(argv for argv in commands(plan_text) if argv[:3] == ["gcloud", "services", "enable"])
    for api in ("cloudfunctions", "run", "cloudbuild", "cloudtasks", "firestore", "secretmanager", "cloudscheduler",
                "artifactregistry", "iam"):
        assert f"{api}.googleapis.com" in enable
    assert commands(plan_text).index(enable) == 0


@pytest.mark.parametrize("endpoint, expected", [
    ("erp_orders", {"max-attempts": "8", "min-backoff": "2.5s", "max-backoff": "300s", "max-doublings": "3",
                    "max-dispatches-per-second": "5", "max-concurrent-dispatches": "2"}),
    ("shop_payments", {"max-attempts": "4", "min-backoff": "10s", "max-backoff": "600s", "max-doublings": "5",
                       "max-dispatches-per-second": "50", "max-concurrent-dispatches": "100"}),
])
def test_queue_flags_follow_retry_and_rate_limits(plan_text, configs, endpoint, expected):
    queue = endpoint.replace("_", "-")
    for verb in ("create", "update"):
        matches = [argv for argv in commands(plan_text) if argv[:5] == ["gcloud", "tasks", "queues", verb, queue]]
        assert len(matches) == 1, f"{verb} {queue}"
        argv = matches[0]
        assert {name: flag_value(argv, name) for name in expected} == expected
        assert flag_value(argv, "location") == REGION

    config = configs[endpoint]
    assert expected["max-attempts"] == str(config.retry.max_attempts)
    assert expected["max-concurrent-dispatches"] == str(config.rate_limits.max_concurrent_dispatches)


def test_one_queue_per_endpoint(plan_text, configs):
    created = [argv[4] for argv in commands(plan_text) if argv[:4] == ["gcloud", "tasks", "queues", "create"]]
    assert created == sorted(name.replace("_", "-") for name in configs)


def test_plan_contains_no_secret_values(configs, monkeypatch):
    for name, value in SECRET_VALUES.items():
        monkeypatch.setenv(name, value)
    text = render_plan(build_plan(configs, PROJECT, REGION, STAGED, email_from=EMAIL_FROM), PROJECT, REGION)
    for name, value in SECRET_VALUES.items():
        assert value not in text
        assert name in text


def test_secret_created_for_every_secret_name(plan_text):
    created = [argv[3] for argv in commands(plan_text) if argv[:3] == ["gcloud", "secrets", "create"]]
    assert sorted(created) == sorted(SECRET_VALUES)
    for argv in commands(plan_text):
        if argv[:3] == ["gcloud", "secrets", "create"]:
            assert "--replication-policy=automatic" in argv


def test_each_function_gets_only_its_own_secrets(plan_text):
    expected = {
        "erp_orders": {"ERP_API_TOKEN=ERP_API_TOKEN:latest"},
        "shop_payments": {"SHOP_STRIPE_SECRET=SHOP_STRIPE_SECRET:latest",
                          "SHOP_STRIPE_SECRET_PREVIOUS=SHOP_STRIPE_SECRET_PREVIOUS:latest"},
        "process_event": {"SENDGRID_API_KEY=SENDGRID_API_KEY:latest"},
    }
    deploys = function_deploys(plan_text)
    for name, argvs in deploys.items():
        for argv in argvs:
            secrets = flag_value(argv, "set-secrets")
            if name in expected:
                assert set(secrets.split(",")) == expected[name], name
            else:
                assert secrets is None, name
                assert "--clear-secrets" in argv, name


def test_secret_access_granted_per_secret_and_account(plan_text):
    grants = {}
    for argv in commands(plan_text):
        if argv[:3] == ["gcloud", "secrets", "add-iam-policy-binding"]:
            assert flag_value(argv, "role") == "roles/secretmanager.secretAccessor"
            grants.setdefault(argv[3], set()).add(flag_value(argv, "member"))
    assert grants == {
        "ERP_API_TOKEN": {f"serviceAccount:{INGEST}"},
        "SHOP_STRIPE_SECRET": {f"serviceAccount:{INGEST}"},
        "SHOP_STRIPE_SECRET_PREVIOUS": {f"serviceAccount:{INGEST}"},
        "SENDGRID_API_KEY": {f"serviceAccount:{WORKER}"},
    }


def test_project_roles_are_least_privilege(plan_text):
    project_roles = {(flag_value(argv, "member"), flag_value(argv, "role"))
                     for argv in commands(plan_text) if argv[:3] == ["gcloud", "projects", "add-iam-policy-binding"]}
    assert project_roles == {(f"serviceAccount:{INGEST}", "roles/datastore.user"),
                             (f"serviceAccount:{WORKER}", "roles/datastore.user")}

    account_roles = [argv for argv in commands(plan_text)
                     if argv[:4] == ["gcloud", "iam", "service-accounts", "add-iam-policy-binding"]]
    assert len(account_roles) == 1
    assert account_roles[0][4] == INVOKER
    assert flag_value(account_roles[0], "member") == f"serviceAccount:{INGEST}"
    assert flag_value(account_roles[0], "role") == "roles/iam.serviceAccountUser"

    enqueuers = [argv for argv in commands(plan_text) if argv[:4] == ["gcloud", "tasks", "queues", "add-iam-policy-binding"]]
    assert {flag_value(argv, "member") for argv in enqueuers} == {f"serviceAccount:{INGEST}"}
    assert {flag_value(argv, "role") for argv in enqueuers} == {"roles/cloudtasks.enqueuer"}


def test_worker_is_private(plan_text):
    worker_deploys = function_deploys(plan_text)["process_event"]
    assert len(worker_deploys) == 2  # the first deploy runs only when the worker does not exist yet
    for argv in worker_deploys:
        assert "--no-allow-unauthenticated" in argv
        assert "--allow-unauthenticated" not in argv
        assert flag_value(argv, "entry-point") == "process_event"
        assert flag_value(argv, "service-account") == WORKER

    invokers = [argv for argv in commands(plan_text) if argv[:3] == ["gcloud", "functions", "add-invoker-policy-binding"]]
    assert {argv[3]: flag_value(argv, "member") for argv in invokers} == {
        "process_event": f"serviceAccount:{INVOKER}",
        "sweep_events": f"serviceAccount:{INVOKER}",
    }
    assert "allUsers" not in plan_text


def test_worker_audience_is_its_own_url(plan_text):
    final_deploy = function_deploys(plan_text)["process_event"][-1]
    env = env_vars(final_deploy)
    assert env["ACEHOOKS_WORKER_AUDIENCE"] == "$WORKER_URL"
    assert env["ACEHOOKS_TASKS_SERVICE_ACCOUNT"] == INVOKER
    assert env["ACEHOOKS_EMAIL_FROM"] == EMAIL_FROM
    assert "WORKER_URL=$(gcloud functions describe process_event" in plan_text


def test_worker_timeout_below_shortest_lease(plan_text, configs):
    shortest_lease = min(config.lease_seconds for config in configs.values())
    for argv in function_deploys(plan_text)["process_event"]:
        timeout = int(flag_value(argv, "timeout").removesuffix("s"))
        assert timeout == 108
        assert timeout < shortest_lease


def test_ingest_functions_public_with_worker_settings(plan_text, configs):
    deploys = function_deploys(plan_text)
    for name in configs:
        (argv,) = deploys[name]
        assert flag_value(argv, "entry-point") == name
        assert "--allow-unauthenticated" in argv
        assert "--trigger-http" in argv
        assert flag_value(argv, "runtime") == "python312"
        assert flag_value(argv, "service-account") == INGEST
        assert env_vars(argv) == {
            "ACEHOOKS_PROJECT": PROJECT,
            "ACEHOOKS_REGION": REGION,
            "ACEHOOKS_CONFIG_DIR": "endpoints",
            "ACEHOOKS_ACTIONS_MODULE": "actions.py",
            "ACEHOOKS_TASKS_SERVICE_ACCOUNT": INVOKER,
            "ACEHOOKS_WORKER_URL": "$WORKER_URL",
            "ACEHOOKS_WORKER_AUDIENCE": "$WORKER_URL",
            "THREADS": "16",
        }
        assert flag_value(argv, "concurrency") == "16"
        assert flag_value(argv, "cpu") == "1"


def test_ttl_covers_event_subcollections(plan_text):
    for group in ("webhook_events", "claims", "effects", "payload_chunks", "once"):
        assert f"--collection-group={group}" in plan_text


def test_every_function_deploys_from_staged_source(plan_text):
    deploys = function_deploys(plan_text)
    assert set(deploys) == {"erp_orders", "shop_payments", "process_event", "sweep_events"}
    for argvs in deploys.values():
        for argv in argvs:
            assert flag_value(argv, "source") == str(STAGED)
            assert "--gen2" in argv


def test_sweeper_scheduled_with_invoker_token(plan_text):
    sweeper_deploys = function_deploys(plan_text)["sweep_events"]
    assert len(sweeper_deploys) == 2  # the first deploy runs only when the sweeper does not exist yet
    for argv in sweeper_deploys:
        assert "--no-allow-unauthenticated" in argv
        assert flag_value(argv, "service-account") == INGEST
    env = env_vars(sweeper_deploys[-1])
    assert env["ACEHOOKS_SWEEPER_AUDIENCE"] == "$SWEEPER_URL"
    assert env["ACEHOOKS_WORKER_AUDIENCE"] == "$WORKER_URL"
    jobs = [argv for argv in commands(plan_text) if argv[:3] == ["gcloud", "scheduler", "jobs"] and "http" in argv]
    assert [argv[3] for argv in jobs] == ["update", "create"]
    for argv in jobs:
        assert flag_value(argv, "schedule") == "*/10 * * * *"
        assert flag_value(argv, "oidc-service-account-email") == INVOKER
        assert flag_value(argv, "uri") == "$SWEEPER_URL"
        assert flag_value(argv, "oidc-token-audience") == "$SWEEPER_URL"


def test_ttl_then_rules_deploy(plan_text):
    argvs = commands(plan_text)
    ttl = ["gcloud", "firestore", "fields", "ttls", "update", "expireAt", "--collection-group=webhook_events",
           "--enable-ttl", f"--project={PROJECT}"]
    rules = ["firebase", "deploy", "--only", "firestore:rules,firestore:indexes", "--project", PROJECT]
    assert ttl in argvs
    assert rules in argvs
    assert argvs.index(ttl) < argvs.index(rules)


def test_without_email_from_worker_has_no_sender(configs):
    steps = build_plan(configs, PROJECT, REGION, STAGED)
    text = render_plan(steps, PROJECT, REGION)
    for argv in function_deploys(text)["process_event"]:
        assert "ACEHOOKS_EMAIL_FROM" not in env_vars(argv)
    assert "ACEHOOKS_EMAIL_FROM is unset (pass --email-from)" in text


def test_flag_quotes_values_and_expands_variables():
    assert deploy.flag("display-name", "a b") == "--display-name='a b'"
    assert deploy.flag("uri", deploy.shell_variable("URL")) == '--uri="$URL"'
    assert deploy.flag("x", "a;rm -rf /" + deploy.shell_variable("V")) == "--x='a;rm -rf /'\"$V\""
    assert shlex.split(deploy.flag("x", "it's")) == ["--x=it's"]


def test_env_value_with_comma_rejected():
    with pytest.raises(PlanError, match="contains a comma"):
        deploy.env_flag({"ACEHOOKS_EMAIL_FROM": "a@example.com,b@example.com"})


def endpoint(name: str) -> EndpointConfig:
    return EndpointConfig.model_validate({"endpointName": name, "auth": [{"method": "token", "secretEnv": "T"}]})


@pytest.mark.parametrize("project, region, names, message", [
    ("demo-acehooks", REGION, ["orders"], "demo- project"),
    ("Acehooks_Prod", REGION, ["orders"], "not a Google Cloud project id"),
    (PROJECT, "europe", ["orders"], "not a region name"),
    (PROJECT, REGION, [], "no endpoint configs"),
    (PROJECT, REGION, ["orders_"], "must end with a letter or digit"),
    (PROJECT, REGION, ["sweep_events"], "is the name of an acehooks function"),
    (PROJECT, REGION, ["Orders", "orders"], "same Cloud Run service"),
])
def test_invalid_target_rejected(project, region, names, message):
    with pytest.raises(PlanError, match=message):
        build_plan([endpoint(name) for name in names], project, region, STAGED)


def deploy_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="acehooks")
    deploy.add_deploy_command(parser.add_subparsers(dest="command", required=True))
    return parser


def copy_repository(target: Path) -> Path:
    """Copy what deploy reads (functions/, shared/acehooks, requirements.txt) into ``target``."""
    shutil.copytree(ROOT / "functions", target / "functions", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "shared" / "acehooks", target / "shared" / "acehooks",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(ROOT / "requirements.txt", target / "requirements.txt")
    return target


def test_deploy_command_stages_and_writes_plan(tmp_path, capsys):
    root = copy_repository(tmp_path / "repo")
    plan_file = tmp_path / "plan.sh"
    args = deploy_parser().parse_args(["deploy", "--project", PROJECT, "--region", REGION, "--root", str(root),
                                       "--write", str(plan_file)])
    assert args.run(args) == 0

    staged = root / "build" / "functions-source"
    assert (staged / "main.py").is_file()
    assert (staged / "acehooks" / "deploy.py").is_file()
    text = plan_file.read_text()
    assert f"--source={staged}" in text
    assert "gcloud functions deploy stripe_webhook" in text
    assert os.access(plan_file, os.X_OK)
    assert capsys.readouterr().out == ""


def test_deploy_dry_run_stages_nothing(tmp_path, capsys):
    root = copy_repository(tmp_path / "repo")
    args = deploy_parser().parse_args(["deploy", "--project", PROJECT, "--region", REGION, "--root", str(root),
                                       "--dry-run"])
    assert args.run(args) == 0
    assert not (root / "build").exists()
    assert capsys.readouterr().out.startswith("#!/usr/bin/env bash\n")


def test_deploy_command_reports_invalid_project(tmp_path, capsys):
    root = copy_repository(tmp_path / "repo")
    args = deploy_parser().parse_args(["deploy", "--project", "demo-acehooks", "--region", REGION,
                                       "--root", str(root)])
    assert args.run(args) == 1
    assert "demo- project" in capsys.readouterr().err
    assert not (root / "build").exists()
