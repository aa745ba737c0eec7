"""IPv4 allow-lists, as DingTalk keeps them for robots (§2.4) and apps (§13.5): single
addresses (``1.1.1.1``) or CIDR ranges (``1.1.1.0/24``), IPv6 not supported.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

__all__ = ["allows", "ipv4_networks"]


def ipv4_networks(value: Sequence[str]) -> tuple[str, ...]:
    """``value`` if every entry is an IPv4 address or CIDR range; else ``ValueError``."""
    for entry in value:
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ValueError(f"{entry!r} is not an IPv4 address or CIDR range") from None
        if network.version != 4:
            raise ValueError(f"{entry!r}: DingTalk's allow-lists take IPv4 only")
    return tuple(value)


def allows(allowlist: Sequence[str], client_ip: str | None) -> bool:
    """Whether ``client_ip`` is in ``allowlist`` (IPv4-mapped IPv6 addresses count as IPv4)."""
    if not client_ip:
        return False
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in ipaddress.ip_network(entry, strict=False) for entry in allowlist)
