"""A simulated network for the egress security tests: fake DNS and a connection guard.

``FakeDns`` replaces ``socket.getaddrinfo`` (what asyncio's and anyio's resolvers call) for
names under ``.ssrf.test`` only, encoding a ``str`` host with Python's IDNA 2003 codec the
way the C socket module does. Answers can change between lookups (DNS rebinding).

``ConnectGuard`` wraps ``anyio.connect_tcp`` (what httpx's network backend calls): a
connection to a non-loopback IP address is recorded and refused with ENETUNREACH, so a test
can assert where the server tried to connect without any packet leaving the machine.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import pytest

SUFFIX = ".ssrf.test"
PUBLIC = "93.184.215.14"  # a global address; never contacted (the guard refuses it)


class FakeDns:
    def __init__(self) -> None:
        self.answers: dict[str, list[str]] = {}  # name -> successive answers (last repeats)
        self.lookups: list[str] = []

    def set(self, name: str, *answers: str) -> None:
        self.answers[name] = list(answers)

    def answer(self, name: str) -> str | None:
        queue = self.answers.get(name)
        if not queue:
            return None
        return queue.pop(0) if len(queue) > 1 else queue[0]


class ConnectGuard:
    def __init__(self) -> None:
        self.refused: list[str] = []


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDns]:
    dns = FakeDns()
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        name = host.decode() if isinstance(host, bytes) else host
        if isinstance(name, str) and name.lower().endswith(SUFFIX):
            ascii_name = name.encode("idna").decode()  # what socket does with a str host
            dns.lookups.append(ascii_name)
            address = dns.answer(ascii_name)
            if address is None:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sockaddr = (address, int(port or 0), 0, 0) if ":" in address else (
                address, int(port or 0))
            return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr)]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield dns


@pytest.fixture
def connect_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[ConnectGuard]:
    guard = ConnectGuard()
    real: Callable[..., Any] = anyio.connect_tcp

    async def connect_tcp(remote_host: Any, remote_port: int, **kwargs: Any) -> Any:
        host = remote_host.decode() if isinstance(remote_host, bytes) else str(remote_host)
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            address = None
        if address is not None and not address.is_loopback:
            guard.refused.append(host)
            raise OSError(errno.ENETUNREACH, f"test network: {host} is unreachable")
        return await real(remote_host, remote_port, **kwargs)

    monkeypatch.setattr(anyio, "connect_tcp", connect_tcp)
    yield guard
