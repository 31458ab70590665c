"""HTTP/2 to upstreams: a real weir proxying to real HTTP/2 servers (h2_upstream.py, on
Python's h2), from HTTP/1.1 and HTTP/2 clients: multiplexing under max_concurrent_streams,
trailers both ways (gRPC's grpc-status), GOAWAY, resets, TLS with ALPN h2, plugins, a
plugin's proxy_http_call, flow control, and upstreams that break the protocol."""
import json
import shutil
import socket
import subprocess
import threading
import time

import pytest

from h2_upstream import H2Upstream, tls_context
from test_tls import certs, upstream_tls  # noqa: F401  (certs: a fixture)
from weir_harness import (ClosedPort, Weir, cluster, free_port, proxy_config, request, require,
                          sdk_plugin, stats, wait_for, wasm_filter)

import h2.config
import h2.connection
import h2.events


def h2_options(max_concurrent_streams=None, window=None, idle_timeout=None):
    """typed_extension_protocol_options making a cluster HTTP/2, as Envoy writes it."""
    opts = []
    if max_concurrent_streams:
        opts.append(f"max_concurrent_streams: {max_concurrent_streams}")
    if window:
        opts.append(f"initial_stream_window_size: {window}")
        opts.append(f"initial_connection_window_size: {window}")
    common = (f"\n          common_http_protocol_options: {{idle_timeout: {idle_timeout}}}"
              if idle_timeout else "")
    return f"""
      typed_extension_protocol_options:
        envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
          "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
          explicit_http_config:
            http2_protocol_options: {{{", ".join(opts)}}}{common}"""


def start(up_port, cluster_extra=None, filters="", more_clusters="", concurrency=1):
    listen, admin = free_port(), free_port()
    cfg = proxy_config(listen, admin, up_port, filters=filters,
                       cluster_extra=h2_options() if cluster_extra is None else cluster_extra)
    weir = Weir(cfg + more_clusters, args=("--concurrency", str(concurrency)),
                wait_ports=(listen, admin))
    weir.listen, weir.admin = listen, admin
    return weir


def seen(body):
    out = json.loads(body)
    out["headers"] = dict(out["headers"])
    out["trailers"] = dict(out["trailers"])
    return out


def cluster_stat(weir, name):
    return int(stats(weir.admin).get(f"cluster.upstream.{name}", "0"))


