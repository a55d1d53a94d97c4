"""The egress policy: every request the server makes on a tenant's behalf goes through it.

HTTP tools, customer webhooks, tenant-chosen speech and LLM endpoints and carrier API hosts
are written by organization admins; on a shared server they must not reach the server's
own network (cloud metadata, databases, admin ports). ``EgressPolicy``:

* refuses every non-public address (private, loopback, link-local, CGNAT, multicast,
  unspecified, reserved, documentation, IPv4-mapped/compatible IPv6, NAT64, 6to4, Teredo,
  site-local, unique-local) unless ``allow_private`` (``ALLOW_PRIVATE_URLS=true``, local
  development only);
* resolves a name once per connection and connects to the address it checked: the check
  runs inside the HTTP client's network backend, on the exact host name httpx connects to
  (IDNA 2008, as httpx encodes it), while the Host header, TLS SNI and certificate
  verification keep the original name — no second lookup a rebinding DNS could answer;
* never follows redirects (a 3xx is returned as is);
* dispatches requests under registered in-process prefixes (the server's own public
  ``/demo/`` routes) to an ASGI app, never over the network.

``runtime/egress_aiohttp.py`` checks aiohttp's connections the same way (HTTP text-to-speech).

Typical use::

    policy = EgressPolicy(allow_private=False)
    async with policy.client(timeout=10) as http:      # httpx.AsyncClient
        response = await http.get(url)                 # EgressRefused if not allowed
    await policy.check_url(url)                         # save-time feedback
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpcore
import httpcore2
import httpx
import httpx2

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[Sequence[IPAddress]]]
# Where to open the TCP connection for a checked address (tests route to loopback fakes).
ConnectVia = Callable[[IPAddress, int], tuple[str, int]]
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]

HTTP_SCHEMES = ("http", "https")
WEBSOCKET_SCHEMES = ("ws", "wss")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}

_BLOCKED: tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...] = tuple(
    (ipaddress.ip_network(net), label) for net, label in (
        ("0.0.0.0/8", "unspecified"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "CGNAT"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "reserved"),
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "6to4 relay"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::ffff:0:0/96", "IPv4-mapped"),
        ("::/96", "IPv4-compatible"),
        ("64:ff9b::/96", "NAT64"),
        ("64:ff9b:1::/48", "NAT64"),
        ("100::/64", "discard"),
        ("2001::/32", "Teredo"),
        ("2001:db8::/32", "documentation"),
        ("2002::/16", "6to4"),
        ("fc00::/7", "unique-local"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"),
        ("ff00::/8", "multicast"),
    )
)


class EgressRefused(Exception):
    """The policy refuses this destination; the message says why (safe to show a tenant)."""


class UnresolvableHost(EgressRefused):
    """The host name has no address (now): refused, but not known to be non-public."""


def address_problem(address: IPAddress) -> str | None:
    """Why ``address`` is not a public destination, or None when it is."""
    for network, label in _BLOCKED:
        if address.version == network.version and address in network:
            if label == "6to4" and isinstance(address, ipaddress.IPv6Address):
                return f"6to4 (embeds {address.sixtofour})"
            return label
    if not address.is_global:
        return "reserved"
    return None


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """The operating system's answer for ``host`` (the name as it goes on the wire)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


@dataclass(frozen=True, slots=True)
class Destination:
    """A checked URL: its scheme, wire host name (IDNA 2008), port and allowed addresses."""

    url: str  # the URL with its host as it goes on the wire
    scheme: str
    host: str
    port: int
    addresses: tuple[IPAddress, ...]


@dataclass(frozen=True, slots=True)
class _Prefix:
    scheme: str
    host: str
    port: int
    path: str
    app: ASGIApp


def ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def _parse(url: str | httpx.URL, schemes: Sequence[str]) -> tuple[httpx.URL, str, int]:
    try:
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
        host = parsed.raw_host.decode("ascii").lower()
    except (httpx.InvalidURL, UnicodeError, ValueError) as exc:
        raise EgressRefused("invalid URL") from exc
    if parsed.scheme not in schemes or not host:
        raise EgressRefused(f"URL must be {' or '.join(s + '://' for s in schemes)}host/...")
    return parsed, host, parsed.port or _DEFAULT_PORTS[parsed.scheme]


