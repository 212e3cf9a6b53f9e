"""Checks of firestore.rules that run without an emulator, and the rules tests that need the official one.

The rules compiler is not available offline: the Firebase CLI checks rules
by sending them to the Firebase Rules API (``firebase deploy`` compiles
through ``projects.test``), and the official emulator needs Java 21 and a
download. So the checks here read the rules text:

* ``rules_version = '2'`` comes first, and braces and parentheses balance;
* every ``allow`` has an ``if`` condition, and no condition is plain ``true``;
* no recursive wildcard (``{name=**}``) match grants anything, so Firestore's
  default deny holds for every path no rule names;
* ``webhook_events`` has a read rule for admins and no write rule at all;
* every collection a deployed endpoint's saveToCloud action writes has a
  match block, because without one app clients cannot read what the action wrote.

The behaviour of the rules is tested by tests/rules/ (node) against the
official emulator. ``test_rules_behave_on_official_emulator`` runs those
tests when FIRESTORE_EMULATOR_HOST points at it, and is skipped otherwise.
"""

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from acehooks.config import EndpointConfig, SaveToCloudAction
from acehooks.loading import load_endpoints

ROOT = Path(__file__).resolve().parents[2]
RULES_PATH = ROOT / "firestore.rules"
RULES_TESTS = ROOT / "tests" / "rules"
DOCUMENTS_PREFIX = ["databases", "{database}", "documents"]
PROBE_TIMEOUT_SECONDS = 3


@dataclass
class Block:
    """A ``match`` block: its full path segments, its own text (nested blocks cut out) and its children."""

    segments: list[str]
    start: int = 0  # offset of the ``match`` keyword
    body_start: int = 0  # offset just after the opening brace
    end: int = 0  # offset just after the closing brace
    text: str = ""
    children: list["Block"] = field(default_factory=list)

    def allows(self) -> list[tuple[list[str], str | None]]:
        """Return each ``allow`` statement as (methods, condition or None)."""
        found = []
        for methods, condition in re.findall(r"allow\s+([\w\s,]+?)\s*(?::\s*if\b([^;]*))?;", self.text):
            found.append(([method.strip() for method in methods.split(",")], condition.strip() or None))
        return found


def strip_comments_and_strings(text: str) -> str:
    """Blank out comments and the contents of string literals, keeping offsets and line breaks."""
    pattern = re.compile(r"//[^\n]*|/\*.*?\*/|'(?:\\.|[^'\\])*'|\"(?:\\.|[^\"\\])*\"", re.DOTALL)

    def blank(match: re.Match) -> str:
        token = match.group(0)
        if token[0] in "'\"":
            return token[0] + " " * (len(token) - 2) + token[-1]
        return re.sub(r"[^\n]", " ", token)

    return pattern.sub(blank, text)


def parse_match_blocks(text: str) -> list[Block]:
    """Return the top-level match blocks of a rules text whose comments and strings are blanked.

    Raises ValueError on unbalanced braces.
    """
    root = Block([])
    # Each open brace: the match block it opens, or None for any other brace (service, function).
    stack: list[Block | None] = [root]
    for token in re.finditer(r"match\s+(/\S+)\s*\{|\{|\}", text):
        parent = next(block for block in reversed(stack) if block is not None)
        if token.group(0) == "}":
            if len(stack) == 1:
                raise ValueError(f"unbalanced '}}' at offset {token.start()}")
            block = stack.pop()
            if block is not None:
                block.text = _own_text(text, block, token.start())
            continue
        if token.group(1):
            path = [segment for segment in token.group(1).split("/") if segment]
            block = Block(parent.segments + path, start=token.start(), body_start=token.end())
            parent.children.append(block)
            stack.append(block)
        else:
            stack.append(None)
    if len(stack) != 1:
        raise ValueError(f"{len(stack) - 1} '{{' without a closing '}}'")
    return root.children


def _own_text(text: str, block: Block, body_end: int) -> str:
    """Return the block's body with its nested match blocks cut out."""
    pieces = []
    position = block.body_start
    for child in block.children:
        pieces.append(text[position:child.start])
        position = child.end
    pieces.append(text[position:body_end])
    block.end = body_end + 1
    return "".join(pieces)


def all_blocks(blocks: list[Block]) -> list[Block]:
    found = []
    for block in blocks:
        found.append(block)
        found.extend(all_blocks(block.children))
    return found


def document_segments(block: Block) -> list[str] | None:
    """Return the block's path below /databases/{database}/documents, or None for a block outside it."""
    if block.segments[:len(DOCUMENTS_PREFIX)] != DOCUMENTS_PREFIX:
        return None
    return block.segments[len(DOCUMENTS_PREFIX):]


