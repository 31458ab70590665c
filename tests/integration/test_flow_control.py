"""Flow control (Envoy's watermark model) through a real weir process: 200 MiB to a reader
that stalls, in each direction and through a tunnel, keeps weir's memory within a few MiB
of per_connection_buffer_limit_bytes, and the transfer completes intact once the reader
reads. Also bodies a plugin holds while its headers wait."""
import hashlib
import json
import random
import socket
import struct
import threading
import time

import pytest

from stream_checks import (assert_still_serving, small_asan_quarantine, stat_value, vm_rss_kib,
                           wait_for)
from upstream import Upstream
from weir_harness import Weir, free_port, proxy_config, request, sdk_plugin, wasm_filter
from websocket import read_head

MIB = 1024 * 1024
TOTAL = 200 * MIB
BLOCK = random.Random(7).randbytes(MIB)  # the transfers repeat this block
# weir's growth allowed while a transfer is stalled: the 1 MiB limit on each of the two
# connections, one read batch in flight, and allocator slack. Without flow control the
# whole 200 MiB piles up.
ALLOWED_GROWTH_KIB = 8 * 1024


def expected_digest(n):
    h = hashlib.sha256()
    for _ in range(n // len(BLOCK)):
        h.update(BLOCK)
    h.update(BLOCK[:n % len(BLOCK)])
    return h.hexdigest()


class StreamingUpstream:
    """GET /stream/N: N bytes (content-length) of BLOCK repeated. GET /tunnel/N: a 101,
    then N raw bytes. POST /sink: reads the body only once `release` is set, then answers
    its length and sha256 as JSON. Anything else: 200 "ok". `sent` counts body bytes
    written so far."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.sent = 0
        self.sink_started = threading.Event()
        self.release = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.sock.close()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _send_blocks(self, conn, n):
        while n > 0:
            piece = BLOCK[:min(n, len(BLOCK))]
            conn.sendall(piece)
            n -= len(piece)
            self.sent += len(piece)

    def _serve(self, conn):
        rest = b""
        try:
            while True:
                start, fields, rest = read_head(conn, rest)
                method, target = start.split(" ")[:2]
                if target.startswith("/stream/"):
                    n = int(target.split("/")[2])
                    conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % n)
                    self._send_blocks(conn, n)
                elif target.startswith("/tunnel/"):
                    conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n"
                                 b"connection: upgrade\r\n\r\n")
                    self._send_blocks(conn, int(target.split("/")[2]))
                    return
                elif target == "/sink":
                    self.sink_started.set()
                    self.release.wait()
                    n, h = int(fields["content-length"]), hashlib.sha256()
                    h.update(rest[:n])
                    got, rest = len(rest[:n]), rest[n:]
                    while got < n:
                        data = conn.recv(min(MIB, n - got))
                        if not data:
                            return
                        h.update(data)
                        got += len(data)
                    body = json.dumps({"length": got, "sha256": h.hexdigest()}).encode()
                    conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(body) + body)
                else:
                    conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        except (ConnectionError, OSError):
            return
        finally:
            conn.close()


# A stalled 200 MiB transfer outlives Envoy's default 15 s route timeout.
NO_ROUTE_TIMEOUT = "\n                            timeout: 0s"


def start_weir(up, hcm_extra="", listener_extra="", cluster_extra=""):
    listen, admin = free_port(), free_port()
    cfg = proxy_config(listen, admin, up.port, hcm_extra=hcm_extra, listener_extra=listener_extra,
                       cluster_extra=cluster_extra, route_extra=NO_ROUTE_TIMEOUT)
    weir = Weir(cfg, args=("--concurrency", "1"), wait_ports=(listen, admin),
                env=small_asan_quarantine())
    weir.listen, weir.admin = listen, admin
    return weir


def wait_until_stalled(progress, what, polls=5, interval=0.1, timeout=60):
    """Polls `progress()` until it has not moved for `polls` polls in a row; returns it."""
    deadline = time.time() + timeout
    last, same = None, 0
    while time.time() < deadline:
        value = progress()
        same = same + 1 if value == last else 0
        last = value
        if same >= polls:
            return value
        time.sleep(interval)
    raise AssertionError(f"{what} never stalled (at {last})")


def read_response(sock, rest=b""):
    """Reads a content-length response; returns (status line, length, sha256)."""
    start, fields, rest = read_head(sock, rest)
    n, h, got = int(fields["content-length"]), hashlib.sha256(), 0
    h.update(rest[:n])
    got = len(rest[:n])
    while got < n:
        data = sock.recv(4 * MIB)
        if not data:
            break
        h.update(data[:n - got])
        got += len(data[:n - got])
    return start, got, h.hexdigest()


def test_slow_client_stops_the_upstream_and_weir_memory_stays_bounded():
    with StreamingUpstream() as up, start_weir(up) as weir:
        assert request(weir.listen, path="/warm")[0] == 200
        baseline = vm_rss_kib(weir.proc.pid)
        with socket.create_connection(("127.0.0.1", weir.listen), timeout=60) as client:
            client.sendall(b"GET /stream/%d HTTP/1.1\r\nHost: x\r\n\r\n" % TOTAL)
            # The client reads nothing: weir must stop reading the upstream.
            wait_for(lambda: stat_value(weir.admin,
                                        "cluster.upstream.upstream_flow_control_paused_reading_total"),
                     what="weir to pause reading the upstream")
            sent = wait_until_stalled(lambda: up.sent, "the upstream")
            stalled_rss = vm_rss_kib(weir.proc.pid)
            growth = stalled_rss - baseline
            print(f"\nslow client: weir RSS {baseline} KiB -> {stalled_rss} KiB "
                  f"(+{growth} KiB) with the upstream stalled after {sent / MIB:.1f} MiB")
            assert growth < ALLOWED_GROWTH_KIB, f"weir grew by {growth} KiB"
            assert sent < 64 * MIB, f"the upstream got {sent / MIB:.1f} MiB out"
            # Now the client reads: everything arrives, in order.
            status, length, digest = read_response(client)
        assert status.startswith("HTTP/1.1 200")
        assert length == TOTAL and digest == expected_digest(TOTAL)
        assert stat_value(weir.admin, "cluster.upstream.upstream_flow_control_resumed_reading_total") >= 1
        assert_still_serving(weir, weir.listen, weir.admin)


def test_slow_upstream_stops_the_client_and_weir_memory_stays_bounded():
    with StreamingUpstream() as up, start_weir(up) as weir:
        assert request(weir.listen, path="/warm")[0] == 200
        baseline = vm_rss_kib(weir.proc.pid)
        client = socket.create_connection(("127.0.0.1", weir.listen), timeout=120)
        progress = {"sent": 0}

        def send_body():
            client.sendall(b"POST /sink HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % TOTAL)
            for _ in range(TOTAL // MIB):
                client.sendall(BLOCK)
                progress["sent"] += MIB

        sender = threading.Thread(target=send_body, daemon=True)
        sender.start()
        try:
            assert up.sink_started.wait(20)
            wait_for(lambda: stat_value(weir.admin,
                                        "http.ingress_http.downstream_flow_control_paused_reading_total"),
                     what="weir to pause reading the client")
            sent = wait_until_stalled(lambda: progress["sent"], "the client")
            stalled_rss = vm_rss_kib(weir.proc.pid)
            growth = stalled_rss - baseline
            print(f"\nslow upstream: weir RSS {baseline} KiB -> {stalled_rss} KiB "
                  f"(+{growth} KiB) with the client stalled after {sent / MIB:.1f} MiB")
            assert growth < ALLOWED_GROWTH_KIB, f"weir grew by {growth} KiB"
            assert sent < 64 * MIB, f"the client got {sent / MIB:.1f} MiB in"
            assert stat_value(weir.admin, "cluster.upstream.upstream_flow_control_backed_up_total") >= 1
            up.release.set()  # the upstream reads now
            sender.join(120)
            assert not sender.is_alive()
            status, length, digest = read_response(client)
            assert status.startswith("HTTP/1.1 200")
            # The upstream's JSON answer: what arrived there, and its hash.
        finally:
            client.close()
        assert stat_value(weir.admin, "cluster.upstream.upstream_flow_control_drained_total") >= 1
        assert stat_value(weir.admin,
                          "http.ingress_http.downstream_flow_control_resumed_reading_total") >= 1
        assert_still_serving(weir, weir.listen, weir.admin)


def test_client_resetting_while_paused_ends_its_stream():
    """While weir does not read a client (its upstream is stalled), the client's reset
    still ends the stream and frees both connections. (A FIN could not get through: the
    client has filled weir's receive window.)"""
    with StreamingUpstream() as up, start_weir(up) as weir:
        client = socket.create_connection(("127.0.0.1", weir.listen), timeout=30)
        sender = threading.Thread(target=lambda: _send_ignoring_errors(client), daemon=True)
        sender.start()
        wait_for(lambda: stat_value(weir.admin,
                                    "http.ingress_http.downstream_flow_control_paused_reading_total"),
                 what="weir to pause reading the client")
        assert stat_value(weir.admin, "http.ingress_http.downstream_rq_active") == 1
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.shutdown(socket.SHUT_RDWR)  # wakes the sender
        sender.join(10)
        client.close()  # with a zero linger: a reset
        wait_for(lambda: stat_value(weir.admin, "http.ingress_http.downstream_rq_active") == 0
                 and stat_value(weir.admin, "http.ingress_http.downstream_cx_active") == 0
                 and stat_value(weir.admin, "cluster.upstream.upstream_cx_active") == 0,
                 what="the stream and both connections to end")
        assert_still_serving(weir, weir.listen, weir.admin)


def _send_ignoring_errors(client):
    try:
        client.sendall(b"POST /sink HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % TOTAL)
        for _ in range(TOTAL // MIB):
            client.sendall(BLOCK)
    except OSError:
        pass


def test_slow_upstream_request_body_arrives_intact():
    """The request side's bytes and checksum, checked by the upstream."""
    with StreamingUpstream() as up, start_weir(up) as weir:
        up.release.set()
        client = socket.create_connection(("127.0.0.1", weir.listen), timeout=60)
        n = 32 * MIB + 12345
        payload = (BLOCK * 33)[:n]
        client.sendall(b"POST /sink HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % n + payload)
        start, fields, rest = read_head(client)
        body = rest
        while len(body) < int(fields["content-length"]):
            body += client.recv(65536)
        client.close()
        answer = json.loads(body)
        assert answer == {"length": n, "sha256": hashlib.sha256(payload).hexdigest()}
        assert_still_serving(weir, weir.listen, weir.admin)


def test_tunnel_to_a_stalled_client_is_flow_controlled():
    hcm = "\n                upgrade_configs:\n                  - upgrade_type: websocket"
    with StreamingUpstream() as up, start_weir(up, hcm_extra=hcm) as weir:
        assert request(weir.listen, path="/warm")[0] == 200
        baseline = vm_rss_kib(weir.proc.pid)
        with socket.create_connection(("127.0.0.1", weir.listen), timeout=60) as client:
            client.sendall(b"GET /tunnel/%d HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                           b"Connection: Upgrade\r\n\r\n" % TOTAL)
            wait_for(lambda: stat_value(weir.admin,
                                        "cluster.upstream.upstream_flow_control_paused_reading_total"),
                     what="weir to pause reading the upstream")
            sent = wait_until_stalled(lambda: up.sent, "the upstream")
            growth = vm_rss_kib(weir.proc.pid) - baseline
            print(f"\ntunnel: weir RSS +{growth} KiB with the upstream stalled after "
                  f"{sent / MIB:.1f} MiB")
            assert growth < ALLOWED_GROWTH_KIB, f"weir grew by {growth} KiB"
            assert sent < 64 * MIB
            start, _, rest = read_head(client)
            assert start.startswith("HTTP/1.1 101")
            h, got = hashlib.sha256(rest), len(rest)
            while got < TOTAL:
                data = client.recv(4 * MIB)
                assert data, f"tunnel closed after {got} bytes"
                h.update(data)
                got += len(data)
            assert got == TOTAL and h.hexdigest() == expected_digest(TOTAL)
            assert client.recv(10) == b""  # the upstream hung up: so did weir
        assert_still_serving(weir, weir.listen, weir.admin)


def test_small_buffer_limits_from_listener_and_cluster():
    """per_connection_buffer_limit_bytes on the listener and the cluster set the
    watermarks: a 4 KiB limit pauses both ways, and transfers still complete."""
    with StreamingUpstream() as up, start_weir(
            up, listener_extra="\n      per_connection_buffer_limit_bytes: 4096",
            cluster_extra="\n      per_connection_buffer_limit_bytes: 4096") as weir:
        with socket.create_connection(("127.0.0.1", weir.listen), timeout=60) as client:
            client.sendall(b"GET /stream/%d HTTP/1.1\r\nHost: x\r\n\r\n" % (64 * MIB))
            wait_for(lambda: stat_value(weir.admin,
                                        "cluster.upstream.upstream_flow_control_paused_reading_total"),
                     what="weir to pause reading the upstream")
            status, length, digest = read_response(client)
        assert length == 64 * MIB and digest == expected_digest(64 * MIB)
        n = 16 * MIB
        payload = (BLOCK * 16)[:n]
        with socket.create_connection(("127.0.0.1", weir.listen), timeout=60) as client:
            sender = threading.Thread(target=client.sendall, daemon=True, args=(
                b"POST /sink HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % n + payload,))
            sender.start()
            wait_for(lambda: stat_value(weir.admin,
                                        "cluster.upstream.upstream_flow_control_backed_up_total"),
                     what="the upstream connection to back up")
            up.release.set()
            sender.join(60)
            start, fields, rest = read_head(client)
            while len(rest) < int(fields["content-length"]):
                rest += client.recv(65536)
        assert json.loads(rest) == {"length": n, "sha256": hashlib.sha256(payload).hexdigest()}
        assert stat_value(weir.admin, "cluster.upstream.upstream_flow_control_drained_total") >= 1
        assert_still_serving(weir, weir.listen, weir.admin)


def test_body_held_while_a_plugin_waits_is_flow_controlled_not_refused():
    """A plugin that pauses the request headers (an auth call) while a large body comes:
    past the buffer limit weir stops reading the client until the plugin lets go (Envoy's
    StopAllIterationAndWatermark), then the whole body goes upstream."""
    path = sdk_plugin("auth_filter.wasm")
    with Upstream() as up, Upstream() as auth:
        listen, admin = free_port(), free_port()
        cfg = proxy_config(listen, admin, up.port, extra_clusters={"auth": auth.port},
                           filters=wasm_filter("authz", path, root_id="",
                                               configuration="auth 5000"))
        with Weir(cfg, args=("--concurrency", "1"), wait_ports=(listen, admin)) as weir:
            body = bytes(BLOCK[:256 * 1024]) * 20  # 5 MiB
            status, _, answer = request(listen, "POST", "/upload", body=body,
                                        headers={"x-auth-path": "/slow/300"}, timeout=30)
            assert status == 200, weir.logs()
            assert json.loads(answer)["body"].encode("latin-1") == body
            assert stat_value(admin, "http.ingress_http.downstream_flow_control_paused_reading_total") >= 1
            assert stat_value(admin, "http.ingress_http.downstream_flow_control_resumed_reading_total") >= 1
            assert stat_value(admin, "http.ingress_http.downstream_rq_too_large") == 0
            assert_still_serving(weir, listen, admin)


def test_response_body_held_while_a_plugin_waits_stops_the_upstream():
    """The response side of the same: a plugin pauses the response headers for an auth
    call while 32 MiB of body arrive; weir holds up to the limit, stops reading the
    upstream, and relays everything once the plugin continues."""
    path = sdk_plugin("auth_filter.wasm")
    with StreamingUpstream() as up, Upstream() as auth:
        listen, admin = free_port(), free_port()
        cfg = proxy_config(listen, admin, up.port, extra_clusters={"auth": auth.port},
                           route_extra=NO_ROUTE_TIMEOUT,
                           filters=wasm_filter("authz", path, root_id="", configuration="auth 20000"))
        with Weir(cfg, args=("--concurrency", "1"), wait_ports=(listen, admin),
                  env=small_asan_quarantine()) as weir:
            assert request(listen, path="/warm")[0] == 200
            baseline = vm_rss_kib(weir.proc.pid)
            n = 32 * MIB
            with socket.create_connection(("127.0.0.1", listen), timeout=60) as client:
                client.sendall(b"GET /stream/%d HTTP/1.1\r\nHost: x\r\n"
                               b"x-auth-response-path: /slow/1500\r\n\r\n" % n)
                wait_for(lambda: stat_value(admin, "cluster.upstream."
                                                   "upstream_flow_control_paused_reading_total"),
                         what="weir to stop reading the upstream")
                growth = vm_rss_kib(weir.proc.pid) - baseline
                print(f"\nheld response: weir RSS +{growth} KiB while the plugin waits")
                assert growth < ALLOWED_GROWTH_KIB, f"weir grew by {growth} KiB"
                assert up.sent < n
                start, fields, rest = read_head(client)
                assert start.startswith("HTTP/1.1 200"), start
                assert fields["x-auth-status"] == "200"
                h, got = hashlib.sha256(rest), len(rest)
                while got < n:
                    data = client.recv(4 * MIB)
                    assert data
                    h.update(data)
                    got += len(data)
            assert got == n and h.hexdigest() == expected_digest(n)
            assert stat_value(admin, "http.ingress_http.rs_too_large") == 0
            assert_still_serving(weir, listen, admin)


def test_body_a_plugin_buffers_past_the_limit_is_413_and_counted():
    path = sdk_plugin("body_filter.wasm")
    with Upstream() as up:
        listen, admin = free_port(), free_port()
        cfg = proxy_config(listen, admin, up.port, filters=wasm_filter("body", path, root_id=""))
        with Weir(cfg, wait_ports=(listen, admin)) as weir:
            status, _, _ = request(listen, "POST", "/", body=b"x" * (3 * MIB))
            assert status == 413
            assert stat_value(admin, "http.ingress_http.downstream_rq_too_large") == 1
            assert_still_serving(weir, listen, admin)
