"""No secret-derived value in the authentication code is compared with ==, != or in.

Those operators stop at the first differing byte, so their run time shows
an attacker how much of a guessed signature or token was right. Such values
must go through hmac.compare_digest (directly or via any_digest_matches).
The check reads the source with ast and flags a comparison when either side
mentions a name whose words include one of SENSITIVE_WORDS.
"""

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "shared" / "acehooks"
CHECKED_FILES = sorted((PACKAGE / "auth").glob("*.py")) + [PACKAGE / "worker_auth.py"]

SENSITIVE_WORDS = {"signature", "signatures", "sig", "sigs", "digest", "digests", "secret", "secrets",
                   "token", "tokens", "mac", "macs", "hmac", "hash", "hashes"}
UNSAFE_OPERATORS = (ast.Eq, ast.NotEq, ast.In, ast.NotIn)
# Calls whose result reveals a value's size or type, never its content.
CONTENT_FREE_CALLS = {"len", "isinstance", "type", "bool"}


def name_words(name: str) -> set[str]:
    """Split snake_case and camelCase names into lowercase words: bodySHA256 -> {body, sha256}."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name).replace("_", " ")
    return {word.lower() for word in spaced.split()}


def mentioned_names(node: ast.AST) -> set[str]:
    """Return every variable, attribute and function name an expression reads, skipping len() and the like."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in CONTENT_FREE_CALLS:
        return set()
    names = set()
    if isinstance(node, ast.Name):
        names.add(node.id)
    elif isinstance(node, ast.Attribute):
        names.add(node.attr)
    for child in ast.iter_child_nodes(node):
        names |= mentioned_names(child)
    return names


def unsafe_comparisons(source: str, filename: str = "<source>") -> list[str]:
    """Return ``file:line: names`` for each ==, != or in comparison involving a sensitive name."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        for operator, left, right in zip(node.ops, operands, operands[1:]):
            if not isinstance(operator, UNSAFE_OPERATORS):
                continue
            sensitive = sorted(name for side in (left, right) for name in mentioned_names(side)
                               if name_words(name) & SENSITIVE_WORDS)
            if sensitive:
                found.append(f"{filename}:{node.lineno}: {type(operator).__name__} on {', '.join(sensitive)}")
    return found


# The checker itself


@pytest.mark.parametrize("source", [
    "if signature == expected: pass",
    "ok = received_sig != computed",
    "if token in allowed_tokens: pass",
    "if self.secret == value: pass",
    "if expected_digest not in candidates: pass",
    "if compute_hmac(body) == header: pass",
    "same = bodyHash == value",
    "if a == b == signature: pass",
])
def test_checker_flags_plain_comparison(source):
    assert len(unsafe_comparisons(source)) == 1


@pytest.mark.parametrize("source", [
    "if hmac.compare_digest(signature, expected): pass",
    "if len(signature) == 32: pass",
    "if signature is None: pass",
    "if scheme.lower() != 'bearer': pass",
    "if key == 't': pass",
    "if not token: pass",
    "if version == VERSION: pass",
])
def test_checker_passes_safe_code(source):
    assert unsafe_comparisons(source) == []


def test_name_words_split_camel_and_snake():
    assert name_words("bodySHA256") == {"body", "sha256"}
    assert name_words("expected_sig") == {"expected", "sig"}
    assert name_words("format") == {"format"}


# The authentication code


def test_checked_files_found():
    names = {path.name for path in CHECKED_FILES}

    assert {"base.py", "token.py", "hmac_signature.py", "stripe.py", "worker_auth.py"} <= names
    assert len(names) >= 10


@pytest.mark.parametrize("path", CHECKED_FILES, ids=lambda path: path.name)
def test_no_plain_comparison_of_secrets(path):
    assert unsafe_comparisons(path.read_text(), str(path.relative_to(PACKAGE))) == []
