"""HTTP upgrades (WebSocket) through weir: tunnelled when upgrade_configs allows them,
forwarded as plain requests when not, and a switched upstream connection never pooled."""
import json
import socket

import pytest

from stream_checks import assert_still_serving, stat_value, wait_for
from weir_harness import Weir, free_port, proxy_config, raw_exchange, request
from websocket import OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, WebSocketClient, \
    WebSocketUpstream

WEBSOCKET_HCM = """
                upgrade_configs:
                  - upgrade_type: websocket"""


def start(upstream, hcm_extra="", route_extra="", concurrency=1):
    listen, admin = free_port(), free_port()
    cfg = proxy_config(listen, admin, upstream.port, hcm_extra=hcm_extra, route_extra=route_extra)
    weir = Weir(cfg, args=("--concurrency", str(concurrency)), wait_ports=(listen, admin))
    weir.listen, weir.admin = listen, admin
    return weir


def upstream_fields(body):
    return json.loads(body)["fields"]


def test_unsolicited_101_is_a_502_and_the_connection_is_never_reused():
    """Issue 8, reproduction 4: a 101 the client did not ask for used to be relayed and its
    connection pooled, so the next client's GET went into the switched connection."""
    with WebSocketUpstream() as up, start(up) as weir:
        for _ in range(3):
            status, _, _ = request(weir.listen, path="/switch")
            assert status == 502, weir.logs()
        status, _, body = request(weir.listen, path="/after")
        assert status == 200
        assert upstream_fields(body).get("host") is not None
        assert b"/after" not in up.switched_bytes
        assert up.switched_bytes == b""
        # Each /switch connection was closed; /after needed a fresh one.
        assert up.connections == 4
        assert stat_value(weir.admin, "cluster.upstream.upstream_cx_protocol_error") == 3
        assert stat_value(weir.admin, "http.ingress_http.downstream_cx_upgrades_total") == 0
        assert_still_serving(weir, weir.listen, weir.admin)


def test_unsolicited_101_to_an_upgrade_request_without_upgrade_config_is_a_502():
    with WebSocketUpstream() as up, start(up) as weir:
        client = WebSocketClient(weir.listen, path="/switch")
        assert client.status_line.startswith("HTTP/1.1 502"), client.status_line
        client.close()
        # The upgrade headers were not forwarded.
        start_line, fields = up.requests[0]
        assert start_line.startswith("GET /switch ")
        assert "upgrade" not in fields and "connection" not in fields
        assert_still_serving(weir, weir.listen, weir.admin)


