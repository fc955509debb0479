"""Adding pages by URL (issue 14): the fetcher's limits and address rules, and URLs through Assistant.add.

Every page is served by a loopback HTTP server these tests start. Nothing here may send a packet
beyond loopback, even if the fetcher under test is broken: ``loopback_only`` (used by every test)
makes socket connects, datagrams and name lookups fail for any address that is not loopback (and
any name that would need DNS), records each attempt and fails the test that made one. Host names
that must resolve are resolved by a resolver the test hands the fetcher.
"""

from __future__ import annotations

import errno
import ipaddress
import shutil
import socket
import ssl
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fpdf import FPDF

from assistant.errors import FetchError, ReadOnlyStore
from assistant.fetching import USER_AGENT, Fetched, Fetcher, address_problem, is_url
from assistant.loading import load_document
from assistant.service import Assistant
from assistant.settings import Settings
from tests.conftest import ROOT
from tests.servers import serving

HTML_PAGES = ROOT / "tests" / "data" / "html"
WETLANDS = HTML_PAGES / "ministry_div_layout.html"  # the Wetland Protection Law, Articles 1-8, in a ministry's page
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


# --------------------------------------------------------------------------- nothing leaves loopback


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Refuse (and record) every connect, datagram or name lookup that would leave loopback.

    ``socket.create_connection`` and ssl connect through ``socket.socket.connect`` and resolve
    through ``socket.getaddrinfo``, so guarding those two covers them; lookups are allowed only
    when numeric (AI_NUMERICHOST: no resolver is asked).
    """
    attempts: list[str] = []
    real_getaddrinfo = socket.getaddrinfo
    real = {name: getattr(socket.socket, name) for name in ("connect", "connect_ex", "sendto")}

    def leaves_loopback(sock: socket.socket, address: Any) -> bool:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return False  # a Unix socket
        try:
            return not ipaddress.ip_address(str(address[0]).split("%", 1)[0]).is_loopback
        except ValueError:
            return True  # a name, which connect would resolve through DNS

    def guarded(name: str) -> Callable[..., Any]:
        def method(sock: socket.socket, *args: Any) -> Any:
            if leaves_loopback(sock, args[-1]):
                attempts.append(f"{name} {args[-1]}")
                raise OSError(errno.ENETUNREACH, f"test guard: {args[-1]} is not on loopback")
            return real[name](sock, *args)

        return method

    def getaddrinfo(host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0) -> Any:
        try:
            return real_getaddrinfo(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)
        except socket.gaierror:
            attempts.append(f"getaddrinfo {host}")
            raise

    for name in real:
        monkeypatch.setattr(socket.socket, name, guarded(name))
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield attempts
    assert not attempts, f"tried to leave loopback: {attempts}"


def test_the_guard_stops_what_would_leave_loopback(loopback_only: list[str]) -> None:
    with pytest.raises(OSError, match="test guard"):
        socket.create_connection(("10.255.255.1", 80), timeout=0.5)
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo("example.com", 80)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, pytest.raises(OSError, match="test guard"):
        udp.sendto(b"x", ("8.8.8.8", 53))
    assert loopback_only == ["connect ('10.255.255.1', 80)", "getaddrinfo example.com", "sendto ('8.8.8.8', 53)"]
    loopback_only.clear()


# --------------------------------------------------------------------------- the loopback site


@dataclass
class Reply:
    """What the site answers on one path."""

    body: bytes = b""
    content_type: str | None = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    length: bool = True  # send Content-Length (else the body ends when the connection closes)
    delay: float = 0.0  # seconds of silence before answering
    drip: float = 0.0  # seconds between the body's bytes


class Site:
    """A loopback HTTP server whose answers the test sets, recording every request it gets."""

    def __init__(self) -> None:
        self.routes: dict[str, Reply] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.stop = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.scheme = "http"

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def page(self, path: str, body: bytes | str, content_type: str | None = "text/html; charset=utf-8",
             **options: Any) -> str:
        data = body.encode() if isinstance(body, str) else body
        self.routes[path] = Reply(data, content_type, **options)
        return self.url(path)

    def redirect(self, path: str, location: str, status: int = 302, **headers: str) -> str:
        self.routes[path] = Reply(status=status, headers={"Location": location, **headers})
        return self.url(path)

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            site.requests.append((self.path, dict(self.headers.items())))
            reply = site.routes.get(self.path, Reply(b"not here", "text/plain", status=404))
            if reply.delay and site.stop.wait(reply.delay):
                return
            try:
                self.send_response(reply.status)
                if reply.content_type:
                    self.send_header("Content-Type", reply.content_type)
                if reply.length:
                    self.send_header("Content-Length", str(len(reply.body)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if not reply.drip:
                    self.wfile.write(reply.body)
                for i in range(len(reply.body) if reply.drip else 0):
                    self.wfile.write(reply.body[i:i + 1])
                    self.wfile.flush()
                    if site.stop.wait(reply.drip):
                        return
            except OSError:  # the fetcher hung up (a limit it enforced)
                pass

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the tests read ``site.requests``."""

    return Handler


