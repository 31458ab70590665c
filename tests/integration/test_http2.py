"""Downstream HTTP/2 (cleartext, prior knowledge) through a real weir to a real HTTP/1.1
upstream, with real clients (curl, nghttp) and hand-made hostile frames (h2frames.py)."""
import json
import shutil
import socket
import subprocess
import threading
import time

import pytest

import h2frames as h2
from stream_checks import small_asan_quarantine
from test_access_log import access_log, wait_for_lines
from upstream import Upstream
from weir_harness import Weir, free_port, proxy_config, request, require, stats, wait_for

CURL = shutil.which("curl")
NGHTTP = shutil.which("nghttp")


def curl(port, path="/", *args, timeout=10, stdin=None):
    """curl over cleartext HTTP/2 (prior knowledge): (status, http_version, body)."""
    out = subprocess.run(
        [CURL, "-s", "--http2-prior-knowledge", "-o", "-", "-w", "\n%{http_code} %{http_version}",
         "--max-time", str(timeout), *args, f"http://127.0.0.1:{port}{path}"],
        capture_output=True, check=False, timeout=timeout + 5, input=stdin)
    body, _, tail = out.stdout.rpartition(b"\n")
    code, version = tail.decode().split()
    return int(code), version, body


def hcm(codec="", http2_options=""):
    extra = f"\n                codec_type: {codec}" if codec else ""
    if http2_options:
        extra += "\n                http2_protocol_options:" + "".join(
            f"\n                  {k}: {v}" for k, v in http2_options.items())
    return extra


@pytest.fixture
def proxy():
    require(CURL, "curl")
    with Upstream() as up:
        listen, admin = free_port(), free_port()
        with Weir(proxy_config(listen, admin, up.port), wait_ports=(listen, admin)) as weir:
            weir.listen, weir.admin, weir.upstream = listen, admin, up
            yield weir


def seen(body):
    out = json.loads(body)
    out["headers"] = dict(out["headers"])
    return out


def test_curl_prior_knowledge_get(proxy):
    code, version, body = curl(proxy.listen, "/a/b?x=1", "-H", "x-test: 1")
    assert (code, version) == (200, "2")
    up = seen(body)
    # Upstream is HTTP/1.1: host comes from :authority, no pseudo header leaks.
    assert up["method"] == "GET" and up["path"] == "/a/b?x=1"
    assert up["headers"]["host"] == f"127.0.0.1:{proxy.listen}"
    assert up["headers"]["x-test"] == "1"
    assert not any(k.startswith(":") for k in up["headers"])
    s = stats(proxy.admin)
    assert int(s["http.ingress_http.downstream_cx_http2_total"]) == 1
    assert int(s["http.ingress_http.downstream_rq_2xx"]) == 1


def test_curl_post_body_and_big_response(proxy):
    payload = "x" * 200_000
    code, _, body = curl(proxy.listen, "/echo", "--data-binary", "@-", stdin=payload.encode())
    assert code == 200
    assert seen(body)["body"] == payload
    # A response larger than every default window: flow control moves it along.
    code, _, body = curl(proxy.listen, "/big/3000000")
    assert code == 200 and len(body) == 3_000_000


def test_small_windows_upload_moves_with_window_updates():
    """With 64 KiB windows a 3 MB upload only gets through if weir gives the window back
    as the upstream takes the data (flow control without auto window updates)."""
    require(CURL, "curl")
    with Upstream() as up:
        listen, admin = free_port(), free_port()
        opts = {"initial_stream_window_size": 65535, "initial_connection_window_size": 65535}
        with Weir(proxy_config(listen, admin, up.port, hcm_extra=hcm("HTTP2", opts)),
                  wait_ports=(listen, admin)):
            payload = b"0123456789abcdef" * (3 * 65536)
            code, _, body = curl(listen, "/echo", "--data-binary", "@-", stdin=payload)
            assert code == 200
            assert seen(body)["body"] == payload.decode()


def test_auto_serves_http1_and_http2_on_one_listener(proxy):
    assert request(proxy.listen, path="/one")[0] == 200
    assert curl(proxy.listen, "/two")[:2] == (200, "2")
    assert int(stats(proxy.admin)["http.ingress_http.downstream_cx_http2_total"]) == 1


