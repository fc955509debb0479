"""Adding a page by URL: fetch it safely into a temporary file that ingestion then reads like any other.

A URL comes from a user, and from the web app possibly from anyone allowed to add documents, while
the fetch runs on the server: next to it may be a cloud metadata service, an admin page on
localhost, or an intranet. So the fetcher is deliberately narrow (server-side request forgery is the
threat):

- only http and https; a URL with credentials (``user:pass@``) is refused, not sent;
- the host is resolved here, every address it resolves to is checked, and the connection goes to
  the checked address itself (the Host header and TLS name still the URL's): nothing resolves the
  name again between the check and the connect, so DNS rebinding finds no gap. Loopback, private,
  link-local, multicast, reserved and other non-public addresses are refused unless the host is in
  ``settings.fetch_allow_hosts`` (intranet sites); cloud metadata addresses are refused always;
- redirects are followed by hand, each new URL checked as the first was, up to
  ``settings.fetch_max_redirects``; proxies from the environment are not used (a proxy would
  reach the address the check refused);
- the whole fetch, redirects included, has ``settings.fetch_timeout`` seconds (name lookups aside:
  the system resolver keeps its own timeouts), however slowly a server drips; the body at most
  ``settings.fetch_max_mb``; only ``settings.fetch_content_types`` are read, and compressed
  responses are refused (identity is asked for, so nothing is unpacked);
- no cookies are sent or kept; the User-Agent says what is asking.

Each refusal is a ``FetchError`` whose reason names what was refused and why. The body is saved
under a suffix chosen by its content type (.html, .pdf, .docx, .txt, .md), so the loader for that
format reads it, and the URL (without its fragment) becomes the document's source: adding it again
is "unchanged" or "replaced" as for a file added twice.
"""

from __future__ import annotations

import codecs
import http.client
import ipaddress
import os
import socket
import ssl
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path
from urllib.parse import quote, urldefrag, urljoin, urlsplit

from assistant.documents import AddResult
from assistant.errors import FetchError
from assistant.settings import Settings

Resolver = Callable[[str, int], list[str]]
"""resolve(host, port) -> the host's IP addresses as strings; injected by tests, socket.getaddrinfo otherwise."""

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

SUFFIXES: dict[str, str] = {
    "text/html": ".html",
    "application/xhtml+xml": ".html",
    "application/pdf": ".pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "text/plain": ".txt",
    "text/markdown": ".md",
}
"""The file each accepted content type is saved as, and so the loader that reads it."""

METADATA_ADDRESSES: frozenset[Address] = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254",  # AWS, Google Cloud, Azure, OpenStack, DigitalOcean, Tencent Cloud...
    "169.254.170.2",  # AWS ECS task credentials
    "100.100.100.200",  # Alibaba Cloud
    "168.63.129.16",  # Azure's wire server (a public address, so only this list refuses it)
    "fd00:ec2::254",  # AWS over IPv6
))
"""Where cloud machines fetch their credentials: refused even for allow-listed hosts."""

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_CHUNK = 64 * 1024
_MB = 1024 * 1024
_TEXT_TYPES = frozenset({"text/html", "application/xhtml+xml", "text/plain", "text/markdown"})
_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
# Browsers read pages labelled gb2312 or gbk as GB18030 (its superset): Chinese sites label loosely.
_CHARSET_ALIASES = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030"}


def _user_agent() -> str:
    try:
        version = metadata.version("policy-assistant")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        version = "dev"
    return f"policy-assistant/{version} (document fetcher: fetches a page a user asked to add; no cookies)"


USER_AGENT = _user_agent()


def is_url(value: str | Path) -> bool:
    """Whether a path given to ``add`` is a URL (``scheme://``...) rather than a file or folder.

    Any scheme counts, so ``file://`` or ``ftp://`` reach the fetcher and are refused with a reason
    instead of being looked for on disk; a Path object is always a path.
    """
    if not isinstance(value, str):
        return False
    scheme, sep, _ = value.strip().partition("://")
    return bool(sep) and len(scheme) > 1 and scheme[0].isalpha() and all(c.isalnum() or c in "+.-" for c in scheme)


