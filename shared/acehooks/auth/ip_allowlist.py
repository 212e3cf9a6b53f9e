"""Allow requests only from listed networks (IPv4 and IPv6 CIDR blocks).

The client address is the socket peer when ``trustedProxyHops`` is 0. Behind
proxies, each proxy appends the address it received the request from to
``X-Forwarded-For``, so with N trusted proxies the client is the N-th entry
from the right. Entries further left come from the client or untrusted proxies and
are never read, so a forged left-most entry cannot pass.

NOTE: how many entries Google's front ends append before a Cloud Function
depends on the deployment (an external HTTPS load balancer appends two);
a ``trustedProxyHops`` that is too high reads an address the client wrote.

A failed check raises ForbiddenError, which ingest turns into a 403 response.
"""

import ipaddress
from typing import Literal

from pydantic import Field, PrivateAttr, field_validator

from ..errors import ForbiddenError
from .base import InboundRequest
from .method import AuthMethod

FORWARDED_FOR_HEADER = "X-Forwarded-For"
# More trusted proxies than this is a misconfiguration rather than a real chain.
MAX_PROXY_HOPS = 10

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_address(value: str, source: str) -> IpAddress:
    """Parse one IPv4 or IPv6 address. An IPv4-mapped IPv6 address becomes IPv4.

    Raises ForbiddenError when ``value`` is not a bare address (a port or a
    zone index counts as malformed), naming ``source``.
    """
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        address = None
    if address is None or (isinstance(address, ipaddress.IPv6Address) and address.scope_id):
        raise ForbiddenError("client_address_malformed", f"{source} contains {value!r}, which is not an IP address")
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def forwarded_entries(request: InboundRequest) -> list[str]:
    """Return every X-Forwarded-For entry in order, across repeated headers."""
    get_all = getattr(request.headers, "getlist", None)
    values = get_all(FORWARDED_FOR_HEADER) if get_all else [request.headers.get(FORWARDED_FOR_HEADER) or ""]
    return [entry.strip() for value in values for entry in value.split(",")]


class IpAllowlistAuth(AuthMethod):
    """Reject clients whose address is in none of ``cidrs``."""

    method: Literal["ipAllowlist"]
    cidrs: list[str] = Field(min_length=1)
    trusted_proxy_hops: int = Field(0, ge=0, le=MAX_PROXY_HOPS)

    _networks: list = PrivateAttr(default_factory=list)

    @field_validator("cidrs")
    @classmethod
    def _cidrs_are_networks(cls, cidrs: list[str]) -> list[str]:
        for cidr in cidrs:
            try:
                ipaddress.ip_network(cidr.strip(), strict=True)
            except ValueError as error:
                raise ValueError(
                    f"{cidr!r} is not a CIDR block ({error}); write a network such as '203.0.113.0/24' or "
                    "'2001:db8::/32', with no bits set after the prefix length, or a single address"
                ) from None
        return cidrs

    def model_post_init(self, context) -> None:
        self._networks = [ipaddress.ip_network(cidr.strip()) for cidr in self.cidrs]

    def verify(self, request: InboundRequest) -> None:
        address = self.client_address(request)
        if not any(address in network for network in self._networks):
            raise ForbiddenError("address_not_allowed", f"client address {address} is in none of the allowed networks")

    def client_address(self, request: InboundRequest) -> IpAddress:
        """Return the client's address as the trusted proxies saw it.

        Raises ForbiddenError when it is missing or malformed, or when
        X-Forwarded-For has fewer entries than trusted proxies.
        """
        if self.trusted_proxy_hops == 0:
            if not request.remote_addr:
                raise ForbiddenError("client_address_missing", "the request has no socket peer address")
            return parse_address(request.remote_addr, "the socket peer address")

        entries = forwarded_entries(request)
        if len(entries) < self.trusted_proxy_hops or not all(entries[-self.trusted_proxy_hops:]):
            raise ForbiddenError(
                "forwarded_for_short",
                f"header {FORWARDED_FOR_HEADER} has {len(entries)} entries; trustedProxyHops "
                f"{self.trusted_proxy_hops} needs at least that many non-empty ones",
            )
        trusted = [parse_address(entry, f"header {FORWARDED_FOR_HEADER}") for entry in entries[-self.trusted_proxy_hops:]]
        return trusted[0]

    def sign(self, body: bytes, url: str, timestamp: int) -> tuple[dict[str, str], str]:
        # Nothing to add: the network path decides the address, not the sender.
        return {}, url
