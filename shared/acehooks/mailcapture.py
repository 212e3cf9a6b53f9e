"""A local stand-in for SendGrid's v3 mail send API that keeps every message it accepts.

``POST /v3/mail/send`` responds 202 like SendGrid and stores the message;
``GET /messages`` lists the stored messages (``?to=`` and ``?templateId=``
filter them); ``DELETE /messages`` clears them. ``POST /control`` with
``{"failures": [500, 429]}`` makes the next sends answer those statuses, so
tests can exercise retries.

Each stored record holds the request body as ``message`` and, read from it,
``to`` (every recipient address), ``subject``, ``templateId`` and
``templateData`` (the first personalization's dynamic_template_data), so a
dynamic template message can be checked without its rendered content.
"""

import argparse
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit


class MailStore:
    def __init__(self, directory: Path | None):
        self.directory = directory
        self.messages: list[dict] = []
        self.failures: list[int] = []
        self.lock = threading.Lock()
        if directory:
            directory.mkdir(parents=True, exist_ok=True)

    def add(self, message: dict) -> str:
        message_id = uuid.uuid4().hex
        record = {"id": message_id, "message": message, **_summary(message)}
        with self.lock:
            self.messages.append(record)
            if self.directory:
                path = self.directory / f"{len(self.messages):05d}-{message_id}.json"
                path.write_text(json.dumps(message, indent=2))
        return message_id


def _make_handler(store: MailStore):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format, *args):  # quiet: tests read the store, not the access log
            pass

        def _send_json(self, status: int, body, headers: dict | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _read_json(self):
            length = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(length) or b"null")

        def do_GET(self):
            url = urlsplit(self.path)
            if url.path != "/messages":
                self._send_json(404, {"errors": [{"message": f"no route {self.path}"}]})
                return
            query = parse_qs(url.query)
            with store.lock:
                found = list(store.messages)
            if "to" in query:
                found = [record for record in found if set(query["to"]) & set(record["to"])]
            if "templateId" in query:
                found = [record for record in found if record["templateId"] in query["templateId"]]
            self._send_json(200, found)

        def do_DELETE(self):
            if self.path == "/messages":
                with store.lock:
                    store.messages.clear()
                self._send_json(200, {"deleted": True})
            else:
                self._send_json(404, {"errors": [{"message": f"no route {self.path}"}]})

        def do_POST(self):
            try:
                body = self._read_json()
            except ValueError:
                self._send_json(400, {"errors": [{"message": "body is not valid JSON"}]})
                return

            if self.path == "/control":
                with store.lock:
                    store.failures = [int(status) for status in body.get("failures", [])]
                self._send_json(200, {"failures": store.failures})
                return
            if self.path != "/v3/mail/send":
                self._send_json(404, {"errors": [{"message": f"no route {self.path}"}]})
                return

            scheme, _, key = (self.headers.get("Authorization") or "").partition(" ")
            if scheme != "Bearer" or not key:
                self._send_json(401, {"errors": [{"message": "authorization required"}]})
                return
            with store.lock:
                failure = store.failures.pop(0) if store.failures else None
            if failure:
                self._send_json(failure, {"errors": [{"message": f"injected failure {failure}"}]})
                return

            problems = _check_message(body)
            if problems:
                self._send_json(400, {"errors": [{"message": problem} for problem in problems]})
                return
            message_id = store.add(body)
            self.send_response(202)
            self.send_header("X-Message-Id", message_id)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


def _summary(message: dict) -> dict:
    """Return the fields a test looks up in a stored message: recipients, subject, template id and data."""
    personalizations = message.get("personalizations") or [{}]
    return {
        "to": [recipient.get("email") for personalization in personalizations
               for recipient in personalization.get("to") or []],
        "subject": message.get("subject"),
        "templateId": message.get("template_id"),
        "templateData": personalizations[0].get("dynamic_template_data"),
    }


def _check_message(message) -> list[str]:
    """Return what SendGrid would reject in a mail send body (the checks that matter here)."""
    if not isinstance(message, dict):
        return ["body must be a JSON object"]
    problems = []
    personalizations = message.get("personalizations")
    if (not isinstance(personalizations, list) or not personalizations
            or not all(isinstance(p, dict) and p.get("to") for p in personalizations)):
        problems.append("personalizations with at least one 'to' are required")
        personalizations = []
    for index, personalization in enumerate(personalizations):
        if not all(isinstance(r, dict) and r.get("email") for r in personalization["to"]):
            problems.append(f"personalizations[{index}].to entries need an email")
        data = personalization.get("dynamic_template_data")
        if data is not None and not isinstance(data, dict):
            problems.append(f"personalizations[{index}].dynamic_template_data must be an object")
        if data is not None and not str(message.get("template_id") or "").startswith("d-"):
            problems.append("dynamic_template_data needs a dynamic template: template_id starting with 'd-'")
    if not (message.get("from") or {}).get("email"):
        problems.append("from.email is required")

    if message.get("template_id"):
        return problems
    if not message.get("subject"):
        problems.append("subject is required unless template_id is set")
    content = message.get("content")
    if not content:
        problems.append("content is required unless template_id is set")
    elif not all(isinstance(part, dict) and part.get("type") and part.get("value") for part in content):
        problems.append("each content entry needs a type and a non-empty value")
    elif any(part["type"] == "text/plain" for part in content) and content[0]["type"] != "text/plain":
        problems.append("text/plain content must come first")
    return problems


class CaptureServer(ThreadingHTTPServer):
    # The standard backlog of 5 resets connections when 32 clients send at once.
    request_queue_size = 128


def serve(port: int, directory: Path | None) -> ThreadingHTTPServer:
    """Start the capture server on 127.0.0.1:``port`` in a background thread and return it."""
    server = CaptureServer(("127.0.0.1", port), _make_handler(MailStore(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=5025, help="port on 127.0.0.1; default 5025")
    parser.add_argument("--dir", type=Path, default=None, help="directory that receives one JSON file per message")
    args = parser.parse_args()
    server = CaptureServer(("127.0.0.1", args.port), _make_handler(MailStore(args.dir)))
    print(f"mail capture listening on 127.0.0.1:{args.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