def address_problem(address: Address) -> str | None:
    """Why ``address`` may not be fetched from (a phrase such as "a private address"), or None for a public one.

    An IPv6 address that carries an IPv4 one (mapped, NAT64, 6to4) is judged by the IPv4 address it
    reaches, so ``::ffff:127.0.0.1`` is loopback.
    """
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if isinstance(address, ipaddress.IPv6Address):
        inner = address.ipv4_mapped or address.sixtofour or (
            ipaddress.IPv4Address(int(address) & 0xFFFFFFFF) if address in _NAT64 else None)
        if inner is not None:
            problem = address_problem(inner)
            return f"{problem} (as {inner})" if problem else None
    checks = (("is_loopback", "a loopback address"), ("is_unspecified", "an unspecified address"),
              ("is_link_local", "a link-local address"), ("is_multicast", "a multicast address"),
              ("is_reserved", "a reserved address"), ("is_private", "a private address"))
    for attribute, problem in checks:
        if getattr(address, attribute):
            return problem
    return None if address.is_global else "not a public internet address"


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives for ``host`` (IPv4 and IPv6, in its order of preference)."""
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


@dataclass(frozen=True)
class Fetched:
    """A fetched URL: where its body was saved, and what it was."""

    url: str  # as the user gave it, without its fragment: the document's source
    final_url: str  # after redirects
    path: Path  # the body, under the suffix of its content type
    content_type: str
    size: int  # bytes received


@dataclass(frozen=True)
class _Target:
    """One URL checked for fetching: where to connect and what to ask for."""

    url: str
    scheme: str
    host: str  # ASCII (IDNA) host name or IP address, without brackets
    port: int
    target: str  # path and query, percent-encoded


class Fetcher:
    """Fetches URLs under the limits and address rules of ``settings`` (see the module's docstring).

    ``resolve`` replaces the system resolver (tests give one that never asks the network).
    """

    def __init__(self, settings: Settings, resolve: Resolver | None = None) -> None:
        self.settings = settings
        self.resolve = resolve or system_resolver
        self.allowed_hosts = frozenset(_host_key(h) for h in settings.fetch_allow_hosts.split(",") if h.strip())
        self.content_types = tuple(t.strip().lower() for t in settings.fetch_content_types.split(",") if t.strip())

    def fetch(self, url: str, folder: Path) -> Fetched:
        """Fetch ``url`` into a new file in ``folder``; FetchError (its ``path`` the URL) naming why not."""
        source = urldefrag(url.strip()).url
        deadline = time.monotonic() + self.settings.fetch_timeout
        current = source
        for hop in range(self.settings.fetch_max_redirects + 1):
            try:
                target = self._check(current)
                response, connection = self._request(target, deadline)
            except FetchError as exc:
                raise FetchError(source, exc.reason if hop == 0 else f"redirected to {current}: {exc.reason}") from None
            try:
                if response.status not in _REDIRECTS:
                    return self._save(source, current, response, connection.pinned, deadline, folder)
                location = response.getheader("Location")
                if not location:
                    raise FetchError(source, f"the server answered {response.status} (a redirect) without a Location")
                current = urldefrag(urljoin(current, location.strip())).url
            finally:
                response.close()
                connection.close()
        raise FetchError(source, f"more than {self.settings.fetch_max_redirects} redirects "
                                 "(ASSISTANT_FETCH_MAX_REDIRECTS)")

    # --- checking -----------------------------------------------------------------------
    def _check(self, url: str) -> _Target:
        """Refuse what must not be fetched before anything is resolved or sent."""
        if any(ord(c) < 32 or ord(c) == 127 for c in url):
            raise FetchError(url, "the URL holds control characters (line breaks, tabs)")
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise FetchError(url, f"only http and https URLs can be added, not {scheme or 'this'}:")
        if parts.username is not None or parts.password is not None:
            raise FetchError(url, "URLs with credentials (user:password@host) are refused: the fetcher sends none")
        if not parts.hostname:
            raise FetchError(url, "the URL names no host")
        try:
            port = parts.port or (443 if scheme == "https" else 80)
            host = parts.hostname.rstrip(".").encode("idna").decode("ascii")
        except (ValueError, UnicodeError) as exc:
            raise FetchError(url, f"the URL's host or port cannot be read ({exc})") from None
        target = quote(parts.path or "/", safe="/%:@!$&'()*+,;=~") + (
            "?" + quote(parts.query, safe="/%:@!$&'()*+,;=~?") if parts.query else "")
        return _Target(url, scheme, host, port, target)

    def _addresses(self, target: _Target) -> list[Address]:
        """The addresses to connect to, each checked; FetchError naming the first that is refused."""
        literal = _ip(target.host)
        if literal is not None:
            addresses = [literal]
        else:
            try:
                found = self.resolve(target.host, target.port)
            except (OSError, UnicodeError) as exc:
                raise FetchError(target.url, f"cannot resolve {target.host} ({_describe(exc)})") from None
            addresses = list(dict.fromkeys(ipaddress.ip_address(a.split("%", 1)[0]) for a in found))
            if not addresses:
                raise FetchError(target.url, f"cannot resolve {target.host} (no addresses)")
        allowed = _host_key(target.host) in self.allowed_hosts
        for address in addresses:
            problem = address_problem(address)
            if problem and (not allowed or address in METADATA_ADDRESSES):
                what = f"{address} is" if literal is not None else f"{target.host} resolves to {address},"
                hint = ("refused whatever ASSISTANT_FETCH_ALLOW_HOSTS says" if address in METADATA_ADDRESSES else
                        "refused unless the host is in ASSISTANT_FETCH_ALLOW_HOSTS (for intranet sites)")
                raise FetchError(target.url, f"{what} {problem}: {hint}")
        return addresses

    # --- talking ------------------------------------------------------------------------
    def _request(self, target: _Target, deadline: float) -> tuple[http.client.HTTPResponse, _PinnedConnection]:
        """GET ``target`` over a connection to one of its checked addresses; the response's headers read."""
        sock = self._connect(target, self._addresses(target), deadline)
        connection = _PinnedConnection(target, sock)
        try:
            connection.putrequest("GET", target.target)  # adds Host and Accept-Encoding: identity
            connection.putheader("User-Agent", USER_AGENT)
            connection.putheader("Accept", ", ".join([*self.content_types, "*/*;q=0.1"]))
            connection.putheader("Connection", "close")
            connection.endheaders()
            return connection.getresponse(), connection
        except TimeoutError:
            connection.close()
            raise FetchError(target.url, self._too_slow()) from None
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise FetchError(target.url, f"the request to {target.host} failed ({_describe(exc)})") from None

    def _connect(self, target: _Target, addresses: Sequence[Address], deadline: float) -> socket.socket:
        """A socket connected to the first address that answers, wrapped in TLS (verified for the URL's host)
        for https."""
        problems = []
        for address in addresses:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise FetchError(target.url, self._too_slow())
            family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.settimeout(remaining)
            try:
                sock.connect((str(address), target.port))
            except TimeoutError:
                sock.close()
                raise FetchError(target.url, self._too_slow()) from None
            except OSError as exc:
                sock.close()
                problems.append(f"{address}: {_describe(exc)}")
                continue
            if target.scheme == "http":
                return sock
            try:
                return ssl.create_default_context().wrap_socket(sock, server_hostname=target.host)
            except ssl.SSLCertVerificationError as exc:
                sock.close()
                raise FetchError(target.url, f"the TLS certificate of {target.host} cannot be trusted "
                                             f"({exc.verify_message})") from None
            except (OSError, ssl.SSLError) as exc:  # includes a handshake that timed out
                sock.close()
                raise FetchError(target.url, f"no TLS connection to {target.host} ({_describe(exc)})") from None
        raise FetchError(target.url, f"cannot connect to {target.host} ({'; '.join(problems)})")

    def _save(self, source: str, url: str, response: http.client.HTTPResponse, sock: socket.socket,
              deadline: float, folder: Path) -> Fetched:
        """Check the answer's status, type, encoding and size, then read its body into a file named by its type."""
        if response.status != 200:
            raise FetchError(source, f"the server answered {response.status} {response.reason}".rstrip())
        header = response.getheader("Content-Type") or ""
        media, _, parameters = header.partition(";")
        content_type = media.strip().lower()
        if not content_type:
            raise FetchError(source, "the server did not say what the content is (no Content-Type)")
        if content_type not in self.content_types:
            raise FetchError(source, f"content type {content_type} is not accepted "
                                     f"(accepted: {', '.join(self.content_types)}; ASSISTANT_FETCH_CONTENT_TYPES)")
        suffix = SUFFIXES.get(content_type)
        if suffix is None:
            raise FetchError(source, f"content type {content_type} is accepted but no reader handles it "
                                     f"(readers: {', '.join(SUFFIXES)})")
        encoding = (response.getheader("Content-Encoding") or "identity").strip().lower()
        if encoding != "identity":
            raise FetchError(source, f"the server sent the content compressed ({encoding}) although it was asked "
                                     "not to; compressed responses are refused")
        received = self._body(source, response, sock, deadline)
        data = _as_utf8(received, _charset(parameters)) if content_type in _TEXT_TYPES else received
        handle, name = tempfile.mkstemp(suffix=suffix, prefix="url-", dir=folder)
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        return Fetched(source, url, Path(name), content_type, len(received))

    def _body(self, source: str, response: http.client.HTTPResponse, sock: socket.socket, deadline: float) -> bytes:
        """The body, read in pieces so that neither its size nor a server dripping it can exceed the limits."""
        limit = int(self.settings.fetch_max_mb * _MB)
        declared = response.getheader("Content-Length")
        if declared and declared.strip().isdigit() and int(declared) > limit:
            raise FetchError(source, f"the content is {int(declared) / _MB:.1f} MB, over the "
                                     f"{self.settings.fetch_max_mb:g} MB limit (ASSISTANT_FETCH_MAX_MB)")
        parts: list[bytes] = []
        size = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise FetchError(source, self._too_slow())
            sock.settimeout(remaining)  # each read waits only as long as the whole fetch may still take
            try:
                part = response.read1(_CHUNK)
            except TimeoutError:
                raise FetchError(source, self._too_slow()) from None
            except (OSError, http.client.HTTPException) as exc:
                raise FetchError(source, f"the download broke off ({_describe(exc)})") from None
            if not part:
                return b"".join(parts)
            size += len(part)
            if size > limit:
                raise FetchError(source, f"the content is over the {self.settings.fetch_max_mb:g} MB limit "
                                         "(ASSISTANT_FETCH_MAX_MB)")
            parts.append(part)

    def _too_slow(self) -> str:
        return f"took longer than {self.settings.fetch_timeout:g} s (ASSISTANT_FETCH_TIMEOUT)"


class _PinnedConnection(http.client.HTTPConnection):
    """http.client's request and response handling over a socket connected to a checked address.

    http.client would resolve the host again whenever it (re)connects; this connection never does:
    it starts connected and refuses to connect again.
    """

    def __init__(self, target: _Target, sock: socket.socket) -> None:
        super().__init__(target.host, target.port)
        self.default_port = 443 if target.scheme == "https" else 80  # a default port is left out of Host
        self.sock = sock
        self.pinned = sock  # http.client drops self.sock once the response is read to its end
        self.auto_open = 0

    def connect(self) -> None:
        raise http.client.NotConnected("the fetcher connects only to addresses it has checked")


def _ip(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _host_key(host: str) -> str:
    """A host as the allow-list compares it: lower case, no brackets or final dot, an IP address in canonical form."""
    host = host.strip().strip("[]").rstrip(".").lower()
    address = _ip(host)
    return str(address) if address is not None else host


def _charset(parameters: str) -> str | None:
    for parameter in parameters.split(";"):
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "charset" and value.strip(" \"'"):
            return value.strip(" \"'").lower()
    return None


def _as_utf8(data: bytes, charset: str | None) -> bytes:
    """Text in the charset its Content-Type names, re-encoded as UTF-8 for the loaders.

    The header outranks a page's own <meta charset> (as in browsers), and the loaders read UTF-8
    first, so a GBK page declared in its header only is read right. A byte-order mark outranks
    both, and bytes the named charset cannot decode are left for the loader to judge.
    """
    if not charset or data.startswith(_BOMS):
        return data
    try:
        return data.decode(_CHARSET_ALIASES.get(charset, charset)).encode("utf-8")
    except (LookupError, UnicodeDecodeError):
        return data


def _describe(exc: BaseException) -> str:
    return str(getattr(exc, "strerror", None) or exc or type(exc).__name__)


@dataclass
class Batch:
    """What ``fetch_urls`` yields: the paths to add, URLs replaced by their fetched files."""

    paths: list[str | Path]
    sources: dict[str, str]  # fetched file → URL, for ingest's ``sources``
    failed: list[AddResult]  # one per URL that could not be fetched

    def report(self, results: Sequence[AddResult]) -> list[AddResult]:
        """The adding's results as the user named things: the URLs that failed first, then each result,
        a fetched file's shown by its URL."""
        return [*self.failed, *(replace(r, path=self.sources.get(r.path, r.path)) for r in results)]


@contextmanager
def fetch_urls(paths: Sequence[str | Path], settings: Settings, resolve: Resolver | None = None) -> Iterator[Batch]:
    """Fetch the URLs among ``paths`` into a temporary folder kept for the block (they are added inside it).

    Without URLs nothing is created and the paths pass through unchanged.
    """
    if not any(is_url(p) for p in paths):
        yield Batch(list(paths), {}, [])
        return
    fetcher = Fetcher(settings, resolve)
    with tempfile.TemporaryDirectory(prefix="assistant-fetch-") as folder:
        batch = Batch([], {}, [])
        for path in paths:
            if not is_url(path):
                batch.paths.append(path)
                continue
            try:
                page = fetcher.fetch(str(path), Path(folder))
            except FetchError as exc:
                batch.failed.append(AddResult(exc.path, None, "failed", exc.reason))
                continue
            batch.paths.append(str(page.path))
            batch.sources[str(page.path)] = page.url
        yield batch
