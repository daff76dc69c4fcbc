"""The guard against server-side request forgery: which addresses a fetch may connect to.

A knowledge URL is chosen by an API user, but fetched by the server, from inside its network. Left
unguarded, ``http://169.254.169.254/`` reads cloud credentials and ``http://10.0.0.5/admin`` reaches
the intranet. :class:`AddressGuard` resolves a host name to *all* its addresses and refuses the host
when any of them is not a public address. The transport then connects to exactly the addresses that
were checked (see ``transport.py``), so DNS cannot answer differently between check and connect.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
from collections.abc import Callable, Iterable, Sequence

from chatforge.errors import FetchError, FetchRefused

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

Resolver = Callable[[str, int], Sequence[str]]
"""Turns ``(host, port)`` into IP address strings; :func:`system_resolver` in production."""

# The shared address space of carrier-grade NAT: not "private" to Python before 3.12.4, but never
# a public destination either.
_SHARED_ADDRESS_SPACE = ipaddress.IPv4Network("100.64.0.0/10")
# NAT64's well-known prefix carries an IPv4 address in its last 32 bits. On an IPv6-only network
# with DNS64 every public host resolves into it, so it is judged by the IPv4 address it carries.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def refusal(host: str) -> str:
    """What the caller learns of a host that cannot be fetched from: nothing of its addresses.

    Whether it is loopback, private, unknown or slow to resolve goes to the log only.
    """
    return (
        f"Refused to fetch from {host}: the host is unknown or its address is not allowed. "
        "Only public addresses are fetched, unless the operator sets "
        "CHATFORGE_SECURITY__ALLOW_PRIVATE_ADDRESSES=true."
    )


def system_resolver(host: str, port: int) -> list[str]:
    """Resolve ``host`` with the operating system, returning every A and AAAA record.

    Numeric forms that the C library accepts (``2130706433``, ``0x7f.0.0.1``) resolve too, which is
    why the guard checks resolved addresses and never tries to recognise dangerous host strings.

    Args:
        host: A host name or IP literal (IPv6 without brackets).
        port: The port, passed on so that the resolver's answer fits a TCP connection.

    Returns:
        The distinct addresses, in the resolver's order of preference.
    """
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def non_public_reason(address: IPAddress) -> str | None:
    """Say why an address is not a public internet address, or None when it is one.

    Args:
        address: The address to judge.

    Returns:
        A short category ("loopback", "private", "link-local", ...) or None for a public address.
    """
    if isinstance(address, ipaddress.IPv6Address):
        # An IPv6 address that carries an IPv4 one (::ffff:10.0.0.1, 6to4 2002:a00:1::) reaches
        # that IPv4 address: judge the embedded one as well as the outer one.
        if address in _NAT64:
            return non_public_reason(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            reason = non_public_reason(embedded)
            if reason is not None or address.ipv4_mapped is not None:
                return reason
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_private or address in _SHARED_ADDRESS_SPACE:
        return "private"
    if address.is_reserved or not address.is_global:
        return "reserved"
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return "private"
    return None


class AddressGuard:
    """Resolves host names and refuses those that reach a non-public address.

    Args:
        allow_private_addresses: Operator switch that turns the address check off (for tests and
            intranet deployments). Schemes are still checked by the fetcher.
        allowed_networks: CIDR networks allowed although not public, e.g. ``"10.1.0.0/16"`` for one
            intranet subnet; narrower than switching the whole check off.
        resolver: Replaces :func:`system_resolver`, e.g. with a fixed table; every answer it gives
            is checked exactly like the system's.
    """

    def __init__(
        self,
        *,
        allow_private_addresses: bool = False,
        allowed_networks: Iterable[str] = (),
        resolver: Resolver = system_resolver,
    ) -> None:
        self.allow_private_addresses = allow_private_addresses
        self.allowed_networks: tuple[IPNetwork, ...] = tuple(
            ipaddress.ip_network(network, strict=False) for network in allowed_networks
        )
        self._resolver = resolver

    def check(self, host: str, address: str) -> None:
        """Refuse one resolved address of ``host`` unless it may be connected to.

        Args:
            host: The name the address was resolved from; the refusal names it.
            address: One resolved IP address.

        Raises:
            FetchRefused: The address is not public and not allowed by the operator.
        """
        if self.allow_private_addresses:
            return
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            reason: str | None = "unparseable"
        else:
            if any(ip in network for network in self.allowed_networks):
                return
            reason = non_public_reason(ip)
        if reason is not None:
            # The address goes to the log for the operator, never into the message: the message
            # reaches the API user, who must not learn the internal network's layout from it.
            logger.warning(
                "Refused to fetch from %s: it resolves to %s (%s)", host, address, reason
            )
            raise FetchRefused(refusal(host))

    def check_literal(self, host: str) -> None:
        """Refuse ``host`` now when it is an IP address that :meth:`check` would refuse.

        A URL naming a private address is known to fail before anything is fetched: callers
        refuse it when it is given, instead of accepting it to fail later. Names are left to
        the fetch, where they are resolved.

        Raises:
            FetchRefused: ``host`` is an IP literal that is not allowed.
        """
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return
        self.check(host, host)

    def resolve(self, host: str, port: int, *, timeout: float | None = None) -> list[str]:
        """Resolve ``host`` and check every address it has.

        All addresses are checked, not only the first: a host with one public and one private
        record would otherwise reach the private one whenever the connection falls back to it.

        Args:
            host: Host name or IP literal (IPv6 without brackets).
            port: TCP port.
            timeout: Seconds allowed for the resolution; None waits as long as the resolver does.

        Returns:
            The addresses to connect to, every one of them checked.

        Raises:
            FetchRefused: Any address is refused.
            FetchError: The host cannot be resolved in time.
        """
        addresses = self._resolve_within(host, port, timeout)
        if not addresses:
            logger.warning("Could not fetch from %s: it has no address", _shown(host))
            raise FetchError(refusal(host))
        for address in addresses:
            self.check(host, address)
        return addresses

    def _resolve_within(self, host: str, port: int, timeout: float | None) -> list[str]:
        # getaddrinfo cannot be interrupted and has no timeout of its own: run it in a daemon
        # thread so a stalled DNS server costs the fetch its time budget, not a worker forever.
        answers: list[str] = []
        failures: list[Exception] = []

        def work() -> None:
            try:
                answers.extend(self._resolver(host, port))
            except Exception as exc:  # handed to the caller's thread below
                failures.append(exc)

        worker = threading.Thread(target=work, name="chatforge-resolve", daemon=True)
        worker.start()
        worker.join(timeout)
        # Unknown, slow and refused hosts read the same to the caller: what differs would let a
        # tenant probe the internal DNS. The log tells the operator which it was.
        if worker.is_alive():
            logger.warning("Could not fetch from %s: it did not resolve in time", _shown(host))
            raise FetchError(refusal(host))
        if failures:
            logger.warning("Could not fetch from %s: %s", _shown(host), _shown(str(failures[0])))
            raise FetchError(refusal(host)) from failures[0]
        return list(dict.fromkeys(answers))


def _shown(text: str, limit: int = 120) -> str:
    """``text`` cut for a log line: a caller controls host names, which may be kilobytes long."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"
