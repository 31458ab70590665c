"""Hostile HTTP/1 streams through a real weir process: a request body that turns malformed
after part of it went upstream, malformed upstream responses, slow request heads, and the
connection limits (Envoy's request_headers_timeout, idle_timeout,
max_requests_per_connection, max_headers_count, max_request_headers_kb). Each case checks
that a connection that saw a broken exchange is closed, never pooled, and that weir goes
on serving."""
import socket
import threading
import time

import pytest

from stream_checks import assert_still_serving, stat_value, wait_for
from weir_harness import Weir, free_port, proxy_config, raw_exchange, request


class ScriptedUpstream:
    """Records every connection (bytes in, whether weir closed it). Answers by path:
    /early answers at once with a chunked response it leaves open; /bad-status,
    /cl-and-te, /bad-field and /bad-chunk-later send malformed responses; any other
    request is answered "ok" once its head (and a chunked body's last chunk) is in."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(32)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.received = []    # bytes per connection, in accept order
        self.closed = []      # per connection: weir closed it (EOF or reset seen)
        self.early = threading.Event()
        self.first_chunk_arrived = threading.Event()  # set by the test's client
        threading.Thread(target=self._accept, daemon=True).start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.sock.close()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                index = len(self.received)
                self.received.append(b"")
                self.closed.append(False)
            threading.Thread(target=self._serve, args=(conn, index), daemon=True).start()

    def _serve(self, conn, index):
        pending = b""
        try:
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    with self.lock:
                        self.closed[index] = True
                    return
                with self.lock:
                    self.received[index] += data
                pending += data
                pending = self._answer(conn, pending)
        finally:
            conn.close()

    def _answer(self, conn, pending):
        while b"\r\n\r\n" in pending:
            head, rest = pending.split(b"\r\n\r\n", 1)
            path = head.split(b" ")[1]
            chunked = b"transfer-encoding: chunked" in head.lower()
            if path == b"/early":
                conn.sendall(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
                             b"6\r\nearly \r\n")
                self.early.set()
                return b""  # never finishes
            if path == b"/bad-status":
                conn.sendall(b"HTTP/1.1 2x0 OK\r\ncontent-length: 2\r\n\r\nok")
            elif path == b"/cl-and-te":
                conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n"
                             b"transfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")
            elif path == b"/bad-field":
                conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nbad field line\r\n\r\nok")
            elif path == b"/bad-chunk-later":
                conn.sendall(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
                             b"5\r\nfirst\r\n")
                # The first chunk reaches the client on its own before the bad one follows.
                self.first_chunk_arrived.wait(10)
                conn.sendall(b"nothex\r\n")
            else:
                if chunked and b"\r\n0\r\n\r\n" not in b"\r\n" + rest:
                    return pending  # wait for the last chunk
                if chunked:
                    rest = rest.split(b"\r\n0\r\n\r\n", 1)[1] if not rest.startswith(b"0\r\n\r\n") \
                        else rest[len(b"0\r\n\r\n"):]
                conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            pending = rest
        return pending


def start(upstream, hcm_extra=""):
    listen, admin = free_port(), free_port()
    weir = Weir(proxy_config(listen, admin, upstream.port, hcm_extra=hcm_extra),
                args=("--concurrency", "1"), wait_ports=(listen, admin))
    weir.listen, weir.admin = listen, admin
    return weir


def read_ok_response(sock):
    out = b""
    while not out.endswith(b"\r\n\r\nok"):
        data = sock.recv(65536)
        assert data, out
        out += data
    return out


def read_until_closed(sock, timeout=10):
    sock.settimeout(timeout)
    out = b""
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return out
            out += data
    except ConnectionResetError:
        return out


# ---------------------------------------------------------------- malformed request bodies

def test_invalid_chunk_size_before_the_response_is_a_400_and_the_upstream_connection_closes():
    with ScriptedUpstream() as up, start(up) as weir:
        with socket.create_connection(("127.0.0.1", weir.listen), timeout=10) as client:
            client.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                           b"5\r\nhello\r\n")
            # Part of the request is upstream already...
            wait_for(lambda: b"hello" in (up.received or [b""])[0], what="the first chunk upstream")
            # ...when the body turns malformed.
            client.sendall(b"zz\r\nworld\r\n0\r\n\r\n")
            out = read_until_closed(client)
        assert out.startswith(b"HTTP/1.1 400"), out
        assert b"connection: close" in out
        # The upstream connection holding half a request was closed, not kept.
        wait_for(lambda: up.closed[0], what="the upstream connection to be closed")
        assert b"world" not in up.received[0]
        assert stat_value(weir.admin, "http.ingress_http.downstream_cx_protocol_error") == 1
        assert stat_value(weir.admin, "http.ingress_http.downstream_rq_4xx") == 1
        assert_still_serving(weir, weir.listen, weir.admin)
        assert len(up.received) == 2  # the next request needed a new connection


def test_invalid_chunk_size_after_the_response_started_resets_both_sides():
    with ScriptedUpstream() as up, start(up) as weir:
        with socket.create_connection(("127.0.0.1", weir.listen), timeout=10) as client:
            client.sendall(b"POST /early HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                           b"5\r\nhello\r\n")
            assert up.early.wait(10)
            head = b""
            while b"early " not in head:
                head += client.recv(65536)
            assert head.startswith(b"HTTP/1.1 200")
            client.sendall(b"-1\r\n")  # not a chunk size
            rest = read_until_closed(client)
        # The response was cut off: no last chunk ever came.
        assert b"0\r\n\r\n" not in head + rest
        wait_for(lambda: up.closed[0], what="the upstream connection to be closed")
        assert stat_value(weir.admin, "http.ingress_http.downstream_cx_protocol_error") == 1
        assert_still_serving(weir, weir.listen, weir.admin)
        assert len(up.received) == 2


def test_chunked_request_body_cut_by_the_client_closes_the_upstream_connection():
    with ScriptedUpstream() as up, start(up) as weir:
        with socket.create_connection(("127.0.0.1", weir.listen), timeout=10) as client:
            client.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                           b"100\r\nonly part")
            wait_for(lambda: b"only part" in (up.received or [b""])[0], what="the part upstream")
        wait_for(lambda: up.closed[0], what="the upstream connection to be closed")
        assert_still_serving(weir, weir.listen, weir.admin)
        assert len(up.received) == 2


# ---------------------------------------------------------------- malformed responses

@pytest.mark.parametrize("path", ["/bad-status", "/cl-and-te", "/bad-field"])
def test_malformed_upstream_response_is_a_502_and_its_connection_is_dropped(path):
    with ScriptedUpstream() as up, start(up) as weir:
        status, _, body = request(weir.listen, path=path)
        assert status == 502, body
        assert b"protocol error" in body
        wait_for(lambda: up.closed[0], what="the upstream connection to be closed")
        assert stat_value(weir.admin, "cluster.upstream.upstream_cx_protocol_error") == 1
        assert stat_value(weir.admin, "http.ingress_http.downstream_rq_5xx") == 1
        assert_still_serving(weir, weir.listen, weir.admin)
        assert len(up.received) == 2


def test_malformed_chunk_after_the_response_started_resets_the_client():
    with ScriptedUpstream() as up, start(up) as weir:
        with socket.create_connection(("127.0.0.1", weir.listen), timeout=10) as client:
            client.sendall(b"GET /bad-chunk-later HTTP/1.1\r\nHost: x\r\n\r\n")
            out = b""
            while b"first" not in out:
                data = client.recv(65536)
                assert data, out
                out += data
            up.first_chunk_arrived.set()
            out += read_until_closed(client)
        assert out.startswith(b"HTTP/1.1 200")
        assert b"first" in out and not out.endswith(b"0\r\n\r\n")
        wait_for(lambda: up.closed[0], what="the upstream connection to be closed")
        assert stat_value(weir.admin, "cluster.upstream.upstream_cx_protocol_error") == 1
        assert_still_serving(weir, weir.listen, weir.admin)
        assert len(up.received) == 2


# ---------------------------------------------------------------- time and count limits

def test_request_headers_timeout_answers_408_to_a_slow_head():
    hcm = "\n                request_headers_timeout: 0.3s"
    with ScriptedUpstream() as up, start(up, hcm) as weir:
        with socket.create_connection(("127.0.0.1", weir.listen), timeout=10) as client:
            # Slowloris: a byte at a time, never finishing; activity does not extend it.
            started = time.time()
            client.sendall(b"GET / HTTP/1.1\r\n")
            out = b""
            client.settimeout(0.1)
            for c in b"Host: x\r\nX-Slow: " + b"a" * 50:
                try:
                    client.sendall(bytes([c]))
                    out += client.recv(65536)
                except socket.timeout:
                    continue
                except (BrokenPipeError, ConnectionResetError):
                    break
                if out:
                    break
            out += read_until_closed(client)
        assert out.startswith(b"HTTP/1.1 408"), out
        assert time.time() - started < 5
        assert stat_value(weir.admin, "http.ingress_http.downstream_rq_header_timeout") == 1
        assert up.received == []  # nothing went upstream
        # A connection whose head is complete is not hit by it: requests then an idle
        # pause longer than the timeout (the time under test), then another request.
        with socket.create_connection(("127.0.0.1", weir.listen), timeout=10) as client:
            client.sendall(b"GET /one HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_ok_response(client).startswith(b"HTTP/1.1 200")
            time.sleep(0.6)  # idle longer than the header timeout: the time under test
            client.sendall(b"GET /two HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_ok_response(client).startswith(b"HTTP/1.1 200")
        assert stat_value(weir.admin, "http.ingress_http.downstream_rq_header_timeout") == 1
        assert_still_serving(weir, weir.listen, weir.admin)


def test_connection_idle_timeout_closes_an_idle_keep_alive_connection():
    hcm = "\n                common_http_protocol_options:\n                  idle_timeout: 0.3s"
    with ScriptedUpstream() as up, start(up, hcm) as weir:
        with socket.create_connection(("127.0.0.1", weir.listen), timeout=10) as client:
            client.sendall(b"GET /one HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_ok_response(client).startswith(b"HTTP/1.1 200")
            assert read_until_closed(client) == b""  # weir closes it once idle
        assert stat_value(weir.admin, "http.ingress_http.downstream_cx_idle_timeout") == 1
        assert_still_serving(weir, weir.listen, weir.admin)


def test_max_requests_per_connection_closes_after_the_last_one():
    hcm = "\n                common_http_protocol_options:\n                  max_requests_per_connection: 3"
    with ScriptedUpstream() as up, start(up, hcm) as weir:
        pipelined = b"".join(b"GET /r%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(5))
        out = raw_exchange(weir.listen, pipelined)
        assert out.count(b"HTTP/1.1 200") == 3, out
        responses = out.split(b"HTTP/1.1 ")[1:]
        assert b"connection: close" not in responses[0] and b"connection: close" not in responses[1]
        assert b"connection: close" in responses[2]
        assert stat_value(weir.admin, "http.ingress_http.downstream_cx_max_requests_reached") == 1
        assert b"/r3" not in b"".join(up.received)
        assert_still_serving(weir, weir.listen, weir.admin)


def test_max_headers_count_answers_431():
    hcm = "\n                common_http_protocol_options:\n                  max_headers_count: 5"
    with ScriptedUpstream() as up, start(up, hcm) as weir:
        # Host, three more and Connection: five fields.
        few = b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"x-%d: v\r\n" % i for i in range(3))
        assert raw_exchange(weir.listen, few + b"Connection: close\r\n\r\n").startswith(b"HTTP/1.1 200")
        many = b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"x-%d: v\r\n" % i for i in range(5))
        out = raw_exchange(weir.listen, many + b"\r\n")
        assert out.startswith(b"HTTP/1.1 431"), out
        assert_still_serving(weir, weir.listen, weir.admin)


def test_max_request_headers_kb_answers_431():
    hcm = "\n                max_request_headers_kb: 2"
    with ScriptedUpstream() as up, start(up, hcm) as weir:
        ok = b"GET / HTTP/1.1\r\nHost: x\r\nx-a: " + b"a" * 1500 + b"\r\nConnection: close\r\n\r\n"
        assert raw_exchange(weir.listen, ok).startswith(b"HTTP/1.1 200")
        big = b"GET / HTTP/1.1\r\nHost: x\r\nx-a: " + b"a" * 2100 + b"\r\n\r\n"
        assert raw_exchange(weir.listen, big).startswith(b"HTTP/1.1 431")
        assert_still_serving(weir, weir.listen, weir.admin)


@pytest.mark.parametrize("hcm,message", [
    ("\n                max_request_headers_kb: 8193", "max_request_headers_kb"),
    ("\n                common_http_protocol_options:\n                  max_headers_count: 0",
     "max_headers_count"),
])
def test_limits_weir_cannot_keep_fail_to_load(hcm, message):
    weir = Weir(proxy_config(free_port(), free_port(), free_port(), hcm_extra=hcm))
    assert weir.proc.wait(timeout=20) != 0
    assert message in weir.logs()
    weir.stop()
