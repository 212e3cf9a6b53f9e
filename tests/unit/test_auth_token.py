"""TokenAuth: a shared secret in a header (Bearer by default) or in a query parameter."""

import pytest
from werkzeug.datastructures import Headers, MultiDict

from acehooks.auth.base import InboundRequest
from acehooks.auth.token import TokenAuth
from acehooks.errors import AuthError

TOKEN_VARIABLE = "UNIT_TOKEN"
ROTATED_VARIABLE = "UNIT_TOKEN_NEXT"
TOKEN = "unit-token-0c4e9a"
ROTATED_TOKEN = "unit-token-rotated-7d21"


def request_with(headers: dict | None = None, query: dict | None = None) -> InboundRequest:
    return InboundRequest(method="POST", url="http://127.0.0.1/token", headers=Headers(headers or {}), body=b"{}",
                          query=MultiDict(query or {}))


def rejection(auth: TokenAuth, request: InboundRequest) -> AuthError:
    with pytest.raises(AuthError) as caught:
        auth.verify(request)
    assert caught.value.status == 401
    return caught.value


@pytest.fixture(autouse=True)
def token_variables(monkeypatch):
    monkeypatch.setenv(TOKEN_VARIABLE, TOKEN)
    monkeypatch.delenv(ROTATED_VARIABLE, raising=False)


@pytest.fixture
def bearer() -> TokenAuth:
    return TokenAuth(method="token", secret_env=TOKEN_VARIABLE)


@pytest.fixture
def query_token() -> TokenAuth:
    return TokenAuth(method="token", secret_env=TOKEN_VARIABLE, query_param="key")


# Header


def test_bearer_token_accepted(bearer):
    assert bearer.verify(request_with({"Authorization": f"Bearer {TOKEN}"})) is None


def test_scheme_case_insensitive(bearer):
    assert bearer.verify(request_with({"authorization": f"bearer {TOKEN}"})) is None


def test_rotated_token_accepted(monkeypatch):
    monkeypatch.setenv(ROTATED_VARIABLE, ROTATED_TOKEN)
    auth = TokenAuth(method="token", secret_env=[TOKEN_VARIABLE, ROTATED_VARIABLE])

    assert auth.verify(request_with({"Authorization": f"Bearer {ROTATED_TOKEN}"})) is None


def test_custom_header_without_scheme_accepted():
    auth = TokenAuth(method="token", secret_env=TOKEN_VARIABLE, header="X-Api-Key", scheme=None)

    assert auth.verify(request_with({"X-Api-Key": TOKEN})) is None


def test_custom_scheme_accepted():
    auth = TokenAuth(method="token", secret_env=TOKEN_VARIABLE, scheme="Token")

    assert auth.verify(request_with({"Authorization": f"Token {TOKEN}"})) is None


def test_wrong_token_rejected(bearer):
    error = rejection(bearer, request_with({"Authorization": "Bearer unit-token-0c4e9b"}))

    assert error.reason == "token_mismatch"
    assert "Authorization" in str(error)
    assert TOKEN not in str(error)


def test_token_prefix_rejected(bearer):
    assert rejection(bearer, request_with({"Authorization": f"Bearer {TOKEN[:-1]}"})).reason == "token_mismatch"


def test_missing_header_rejected(bearer):
    error = rejection(bearer, request_with())

    assert error.reason == "header_missing"
    assert "Authorization" in str(error)


def test_empty_header_rejected(bearer):
    assert rejection(bearer, request_with({"Authorization": ""})).reason == "header_empty"


@pytest.mark.parametrize("value", [TOKEN, f"Basic {TOKEN}", "Bearer", "Bearer    "])
def test_malformed_header_rejected(bearer, value):
    error = rejection(bearer, request_with({"Authorization": value}))

    assert error.reason == "token_malformed"
    assert "'Bearer <token>'" in str(error)


def test_unset_secret_rejected(bearer, monkeypatch):
    monkeypatch.delenv(TOKEN_VARIABLE)

    assert rejection(bearer, request_with({"Authorization": f"Bearer {TOKEN}"})).reason == "secret_missing"


def test_sign_writes_bearer_header(bearer):
    assert bearer.sign(b"{}", "http://127.0.0.1/token", 0) == ({"Authorization": f"Bearer {TOKEN}"}, "http://127.0.0.1/token")


# Query parameter


def test_query_token_accepted(query_token):
    assert query_token.verify(request_with(query={"key": TOKEN})) is None


def test_query_token_ignores_header(query_token):
    error = rejection(query_token, request_with({"Authorization": f"Bearer {TOKEN}"}))

    assert error.reason == "token_missing"
    assert "query parameter key" in str(error)


def test_wrong_query_token_rejected(query_token):
    assert rejection(query_token, request_with(query={"key": "nope"})).reason == "token_mismatch"


def test_empty_query_token_rejected(query_token):
    assert rejection(query_token, request_with(query={"key": ""})).reason == "token_missing"


def test_sign_appends_query_token(query_token):
    headers, url = query_token.sign(b"{}", "http://127.0.0.1/token?tenant=acme", 0)

    assert headers == {}
    assert url == f"http://127.0.0.1/token?tenant=acme&key={TOKEN}"


def test_scheme_with_query_param_rejected():
    with pytest.raises(ValueError, match="scheme applies to a header token"):
        TokenAuth(method="token", secret_env=TOKEN_VARIABLE, query_param="key", scheme="Bearer")
