"""HTTP/1.1 proxying through a real weir process to a real upstream, no plugins."""
import http.client
import json
import socket
import threading

import pytest

from upstream import Upstream
from weir_harness import ClosedPort, Weir, free_port, proxy_config, raw_exchange, request, stats, wait_for


@pytest.fixture
def proxy():
    with Upstream() as up:
        listen, admin = free_port(), free_port()
        with Weir(proxy_config(listen, admin, up.port), args=("--concurrency", "2"),
                  wait_ports=(listen, admin)) as weir:
            weir.listen, weir.admin, weir.upstream = listen, admin, up
            yield weir


def echo(body):
    return json.loads(body)


def test_get_passes_host_and_path(proxy):
    status, headers, body = request(proxy.listen, path="/a/b?x=1", headers={"Host": "example.com"})
    assert status == 200
    seen = echo(body)
    assert seen["path"] == "/a/b?x=1"
    assert dict(seen["headers"])["host"] == "example.com"
    assert headers["server"] == "weir"


def test_request_id_and_forwarded_proto(proxy):
    _, _, body = request(proxy.listen)
    h = dict(echo(body)["headers"])
    assert len(h["x-request-id"]) == 36
    assert h["x-forwarded-proto"] == "http"
    assert "x-forwarded-for" not in h  # only with use_remote_address, as in Envoy
    _, _, body = request(proxy.listen, headers={"x-request-id": "abc"})
    assert dict(echo(body)["headers"])["x-request-id"] == "abc"


def test_use_remote_address_appends_peer():
    with Upstream() as up:
        listen, admin = free_port(), free_port()
        cfg = proxy_config(listen, admin, up.port, hcm_extra="\n                use_remote_address: true")
        with Weir(cfg, wait_ports=(listen, admin)):
            _, _, body = request(listen, headers={"x-forwarded-for": "10.0.0.1"})
            assert dict(echo(body)["headers"])["x-forwarded-for"] == "10.0.0.1, 127.0.0.1"


def test_hop_by_hop_headers_not_forwarded(proxy):
    _, _, body = request(proxy.listen, headers={"Connection": "keep-alive, x-secret",
                                                "x-secret": "1", "Keep-Alive": "timeout=5",
                                                "x-kept": "yes"})
    h = dict(echo(body)["headers"])
    assert "x-secret" not in h and "keep-alive" not in h
    assert h["x-kept"] == "yes"


def test_keep_alive_reuses_both_connections(proxy):
    conn = http.client.HTTPConnection("127.0.0.1", proxy.listen, timeout=5)
    for i in range(5):
        conn.request("GET", f"/n{i}")
        resp = conn.getresponse()
        assert resp.status == 200
        assert echo(resp.read())["path"] == f"/n{i}"
    conn.close()
    # One worker served this connection: at most one upstream connection was opened.
    assert proxy.upstream.connections == 1