def test_nghttp_concurrent_streams_one_connection(proxy):
    require(NGHTTP, "nghttp (nghttp2-client)")
    urls = [f"http://127.0.0.1:{proxy.listen}/n{i}" for i in range(20)]
    out = subprocess.run([NGHTTP, "-n", "-s", *urls], capture_output=True, text=True,
                         timeout=30, check=False)
    assert out.returncode == 0, out.stderr
    assert int(stats(proxy.admin)["http.ingress_http.downstream_rq_2xx"]) == 20
    assert int(stats(proxy.admin)["http.ingress_http.downstream_cx_http2_total"]) == 1
    assert len(proxy.upstream.requests) == 20


def test_nghttp_request_trailers_and_body(proxy, tmp_path):
    require(NGHTTP, "nghttp (nghttp2-client)")
    data = tmp_path / "body"
    data.write_bytes(b"0123456789" * 1000)
    out = subprocess.run([NGHTTP, "-d", str(data), "--trailer", "x-trailer: yes",
                          f"http://127.0.0.1:{proxy.listen}/echo"],
                         capture_output=True, timeout=30, check=False)
    assert out.returncode == 0, out.stderr
    up = seen(out.stdout)
    assert up["body"] == "0123456789" * 1000
    assert up["method"] == "POST"


def test_nghttp_response_trailers(proxy):
    require(NGHTTP, "nghttp (nghttp2-client)")
    out = subprocess.run([NGHTTP, "-v", f"http://127.0.0.1:{proxy.listen}/trailers"],
                         capture_output=True, text=True, timeout=30, check=False)
    assert out.returncode == 0, out.stderr
    # The upstream's chunked trailer comes back as a trailing HEADERS frame.
    assert "x-up-trailer: t1" in out.stdout
    assert "body" in out.stdout


def test_max_requests_per_connection_sends_goaway():
    with Upstream() as up:
        listen, admin = free_port(), free_port()
        extra = hcm("HTTP2") + """
                common_http_protocol_options:
                  max_requests_per_connection: 2"""
        with Weir(proxy_config(listen, admin, up.port, hcm_extra=extra),
                  wait_ports=(listen, admin)):
            with h2.Client(listen) as c:
                c.send(h2.headers(1, h2.request_block("/a")) + h2.headers(3, h2.request_block("/b")))
                frames, closed = c.frames_until_close(timeout=10)
                assert closed
                assert h2.goaway_code(frames) == h2.NO_ERROR
                ended = {f[2] for f in frames if f[0] == h2.DATA and f[1] & h2.END_STREAM}
                assert ended == {1, 3}


def test_idle_timeout_closes_with_goaway():
    with Upstream() as up:
        listen, admin = free_port(), free_port()
        extra = hcm("HTTP2") + """
                common_http_protocol_options:
                  idle_timeout: 0.3s"""
        with Weir(proxy_config(listen, admin, up.port, hcm_extra=extra),
                  wait_ports=(listen, admin)):
            with h2.Client(listen) as c:
                frames, closed = c.frames_until_close(timeout=5)  # the idle time under test
                assert closed
                assert h2.goaway_code(frames) == h2.NO_ERROR


def test_codec_http1_refuses_preface():
    with Upstream() as up:
        listen, admin = free_port(), free_port()
        with Weir(proxy_config(listen, admin, up.port, hcm_extra=hcm("HTTP1")),
                  wait_ports=(listen, admin)):
            with h2.Client(listen) as c:
                c.sock.settimeout(5)
                assert c.sock.recv(100).startswith(b"HTTP/1.1 400")
            assert request(listen)[0] == 200


def test_codec_http2_refuses_http1_with_goaway():
    with Upstream() as up:
        listen, admin = free_port(), free_port()
        with Weir(proxy_config(listen, admin, up.port, hcm_extra=hcm("HTTP2")),
                  wait_ports=(listen, admin)):
            with h2.Client(listen, preface=False) as c:
                c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                frames, closed = c.frames_until_close()
                assert closed
                assert h2.goaway_code(frames) == h2.PROTOCOL_ERROR
            assert curl(listen)[:2] == (200, "2")


