"""Where the hub may send webhooks: partner-registered URLs must reach the public internet.

A partner chooses the URL the hub's sender POSTs to, so an unchecked URL lets any partner make
the hub call its own network (SSRF): the database, Redis, the admin, a cloud metadata service
at 169.254.169.254. `webhook_url_check` is called when an endpoint is registered (a refusal is
a 422 `webhook_url_refused` problem). The sender (`WebhookTransport`) checks again whenever it
opens a connection, because what a name resolves to can change after registration, and even
between a check and the connection (DNS rebinding with a zero TTL): it resolves the name once,
judges every address, and connects to one of those addresses — never to what a second lookup
answers. TLS still runs on the host name: it is the SNI and the name the certificate must
match. A refusal fails the attempt like a network error, with nothing sent.

What holds for an accepted URL, at the moment of the check:
- scheme `https` (`http` too when `WEBHOOK_ALLOW_PRIVATE_URLS`), no user name or password, a
  host, a valid port;
- every address the host resolves to is public. Never allowed: unspecified, link-local (cloud
  metadata), multicast, reserved, documentation/benchmarking and other non-global ranges, and
  IPv6 addresses that embed one of those (IPv4-mapped, 6to4, NAT64). Allowed only with
  `WEBHOOK_ALLOW_PRIVATE_URLS` (local development, tests, the demo stack): loopback, RFC 1918,
  unique-local fc00::/7 and shared address space 100.64.0.0/10 (CGNAT).

Refusals name the rule and never echo the URL (it may carry a receiver's token) or what the
name resolved to (that would let a partner map the hub's internal DNS).
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Iterable
from urllib.parse import urlsplit

import httpcore
import httpx
from django.conf import settings

from core.errors import DomainError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_DEFAULT_PORTS = {"https": 443, "http": 80}


class WebhookUrlRefused(DomainError):
    """The URL may not receive webhooks. `rule` (also in the problem body) is stable: scheme,
    userinfo, host, port, unresolvable, loopback, private, link_local, multicast, unspecified,
    reserved."""

    code, status, title = "webhook_url_refused", 422, "Webhook URL refused"

    def __init__(self, detail: str, *, rule: str) -> None:
        super().__init__(detail, rule=rule)
        self.rule = rule


class WebhookHostUnresolvable(WebhookUrlRefused):
    """The host did not resolve (now). Registration lets this through — the check before every
    attempt is the one that matters — while a send treats it as a failed attempt."""

    def __init__(self) -> None:
        super().__init__("the URL's host does not resolve", rule="unresolvable")


def webhook_url_check(url: str, *, allow_private: bool | None = None, resolve: bool = True) -> None:
    """Raise WebhookUrlRefused unless `url` may receive webhooks (see the module docstring).
    `allow_private` defaults to `settings.WEBHOOK_ALLOW_PRIVATE_URLS`. Resolves the host with
    `socket.getaddrinfo` unless it is an IP literal, so it may block for the resolver's timeout:
    never call it inside a transaction. `resolve=False` checks only the URL itself (the sender:
    its transport judges the addresses when it connects)."""
    if allow_private is None:
        allow_private = _allow_private()
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        raise WebhookUrlRefused("the webhook URL's host is not valid", rule="host") from None
    scheme = parts.scheme.lower()
    if scheme != "https" and not (allow_private and scheme == "http"):
        raise WebhookUrlRefused(
            "webhook URLs must use https" if not allow_private else "use an http(s) URL",
            rule="scheme",
        )
    if "@" in parts.netloc:
        raise WebhookUrlRefused(
            "no user name or password in a webhook URL; deliveries are signed", rule="userinfo"
        )
    if not host:
        raise WebhookUrlRefused("the webhook URL has no host", rule="host")
    try:
        port = parts.port if parts.port is not None else _DEFAULT_PORTS[scheme]
    except ValueError:
        port = 0
    if not 0 < port < 65536:
        raise WebhookUrlRefused("the webhook URL's port is not valid", rule="port")
    if resolve:
        webhook_host_addresses(host, port, allow_private=allow_private)


def webhook_host_addresses(
    host: str, port: int, *, allow_private: bool | None = None
) -> list[IPAddress]:
    """Every address `host` resolves to (one lookup), if all of them may receive webhooks;
    else WebhookUrlRefused naming the rule. What the caller then connects to must be one of
    these, not the name again: that is what makes the check hold (DNS pinning)."""
    if allow_private is None:
        allow_private = _allow_private()
    addresses = _addresses(host, port)
    for address in addresses:
        refusal = _refusal(address, allow_private=allow_private)
        if refusal is not None:
            rule, what = refusal
            raise WebhookUrlRefused(
                f"the URL's host points to {what}; webhook URLs must reach the public internet",
                rule=rule,
            )
    return list(dict.fromkeys(addresses))


def _allow_private() -> bool:
    return bool(getattr(settings, "WEBHOOK_ALLOW_PRIVATE_URLS", False))


def _addresses(host: str, port: int) -> list[IPAddress]:
    """Every address a connection to `host` could go to: the literal itself, or everything
    getaddrinfo answers (the same resolver the HTTP client uses, so `2130706433` or `0x7f.1`
    are judged as the 127.0.0.1 they connect to)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):  # socket.gaierror is an OSError
        raise WebhookHostUnresolvable() from None
    addresses = []
    for *_, sockaddr in answers:
        try:
            addresses.append(ipaddress.ip_address(sockaddr[0]))
        except ValueError:  # not an IP socket address: nothing we could vouch for
            raise WebhookUrlRefused(
                "the URL's host resolves to something other than an IP address", rule="reserved"
            ) from None
    if not addresses:
        raise WebhookHostUnresolvable()
    return addresses