def test_upgrade_without_config_is_forwarded_as_a_plain_request_and_the_connection_closes():
    with WebSocketUpstream() as up, start(up) as weir:
        client = WebSocketClient(weir.listen)
        assert client.status_line.startswith("HTTP/1.1 200"), client.status_line
        assert client.fields.get("connection") == "close"
        # The upstream saw no upgrade: no Upgrade, no Connection header.
        start_line, fields = up.requests[0]
        assert start_line.startswith("GET /ws ")
        assert "upgrade" not in fields and "connection" not in fields
        # What the client sends next (it may think it is talking WebSocket) is never
        # parsed as HTTP: weir closed the connection after the response.
        client.sock.settimeout(5)
        client.send(b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n")
        rest = client.reader.buf
        try:
            while True:
                data = client.sock.recv(65536)
                if not data:
                    break
                rest += data
        except ConnectionResetError:
            pass
        client.close()
        assert all("/smuggled" not in start for start, _ in up.requests)
        assert stat_value(weir.admin, "http.ingress_http.downstream_cx_upgrades_total") == 0
        assert_still_serving(weir, weir.listen, weir.admin)


def test_websocket_echo_through_a_tunnel():
    with WebSocketUpstream() as up, start(up, hcm_extra=WEBSOCKET_HCM) as weir:
        client = WebSocketClient(weir.listen)
        assert client.status_line.startswith("HTTP/1.1 101"), client.status_line
        assert client.fields["upgrade"].lower() == "websocket"
        assert client.fields["connection"].lower() == "upgrade"
        assert client.fields["sec-websocket-accept"] == client.expected_accept
        # The upstream got the handshake with its upgrade headers.
        _, fields = up.requests[0]
        assert fields["upgrade"] == "websocket" and fields["connection"].lower() == "upgrade"
        assert stat_value(weir.admin, "http.ingress_http.downstream_cx_upgrades_active") == 1

        client.send(b"hello", OP_TEXT)
        assert client.recv() == (OP_TEXT, b"hello")
        big = bytes(range(256)) * 4000  # 1 MB in one frame: crosses many reads both ways
        client.send(big, OP_BINARY)
        assert client.recv() == (OP_BINARY, big)
        client.send(b"p", OP_PING)
        assert client.recv() == (OP_PONG, b"p")
        # Many small frames in one write, answered in order.
        client.sock.sendall(b"".join(__import__("websocket").encode_frame(OP_TEXT, b"m%d" % i, True)
                                     for i in range(100)))
        for i in range(100):
            assert client.recv() == (OP_TEXT, b"m%d" % i)

        # Close handshake: the upstream answers the close frame and hangs up; weir closes
        # the client side too.
        client.send(b"\x03\xe8", OP_CLOSE)
        assert client.recv() == (OP_CLOSE, b"\x03\xe8")
        assert client.sock.recv(10) == b""
        client.close()
        wait_for(lambda: stat_value(weir.admin,
                                    "http.ingress_http.downstream_cx_upgrades_active") == 0,
                 what="upgrades_active back to 0")
        assert stat_value(weir.admin, "http.ingress_http.downstream_cx_upgrades_total") == 1
        assert_still_serving(weir, weir.listen, weir.admin)
        # The tunnel's upstream connection was never pooled: the next request opened a
        # connection of its own.
        assert up.connections == 2


def test_client_going_away_closes_the_upstream_side():
    with WebSocketUpstream() as up, start(up, hcm_extra=WEBSOCKET_HCM) as weir:
        client = WebSocketClient(weir.listen)
        assert client.status_line.startswith("HTTP/1.1 101")
        client.send(b"x", OP_TEXT)
        assert client.recv() == (OP_TEXT, b"x")
        client.sock.close()  # no close frame: the TCP connection just ends
        wait_for(lambda: up.closed_tunnels == 1, what="the upstream side to be closed")
        wait_for(lambda: stat_value(weir.admin,
                                    "http.ingress_http.downstream_cx_upgrades_active") == 0,
                 what="upgrades_active back to 0")
        assert_still_serving(weir, weir.listen, weir.admin)


def test_idle_tunnel_is_closed_by_the_stream_idle_timeout():
    hcm = WEBSOCKET_HCM + "\n                stream_idle_timeout: 0.3s"
    with WebSocketUpstream() as up, start(up, hcm_extra=hcm) as weir:
        client = WebSocketClient(weir.listen)
        assert client.status_line.startswith("HTTP/1.1 101")
        client.send(b"x", OP_TEXT)
        assert client.recv() == (OP_TEXT, b"x")
        client.sock.settimeout(10)
        assert client.sock.recv(10) == b""  # weir closed the idle tunnel
        client.close()
        wait_for(lambda: up.closed_tunnels == 1, what="the upstream side to be closed")
        assert stat_value(weir.admin, "http.ingress_http.downstream_rq_idle_timeout") == 1
        assert_still_serving(weir, weir.listen, weir.admin)


def test_route_can_disable_and_enable_upgrades():
    disabled_on_route = """
                            upgrade_configs:
                              - upgrade_type: websocket
                                enabled: false"""
    with WebSocketUpstream() as up, start(up, hcm_extra=WEBSOCKET_HCM,
                                          route_extra=disabled_on_route) as weir:
        client = WebSocketClient(weir.listen)
        assert client.status_line.startswith("HTTP/1.1 200"), client.status_line
        client.close()
        assert "upgrade" not in up.requests[0][1]
    disabled_on_hcm = WEBSOCKET_HCM + "\n                    enabled: false"
    enabled_on_route = """
                            upgrade_configs:
                              - upgrade_type: WebSocket"""
    with WebSocketUpstream() as up, start(up, hcm_extra=disabled_on_hcm,
                                          route_extra=enabled_on_route) as weir:
        client = WebSocketClient(weir.listen)
        assert client.status_line.startswith("HTTP/1.1 101"), client.status_line
        client.send(b"on", OP_TEXT)
        assert client.recv() == (OP_TEXT, b"on")
        client.close()
    with WebSocketUpstream() as up, start(up, hcm_extra=disabled_on_hcm) as weir:
        client = WebSocketClient(weir.listen)
        assert client.status_line.startswith("HTTP/1.1 200"), client.status_line
        client.close()


def test_upgrade_refused_by_the_upstream_is_relayed_and_nothing_is_reused():
    with WebSocketUpstream() as up, start(up, hcm_extra=WEBSOCKET_HCM) as weir:
        # /other answers a plain 200 to the upgrade request.
        client = WebSocketClient(weir.listen, path="/other")
        assert client.status_line.startswith("HTTP/1.1 200"), client.status_line
        assert client.fields.get("connection") == "close"
        client.sock.settimeout(5)
        rest = client.reader.buf
        while True:
            data = client.sock.recv(65536)
            if not data:
                break
            rest += data
        client.close()
        assert json.loads(rest)["fields"]["upgrade"] == "websocket"
        assert_still_serving(weir, weir.listen, weir.admin)
        assert up.connections == 2
        # Even with a body declared on the upgrade request, the connection is not reused.
        out = raw_exchange(weir.listen, b"GET /other HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                                        b"Connection: upgrade\r\nContent-Length: 5\r\n\r\nhello")
        assert out.startswith(b"HTTP/1.1 200")
        assert_still_serving(weir, weir.listen, weir.admin)
        # (It went out on the pooled connection of the /after before; the /after now
        # needed a new one.)
        assert up.connections == 3
        assert all(not start.startswith("hello") for start, _ in up.requests)
        assert stat_value(weir.admin, "http.ingress_http.downstream_cx_upgrades_total") == 0


def test_connect_is_refused():
    with WebSocketUpstream() as up, start(up, hcm_extra=WEBSOCKET_HCM) as weir:
        out = raw_exchange(weir.listen, b"CONNECT example.com:443 HTTP/1.1\r\n"
                                        b"Host: example.com:443\r\n\r\n\x16\x03\x01garbage")
        assert out.startswith(b"HTTP/1.1 403"), out
        assert b"connection: close" in out
        assert up.requests == []
        assert_still_serving(weir, weir.listen, weir.admin)


def test_bytes_sent_before_the_101_wait_for_it():
    """A client that sends frames right behind the handshake: they go to the upstream
    only once the upgrade succeeded, never as a pipelined HTTP request."""
    with WebSocketUpstream() as up, start(up, hcm_extra=WEBSOCKET_HCM) as weir:
        import base64
        import os
        from websocket import FrameReader, encode_frame, read_head
        key = base64.b64encode(os.urandom(16)).decode()
        with socket.create_connection(("127.0.0.1", weir.listen), timeout=10) as s:
            s.sendall((f"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()
                      + encode_frame(OP_TEXT, b"early", True))
            start_line, _, rest = read_head(s)
            assert start_line.startswith("HTTP/1.1 101")
            assert FrameReader(s, rest).read() == (OP_TEXT, b"early")
        assert_still_serving(weir, weir.listen, weir.admin)


@pytest.mark.parametrize("bad", ["filters: []", "upgrade_type: CONNECT"])
def test_upgrade_configs_weir_cannot_honour_fail_to_load(bad):
    listen, admin = free_port(), free_port()
    hcm = WEBSOCKET_HCM if "filters" in bad else ""
    hcm += "\n                upgrade_configs:\n                  - " + bad if "CONNECT" in bad \
        else "\n                    " + bad
    weir = Weir(proxy_config(listen, admin, free_port(), hcm_extra=hcm))
    assert weir.proc.wait(timeout=20) != 0
    assert "upgrade_configs" in weir.logs()
    weir.stop()
