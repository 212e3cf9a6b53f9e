"""IpAllowlistAuth: CIDR checks on the socket peer or the trusted end of X-Forwarded-For."""

import pytest
from werkzeug.datastructures import Headers

from acehooks.auth import verify_all
from acehooks.auth.base import InboundRequest
from acehooks.auth.ip_allowlist import IpAllowlistAuth
from acehooks.auth.token import TokenAuth
from acehooks.config import EndpointConfig
from acehooks.errors import AuthError, ForbiddenError

CIDRS = ["203.0.113.0/24", "2001:db8::/32", "198.51.100.7"]
TOKEN_VARIABLE = "UNIT_IP_TOKEN"
TOKEN = "unit-ip-token-31f0"


def request_from(remote_addr: str | None = None, forwarded: list[str] | None = None, **extra) -> InboundRequest:
    headers = Headers(extra)
    for value in forwarded or []:
        headers.add("X-Forwarded-For", value)
    return InboundRequest(method="POST", url="http://127.0.0.1/ip", headers=headers, body=b"{}", remote_addr=remote_addr)


def allowlist(hops: int = 0, cidrs: list[str] = CIDRS) -> IpAllowlistAuth:
    return IpAllowlistAuth(method="ipAllowlist", cidrs=cidrs, trusted_proxy_hops=hops)


def forbidden(auth, request: InboundRequest) -> ForbiddenError:
    with pytest.raises(ForbiddenError) as caught:
        auth.verify(request)
    assert caught.value.status == 403
    return caught.value


# Socket peer (no proxy)


@pytest.mark.parametrize("address", ["203.0.113.1", "203.0.113.254", "2001:db8::1", "2001:db8:ffff::9", "198.51.100.7",
                                     "::ffff:203.0.113.9"])
def test_allowed_peer_accepted(address):
    assert allowlist().verify(request_from(address)) is None


@pytest.mark.parametrize("address", ["203.0.114.1", "198.51.100.8", "2001:db9::1", "127.0.0.1", "::1"])
def test_other_peer_rejected(address):
    error = forbidden(allowlist(), request_from(address))

    assert error.reason == "address_not_allowed"
    assert address in str(error)


def test_forwarded_for_ignored_without_trusted_proxy():
    # The client wrote this header itself; with no proxy in front, nothing vouches for it.
    error = forbidden(allowlist(), request_from("192.0.2.50", ["203.0.113.1"]))

    assert error.reason == "address_not_allowed"


def test_missing_peer_rejected():
    assert forbidden(allowlist(), request_from(None)).reason == "client_address_missing"


# Behind trusted proxies


def test_proxied_client_accepted():
    assert allowlist(hops=1).verify(request_from("10.0.0.9", ["203.0.113.5"])) is None


def test_spoofed_left_entry_rejected():
    # The client sent "203.0.113.5"; the trusted proxy appended the address it really saw.
    error = forbidden(allowlist(hops=1), request_from("10.0.0.9", ["203.0.113.5, 192.0.2.66"]))

    assert error.reason == "address_not_allowed"
    assert "192.0.2.66" in str(error)


def test_spoofed_entries_left_of_client_ignored():
    assert allowlist(hops=1).verify(request_from("10.0.0.9", ["198.18.0.1, not-an-ip, 203.0.113.5"])) is None


def test_two_hops_read_second_from_right():
    request = request_from("10.0.0.9", ["192.0.2.66, 203.0.113.5, 35.191.0.1"])

    assert allowlist(hops=2).verify(request) is None
    assert forbidden(allowlist(hops=1), request).reason == "address_not_allowed"


def test_repeated_headers_read_in_order():
    assert allowlist(hops=2).verify(request_from("10.0.0.9", ["192.0.2.66, 203.0.113.5", "35.191.0.1"])) is None


def test_ipv6_client_behind_proxy_accepted():
    assert allowlist(hops=1).verify(request_from("10.0.0.9", ["2001:db8:1234::42"])) is None