def _refusal(address: IPAddress, *, allow_private: bool) -> tuple[str, str] | None:
    """(rule, description) if `address` may not be sent to, else None."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return _refusal(embedded, allow_private=allow_private)
    if address.is_unspecified:
        return "unspecified", "an unspecified address"
    if address.is_loopback:
        return None if allow_private else ("loopback", "a loopback address")
    if address.is_link_local:
        return "link_local", "a link-local address (this includes cloud metadata services)"
    if address.is_multicast:
        return "multicast", "a multicast address"
    if any(address in network for network in _PRIVATE_NETWORKS):
        return None if allow_private else ("private", "a private address")
    if address.is_reserved or address.is_private or not address.is_global:
        return "reserved", "a reserved or otherwise non-public address"
    return None


# --- the sender's connections --------------------------------------------------------------


class _CheckedAddressBackend(httpcore.SyncBackend):
    """httpcore's socket backend, except that the host is resolved once, here, every address
    judged (`webhook_host_addresses`), and the TCP connection made to one of those addresses
    (in the resolver's order, the next one if a connect fails). httpcore then starts TLS with
    the URL's host name as SNI and as the name the certificate is verified against."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        failure: Exception | None = None
        for address in webhook_host_addresses(host, port):
            try:
                # an IP literal: the socket layer parses it, nothing is looked up again
                return super().connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # webhook_host_addresses never answers an empty list
        raise failure


class WebhookTransport(httpx.HTTPTransport):
    """httpx's default transport with `_CheckedAddressBackend` under its connection pool: every
    new connection goes to an address that was judged for it; a kept-alive one stays with the
    address it was opened to. No proxy, no HTTP/2: a proxy would resolve the name itself."""

    def __init__(self, *, limits: httpx.Limits, verify: ssl.SSLContext | bool = True) -> None:
        context = verify if isinstance(verify, ssl.SSLContext) else httpx.create_ssl_context(verify)
        super().__init__(verify=context, limits=limits)
        # httpx has no option for a network backend (encode/httpx#3180), so the pool it made is
        # replaced by the same pool with ours; the delivery tests fail if httpx stops using it.
        assert isinstance(self._pool, httpcore.ConnectionPool)
        self._pool = httpcore.ConnectionPool(
            ssl_context=context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_CheckedAddressBackend(),
        )