def is_wildcard(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


def is_recursive(segment: str) -> bool:
    return is_wildcard(segment) and segment.endswith("=**}")


def rule_covers(rule: list[str], collection_path: str) -> bool:
    """Return whether a match path covers every document of a (possibly templated) collection path."""
    target = collection_path.split("/") + ["{documentId}"]
    for index, segment in enumerate(rule):
        if is_recursive(segment):
            return True
        if index >= len(target):
            return False
        if is_wildcard(segment):
            continue
        if is_wildcard(target[index]) or segment != target[index]:
            return False
    return len(rule) == len(target)


def written_collections(configs: dict[str, EndpointConfig]) -> dict[str, str]:
    """Return each collection path saveToCloud actions write, with the first endpoint that writes it."""
    collections = {}
    for name, config in sorted(configs.items()):
        for action in config.actions:
            if isinstance(action, SaveToCloudAction):
                collections.setdefault(action.collection, name)
    return collections


def uncovered_collections(blocks: list[Block], configs: dict[str, EndpointConfig]) -> list[str]:
    rules = [segments for block in all_blocks(blocks) if (segments := document_segments(block)) is not None]
    return [f"{path} (written by {endpoint})" for path, endpoint in written_collections(configs).items()
            if not any(rule_covers(rule, path) for rule in rules)]


def rules_problems(rules_text: str) -> list[str]:
    """Return every breach of the text checks listed in this module's docstring, except the collection check."""
    problems = []
    if not re.match(r"\s*(//[^\n]*\n\s*)*rules_version\s*=\s*'2'\s*;", rules_text):
        problems.append("rules_version = '2' is not the first statement")

    cleaned = strip_comments_and_strings(rules_text)
    for opening, closing in ("{}", "()", "[]"):
        depth = 0
        for character in cleaned:
            depth += (character == opening) - (character == closing)
            if depth < 0:
                problems.append(f"'{closing}' without '{opening}'")
                depth = 0
        if depth:
            problems.append(f"{depth} '{opening}' left open")
    if problems:
        return problems

    for block in all_blocks(parse_match_blocks(cleaned)):
        location = "/" + "/".join(block.segments)
        segments = document_segments(block) or []
        recursive = any(is_recursive(segment) for segment in block.segments)
        for methods, condition in block.allows():
            granted = ", ".join(methods)
            if condition is None or condition == "true":
                problems.append(f"{location}: allow {granted} has no condition")
            if recursive:
                problems.append(f"{location}: a recursive wildcard grants {granted}")
            if (segments[:1] == ["webhook_events"] or recursive) and {"write", "create", "update", "delete"} & set(methods):
                problems.append(f"{location}: allows {granted} on webhook_events")
    return problems


@pytest.fixture(scope="module")
def rules_text() -> str:
    return RULES_PATH.read_text()


@pytest.fixture(scope="module")
def blocks(rules_text) -> list[Block]:
    return parse_match_blocks(strip_comments_and_strings(rules_text))


def blocks_at(blocks: list[Block], path: str) -> list[Block]:
    segments = path.strip("/").split("/")
    return [block for block in all_blocks(blocks) if document_segments(block) == segments]


def test_rules_file_passes_text_checks(rules_text):
    assert rules_problems(rules_text) == []


GOOD_HEAD = "rules_version = '2';\nservice cloud.firestore {\n  match /databases/{database}/documents {\n"
GOOD_TAIL = "  }\n}\n"


@pytest.mark.parametrize("rules, problem", [
    ("service cloud.firestore { match /databases/{database}/documents { } }", "rules_version = '2' is not the first"),
    (GOOD_HEAD + "    match /a/{b} { allow read: if (true; }\n" + GOOD_TAIL, "1 '(' left open"),
    (GOOD_HEAD + "    match /a/{b} { allow read; }\n" + GOOD_TAIL, "/a/{b}: allow read has no condition"),
    (GOOD_HEAD + "    match /a/{b} { allow read: if true; }\n" + GOOD_TAIL, "/a/{b}: allow read has no condition"),
    (GOOD_HEAD + "    match /{document=**} { allow read: if isAdmin(); }\n" + GOOD_TAIL,
     "/{document=**}: a recursive wildcard grants read"),
    (GOOD_HEAD + "    match /webhook_events/{id} { allow read, write: if isAdmin(); }\n" + GOOD_TAIL,
     "/webhook_events/{id}: allows read, write on webhook_events"),
    (GOOD_HEAD + "    match /webhook_events/{id} {\n      match /claims/{n} { allow create: if isAdmin(); }\n    }\n"
     + GOOD_TAIL, "/webhook_events/{id}/claims/{n}: allows create on webhook_events"),
])
def test_text_checks_catch_bad_rules(rules, problem):
    problems = rules_problems(rules)
    assert any(problem in found for found in problems), problems


def test_comments_and_strings_ignored_by_checks():
    rules = GOOD_HEAD + "    // match /webhook_events/{id} { allow write: if true; }\n" \
        + "    match /p/{id} { allow read: if resource.data.note == '} allow write;'; }\n" + GOOD_TAIL
    assert rules_problems(rules) == []


def test_webhook_events_readable_by_admins_only(blocks):
    (events,) = blocks_at(blocks, "webhook_events/{eventId}")
    assert events.allows() == [(["read"], "isAdmin()")]
    assert re.search(r"function\s+isAdmin\(\)\s*\{\s*return\s+signedIn\(\)\s*&&\s*request\.auth\.token\.admin\s*==\s*true;",
                     RULES_PATH.read_text())


def test_payments_readable_by_owner_only(blocks, rules_text):
    (payments,) = blocks_at(blocks, "payments/{paymentId}")
    assert payments.allows() == [(["read"], "ownsByUidOrVerifiedEmail(resource.data)")]
    owner_rule = re.search(r"function ownsByUidOrVerifiedEmail\(data\) \{(.*?)\n    \}", rules_text, re.DOTALL).group(1)
    assert "data.uid == request.auth.uid" in owner_rule
    assert "request.auth.token.email_verified == true && data.customerEmail == request.auth.token.email" in owner_rule


def test_products_readable_when_signed_in(blocks):
    (products,) = blocks_at(blocks, "products/{productId}")
    assert products.allows() == [(["read"], "signedIn()")]


def test_each_written_collection_has_match_block(blocks):
    configs = load_endpoints(ROOT / "functions" / "endpoints")
    assert uncovered_collections(blocks, configs) == []


def test_missing_match_block_detected(blocks):
    config = EndpointConfig.model_validate({
        "endpointName": "erp_orders", "auth": [{"method": "token", "secretEnv": "T"}], "model": {"uid": "uid"},
        "actions": [{"type": "saveToCloud", "collection": "orders"},
                    {"type": "saveToCloud", "collection": "users/{uid}/orders"},
                    {"type": "saveToCloud", "collection": "payments"}],
    })
    assert uncovered_collections(blocks, {"erp_orders": config}) == [
        "orders (written by erp_orders)", "users/{uid}/orders (written by erp_orders)"]


@pytest.mark.parametrize("rule, collection, covered", [
    ("payments/{id}", "payments", True),
    ("payments/{id}", "orders", False),
    ("users/{uid}/orders/{id}", "users/{uid}/orders", True),
    ("users/alice/orders/{id}", "users/{uid}/orders", False),
    ("users/{uid}", "users/{uid}/orders", False),
    ("users/{path=**}", "users/{uid}/orders", True),
    ("{collection}/{id}", "orders", True),
])
def test_rule_covers_collection(rule, collection, covered):
    assert rule_covers(rule.split("/"), collection) is covered


def test_unbalanced_rules_rejected():
    with pytest.raises(ValueError, match="without a closing"):
        parse_match_blocks("service cloud.firestore { match /a/{b} { allow read: if true; }")


def official_emulator_skip_reason(host: str | None) -> str | None:
    """Return why the node rules tests cannot run against ``host``, or None when it is the official emulator."""
    if not host:
        return ("FIRESTORE_EMULATOR_HOST is not set; start the official Firestore emulator "
                "(firebase emulators:start --only firestore, needs Java 21) and point the variable at it")
    try:
        requests.put(f"http://{host}/emulator/v1/projects/demo-acehooks-rules:securityRules",
                     json={"rules": {"files": [{"name": "firestore.rules", "content": RULES_PATH.read_text()}]}},
                     timeout=PROBE_TIMEOUT_SECONDS)
    except requests.RequestException as error:
        return (f"the emulator at {host} does not accept security rules over REST ({type(error).__name__}); it is "
                "not the official Firestore emulator (the local stack's npm emulator enforces no rules)")
    return None


@pytest.mark.timeout(900)
def test_rules_behave_on_official_emulator():
    host = os.environ.get("FIRESTORE_EMULATOR_HOST")
    reason = official_emulator_skip_reason(host)
    if reason:
        pytest.skip(reason)
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm not found; the rules tests need Node 20 and npm")
    if not (RULES_TESTS / "node_modules" / "@firebase" / "rules-unit-testing").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=RULES_TESTS, check=True)

    result = subprocess.run(["node", "--test"], cwd=RULES_TESTS, capture_output=True, text=True,
                            env={**os.environ, "FIRESTORE_EMULATOR_HOST": host})
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout
    assert "# skipped 0" in result.stdout