@pytest.fixture
def site() -> Iterator[Site]:
    served = Site()
    with serving(served.server):
        yield served
        served.stop.set()


def settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings for fetcher-level tests: the loopback site allowed unless the test says otherwise."""
    return Settings(**{"data_dir": tmp_path / "data", "fetch_allow_hosts": "127.0.0.1", **overrides})


def fetch(tmp_path: Path, url: str, resolve: Callable[[str, int], list[str]] | None = None,
          **overrides: Any) -> Fetched:
    folder = tmp_path / "fetched"
    folder.mkdir(exist_ok=True)
    return Fetcher(settings(tmp_path, **overrides), resolve).fetch(url, folder)


def refusal(tmp_path: Path, url: str, resolve: Callable[[str, int], list[str]] | None = None,
            **overrides: Any) -> str:
    """The reason fetching ``url`` is refused (the test fails if it is fetched)."""
    with pytest.raises(FetchError) as info:
        fetch(tmp_path, url, resolve, **overrides)
    assert info.value.path == url.split("#")[0]
    return info.value.reason


def pdf_bytes(text: str) -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.multi_cell(0, 10, text)
    return bytes(pdf.output())


# --------------------------------------------------------------------------- the fetcher


def test_what_counts_as_a_url() -> None:
    assert is_url("https://www.gov.cn/zhengce/") and is_url(" HTTP://x.cn/a ") and is_url("file:///etc/passwd")
    assert not is_url("C://Users/me/law.pdf") and not is_url("corpus/law.md") and not is_url(Path("http://x"))


@pytest.mark.parametrize(("content_type", "suffix"), [
    ("text/html; charset=utf-8", ".html"), ("application/xhtml+xml", ".html"), ("application/pdf", ".pdf"),
    (DOCX_TYPE, ".docx"), ("text/plain", ".txt"), ("text/markdown; charset=UTF-8", ".md"),
])
def test_the_body_is_saved_under_the_suffix_of_its_content_type(site: Site, tmp_path: Path, content_type: str,
                                                                 suffix: str) -> None:
    body = bytes(range(256)) * 4 if suffix in (".pdf", ".docx") else b"Rivers are protected."
    got = fetch(tmp_path, site.page("/doc", body, content_type) + "#section-2")
    assert got.path.suffix == suffix and got.path.read_bytes() == body
    assert (got.url, got.final_url, got.content_type, got.size) == (site.url("/doc"), site.url("/doc"),
                                                                     content_type.split(";")[0], len(body))


def test_a_redirect_chain_is_followed_and_the_source_stays_the_url_given(site: Site, tmp_path: Path) -> None:
    site.page("/law.html", WETLANDS.read_bytes())
    site.redirect("/old", "/moved", 301)
    site.redirect("/moved", "again", 302)  # relative to /moved
    site.redirect("/again", site.url("/law.html"), 307)
    got = fetch(tmp_path, site.url("/old"))
    assert (got.url, got.final_url) == (site.url("/old"), site.url("/law.html"))
    assert site.paths() == ["/old", "/moved", "/again", "/law.html"]
    assert got.path.read_bytes() == WETLANDS.read_bytes()


def test_redirects_beyond_the_limit_and_loops_are_refused(site: Site, tmp_path: Path) -> None:
    site.redirect("/loop", "/loop")
    assert refusal(tmp_path, site.url("/loop")) == "more than 5 redirects (ASSISTANT_FETCH_MAX_REDIRECTS)"
    assert len(site.requests) == 6
    site.redirect("/a", "/b")
    site.page("/b", "<p>b</p>")
    assert "more than 0 redirects" in refusal(tmp_path, site.url("/a"), fetch_max_redirects=0)
    site.redirect("/nowhere", "")
    assert refusal(tmp_path, site.url("/nowhere")) == "the server answered 302 (a redirect) without a Location"


def test_error_statuses_are_named(site: Site, tmp_path: Path) -> None:
    assert refusal(tmp_path, site.url("/missing")) == "the server answered 404 Not Found"
    site.page("/broken", "oops", "text/plain", status=500)
    assert refusal(tmp_path, site.url("/broken")) == "the server answered 500 Internal Server Error"


def test_bodies_over_the_size_limit_are_refused(site: Site, tmp_path: Path) -> None:
    big = b"<p>" + b"x" * 300_000 + b"</p>"
    declared = site.page("/declared", big)
    assert refusal(tmp_path, declared, fetch_max_mb=0.1) == \
        "the content is 0.3 MB, over the 0.1 MB limit (ASSISTANT_FETCH_MAX_MB)"
    streamed = site.page("/streamed", big, length=False)  # no Content-Length: counted while read
    assert refusal(tmp_path, streamed, fetch_max_mb=0.1) == \
        "the content is over the 0.1 MB limit (ASSISTANT_FETCH_MAX_MB)"
    assert fetch(tmp_path, streamed, fetch_max_mb=1).size == len(big)


def test_a_slow_server_is_cut_off_at_the_time_limit(site: Site, tmp_path: Path) -> None:
    silent = site.page("/silent", "<p>late</p>", delay=30)
    dripping = site.page("/drip", "<p>" + "slow " * 200 + "</p>", drip=0.05)  # ~50 s in all, a byte at a time
    site.redirect("/via", "/drip")
    for url in (silent, dripping, site.url("/via")):
        started = time.monotonic()
        reason = refusal(tmp_path, url, fetch_timeout=1.0)
        assert reason.endswith("took longer than 1 s (ASSISTANT_FETCH_TIMEOUT)"), reason
        assert time.monotonic() - started < 3


def test_content_types_not_accepted_are_refused_before_the_body(site: Site, tmp_path: Path) -> None:
    image = site.page("/scan.png", b"\x89PNG" + bytes(100), "image/png")
    assert refusal(tmp_path, image).startswith("content type image/png is not accepted (accepted: text/html, ")
    untyped = site.page("/untyped", b"<p>what am I</p>", None)
    assert refusal(tmp_path, untyped) == "the server did not say what the content is (no Content-Type)"
    packed = site.page("/packed", b"\x1f\x8b" + bytes(30), headers={"Content-Encoding": "gzip"})
    assert "compressed (gzip)" in refusal(tmp_path, packed)
    only_pdf = site.page("/page", "<p>text</p>")
    assert "content type text/html is not accepted (accepted: application/pdf;" in refusal(
        tmp_path, only_pdf, fetch_content_types="application/pdf")
    assert "no reader handles it" in refusal(tmp_path, image, fetch_content_types="image/png")


def test_no_cookies_are_sent_and_the_user_agent_says_who_asks(site: Site, tmp_path: Path) -> None:
    site.page("/page", "<p>hello</p>")
    site.redirect("/login", "/page", **{"Set-Cookie": "session=secret; Path=/"})
    fetch(tmp_path, site.url("/login"))
    for _, headers in site.requests:
        assert "Cookie" not in headers and "Authorization" not in headers
        assert headers["User-Agent"] == USER_AGENT and USER_AGENT.startswith("policy-assistant/")
        assert headers["Accept-Encoding"] == "identity" and headers["Host"] == f"127.0.0.1:{site.port}"


def test_the_charset_in_the_header_is_honoured(site: Site, tmp_path: Path) -> None:
    """Chinese sites often name GBK in the header only, or label GBK text gb2312 (镕 is GBK, not GB2312)."""
    text = "第一条 朱镕基同志强调，长江保护是全流域的共同责任。"
    url = site.page("/gbk", f"<html><body><p>{text}</p></body></html>".encode("gbk"), "text/html; charset=gb2312")
    got = fetch(tmp_path, url)
    assert load_document(got.path, source=url).text == text
    plain = site.page("/gbk.txt", text.encode("gbk"), "text/plain; charset=GBK")
    assert load_document(fetch(tmp_path, plain).path).text == text


# --------------------------------------------------------------------------- addresses that are refused


@pytest.mark.parametrize(("address", "problem"), [
    ("127.0.0.1", "a loopback address"), ("127.8.9.10", "a loopback address"), ("::1", "a loopback address"),
    ("10.0.0.1", "a private address"), ("172.16.5.4", "a private address"), ("192.168.1.1", "a private address"),
    ("fd12:3456::1", "a private address"), ("169.254.1.1", "a link-local address"),
    ("fe80::1", "a link-local address"), ("224.0.0.251", "a multicast address"), ("ff02::1", "a multicast address"),
    ("0.0.0.0", "an unspecified address"), ("240.0.0.1", "a reserved address"),
    ("100.64.0.1", "not a public internet address"), ("169.254.169.254", "a cloud metadata address"),
    ("100.100.100.200", "a cloud metadata address"), ("fd00:ec2::254", "a cloud metadata address"),
    ("::ffff:192.168.0.1", "a private address (as 192.168.0.1)"),
    ("64:ff9b::a00:1", "a private address (as 10.0.0.1)"), ("2002:7f00:1::", "a loopback address (as 127.0.0.1)"),
    ("93.184.216.34", None), ("2606:4700::6810:84e5", None),
])
def test_address_problems(address: str, problem: str | None) -> None:
    assert address_problem(ipaddress.ip_address(address)) == problem


def test_loopback_private_and_metadata_urls_are_refused_without_a_request(site: Site, tmp_path: Path) -> None:
    site.page("/page", "<p>secret admin page</p>")
    port = site.port
    cases = {
        site.url("/page"): "127.0.0.1 is a loopback address: refused unless the host is in ASSISTANT_FETCH_ALLOW_HOSTS",
        f"http://[::1]:{port}/page": "::1 is a loopback address",
        f"http://[::ffff:127.0.0.1]:{port}/page": "is a loopback address (as 127.0.0.1)",
        f"http://0.0.0.0:{port}/page": "0.0.0.0 is an unspecified address",
        f"http://2130706433:{port}/page": "2130706433 resolves to 127.0.0.1, a loopback",  # 127.0.0.1 as a number
        "http://10.1.2.3/intranet": "10.1.2.3 is a private address",
        "https://192.168.0.1/router": "192.168.0.1 is a private address",
        "http://169.254.169.254/latest/meta-data/": "169.254.169.254 is a cloud metadata address",
        "http://100.100.100.200/latest/meta-data/": "100.100.100.200 is a cloud metadata address",
        f"http://admin:secret@127.0.0.1:{port}/page": "URLs with credentials (user:password@host) are refused",
        "https://user@www.gov.cn/": "URLs with credentials",
        "ftp://ftp.example.cn/law.pdf": "only http and https URLs can be added, not ftp:",
        "file:///etc/passwd": "only http and https URLs can be added, not file:",
        "http:///nohost": "the URL names no host",
        "http://www.gov.cn/a\r\nX-Injected: 1": "control characters",
    }
    for url, reason in cases.items():
        assert reason in refusal(tmp_path, url, fetch_allow_hosts=""), url
    assert site.requests == []


def test_names_are_judged_by_every_address_they_resolve_to(tmp_path: Path) -> None:
    table = {"intranet.example": ["10.0.0.7"], "rebind.example": ["93.184.216.34", "127.0.0.1"],
             "meta.example": ["169.254.169.254"], "nowhere.example": []}
    asked: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]

    expected = {
        "http://intranet.example/": "intranet.example resolves to 10.0.0.7, a private address",
        "http://rebind.example/": "rebind.example resolves to 127.0.0.1, a loopback address",
        "http://meta.example/": "meta.example resolves to 169.254.169.254, a cloud metadata address",
        "http://nowhere.example/": "cannot resolve nowhere.example (no addresses)",
    }
    for url, reason in expected.items():
        assert reason in refusal(tmp_path, url, resolve, fetch_allow_hosts="")
    assert asked == [url.split("/")[2] for url in expected]
    assert refusal(tmp_path, "http://unknown.example/", resolve) == \
        "cannot resolve unknown.example (Name or service not known)"


def test_a_redirect_to_a_private_address_is_refused(site: Site, tmp_path: Path) -> None:
    site.redirect("/to-private", "http://10.0.0.5/admin")
    site.redirect("/to-metadata", "http://169.254.169.254/latest/meta-data/iam/")
    site.redirect("/to-name", "http://internal.example/")
    site.redirect("/to-credentials", f"http://u:p@127.0.0.1:{site.port}/to-private")
    site.redirect("/to-file", "file:///etc/passwd")
    expected = {
        "/to-private": "redirected to http://10.0.0.5/admin: 10.0.0.5 is a private address",
        "/to-metadata": "redirected to http://169.254.169.254/latest/meta-data/iam/: 169.254.169.254 is a cloud "
                        "metadata address",
        "/to-name": "redirected to http://internal.example/: internal.example resolves to 192.168.1.1, a private",
        "/to-credentials": "URLs with credentials",
        "/to-file": "redirected to file:///etc/passwd: only http and https URLs can be added, not file:",
    }
    for path, reason in expected.items():
        assert reason in refusal(tmp_path, site.url(path), lambda host, port: ["192.168.1.1"]), path
    assert site.paths() == list(expected)  # one request each: nothing followed the redirect


def test_the_allow_list_opens_intranet_hosts_but_never_metadata(site: Site, tmp_path: Path) -> None:
    assert "cloud metadata address: refused whatever ASSISTANT_FETCH_ALLOW_HOSTS says" in refusal(
        tmp_path, "http://169.254.169.254/latest/", fetch_allow_hosts="169.254.169.254")
    site.page("/page", "<p>intranet notice</p>")
    assert "loopback" in refusal(tmp_path, site.url("/page"), fetch_allow_hosts="intranet.example, 10.0.0.1")
    got = fetch(tmp_path, site.url("/page"), fetch_allow_hosts=" 127.0.0.1 ")
    assert got.path.read_text() == "<p>intranet notice</p>"


def test_an_allowed_name_is_connected_at_the_address_that_was_checked(site: Site, tmp_path: Path) -> None:
    """The name is resolved once, by the fetcher's resolver; nothing resolves it again before the connect
    (the guard would record a lookup of intranet.example), and the server still sees the name as Host."""
    site.page("/notice.html", WETLANDS.read_bytes())
    asked: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["127.0.0.1"] if len(asked) == 1 else ["10.0.0.9"]  # a rebinding name: the second answer differs

    url = site.url("/notice.html", host="Intranet.Example")
    got = fetch(tmp_path, url, resolve, fetch_allow_hosts="intranet.example.")
    assert got.path.read_bytes() == WETLANDS.read_bytes()
    assert asked == ["intranet.example"]
    assert site.requests[0][1]["Host"] == f"intranet.example:{site.port}"


@pytest.fixture
def tls_site(site: Site, tmp_path: Path) -> Site:
    """The site over TLS with a self-signed certificate no system trusts."""
    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make a certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    site.server.socket = context.wrap_socket(site.server.socket, server_side=True)
    site.server.handle_error = lambda request, address: None  # type: ignore[method-assign]  # the refused handshake
    site.scheme = "https"
    return site


def test_https_certificates_are_verified(tls_site: Site, tmp_path: Path) -> None:
    tls_site.page("/page", "<p>over TLS</p>")
    assert "the TLS certificate of 127.0.0.1 cannot be trusted (self-signed certificate)" in refusal(
        tmp_path, tls_site.url("/page"))
    assert tls_site.requests == []


# --------------------------------------------------------------------------- through Assistant.add


def test_a_page_added_by_url_is_read_answered_and_cited_with_its_url(make_assistant: Callable[..., Assistant],
                                                                     site: Site) -> None:
    url = site.page("/zcwj/flfg/202112/t20211225.html", WETLANDS.read_bytes())
    assistant = make_assistant(fetch_allow_hosts="127.0.0.1")
    [result] = assistant.add(url)
    assert (result.path, result.status, result.title) == (url, "added", "中华人民共和国湿地保护法_法律法规_生态环境部")
    document = assistant.read(str(result.doc_id))
    assert document.source == url and assistant.documents()[0].source == url
    expected = (HTML_PAGES / "ministry_div_layout.txt").read_text(encoding="utf-8").strip()
    assert document.text.startswith(expected)  # the law's text first, then at most a stray line or two
    for chrome in ("首页", "当前位置", "相关文件", "附件", "分享到", "京ICP备", "网站标识码"):
        assert chrome not in document.text  # menus, breadcrumb, sidebar, attachment links, share bar, footer
    answer = assistant.ask("湿地保护应当坚持哪些原则？")
    assert answer.grounded and answer.citations
    assert all(c.passage.source == url for c in answer.citations)
    assert any("保护优先" in c.quote for c in answer.citations)


def test_a_pdf_added_by_url_keeps_its_pages(make_assistant: Callable[..., Assistant], site: Site) -> None:
    url = site.page("/files/notice.pdf", pdf_bytes(
        "Notice on sand mining. Sand mining in the main stream of the Yangtze needs a permit from the river "
        "commission, and the permit names the dredger, the area and the season."), "application/pdf")
    assistant = make_assistant(fetch_allow_hosts="127.0.0.1")
    [result] = assistant.add(url)
    assert (result.path, result.status) == (url, "added")
    [passage] = assistant.retrieve("Who issues sand mining permits on the Yangtze?", k=1)
    assert (passage.source, passage.page) == (url, 1) and "permit" in passage.text


def test_adding_the_same_url_again_is_unchanged_then_replaced(make_assistant: Callable[..., Assistant],
                                                              site: Site) -> None:
    page = WETLANDS.read_text(encoding="utf-8")
    url = site.page("/notice.html", page)
    assistant = make_assistant(fetch_allow_hosts="127.0.0.1")
    [first] = assistant.add(url)
    [again] = assistant.add(url)
    assert (again.status, again.doc_id, again.reason) == ("unchanged", first.doc_id, "already stored")
    site.page("/notice.html", page.replace("第八条 国家鼓励单位和个人", "第八条 国家支持并鼓励单位和个人"))
    [changed] = assistant.add(url)
    assert (changed.status, changed.reason) == ("replaced", f"replaced {first.doc_id}")
    assert [(d.doc_id, d.source) for d in assistant.documents()] == [(changed.doc_id, url)]
    assert "国家支持并鼓励单位和个人" in assistant.read(str(changed.doc_id)).text


def test_urls_that_cannot_be_fetched_fail_alone(make_assistant: Callable[..., Assistant], site: Site,
                                               tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text("Notice on ferries\n\nThe ferry office inspects every ferry twice a year.\n", encoding="utf-8")
    big = site.page("/big.html", "<p>" + "x" * 200_000 + "</p>")
    slow = site.page("/slow.html", "<p>late</p>", delay=30)
    assistant = make_assistant(fetch_allow_hosts="127.0.0.1", fetch_max_mb=0.1, fetch_timeout=1.0)
    results = assistant.add(site.url("/gone.html"), big, str(note), slow, "http://10.0.0.3/x")
    assert [(r.path, r.status) for r in results] == [
        (site.url("/gone.html"), "failed"), (big, "failed"), (slow, "failed"), ("http://10.0.0.3/x", "failed"),
        (str(note), "added")]
    reasons = [r.reason for r in results[:4]]
    assert reasons[0] == "the server answered 404 Not Found"
    assert "over the 0.1 MB limit" in reasons[1] and "took longer than 1 s" in reasons[2]
    assert "10.0.0.3 is a private address" in reasons[3]
    assert [d.source for d in assistant.documents()] == [str(note.resolve())]


def test_url_adds_obey_read_only_exactly_as_file_adds(make_assistant: Callable[..., Assistant], site: Site) -> None:
    url = site.page("/notice.html", WETLANDS.read_bytes())
    reader = make_assistant(read_only=True, fetch_allow_hosts="127.0.0.1")
    with pytest.raises(ReadOnlyStore, match="cannot add documents: this assistant is read-only"):
        reader.add(url)
    assert site.requests == []  # refused before anything was fetched
    assert reader.documents() == []


def test_assistant_add_url_on_the_command_line(site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """`assistant add URL...`, run in this process so that the guard covers it."""
    from assistant.cli import main

    url = site.page("/notice.html", WETLANDS.read_bytes())
    for name, value in {"DATA_DIR": str(tmp_path / "data"), "COLLECTION": f"cli{uuid.uuid4().hex[:10]}",
                        "AUTO_INDEX_CORPUS": "false", "FETCH_ALLOW_HOSTS": "127.0.0.1"}.items():
        monkeypatch.setenv(f"ASSISTANT_{name}", value)
    monkeypatch.delenv("ASSISTANT_CHROMA_HOST", raising=False)
    assert main(["add", url, site.url("/missing")]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"failed    {site.url('/missing')} (the server answered 404 Not Found)"
    assert lines[1].startswith(f"added     {url}, ")
