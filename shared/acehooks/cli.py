"""The ``acehooks`` command line: validate configs, run the local stack, send signed test events."""

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

from .errors import ConfigError

DEFAULT_FUNCTIONS_URL = "http://127.0.0.1:5001"
SAMPLE_EVENT = Path("emulator_data/stripe/checkout.session.completed.json")


def _load_local_env() -> None:
    from .localstack import LOCAL_ENV_FILE, load_env_file

    load_env_file(LOCAL_ENV_FILE, os.environ)


class NoBackend(Exception):
    """Neither a local stack nor a Google Cloud project is configured."""


def _use_running_stack() -> None:
    """Point this process at the stack ``acehooks dev`` runs, for every variable not already set.

    Raises NoBackend when no stack runs and no project is set, instead of
    letting the Google client libraries look for cloud credentials.
    """
    from .localstack import DEV_ENV_FILE, load_env_file, running_dev_pid

    if running_dev_pid(Path.cwd()) is not None:
        load_env_file(DEV_ENV_FILE, os.environ)
        print(f"using the local stack described in {DEV_ENV_FILE}", file=sys.stderr)
        return
    if not (os.environ.get("FIRESTORE_EMULATOR_HOST") or os.environ.get("ACEHOOKS_PROJECT")):
        raise NoBackend(
            "no local stack is running here (start `python -m acehooks dev` in this directory) and "
            "ACEHOOKS_PROJECT is not set; set it to work on a Google Cloud project"
        )