def test_protocol_in_access_log_and_property(tmp_path):
    require(CURL, "curl")
    log = tmp_path / "access.log"
    fmt = """
                      log_format:
                        text_format_source:
                          inline_string: "%PROTOCOL% %REQ(:AUTHORITY)% %RESPONSE_CODE%\\n\""""
    with Upstream() as up:
        listen, admin = free_port(), free_port()
        with Weir(proxy_config(listen, admin, up.port, hcm_extra=access_log(log, fmt)),
                  wait_ports=(listen, admin)):
            assert curl(listen, "/x")[0] == 200
            assert request(listen, path="/y", headers={"host": "h1"})[0] == 200
            lines = wait_for_lines(log, 2)
    assert sorted(lines) == sorted([f"HTTP/2 127.0.0.1:{listen} 200", "HTTP/1.1 h1 200"])


def test_settings_honour_http2_protocol_options():
    with Upstream() as up:
        listen, admin = free_port(), free_port()
        opts = {"max_concurrent_streams": 7, "initial_stream_window_size": 70000}
        with Weir(proxy_config(listen, admin, up.port, hcm_extra=hcm("HTTP2", opts)),
                  wait_ports=(listen, admin)):
            with h2.Client(listen) as c:
                f = c.read_frame()
                assert f[0] == h2.SETTINGS
                values = {int.from_bytes(f[3][i:i + 2], "big"): int.from_bytes(f[3][i + 2:i + 6], "big")
                          for i in range(0, len(f[3]), 6)}
                assert values[3] == 7 and values[4] == 70000


def test_client_reset_counts_and_connection_lives(proxy):
    with h2.Client(proxy.listen) as c:
        c.send(h2.headers(1, h2.request_block("/slow/300")))
        c.send(h2.frame(h2.RST_STREAM, 0, 1, (8).to_bytes(4, "big")))
        c.send(h2.headers(3, h2.request_block("/after")))
        while True:
            f = c.read_frame()
            assert f is not None
            if f[0] == h2.DATA and f[2] == 3 and f[1] & h2.END_STREAM:
                break
    wait_for(lambda: int(stats(proxy.admin).get("http2.rx_reset", 0)) == 1, what="rx_reset")


def test_header_overflow_resets_stream_only():
    with Upstream() as up:
        listen, admin = free_port(), free_port()
        cfg = proxy_config(listen, admin, up.port, hcm_extra="\n                max_request_headers_kb: 4")
        with Weir(cfg, wait_ports=(listen, admin)):
            with h2.Client(listen) as c:
                c.send(h2.headers(1, h2.request_block(extra=[("x-big", "a" * 6000)])))
                c.send(h2.headers(3, h2.request_block("/fine")))
                got = {}
                while 1 not in got or 3 not in got:
                    f = c.read_frame()
                    assert f is not None
                    if f[0] == h2.RST_STREAM and f[2] == 1:
                        got[1] = "reset"
                    if f[0] == h2.HEADERS and f[2] == 3:
                        got[3] = "answered"
            s = stats(admin)
            assert int(s["http2.header_overflow"]) == 1
            assert int(s["http2.tx_reset"]) >= 1


def test_hpack_bomb_is_bounded():
    """One 4 KB entry in the dynamic table, referenced a thousand times (a 4 MB header list
    from a 4 KB header block): the stream is reset at the header limit."""
    with Upstream() as up:
        listen, admin = free_port(), free_port()
        with Weir(proxy_config(listen, admin, up.port), wait_ports=(listen, admin)):
            with h2.Client(listen) as c:
                block = h2.request_block() + h2.literal("x-bomb", "b" * 4000, index=True)
                block += h2.indexed(62) * 1000
                # Split over CONTINUATION frames as a client must past 16 KB.
                first, rest = block[:16000], block[16000:]
                c.send(h2.frame(h2.HEADERS, h2.END_STREAM, 1, first))
                c.send(h2.frame(h2.CONTINUATION, h2.END_HEADERS, 1, rest))
                f = c.read_frame()
                while f is not None and f[0] != h2.RST_STREAM and f[0] != h2.GOAWAY:
                    f = c.read_frame()
                assert f is not None
            assert curl(listen)[0] == 200
            assert int(stats(admin)["http2.header_overflow"]) == 1


