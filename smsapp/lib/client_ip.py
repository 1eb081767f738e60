"""The address of the client a request came from, for logs.

`REMOTE_ADDR` is the peer that connected to us. Behind proxies it is the nearest proxy,
and the client is in `X-Forwarded-For`, which each proxy extends with the address it saw
connecting to it. Only the entries our own proxies wrote can be believed (a client may
send the header with anything in it), so with `trusted_proxies` proxies in front (the
BEHIND_PROXY setting), the client is the `trusted_proxies`-th entry from the right.
"""

from __future__ import annotations

from collections.abc import Mapping


def client_ip(meta: Mapping[str, str], *, trusted_proxies: int) -> str:
    """The client's address from a request's META; "?" when there is none."""
    peer = meta.get("REMOTE_ADDR") or "?"
    if trusted_proxies <= 0:
        return peer
    hops = [hop.strip() for hop in meta.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    hops = [hop for hop in hops if hop]
    # Fewer entries than proxies: a proxy did not add one; the farthest is still ours.
    return hops[-trusted_proxies] if len(hops) >= trusted_proxies else (hops[0] if hops else peer)
