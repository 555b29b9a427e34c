"""Which hosts the console may reach on an admin's say-so (connection tests, alert webhooks).

An admin types the URL, so without a policy the server can be made to call its own internal services (cloud
metadata, databases on loopback, the intranet) and report on the answer. By default every address that is not
public is refused: loopback, private, link-local (cloud metadata), shared, reserved and multicast. The operator
allows internal hosts on purpose with ``LEDGERLINK_OUTBOUND_ALLOW``: comma-separated addresses, networks in CIDR
form, or host names (e.g. ``127.0.0.1,10.20.0.0/16,crm.internal``).

The check resolves the name and checks every address it resolves to. (A name that resolves differently a moment
later, "DNS rebinding", is not covered: allow-list such hosts by address.)
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class OutboundRefused(ValueError):
    """The URL points somewhere the policy does not allow. The message names the host, never a reply."""


@dataclass(frozen=True)
class OutboundPolicy:
    networks: tuple[IPNetwork, ...] = ()
    hosts: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> OutboundPolicy:
        networks: list[IPNetwork] = []
        hosts: set[str] = set()
        for raw in entries:
            entry = raw.strip()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.add(entry.lower().rstrip("."))
        return cls(tuple(networks), frozenset(hosts))

    @classmethod
    def from_env(cls) -> OutboundPolicy:
        return cls.parse(os.environ.get("LEDGERLINK_OUTBOUND_ALLOW", "").split(","))

    def _allowed(self, address: IPAddress) -> bool:
        if any(address in net for net in self.networks if net.version == address.version):
            return True
        return address.is_global and not address.is_multicast

    def allows_host(self, host: str) -> bool:
        """Named on the allow-list (checked before any lookup)."""
        return host.lower().rstrip(".") in self.hosts

    def allows_address(self, address: str) -> bool:
        """A resolved address is public, or inside an allowed network."""
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        mapped = getattr(ip, "ipv4_mapped", None)
        return self._allowed(mapped or ip)

    def check(self, url: str) -> None:
        """Raise OutboundRefused unless every address ``url``'s host resolves to is allowed."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower().rstrip(".")
        if not host:
            raise OutboundRefused("the URL has no host")
        if host in self.hosts:
            return
        try:
            port = parts.port or (443 if parts.scheme in ("https", "smtps") else 80)
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, ValueError, UnicodeError):
            raise OutboundRefused(f"{host} does not resolve") from None
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            mapped = getattr(address, "ipv4_mapped", None)
            if not self._allowed(mapped or address):
                raise OutboundRefused(
                    f"{host} is an internal address ({address}); an operator may allow it in LEDGERLINK_OUTBOUND_ALLOW"
                )