def _goaway_and_others_served(listen, admin, attack, code):
    with h2.Client(listen) as c:
        attack(c)
        frames, closed = c.frames_until_close(timeout=10)
        assert closed, "weir kept the connection open"
        assert h2.goaway_code(frames) == code
    assert curl(listen)[:2] == (200, "2")
    assert request(listen)[0] == 200


@pytest.fixture
def h2proxy():
    require(CURL, "curl")
    with Upstream() as up:
        listen, admin = free_port(), free_port()
        # The memory test reads RSS: under make test-asan freed memory must not linger in
        # a 256 MiB quarantine.
        with Weir(proxy_config(listen, admin, up.port, hcm_extra=hcm("AUTO")),
                  wait_ports=(listen, admin), env=small_asan_quarantine()) as weir:
            weir.listen, weir.admin = listen, admin
            yield weir


def test_bad_preface(h2proxy):
    with h2.Client(h2proxy.listen, preface=False) as c:
        c.send(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n" + h2.settings())
        frames, closed = c.frames_until_close()
        assert closed
        assert h2.goaway_code(frames) in (None, h2.PROTOCOL_ERROR)
    assert curl(h2proxy.listen)[0] == 200


def test_frame_too_large(h2proxy):
    def attack(c):
        c.send(h2.headers(1, h2.request_block(), end_stream=False))
        c.send(h2.frame(h2.DATA, 0, 1, b"z" * 20000))  # over SETTINGS_MAX_FRAME_SIZE 16384
    _goaway_and_others_served(h2proxy.listen, h2proxy.admin, attack, h2.FRAME_SIZE_ERROR)


def test_empty_frames_flood(h2proxy):
    def attack(c):
        c.send(h2.headers(1, h2.request_block(), end_stream=False))
        c.send(h2.frame(h2.DATA, 0, 1) * 10)
    _goaway_and_others_served(h2proxy.listen, h2proxy.admin, attack, h2.PROTOCOL_ERROR)
    assert int(stats(h2proxy.admin)["http2.inbound_empty_frames_flood"]) == 1


def test_priority_frames_flood(h2proxy):
    def attack(c):
        c.send(h2.frame(h2.PRIORITY, 0, 1, b"\x00\x00\x00\x00\x10") * 300)
    _goaway_and_others_served(h2proxy.listen, h2proxy.admin, attack, h2.PROTOCOL_ERROR)
    assert int(stats(h2proxy.admin)["http2.inbound_priority_frames_flood"]) == 1


def test_window_update_frames_flood(h2proxy):
    # max_inbound_window_update_frames_per_data_frame_sent (10): WINDOW_UPDATEs that buy
    # nothing, with no DATA sent to earn them.
    def attack(c):
        c.send(h2.frame(h2.WINDOW_UPDATE, 0, 0, b"\x00\x00\x00\x01") * 100)
    _goaway_and_others_served(h2proxy.listen, h2proxy.admin, attack, h2.PROTOCOL_ERROR)
    assert int(stats(h2proxy.admin)["http2.inbound_window_update_frames_flood"]) == 1


def test_ping_flood_from_a_client_that_does_not_read(h2proxy):
    """PINGs whose acks the client never reads: the queued acks are bounded, the
    connection goes with ENHANCE_YOUR_CALM, nobody else notices."""
    c = h2.Client(h2proxy.listen)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    ping = h2.frame(h2.PING, 0, 0, b"12345678")
    sent = 0
    try:
        c.sock.settimeout(10)
        for _ in range(400):
            c.sock.sendall(ping * 1000)
            sent += 1000
    except (BrokenPipeError, ConnectionResetError, socket.timeout):
        pass
    c.close()
    s = stats(h2proxy.admin)
    assert int(s.get("http2.outbound_control_flood", 0)) + int(s.get("http2.outbound_flood", 0)) >= 1
    assert curl(h2proxy.listen)[:2] == (200, "2")


def test_settings_flood_from_a_client_that_does_not_read(h2proxy):
    c = h2.Client(h2proxy.listen)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        c.sock.settimeout(10)
        for _ in range(400):
            c.sock.sendall(h2.settings() * 1000)
    except (BrokenPipeError, ConnectionResetError, socket.timeout):
        pass
    c.close()
    s = stats(h2proxy.admin)
    assert int(s.get("http2.outbound_control_flood", 0)) + int(s.get("http2.outbound_flood", 0)) >= 1
    assert curl(h2proxy.listen)[:2] == (200, "2")


def test_rapid_reset(h2proxy):
    """CVE-2023-44487: streams opened and reset at once, over and over."""
    def attack(c):
        burst = b""
        for i in range(600):
            sid = 1 + 2 * i
            burst += h2.headers(sid, h2.request_block("/slow/200"))
            burst += h2.frame(h2.RST_STREAM, 0, sid, (8).to_bytes(4, "big"))
        c.send(burst)
    _goaway_and_others_served(h2proxy.listen, h2proxy.admin, attack, h2.ENHANCE_YOUR_CALM)


def test_drain_sends_goaway(h2proxy):
    with h2.Client(h2proxy.listen) as c:
        c.read_frame()  # server SETTINGS
        h2proxy.proc.send_signal(15)
        frames, closed = c.frames_until_close(timeout=10)
        assert h2.goaway_code(frames) == h2.NO_ERROR
        assert closed


def test_many_hostile_connections_memory_bounded(h2proxy):
    """Many connections each sending a header bomb and a flood: weir's memory stays put."""
    def rss():
        with open(f"/proc/{h2proxy.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    assert curl(h2proxy.listen)[0] == 200
    before = rss()
    for _ in range(50):
        with h2.Client(h2proxy.listen) as c:
            block = h2.request_block() + h2.literal("x-bomb", "b" * 4000, index=True)
            c.send(h2.headers(1, block + h2.indexed(62) * 3))
            c.send(h2.frame(h2.DATA, 0, 1) * 5)
            c.frames_until_close(timeout=5)
    assert curl(h2proxy.listen)[0] == 200
    assert rss() - before < 32 * 1024, f"RSS grew from {before} kB to {rss()} kB"


def test_request_headers_timeout_bounds_each_header_block():
    """request_headers_timeout, as for an HTTP/1 head: a client that starts a header block
    (HEADERS without END_HEADERS, or half a HEADERS frame) and never finishes it loses the
    connection (GOAWAY, downstream_rq_header_timeout); a block finished in time, and a
    connection that merely idles between streams, are not affected."""
    with Upstream() as up:
        listen, admin = free_port(), free_port()
        extra = hcm("HTTP2") + "\n                request_headers_timeout: 0.5s"
        with Weir(proxy_config(listen, admin, up.port, hcm_extra=extra),
                  wait_ports=(listen, admin)):
            block = h2.request_block("/slow")
            # A block split over CONTINUATION frames sent slowly, inside the bound.
            with h2.Client(listen) as c:
                c.send(h2.frame(h2.HEADERS, h2.END_STREAM, 1, block[:8]))
                time.sleep(0.2)
                c.send(h2.frame(h2.CONTINUATION, h2.END_HEADERS, 1, block[8:]))
                frames = [c.read_frame() for _ in range(4)]
                assert any(f and f[0] == h2.HEADERS and f[2] == 1 for f in frames), frames
                # Idle between streams for longer than the bound: still open.
                time.sleep(0.8)
                c.send(h2.headers(3, h2.request_block("/after-idle")))
                got = []
                while not any(f[0] == h2.HEADERS and f[2] == 3 for f in got):
                    f = c.read_frame()
                    assert f is not None, "closed while idle between streams"
                    got.append(f)
            # Never finished: a HEADERS without END_HEADERS, then silence.
            started = time.time()
            with h2.Client(listen) as c:
                c.send(h2.frame(h2.HEADERS, h2.END_STREAM, 1, block[:8]))
                frames, closed = c.frames_until_close(timeout=5)
                assert closed and h2.goaway_code(frames) is not None
            assert time.time() - started < 3
            # Half a HEADERS frame (its header says more bytes than ever come).
            with h2.Client(listen) as c:
                c.send(h2.headers(1, block)[:20])
                frames, closed = c.frames_until_close(timeout=5)
                assert closed
            assert stats(admin)["http.ingress_http.downstream_rq_header_timeout"] == "2"
            with h2.Client(listen) as c:  # and the next client is served
                c.send(h2.headers(1, h2.request_block("/next")))
                f = c.read_frame()
                while f is not None and not (f[0] == h2.HEADERS and f[2] == 1):
                    f = c.read_frame()
                assert f is not None