def test_ipv6_client_outside_list_rejected():
    assert forbidden(allowlist(hops=1), request_from("10.0.0.9", ["2001:db9::42"])).reason == "address_not_allowed"


@pytest.mark.parametrize("entry", ["203.0.113.5:443", "[2001:db8::1]", "fe80::1%eth0", "unknown", "203.0.113.256",
                                   "2001:db8::1]:80"])
def test_malformed_entry_rejected(entry):
    error = forbidden(allowlist(hops=1), request_from("10.0.0.9", [entry]))

    assert error.reason == "client_address_malformed"
    assert "X-Forwarded-For" in str(error)


def test_malformed_entry_of_trusted_proxy_rejected():
    error = forbidden(allowlist(hops=2), request_from("10.0.0.9", ["203.0.113.5, proxy.internal"]))

    assert error.reason == "client_address_malformed"


@pytest.mark.parametrize("forwarded", [[], [""], [" , "]])
def test_too_few_entries_rejected(forwarded):
    error = forbidden(allowlist(hops=1), request_from("10.0.0.9", forwarded))

    assert error.reason == "forwarded_for_short"
    assert "trustedProxyHops 1" in str(error)


def test_fewer_entries_than_hops_rejected():
    assert forbidden(allowlist(hops=2), request_from("10.0.0.9", ["203.0.113.5"])).reason == "forwarded_for_short"


def test_plain_mapping_headers_supported():
    request = InboundRequest(method="POST", url="http://127.0.0.1/ip", headers={"X-Forwarded-For": "203.0.113.5"},
                             body=b"")

    assert allowlist(hops=1).verify(request) is None


# Config


@pytest.mark.parametrize("cidr", ["203.0.113.1/24", "not-a-network", "2001:db8::/129", "10.0.0.0/33"])
def test_bad_cidr_rejected(cidr):
    with pytest.raises(ValueError, match="is not a CIDR block"):
        allowlist(cidrs=[cidr])


def test_empty_cidr_list_rejected():
    with pytest.raises(ValueError):
        allowlist(cidrs=[])


@pytest.mark.parametrize("hops", [-1, 11])
def test_out_of_range_hops_rejected(hops):
    with pytest.raises(ValueError, match="trusted_proxy_hops|trustedProxyHops"):
        allowlist(hops=hops)


def test_config_keys_are_camel_case():
    config = EndpointConfig.model_validate({"endpointName": "ip", "auth": [
        {"method": "ipAllowlist", "cidrs": ["203.0.113.0/24"], "trustedProxyHops": 1}]})

    assert config.auth[0].trusted_proxy_hops == 1
    assert config.secret_names() == []


def test_sign_adds_nothing():
    assert allowlist().sign(b"{}", "http://127.0.0.1/ip", 0) == ({}, "http://127.0.0.1/ip")


# Combined with a token: every entry must pass


@pytest.fixture
def token_and_allowlist(monkeypatch) -> list:
    monkeypatch.setenv(TOKEN_VARIABLE, TOKEN)
    return [TokenAuth(method="token", secret_env=TOKEN_VARIABLE), allowlist(hops=1)]


def test_token_and_address_both_valid_accepted(token_and_allowlist):
    request = request_from("10.0.0.9", ["203.0.113.5"], Authorization=f"Bearer {TOKEN}")

    assert verify_all(token_and_allowlist, request) is None


def test_valid_token_from_other_address_forbidden(token_and_allowlist):
    request = request_from("10.0.0.9", ["192.0.2.66"], Authorization=f"Bearer {TOKEN}")

    with pytest.raises(ForbiddenError) as caught:
        verify_all(token_and_allowlist, request)

    assert caught.value.reason == "address_not_allowed"


def test_wrong_token_from_allowed_address_unauthorized(token_and_allowlist):
    request = request_from("10.0.0.9", ["203.0.113.5"], Authorization="Bearer wrong")

    with pytest.raises(AuthError) as caught:
        verify_all(token_and_allowlist, request)

    assert caught.value.reason == "token_mismatch"
    assert caught.value.status == 401