class EgressPolicy:
    """Where the server may connect on a tenant's behalf, and clients that enforce it.

    ``resolver`` and ``connect_via`` exist for tests (fake DNS, routing a checked public
    address to a loopback fake). ``in_process`` maps URL prefixes (``origin + "/demo/"``)
    to an ASGI app that serves them in-process.
    """

    def __init__(
        self,
        *,
        allow_private: bool = False,
        resolver: Resolver | None = None,
        connect_via: ConnectVia | None = None,
        in_process: Mapping[str, ASGIApp] | None = None,
    ) -> None:
        self.allow_private = allow_private
        self._resolver: Resolver = resolver or system_resolver
        self._connect_via = connect_via
        self._in_process = tuple(self._prefix(p, app) for p, app in (in_process or {}).items())
        self._ssl: dict[str, Any] = {}  # one TLS context per HTTP stack (CA bundle parsed once)

    def warm(self) -> None:
        """Parse the CA bundle for both HTTP stacks now (start-up), not on a call's first
        request (~75 ms on the event loop)."""
        self._ssl_context(httpx)
        self._ssl_context(httpx2)

    def tls_context(self) -> Any:
        """The TLS context (``ssl.SSLContext``, the CA bundle parsed once) for other clients."""
        return self._ssl_context(httpx)

    def _ssl_context(self, stack: Any) -> Any:
        context = self._ssl.get(stack.__name__)
        if context is None:
            context = self._ssl[stack.__name__] = stack.create_ssl_context(trust_env=False)
        return context

    @staticmethod
    def _prefix(prefix: str, app: ASGIApp) -> _Prefix:
        parsed, host, port = _parse(prefix, HTTP_SCHEMES)
        path = parsed.path if parsed.path.endswith("/") else parsed.path + "/"
        return _Prefix(parsed.scheme, host, port, path, app)

    # -- checks -------------------------------------------------------------------------
    async def addresses(self, host: str, port: int) -> list[IPAddress]:
        """Resolve ``host`` (a wire name or IP literal) once; refuse any non-public answer."""
        literal = ip_literal(host)
        if literal is not None:
            found = [literal]
        else:
            try:
                found = list(await self._resolver(host, port))
            except (OSError, UnicodeError, ValueError) as exc:
                raise UnresolvableHost(f"cannot resolve {host}") from exc
            if not found:
                raise UnresolvableHost(f"cannot resolve {host}")
        if not self.allow_private:
            for address in found:
                problem = address_problem(address)
                if problem is not None:
                    raise EgressRefused(f"blocked: {host} is a non-public address ({problem})")
        return found

    async def check_url(self, url: str, *, schemes: Sequence[str] = HTTP_SCHEMES) -> Destination:
        """Check ``url`` now (save-time feedback; the connection is checked again)."""
        parsed, host, port = _parse(url, schemes)
        if self.in_process_app(parsed) is not None:
            return Destination(str(parsed), parsed.scheme, host, port, ())
        found = await self.addresses(host, port)
        return Destination(str(parsed), parsed.scheme, host, port, tuple(found))

    def in_process_app(self, url: httpx.URL) -> ASGIApp | None:
        """The app serving ``url`` in-process, if it falls under a registered prefix."""
        if not self._in_process:
            return None
        try:
            host = url.raw_host.decode("ascii").lower()
        except UnicodeError:
            return None
        port = url.port or _DEFAULT_PORTS.get(url.scheme, 0)
        path = url.path
        if any(segment in (".", "..") for segment in path.split("/")) or "\\" in path:
            return None
        for prefix in self._in_process:
            if (prefix.scheme, prefix.host, prefix.port) == (url.scheme, host, port) and (
                    path.startswith(prefix.path)):
                return prefix.app
        return None

    def route(self, address: IPAddress, port: int) -> tuple[str, int]:
        """The socket address to open for a checked ``address`` (itself, outside tests)."""
        if self._connect_via is not None:
            return self._connect_via(address, port)
        return str(address), port

    # -- clients ------------------------------------------------------------------------
    def client(self, *, timeout: float | httpx.Timeout = 10.0,
               headers: Mapping[str, str] | None = None) -> httpx.AsyncClient:
        """An httpx client whose every connection is checked; redirects never followed."""
        network = _transport(httpx.AsyncHTTPTransport, httpcore, _CheckedBackend(
            self, httpcore.AnyIOBackend(), httpcore.ConnectTimeout), self._ssl_context(httpx))
        return _NoRedirectClient(transport=_RoutingTransport(self, network), timeout=timeout,
                                 headers=headers, follow_redirects=False, trust_env=False)

    def openai_http_client(self, *, timeout: float = 30.0) -> httpx2.AsyncClient:
        """The same for the OpenAI SDK, which speaks ``httpx2`` (``AsyncOpenAI(http_client=)``)."""
        network = _transport(httpx2.AsyncHTTPTransport, httpcore2, _CheckedBackend(
            self, httpcore2.AnyIOBackend(), httpcore2.ConnectTimeout), self._ssl_context(httpx2))
        return _NoRedirectClient2(transport=network, timeout=timeout, follow_redirects=False,
                                  trust_env=False)

    async def websocket_route(self, uri: str) -> tuple[str, dict[str, Any]]:
        """Check a ws(s):// URI; return it (wire host) and ``websockets.connect`` kwargs that
        open the checked address while the handshake and TLS keep the name."""
        dest = await self.check_url(uri, schemes=WEBSOCKET_SCHEMES)
        host, port = self.route(dest.addresses[0], dest.port)
        kwargs: dict[str, Any] = {"host": host, "port": port, "proxy": None}
        if dest.scheme == "wss":
            kwargs["server_hostname"] = dest.host
        return dest.url, kwargs


