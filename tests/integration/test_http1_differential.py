"""weir beside nginx on the malformed and request-smuggling payloads of tests/differential:
weir must never accept or forward what nginx refuses, apart from the exceptions below, each
a deliberate choice. The same run is `make differential` (which prints the whole table)."""
import shutil
import socket
import sys
from pathlib import Path

import pytest

from upstream import Upstream
from weir_harness import WEIR_BIN, Weir, free_port, proxy_config, raw_exchange, require

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "differential"))
import harness  # noqa: E402

# Payloads on which weir is more lenient than nginx on purpose.
EXCEPTIONS = {
    "version.10_chunked":
        "HTTP/1.0 with Transfer-Encoding: chunked is parsed and the connection closed after "
        "the response (RFC 9112 §6.1); nginx refuses any Transfer-Encoding in HTTP/1.0",
    "line.asterisk_options":
        "OPTIONS * is a valid request (RFC 9112 §3.2.4) that nginx refuses; weir's routes "
        "answer it (404 here) and the connection goes on to the next request",
}
NOT_ALLOWED = ("weir-more-lenient", "weir-differs", "weir-hangs")


@pytest.fixture(scope="module")
def differential():
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    require(Path(nginx).exists(), "nginx not installed")
    return harness.run(str(WEIR_BIN), nginx)


def test_weir_accepts_nothing_nginx_refuses(differential):
    payloads, res_w, res_n, verdicts, alive = differential
    assert alive, "weir died during the run"
    assert len(payloads) >= 375
    lenient = {n for n, v in verdicts.items() if v in NOT_ALLOWED}
    unexpected = sorted(lenient - EXCEPTIONS.keys())
    details = "\n".join(f"{n}: {verdicts[n]}: weir {harness.describe(res_w[n])} | nginx "
                        f"{harness.describe(res_n[n])}" for n in unexpected)
    assert not unexpected, "weir is more lenient than nginx on:\n" + details
    # An exception that no longer applies is taken off the list.
    assert lenient == EXCEPTIONS.keys()


# Payloads whose head is fine and whose chunked body or trailers are not: the parser finds
# the error after the head, when a stream exists (and the head may already be upstream).
BODY_ERRORS = ("chunk.", "eol.chunk_", "eol.last_", "eol.ext_", "eol.trailer_",
               "eol.all_lf_chunked", "trailer.", "fold.in_trailer", "smuggle.bare_lf_in_size")
# Body errors answered with another status than 400, as Envoy would: a chunk size past any
# body limit, and more trailer fields than max_headers_count.
BODY_ERROR_STATUS = {"chunk.size_max_u64": 413, "trailer.many": 431}


def test_weir_answers_every_refusal(differential):
    # A request refused in its head or its body gets a status line before the close, never
    # just a closed socket (413 included: a Content-Length past the limit is answered, not
    # dropped).
    payloads, res_w, _, _, _ = differential
    silent = [n for n, _ in payloads
              if not res_w[n]["statuses"] and not res_w[n]["upstream_raw"]
              and res_w[n]["ended"] != "timeout"]
    assert not silent, silent


def test_body_framing_errors_get_exactly_400(differential):
    """Where weir differs from nginx on purpose: nginx forwards a chunked body with bare-LF
    line ends, a bad chunk extension or a malformed trailer, weir refuses it. Each refusal
    is a 400 (no response had started), the connection closes, and no request reached the
    upstream whole: the upstream got at most the head, on a connection weir then closed."""
    payloads, res_w, res_n, _, _ = differential
    refused = [n for n, _ in payloads if n.startswith(BODY_ERRORS) and not res_w[n]["requests"]]
    # The corpus has dozens of them: a change that let them through would empty this list.
    assert len(refused) >= 40, refused
    wrong = {}
    for name in refused:
        got = res_w[name]
        if got["ended"] == "timeout":
            # Only an incomplete body may wait, and nginx waits for it too.
            assert res_n[name]["ended"] == "timeout", name
            continue
        expected = BODY_ERROR_STATUS.get(name, 400)
        if got["statuses"] != [expected] or got["ended"] != "closed" \
                or b"connection: close" not in got["response"].encode("latin-1"):
            wrong[name] = (got["statuses"], got["ended"], got["response"][:60])
    assert not wrong, wrong
    # The ones nginx forwards are exactly where the two differ on purpose.
    nginx_forwards = [n for n in refused if res_n[n]["requests"]]
    assert nginx_forwards, "no body error left on which weir is the stricter one"


