"""What the exchange benchmarks share: file-descriptor headroom and free ports.

Servers are started with `exchange.serve.ServerProcess`, as the tests start them."""

from __future__ import annotations

import resource
import socket


def raise_fd_limit(want: int) -> int:
    """Raise the soft open-file limit towards `want` (never above the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