def h2_request(port, path, headers=(), body=b"", trailers=None, timeout=10):
    """One request over HTTP/2 with prior knowledge (Python's h2 as the client): returns
    (headers dict, body, trailers dict, reset error code or None)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True,
                                                             header_encoding="utf-8"))
    c.initiate_connection()
    sid = c.get_next_available_stream_id()
    end_on_headers = not body and not trailers
    c.send_headers(sid, [(":method", "POST" if body or trailers else "GET"), (":path", path),
                         (":scheme", "http"), (":authority", "weir.test"), *headers],
                   end_stream=end_on_headers)
    if body:
        c.send_data(sid, body, end_stream=not trailers)
    if trailers:
        c.send_headers(sid, list(trailers.items()), end_stream=True)
    sock.sendall(c.data_to_send())
    resp_headers, resp_trailers, data, reset = {}, {}, b"", None
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            done = False
            for ev in c.receive_data(chunk):
                if isinstance(ev, h2.events.ResponseReceived):
                    resp_headers = dict(ev.headers)
                elif isinstance(ev, h2.events.DataReceived):
                    data += ev.data
                    c.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.TrailersReceived):
                    resp_trailers = dict(ev.headers)
                elif isinstance(ev, h2.events.StreamEnded):
                    done = True
                elif isinstance(ev, h2.events.StreamReset):
                    reset, done = ev.error_code, True
            sock.sendall(c.data_to_send())
            if done:
                break
    finally:
        sock.close()
    return resp_headers, data, resp_trailers, reset


def test_http1_client_to_http2_upstream_without_hop_by_hop_fields():
    with H2Upstream() as up, start(up.port) as weir:
        status, headers, body = request(
            weir.listen, "POST", "/echo?q=1", body=b"hello upstream",
            headers={"connection": "x-hop", "x-hop": "1", "keep-alive": "timeout=5",
                     "te": "gzip", "x-kept": "yes"})
        assert status == 200, weir.logs()
        assert headers["x-upstream"] == "h2"
        s = seen(body)
        assert (s["method"], s["path"], s["scheme"]) == ("POST", "/echo?q=1", "http")
        assert s["authority"] == f"127.0.0.1:{weir.listen}"
        assert s["body"] == "hello upstream"
        for hop in ("connection", "x-hop", "keep-alive", "te", "host", "transfer-encoding"):
            assert hop not in s["headers"], hop
        assert s["headers"]["x-kept"] == "yes"
        # A second request reuses the connection.
        assert request(weir.listen, path="/echo")[0] == 200
        assert cluster_stat(weir, "upstream_cx_http2_total") == 1
        assert cluster_stat(weir, "upstream_rq_total") == 2
        assert cluster_stat(weir, "upstream_rq_2xx") == 2
        assert up.connections == 1


def test_http2_client_trailers_both_ways_reach_grpc_status():
    with H2Upstream() as up, start(up.port) as weir:
        headers, body, trailers, reset = h2_request(
            weir.listen, "/echo", headers=[("content-type", "application/grpc"),
                                           ("te", "trailers"), ("x-want-trailers", "1")],
            body=b"\x00\x00\x00\x00\x03abc", trailers={"x-request-trailer": "rt"})
        assert reset is None, weir.logs()
        assert headers[":status"] == "200"
        s = seen(body)
        assert s["body"] == "\x00\x00\x00\x00\x03abc"
        assert s["trailers"] == {"x-request-trailer": "rt"}
        assert s["headers"]["te"] == "trailers"
        assert trailers == {"grpc-status": "0", "x-upstream-trailer": "yes"}


def test_streams_multiplexed_on_few_connections_within_max_concurrent_streams():
    # The server allows 5 streams per connection, the config 10: the server's limit holds.
    with H2Upstream(max_concurrent_streams=5) as up, \
            start(up.port, h2_options(max_concurrent_streams=10)) as weir:
        results = []

        def one(i):
            results.append(request(weir.listen, path=f"/slow/1000?i={i}", timeout=20)[0])

        threads = [threading.Thread(target=one, args=(i,)) for i in range(40)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == [200] * 40, weir.logs()
        assert up.max_open_streams <= 5
        cx = cluster_stat(weir, "upstream_cx_http2_total")
        assert cx == up.connections
        assert 2 <= cx <= 8, cx  # ~40 / 5, not one per request
    # The config's limit, below the server's.
    with H2Upstream() as up, start(up.port, h2_options(max_concurrent_streams=3)) as weir:
        threads = [threading.Thread(target=request, args=(weir.listen,),
                                    kwargs={"path": "/slow/1000", "timeout": 20})
                   for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert up.max_open_streams <= 3
        # 12 at once on streams of 3: 4 connections (fewer if a slow machine staggers them).
        assert 2 <= cluster_stat(weir, "upstream_cx_http2_total") <= 4
        assert cluster_stat(weir, "upstream_rq_2xx") == 12


def test_goaway_moves_new_requests_to_a_new_connection():
    with H2Upstream() as up, start(up.port) as weir:
        status, _, body = request(weir.listen, path="/goaway")
        assert status == 200 and seen(body)["path"] == "/goaway"
        wait_for(lambda: cluster_stat(weir, "upstream_cx_close_notify") == 1, what="GOAWAY seen")
        assert request(weir.listen, path="/echo")[0] == 200
        assert up.connections == 2
        assert cluster_stat(weir, "upstream_cx_http2_total") == 2
        # The drained connection is closed once its last stream is done.
        wait_for(lambda: cluster_stat(weir, "upstream_cx_active") == 1, what="old connection closed")


def test_upstream_reset_before_and_after_the_response_started():
    with H2Upstream() as up, start(up.port) as weir:
        status, headers, body = request(weir.listen, path="/reset-early")
        assert status == 503
        assert body.startswith(b"upstream connect error or disconnect/reset before headers. "
                               b"reset reason: remote reset")
        # Mid-response: the client gets the head and then loses the stream (HTTP/2:
        # RST_STREAM; HTTP/1.1: the connection closes before the body's end).
        # (the head may still be queued when the reset comes: then only the reset is sent)
        headers, data, _, reset = h2_request(weir.listen, "/reset")
        assert reset is not None
        assert headers.get(":status") in (None, "200")
        with pytest.raises(Exception):
            request(weir.listen, path="/reset")
        assert cluster_stat(weir, "http2.rx_reset") >= 3
        # The connection and weir serve on.
        assert request(weir.listen, path="/echo")[0] == 200
        assert up.connections == 1


def test_refused_connection_is_a_503_connection_failure():
    with ClosedPort() as dead, start(dead) as weir:
        status, _, body = request(weir.listen, path="/echo")
        assert status == 503
        assert body.endswith(b"reset reason: connection failure"), body
        assert cluster_stat(weir, "upstream_cx_connect_fail") == 1
        assert cluster_stat(weir, "upstream_cx_active") == 0


def test_connection_lost_fails_every_stream_on_it():
    with H2Upstream() as up, start(up.port) as weir:
        slow = []
        t = threading.Thread(target=lambda: slow.append(request(weir.listen, path="/slow/3000")))
        t.start()
        wait_for(lambda: up.requests == 1, what="the slow request upstream")
        status, _, body = request(weir.listen, path="/close")
        t.join()
        for st, b in ((status, body), slow[0][::2]):
            assert st == 503
            assert b.endswith(b"reset reason: connection termination"), b
        assert up.connections == 1
        # A new connection for what comes next.
        assert request(weir.listen, path="/echo")[0] == 200
        assert up.connections == 2


def test_upstream_over_tls_offers_alpn_h2(certs):  # noqa: F811
    ctx = tls_context(certs / "upstream.pem", certs / "upstream.key")
    with H2Upstream(tls_context=ctx) as up, \
            start(up.port, h2_options() + upstream_tls(certs)) as weir:
        status, _, body = request(weir.listen, path="/echo")
        assert status == 200, weir.logs()
        assert seen(body)["scheme"] == "https"
        assert up.alpn == ["h2"]
        assert cluster_stat(weir, "ssl.handshake") == 1


def test_plugin_changes_headers_and_body_over_http2_upstream():
    with H2Upstream() as up, start(up.port, filters=wasm_filter(
            "body", sdk_plugin("body_filter.wasm"), root_id="")) as weir:
        status, headers, body = request(weir.listen, "POST", "/echo", body=b"make me loud")
        assert status == 200, weir.logs()
        assert body.endswith(b"-- seen by weir")
        assert seen(body[:-len(b"-- seen by weir")])["body"] == "MAKE ME LOUD"
    with H2Upstream() as up, start(up.port, filters=wasm_filter(
            "hf", sdk_plugin("header_filter.wasm"), root_id="my_root",
            configuration="from-config")) as weir:
        status, headers, body = request(weir.listen, path="/echo",
                                        headers={"x-remove-me": "1", "x-replace-me": "old"})
        assert status == 200, weir.logs()
        h = seen(body)["headers"]
        assert h["x-weir-plugin-config"] == "from-config"
        assert "x-remove-me" not in h and h["x-replace-me"] == "replaced"
        assert headers["x-weir-root-id"] == "my_root"


def test_plugin_http_call_to_an_http2_cluster():
    with H2Upstream() as auth, H2Upstream() as up, start(
            up.port, filters=wasm_filter("authz", sdk_plugin("auth_filter.wasm"), root_id="",
                                         configuration="auth 2000"),
            more_clusters=cluster("auth", auth.port, extra=h2_options())) as weir:
        status, _, body = request(weir.listen, path="/ok", headers={"x-auth-path": "/echo"})
        assert status == 200, weir.logs()
        assert auth.requests == 1
        # The auth service resets the stream: the call fails, the plugin answers.
        status, _, _ = request(weir.listen, path="/no", headers={"x-auth-path": "/reset-early"})
        assert status != 200
        assert int(stats(weir.admin)["cluster.auth.upstream_cx_http2_total"]) == 1


def test_slow_client_holds_the_upstream_by_flow_control():
    # A client that stops reading: weir stops consuming the stream's data, the upstream's
    # window closes, and what weir holds stays bounded (not the whole response). 12 MB:
    # more than the kernel's socket buffers take; the route timeout is raised as the
    # Python upstream is slow on a loaded machine.
    listen, admin = free_port(), free_port()
    with H2Upstream() as up:
        cfg = proxy_config(listen, admin, up.port, cluster_extra=h2_options(window=65535),
                           listener_extra="\n      per_connection_buffer_limit_bytes: 65536",
                           route_extra="\n                            timeout: 120s")
        with Weir(cfg, args=("--concurrency", "1"), wait_ports=(listen, admin)) as weir:
            weir.admin = admin
            size = 12_000_000
            sock = socket.create_connection(("127.0.0.1", listen), timeout=20)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            sock.sendall(f"GET /big/{size} HTTP/1.1\r\nhost: x\r\n\r\n".encode())
            wait_for(lambda: cluster_stat(weir, "upstream_flow_control_paused_reading_total") >= 1,
                     timeout=30, what="the upstream stream paused")
            time.sleep(0.5)
            stalled_at = up.bytes_sent
            time.sleep(0.5)
            assert up.bytes_sent - stalled_at <= 2 * 65535, "the upstream kept sending"
            assert stalled_at < size
            rss = int(open(f"/proc/{weir.proc.pid}/status").read().split("VmRSS:")[1].split()[0])
            assert rss < 150_000, f"{rss} kB"
            got = b""
            while len(got) < size + 100:
                chunk = sock.recv(1 << 20)
                if not chunk:
                    break
                got += chunk
                if len(got) > size and got.endswith(b"b" * 100):
                    head, _, body = got.partition(b"\r\n\r\n")
                    if len(body) == size:
                        break
            sock.close()
            head, _, body = got.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200") and len(body) == size
            assert cluster_stat(weir, "upstream_flow_control_resumed_reading_total") >= 1


def test_upstream_slow_to_read_pauses_the_client_upload():
    # The upstream grants 1 GiB windows and then stops reading: what weir holds of the
    # upload stays near the cluster's buffer limit (the client is paused), not the windows.
    size = 64 * 1024 * 1024
    with H2Upstream(mode="bigwindow") as up, start(up.port) as weir:
        sock = socket.create_connection(("127.0.0.1", weir.listen), timeout=20)
        sock.sendall(f"POST /stall-read HTTP/1.1\r\nhost: x\r\ncontent-length: {size}\r\n\r\n"
                     .encode())
        sock.setblocking(False)
        chunk, sent = b"u" * 65536, 0
        deadline = time.time() + 2.0  # the upstream reads again after 3 s
        while time.time() < deadline and sent < size:
            try:
                sent += sock.send(chunk[:min(len(chunk), size - sent)])
            except BlockingIOError:
                time.sleep(0.01)
        assert sent < size // 2, f"{sent} bytes accepted while the upstream read nothing"
        rss = int(open(f"/proc/{weir.proc.pid}/status").read().split("VmRSS:")[1].split()[0])
        assert rss < 150_000, f"{rss} kB"
        sock.setblocking(True)
        while sent < size:
            sent += sock.send(chunk[:min(len(chunk), size - sent)])
        response = b""
        while b"}" not in response:
            data = sock.recv(65536)
            if not data:
                break
            response += data
        sock.close()
        assert response.startswith(b"HTTP/1.1 200"), response[:200]
        body = response.partition(b"\r\n\r\n")[2]  # chunked: the JSON is its one chunk
        assert json.loads(body[body.index(b"{"):body.rindex(b"}") + 1])["received"] == size


def test_upstreams_that_break_http2_get_a_clean_error_and_weir_serves_on():
    with H2Upstream(mode="garbage") as bad, H2Upstream() as good, start(
            bad.port, more_clusters=cluster("good", good.port, extra=h2_options())) as weir:
        status, _, body = request(weir.listen, path="/echo")
        assert status in (502, 503), (status, body)
        assert cluster_stat(weir, "upstream_cx_protocol_error") >= 1
    with H2Upstream() as up, start(up.port) as weir:
        # A response head past the limits: the stream is reset, the connection lives on.
        status, _, _ = request(weir.listen, path="/huge-header")
        assert status in (502, 503)
        assert cluster_stat(weir, "http2.header_overflow") == 1
        assert request(weir.listen, path="/echo")[0] == 200
        assert weir.proc.poll() is None


def test_idle_connections_are_closed():
    with H2Upstream() as up, start(up.port, h2_options(idle_timeout="0.3s")) as weir:
        assert request(weir.listen, path="/echo")[0] == 200
        wait_for(lambda: cluster_stat(weir, "upstream_cx_idle_timeout") == 1, what="idle close")
        # The worker updates the two stats one after the other; /stats may fall between.
        wait_for(lambda: cluster_stat(weir, "upstream_cx_active") == 0, what="gauge drop")
        assert request(weir.listen, path="/echo")[0] == 200
        assert up.connections == 2


def test_use_downstream_protocol_config_follows_the_client():
    extra = """
      typed_extension_protocol_options:
        envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
          "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
          use_downstream_protocol_config:
            http_protocol_options: {}
            http2_protocol_options: {}"""
    with H2Upstream() as up, start(up.port, extra) as weir:
        # An HTTP/2 client: HTTP/2 upstream.
        headers, body, _, reset = h2_request(weir.listen, "/echo")
        assert reset is None and headers[":status"] == "200", weir.logs()
        assert cluster_stat(weir, "upstream_cx_http2_total") == 1
        # An HTTP/1.1 client: HTTP/1.1 upstream, which this HTTP/2-only server refuses.
        status, _, _ = request(weir.listen, path="/echo")
        assert status in (502, 503)
        assert cluster_stat(weir, "upstream_cx_http1_total") == 1


def test_h2load_many_streams_both_sides():
    h2load = shutil.which("h2load")
    require(h2load, "h2load (nghttp2-client)")
    with H2Upstream() as up, start(up.port, h2_options(max_concurrent_streams=50)) as weir:
        out = subprocess.run([h2load, "-n", "1000", "-c", "4", "-m", "25",
                              f"http://127.0.0.1:{weir.listen}/echo"],
                             capture_output=True, text=True, timeout=60).stdout
        assert "1000 succeeded, 0 failed, 0 errored" in out, out
        assert cluster_stat(weir, "upstream_rq_2xx") == 1000
        # 4 clients x 25 streams on connections of 50: a few connections, not hundreds.
        assert cluster_stat(weir, "upstream_cx_http2_total") <= 4
        assert up.max_open_streams <= 50