def _format_time(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if hasattr(value, "strftime") else "-"


def command_events(args) -> int:
    """List stored events, or show one in full."""
    from . import operations

    _use_running_stack()
    if args.events_command == "show":
        try:
            doc_id, event = operations.find_event(args.id)
        except operations.OperationError as error:
            print(error, file=sys.stderr)
            return 1
        from .payloads import read_model, read_payload

        details = {"docId": doc_id, **{key: event.get(key) for key in (
            "endpoint", "eventId", "eventType", "status", "attempts", "lastError", "receivedAt", "updatedAt",
            "completedAt", "actions", "replays")}}
        details["model"] = read_model(event)
        details["payload"] = read_payload(event, operations.events_collection().document(doc_id))
        print(json.dumps(details, indent=2, default=str))
        return 0

    try:
        since = operations.parse_since(args.since) if args.since else None
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    rows = operations.list_events(args.endpoint, args.status, since, args.limit)
    print(f"{'received':19}  {'status':10}  {'att':>3}  {'endpoint':20}  {'type':28}  document id")
    for doc_id, event in rows:
        print(f"{_format_time(event.get('receivedAt')):19}  {event.get('status', ''):10}  {event.get('attempts', 0):>3}  "
              f"{event.get('endpoint', ''):20}  {str(event.get('eventType') or '-')[:28]:28}  {doc_id}")
        if event.get("lastError") and event.get("status") in ("failed", "retrying", "invalid"):
            print(f"{'':21}last error: {event['lastError'][:150]}")
    print(f"{len(rows)} event(s)")
    return 0


def command_replay(args) -> int:
    """Replay events by id, or every event matching --status/--endpoint/--since."""
    from . import operations, runtime

    _use_running_stack()
    configs = runtime.endpoints()
    if args.ids and (args.status or args.endpoint or args.since):
        print("pass event ids or filters (--status, --endpoint, --since), not both", file=sys.stderr)
        return 2
    if not args.ids and not args.status:
        print("pass event ids, or --status (with optional --endpoint and --since) for a bulk replay", file=sys.stderr)
        return 2

    try:
        if args.ids:
            targets = [operations.find_event(identifier) for identifier in args.ids]
        else:
            since = operations.parse_since(args.since) if args.since else None
            targets = operations.list_events(args.endpoint, args.status, since, limit=args.limit)
    except (operations.OperationError, ValueError) as error:
        print(error, file=sys.stderr)
        return 1

    if not targets:
        print("no events match")
        return 0
    if not args.ids and not args.yes:
        if not sys.stdin.isatty():
            print(f"{len(targets)} event(s) match; pass --yes to replay them without a prompt", file=sys.stderr)
            return 2
        answer = input(f"replay {len(targets)} event(s)? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing replayed")
            return 1

    failures = 0
    for doc_id, event in targets:
        config = configs.get(event.get("endpoint"))
        try:
            if config is None:
                raise operations.OperationError(f"endpoint {event.get('endpoint')!r} has no config here")
            task_name = operations.replay(doc_id, event, config, all_actions=args.all_actions)
            print(f"replayed {doc_id} as task {task_name}")
        except operations.OperationError as error:
            failures += 1
            print(f"not replayed {doc_id}: {error}", file=sys.stderr)
    return 1 if failures else 0


def command_sweep(args) -> int:
    """Enqueue again the events left in received, retrying, or processing with an expired lease."""
    from . import operations, runtime

    _use_running_stack()
    swept = operations.sweep(runtime.endpoints(), older_than_seconds=args.older_than)
    for doc_id, status in swept:
        print(f"enqueued {doc_id} (was {status})")
    print(f"{len(swept)} event(s) enqueued")
    return 0


def command_validate(args) -> int:
    """Check every endpoint config, the custom actions they name and their secret variables."""
    from . import runtime

    if args.local:
        _load_local_env()
    try:
        endpoints = runtime.load_all_endpoints()
        runtime.load_custom_actions(endpoints)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1

    problems = runtime.missing_secrets(list(endpoints.values()))
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return 1
    print(f"{len(endpoints)} endpoint(s) valid: {', '.join(sorted(endpoints))}")
    return 0


def command_dev(args) -> int:
    """Run the local stack until Ctrl-C or SIGTERM."""
    from .localstack import LocalStack
    from .seeds import DEFAULT_SEEDS_FILE, seed_emulator

    stack = LocalStack(Path.cwd())
    signal.signal(signal.SIGTERM, lambda signum, frame: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        stack.start()
        if not stack.write_env_file():
            print("another `acehooks dev` runs in this directory; events, replay, sweep and send keep using it",
                  file=sys.stderr)
        seeded = seed_emulator(stack.env["FIRESTORE_EMULATOR_HOST"], stack.env["ACEHOOKS_PROJECT"],
                               stack.root / DEFAULT_SEEDS_FILE)
        print(stack.describe(), flush=True)
        print(f"loaded {len(seeded)} seed document(s) from {DEFAULT_SEEDS_FILE}", flush=True)
        print("local stack running; press Ctrl-C to stop", flush=True)
        while all(process.poll() is None for process in stack.processes.values()):
            time.sleep(0.5)
        stopped = [name for name, process in stack.processes.items() if process.poll() is not None]
        print(f"{', '.join(stopped)} stopped unexpectedly; see {stack.log_dir}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    except RuntimeError as error:
        print(error, file=sys.stderr)
        return 1
    finally:
        stack.stop()
        print("local stack stopped", flush=True)


def content_type_for(path: Path) -> str:
    return "application/x-www-form-urlencoded" if path.suffix == ".form" else "application/json"


def signed_request(endpoint: str, body: bytes, url: str, timestamp: int | None = None) -> tuple[str, dict]:
    """Sign ``body`` the way the endpoint's senders do; return the URL and headers to post with."""
    from . import runtime

    configs = runtime.load_all_endpoints()
    if endpoint not in configs:
        raise ConfigError(f"no endpoint named {endpoint!r}; endpoints: {', '.join(sorted(configs))}")
    timestamp = int(time.time()) if timestamp is None else timestamp
    headers: dict[str, str] = {}
    for method in configs[endpoint].auth:
        method_headers, url = method.sign(body, url, timestamp)
        headers.update(method_headers)
    return url, headers


def post_signed(endpoint: str, path: Path, base_url: str) -> tuple[int, str]:
    import requests

    body = path.read_bytes()
    url, headers = signed_request(endpoint, body, f"{base_url.rstrip('/')}/{endpoint}")
    headers["Content-Type"] = content_type_for(path)
    response = requests.post(url, data=body, headers=headers, timeout=30)
    return response.status_code, response.text


def command_send(args) -> int:
    """Sign a payload file as the endpoint's provider would and post it."""
    import requests

    from .errors import AuthError
    from .localstack import DEV_ENV_FILE, load_env_file, running_dev_pid

    _load_local_env()
    if args.url is None and running_dev_pid(Path.cwd()) is not None:
        load_env_file(DEV_ENV_FILE, os.environ)
    url = args.url or os.environ.get("ACEHOOKS_FUNCTIONS_URL", DEFAULT_FUNCTIONS_URL)
    try:
        status, text = post_signed(args.endpoint, Path(args.file), url)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    except AuthError as error:
        print(f"cannot sign: {error}; export it, or add it to emulator_data/local.env", file=sys.stderr)
        return 1
    except requests.ConnectionError:
        print(f"send failed: connection refused at {url}; is `python -m acehooks dev` running?", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"send failed: {error}", file=sys.stderr)
        return 1
    print(status)
    print(text)
    return 0 if status < 400 else 1


def command_demo(args) -> int:
    """Start the local stack, send the sample Stripe event and print what it produced."""
    from .localstack import LocalStack

    stack = LocalStack(Path.cwd())
    try:
        stack.start()
        print(stack.describe(), flush=True)
        os.environ.update({key: stack.env[key] for key in (
            "FIRESTORE_EMULATOR_HOST", "ACEHOOKS_PROJECT", "ACEHOOKS_CONFIG_DIR", "ACEHOOKS_ACTIONS_MODULE",
            "STRIPE_WEBHOOK_SECRET")})
        return _run_demo(stack)
    except RuntimeError as error:
        print(error, file=sys.stderr)
        return 1
    finally:
        stack.stop()


def _run_demo(stack) -> int:
    import requests

    from . import ids
    from .clients import firestore_client

    payload = json.loads(SAMPLE_EVENT.read_bytes())
    started = time.perf_counter()
    status, text = post_signed("stripe_webhook", SAMPLE_EVENT, stack.functions_url)
    print(f"\nPOST /stripe_webhook -> {status} {text.strip()}")
    if status != 200:
        return 1

    db = firestore_client()
    event_ref = db.collection("webhook_events").document(ids.event_doc_id("stripe_webhook", payload["id"]))
    deadline = time.monotonic() + 30
    event = {}
    while time.monotonic() < deadline:
        event = event_ref.get().to_dict() or {}
        if event.get("status") in ("succeeded", "failed"):
            break
        time.sleep(0.1)
    print(f"event reached {event.get('status')!r} in {time.perf_counter() - started:.2f} s")

    details = {key: event.get(key) for key in ("endpoint", "eventId", "eventType", "status", "attempts", "model",
                                             "actions", "lastError", "receivedAt", "completedAt")}
    print(f"\nwebhook_events/{event_ref.id}:\n{json.dumps(details, indent=2, default=str)}")
    payment = db.collection("payments").document(payload["data"]["object"]["id"]).get()
    print(f"\npayments/{payment.id}:\n{json.dumps(payment.to_dict(), indent=2, default=str)}")
    messages = requests.get(f"http://127.0.0.1:{stack.ports.mail}/messages", timeout=5).json()
    print(f"\ncaptured email ({len(messages)}):\n{json.dumps(messages[-1:] , indent=2)}")
    return 0 if event.get("status") == "succeeded" and payment.exists and messages else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="acehooks", description="Webhook receivers for Firebase backends.")
    commands = parser.add_subparsers(dest="command", required=True)

    validate = commands.add_parser("validate", help="check endpoint configs, custom actions and secret variables")
    validate.add_argument("--local", action="store_true",
                          help="read unset secret variables from emulator_data/local.env first")
    validate.set_defaults(run=command_validate)

    dev = commands.add_parser(
        "dev", help="run the local stack (emulators, mail capture, functions) until Ctrl-C",
        description="Run the local stack until Ctrl-C or SIGTERM. Ports: ACEHOOKS_FUNCTIONS_PORT (default 5001), "
                    "ACEHOOKS_FIRESTORE_PORT (8080), ACEHOOKS_TASKS_PORT (9090), ACEHOOKS_MAIL_PORT (5025). "
                    "Set FIRESTORE_EMULATOR_HOST to use a Firestore emulator you already run.")
    dev.set_defaults(run=command_dev)

    send = commands.add_parser("send", help="sign a payload file as the endpoint's provider would and post it")
    send.add_argument("endpoint", help="endpoint name, as in endpointName")
    send.add_argument("file", help="payload file; .form files are sent form-encoded, others as JSON")
    send.add_argument("--url", default=None,
                      help="base URL of the functions, without the endpoint path (env ACEHOOKS_FUNCTIONS_URL); "
                           f"default: the running `acehooks dev` stack, else {DEFAULT_FUNCTIONS_URL}")
    send.set_defaults(run=command_send)

    events_parser = commands.add_parser("events", help="list stored events or show one")
    events_commands = events_parser.add_subparsers(dest="events_command", required=True)
    listing = events_commands.add_parser("list", help="list events, newest first")
    listing.add_argument("--endpoint", help="only this endpoint")
    listing.add_argument("--status", help="only this status (received, processing, retrying, succeeded, failed, ignored, invalid)")
    listing.add_argument("--since", help="only events received after this: 30m, 2h, 1d or an ISO 8601 time")
    listing.add_argument("--limit", type=int, default=100, help="maximum number of events listed; default 100")
    show = events_commands.add_parser("show", help="show one event: payload, model, attempts, actions, last error")
    show.add_argument("id", help="document id, or the provider's event id")
    events_parser.set_defaults(run=command_events)

    replay = commands.add_parser("replay", help="run events through the worker again")
    replay.add_argument("ids", nargs="*", help="document ids or provider event ids")
    replay.add_argument("--status", help="bulk: every event with this status (for example failed)")
    replay.add_argument("--endpoint", help="bulk: only this endpoint")
    replay.add_argument("--since", help="bulk: only events received after this: 30m, 2h, 1d or an ISO 8601 time")
    replay.add_argument("--limit", type=int, default=500, help="bulk: maximum number of events; default 500")
    replay.add_argument("--all-actions", action="store_true", help="run every action again, not only those not yet done")
    replay.add_argument("--yes", action="store_true", help="bulk: replay without asking for confirmation")
    replay.set_defaults(run=command_replay)

    sweep = commands.add_parser("sweep", help="enqueue again the events left stuck")
    sweep.add_argument("--older-than", type=float, default=600,
                       help="seconds an event must have been untouched to count as stuck; default 600")
    sweep.set_defaults(run=command_sweep)

    from .deploy import add_deploy_command
    from .schema import add_schema_command

    add_deploy_command(commands)
    add_schema_command(commands)

    demo = commands.add_parser("demo", help="start the local stack, send the sample Stripe event, print the results")
    demo.set_defaults(run=command_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except NoBackend as error:
        print(error, file=sys.stderr)
        return 2