def test_pipelined_requests_answered_in_order(proxy):
    payload = b"".join(f"GET /p{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for i in range(3))
    payload += b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    out = raw_exchange(proxy.listen, payload)
    paths = [p for p in ("/p0", "/p1", "/p2", "/last") if f'"path": "{p}"'.encode() in out]
    assert paths == ["/p0", "/p1", "/p2", "/last"]
    positions = [out.index(f'"path": "{p}"'.encode()) for p in paths]
    assert positions == sorted(positions)
    assert out.count(b"HTTP/1.1 200 OK") == 4


def test_chunked_request_body_streamed(proxy):
    conn = http.client.HTTPConnection("127.0.0.1", proxy.listen, timeout=5)
    conn.request("POST", "/upload", body=iter([b"hello ", b"chunked ", b"world"]),
                 encode_chunked=True, headers={"Transfer-Encoding": "chunked"})
    resp = conn.getresponse()
    assert resp.status == 200
    assert echo(resp.read())["body"] == "hello chunked world"


def test_content_length_body_forwarded(proxy):
    body = "x" * 200000
    status, _, out = request(proxy.listen, "POST", "/p", body=body)
    assert status == 200 and echo(out)["body"] == body


def test_chunked_response_relayed(proxy):
    status, headers, body = request(proxy.listen, path="/chunked")
    assert status == 200 and body == b"onetwothree"


def test_large_response(proxy):
    status, _, body = request(proxy.listen, path="/big/3000000")
    assert status == 200 and len(body) == 3000000


def test_head_204_304_have_no_body(proxy):
    out = raw_exchange(proxy.listen, b"HEAD /big/11 HTTP/1.1\r\nHost: x\r\n\r\n"
                       b"GET /status/204 HTTP/1.1\r\nHost: x\r\n\r\n"
                       b"GET /status/304 HTTP/1.1\r\nHost: x\r\n\r\n"
                       b"GET /chunked HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    # Three bodyless answers, then the chunked one parses cleanly after them.
    assert out.count(b"HTTP/1.1 200 OK") == 2
    assert b"HTTP/1.1 204" in out and b"HTTP/1.1 304" in out
    assert b"content-length: 11\r\n" in out
    assert out.endswith(b"3\r\none\r\n3\r\ntwo\r\n5\r\nthree\r\n0\r\n\r\n")


def test_expect_100_continue(proxy):
    with socket.create_connection(("127.0.0.1", proxy.listen), timeout=5) as s:
        s.sendall(b"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        first = s.recv(100)
        assert first.startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        s.sendall(b"data")
        data = first[len(b"HTTP/1.1 100 Continue\r\n\r\n"):]
        while b'"body": "data"' not in data:
            chunk = s.recv(65536)
            assert chunk
            data += chunk
        assert b"HTTP/1.1 200 OK" in data


def test_http10_client(proxy):
    out = raw_exchange(proxy.listen, b"GET /old HTTP/1.0\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200 OK")
    assert b"connection: close" in out.lower()
    out = raw_exchange(proxy.listen, b"GET /chunked HTTP/1.0\r\n\r\n")
    assert out.endswith(b"onetwothree")  # no chunked framing for a 1.0 client


def test_malformed_request_gets_400_and_close(proxy):
    for bad in (b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1\r\nbad header line\r\n\r\n",
                b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                b"GET / HTTP/9.9\r\n\r\n"):
        out = raw_exchange(proxy.listen, bad)
        assert out.startswith(b"HTTP/1.1 400"), (bad, out)
        assert b"connection: close" in out
    assert request(proxy.listen)[0] == 200  # still serving


def test_oversized_headers_get_431(proxy):
    out = raw_exchange(proxy.listen, b"GET / HTTP/1.1\r\nHost: x\r\nx-big: " + b"a" * 70000 + b"\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 431")


def test_dead_upstream_gives_503():
    listen, admin = free_port(), free_port()
    with ClosedPort() as dead, Weir(proxy_config(listen, admin, dead), wait_ports=(listen, admin)):
        status, _, body = request(listen)
        assert status == 503
        assert b"upstream connect error" in body
        s = stats(admin)
        assert s["cluster.upstream.upstream_cx_connect_fail"] == "1"
        assert s["http.ingress_http.downstream_rq_5xx"] == "1"


def test_upstream_closing_idle_pooled_connection_does_not_fail_next_request():
    with Upstream(close_idle_after_ms=100) as up:
        listen, admin = free_port(), free_port()
        with Weir(proxy_config(listen, admin, up.port), args=("--concurrency", "1"),
                  wait_ports=(listen, admin)):
            for _ in range(5):
                status, _, _ = request(listen)
                assert status == 200
                # The upstream drops the pooled connection after 100 ms idle; weir sees it.
                wait_for(lambda: stats(admin)["cluster.upstream.upstream_cx_active"] == "0",
                         what="weir to see the upstream close its idle connection")
            assert up.connections == 5


def test_upstream_eof_delimited_response(proxy):
    status, _, body = request(proxy.listen, path="/eof-body")
    assert status == 200 and body == b"body until close"


def test_route_timeout_gives_504():
    with Upstream() as up:
        listen, admin = free_port(), free_port()
        cfg = proxy_config(listen, admin, up.port, route_extra="\n                            timeout: 0.3s")
        with Weir(cfg, wait_ports=(listen, admin)):
            status, _, body = request(listen, path="/slow/2000")
            assert status == 504 and body == b"upstream request timeout"
            assert stats(admin)["cluster.upstream.upstream_rq_timeout"] == "1"


def test_stats_builtins_and_filters(proxy):
    request(proxy.listen)
    s = stats(proxy.admin, "?filter=downstream_rq")
    assert s["http.ingress_http.downstream_rq_total"] == "1"
    assert all("downstream_rq" in k for k in s)
    used = stats(proxy.admin, "?usedonly")
    assert "http.ingress_http.downstream_rq_5xx" not in used
    assert used["cluster.upstream.upstream_rq_2xx"] == "1"
    names = list(stats(proxy.admin).keys())
    assert names == sorted(names)
    status, headers, body = request(proxy.admin, path="/stats?format=json")
    assert status == 200 and json.loads(body)["stats"]
    assert request(proxy.admin, path="/ready")[2] == b"LIVE\n"


def test_response_head_is_not_held_back_for_a_late_body():
    """The head waits for the first body bytes only within the event it came in: an upstream
    that sends its head and then waits (for the client to have it) still gets it through."""
    head_seen = threading.Event()
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def upstream():
        conn, _ = server.accept()
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(4096)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
            head_seen.wait(10)
            conn.sendall(b"hello")

    threading.Thread(target=upstream, daemon=True).start()
    listen, admin = free_port(), free_port()
    with Weir(proxy_config(listen, admin, server.getsockname()[1]), wait_ports=(listen, admin)):
        with socket.create_connection(("127.0.0.1", listen), timeout=5) as client:
            client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            received = b""
            while b"\r\n\r\n" not in received:
                chunk = client.recv(4096)  # times out (fails) if the head is held back
                assert chunk, "connection closed before the response head"
                received += chunk
            assert received.startswith(b"HTTP/1.1 200 OK\r\n")
            head_seen.set()
            while not received.endswith(b"hello"):
                chunk = client.recv(4096)
                assert chunk
                received += chunk
    server.close()