class _CheckedBackend:
    """An httpcore(2) network backend: resolve once, check, connect to the checked address."""

    def __init__(self, policy: EgressPolicy, inner: Any, timeout_error: type[Exception]) -> None:
        self._policy = policy
        self._inner = inner
        self._timeout_error = timeout_error  # the stack's ConnectTimeout (httpx maps it)

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,  # noqa: ASYNC109 - httpcore's signature
                          local_address: str | None = None, socket_options: Any = None) -> Any:
        try:
            async with asyncio.timeout(timeout):
                found = await self._policy.addresses(host, port)
        except TimeoutError as exc:
            raise self._timeout_error(f"resolving {host} timed out") from exc
        error: Exception | None = None
        for address in found:
            target, target_port = self._policy.route(address, port)
            try:
                return await self._inner.connect_tcp(target, target_port, timeout=timeout,
                                                     local_address=local_address,
                                                     socket_options=socket_options)
            except Exception as exc:  # noqa: BLE001 - try the next checked address
                error = exc
        assert error is not None
        raise error

    async def connect_unix_socket(self, path: str, timeout: float | None = None,  # noqa: ASYNC109
                                  socket_options: Any = None) -> Any:
        raise EgressRefused("unix sockets are not an egress destination")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _transport(cls: Any, core: Any, backend: _CheckedBackend, ssl_context: Any) -> Any:
    """``cls`` (httpx or httpx2's AsyncHTTPTransport) over a pool using ``backend``.

    httpx takes no network backend, so the pool it built is replaced by an equivalent one
    (no proxy: ``trust_env=False``) that has it.
    """
    transport = cls(verify=ssl_context, trust_env=False)
    transport._pool = core.AsyncConnectionPool(
        ssl_context=ssl_context, max_connections=100, max_keepalive_connections=20,
        keepalive_expiry=5.0, network_backend=backend)
    return transport


class _RoutingTransport(httpx.AsyncBaseTransport):
    """In-process prefixes to their ASGI app; everything else to the checked network."""

    def __init__(self, policy: EgressPolicy, network: httpx.AsyncBaseTransport) -> None:
        self._policy = policy
        self._network = network

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        app = self._policy.in_process_app(request.url)
        if app is None:
            return await self._network.handle_async_request(request)
        timeout = request.extensions.get("timeout", {}).get("read")
        try:
            async with asyncio.timeout(timeout):
                response = await httpx.ASGITransport(app=app).handle_async_request(request)
                await response.aread()
                return response
        except TimeoutError as exc:
            raise httpx.ReadTimeout("in-process request timed out", request=request) from exc

    async def aclose(self) -> None:
        await self._network.aclose()


class _NoRedirectClient(httpx.AsyncClient):
    async def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        kwargs["follow_redirects"] = False
        return await super().send(request, **kwargs)


class _NoRedirectClient2(httpx2.AsyncClient):
    async def send(self, request: Any, **kwargs: Any) -> Any:
        kwargs["follow_redirects"] = False
        return await super().send(request, **kwargs)