def test_connect_is_refused_with_envoys_403(differential):
    """CONNECT without upgrade_configs for it: Envoy answers 403 (details upgrade_failed);
    nginx 400. weir answers as Envoy does, closes, forwards nothing; a CONNECT whose target
    is not host:port is malformed (400)."""
    _, res_w, _, _, _ = differential
    connect = res_w["line.connect_authority"]
    assert connect["statuses"] == [403]
    assert connect["ended"] == "closed"
    assert connect["response"].startswith("HTTP/1.1 403 Forbidden\r\n")
    assert "connection: close\r\n" in connect["response"]
    assert not connect["requests"] and not connect["upstream_raw"]
    for malformed in ("line.connect_no_port", "line.connect_origin", "line.connect_with_body"):
        assert res_w[malformed]["statuses"] == [400], malformed
        assert not res_w[malformed]["upstream_raw"], malformed


def test_options_asterisk_is_routed_like_any_request(differential):
    """OPTIONS * (RFC 9112 3.2.4), which nginx refuses: weir parses it, finds no route for
    the path "*" (the only route is prefix "/"), answers 404 and keeps the connection for
    the next request, which reaches the upstream alone."""
    _, res_w, _, _, _ = differential
    got = res_w["line.asterisk_options"]
    assert got["statuses"] == [404, 200]
    assert [(r["method"], r["target"]) for r in got["requests"]] == [("GET", "/next")]
    assert got["upstream_raw"].startswith("GET /next HTTP/1.1\r\n")
    # Other methods with an asterisk target are malformed.
    assert res_w["line.asterisk_get"]["statuses"] == [400]
    assert res_w["line.asterisk_suffix"]["statuses"] == [400]


@pytest.fixture(scope="module")
def proxy():
    with Upstream() as up:
        listen, admin = free_port(), free_port()
        with Weir(proxy_config(listen, admin, up.port), wait_ports=(listen, admin)) as weir:
            weir.listen, weir.upstream = listen, up
            yield weir


@pytest.mark.parametrize("payload,status,body", [
    (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501,
     b"Not Implemented"),
    (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n", 413,
     b"Content Too Large"),
    (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: h\r\n\r\n", 414, b"URI Too Long"),
    (b"GET / HTTP/1.1\r\n\r\n", 400, b"Bad Request"),
])
def test_parser_statuses_reach_the_client(proxy, payload, status, body):
    out = raw_exchange(proxy.listen, payload)
    assert out.startswith(b"HTTP/1.1 %d " % status), out[:100]
    assert out.endswith(body)
    assert b"connection: close" in out
    assert not proxy.upstream.requests


def test_http09_is_answered_at_once(proxy):
    # No blank line follows an HTTP/0.9 request: it is refused on its first line, not left
    # waiting.
    with socket.create_connection(("127.0.0.1", proxy.listen), timeout=5) as s:
        s.sendall(b"GET /index.html\r\n")
        assert s.recv(100).startswith(b"HTTP/1.1 400 ")


def test_absolute_form_is_routed_by_its_path(proxy):
    out = raw_exchange(proxy.listen, b"GET http://example.com/a/b?x=1 HTTP/1.1\r\n"
                                     b"Host: other.example\r\nConnection: close\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200 ")
    seen = proxy.upstream.requests[-1]
    assert seen["path"] == "/a/b?x=1"
    assert dict(seen["headers"])["host"] == "example.com"
