"""One listener serving TLS and plaintext, as Envoy does with the tls_inspector listener
filter and filter_chain_match.transport_protocol: plaintext HTTP/1.1 (and h2c) and TLS with
ALPN h2 on the same port; TLS chains chosen by application_protocols; clients that send
garbage, nothing, or half a ClientHello; configs weir cannot choose between fail to load."""
import os
import re
import socket
import subprocess
import time

from test_tls import certs, curl, s_client, start, tls_config, tls_socket  # noqa: F401
from weir_harness import WEIR_BIN, free_port, request, stats, wait_for

INSPECTOR = """
      listener_filters:
        - name: envoy.filters.listener.tls_inspector
          typed_config:
            "@type": type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector"""


def mixed_chains(certs, alpn=("h2", "http/1.1"), tls_extra=""):
    return [({"transport_protocol": "tls"},
             tls_socket(certs / "a.pem", certs / "a.key", alpn=list(alpn)), tls_extra),
            ({"transport_protocol": "raw_buffer"}, "", "")]


def mixed_config(certs, listen, admin, listener_extra="", tls_extra=""):
    return tls_config(listen, admin, 1, mixed_chains(certs, tls_extra=tls_extra), direct=True,
                      listener_extra=INSPECTOR + listener_extra)


def test_one_port_serves_plaintext_http1_and_tls_h2(certs):
    listen, admin = free_port(), free_port()
    with start(mixed_config(certs, listen, admin), listen, admin) as weir:
        status, _, body = request(listen)
        assert (status, body) == (200, b"hello over tls\n"), weir.logs()
        tls = ("--cacert", str(certs / "ca.pem"), "--resolve", f"a.example:{listen}:127.0.0.1",
               "-w", " %{http_version}")
        rc, out, err = curl(f"https://a.example:{listen}/", "--http2", *tls)
        assert (rc, out) == (0, "hello over tls\n 2"), err + weir.logs()
        rc, out, err = curl(f"https://a.example:{listen}/", "--http1.1", *tls)
        assert (rc, out) == (0, "hello over tls\n 1.1"), err
        # Cleartext HTTP/2 with prior knowledge on the same port (codec AUTO).
        rc, out, err = curl(f"http://127.0.0.1:{listen}/", "--http2-prior-knowledge", "-w",
                            " %{http_version}")
        assert (rc, out) == (0, "hello over tls\n 2"), err
        s = stats(admin)
        p = f"listener.127.0.0.1_{listen}."
        assert s[p + "tls_inspector.tls_found"] == "2"
        assert int(s[p + "tls_inspector.tls_not_found"]) == 2
        assert s[p + "ssl.handshake"] == "2"
        assert s["http.ingress_https.downstream_cx_ssl_total"] == "2"
        assert s["http.ingress_https.downstream_cx_http2_total"] == "2"


def test_garbage_silence_and_half_hellos_lose_only_their_connection(certs):
    """Garbage that is not a handshake record goes to the plaintext chain (HTTP/1 400, as
    Envoy's raw_buffer chain would); garbage after a handshake record byte is a failed
    handshake; a client that sends nothing is closed at listener_filters_timeout; through
    all of it other clients are served."""
    listen, admin = free_port(), free_port()
    cfg = mixed_config(certs, listen, admin, "\n      listener_filters_timeout: 0.5s",
                       "\n          transport_socket_connect_timeout: 0.5s")
    with start(cfg, listen, admin) as weir:
        with socket.create_connection(("127.0.0.1", listen), timeout=5) as s:
            s.sendall(b"\x00\xff" + os.urandom(3000))
            s.settimeout(5)
            data = b""
            try:
                while chunk := s.recv(4096):
                    data += chunk
            except ConnectionResetError:
                pass
            assert data.startswith(b"HTTP/1.1 400"), data[:100]
        with socket.create_connection(("127.0.0.1", listen), timeout=5) as s:
            s.sendall(b"\x16" + os.urandom(3000))
            s.settimeout(5)
            try:
                data = s.recv(4096)
            except ConnectionResetError:
                data = b""
            assert b"HTTP/1.1" not in data
        silent = [socket.create_connection(("127.0.0.1", listen), timeout=5) for _ in range(30)]
        half = []
        for _ in range(10):
            s = socket.create_connection(("127.0.0.1", listen), timeout=5)
            s.sendall(bytes.fromhex("160301020001"))
            half.append(s)
        # Meanwhile both transports are served.
        assert request(listen)[0] == 200
        rc, out = s_client(listen, "-servername", "a.example", "-alpn", "h2")
        assert "ALPN protocol: h2" in out, out
        started = time.time()
        for s in silent + half:
            s.settimeout(5)
            try:
                assert s.recv(100) == b""
            except ConnectionResetError:
                pass
            s.close()
        assert time.time() - started < 3  # both bounds are 0.5 s
        p = f"listener.127.0.0.1_{listen}."
        s = stats(admin)
        # The harness's port probe connected and left without a byte: closed, not counted.
        assert int(s[p + "downstream_pre_cx_timeout"]) >= 30
        assert s[p + "ssl.handshake_timeout"] == "10"
        assert int(s[p + "ssl.connection_error"]) >= 11
        assert request(listen)[0] == 200
        assert weir.proc.poll() is None


def test_application_protocols_choose_the_tls_chain(certs):
    chains = [({"application_protocols": ["h2"]},
               tls_socket(certs / "a.pem", certs / "a.key", alpn=["h2"]), ""),
              (None, tls_socket(certs / "b.pem", certs / "b.key", alpn=["http/1.1"]), "")]
    listen, admin = free_port(), free_port()
    with start(tls_config(listen, admin, 1, chains, direct=True), listen, admin):
        rc, out = s_client(listen, "-alpn", "h2,http/1.1")
        assert "subject=CN = a.example" in out and "ALPN protocol: h2" in out, out
        rc, out = s_client(listen, "-alpn", "http/1.1")
        assert "subject=CN = b.example" in out and "ALPN protocol: http/1.1" in out, out
        rc, out = s_client(listen)
        assert "subject=CN = b.example" in out, out


def validate(tmp_path, text):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(text)
    out = subprocess.run([str(WEIR_BIN), "-c", str(cfg), "--mode", "validate"],
                         capture_output=True, text=True, timeout=30)
    return out.returncode, out.stdout + out.stderr, cfg


def test_chains_weir_cannot_choose_between_fail_to_load(certs, tmp_path):
    listen, admin = free_port(), free_port()
    # Mixed without the inspector.
    rc, msg, cfg = validate(tmp_path, tls_config(listen, admin, 1, mixed_chains(certs),
                                                 direct=True))
    assert rc != 0 and "need the listener filter envoy.filters.listener.tls_inspector" in msg
    assert re.search(re.escape(str(cfg)) + r":\d+:\d+", msg), msg
    # Two plaintext chains that both match every connection.
    chains = mixed_chains(certs) + [(None, "", "")]
    rc, msg, cfg = validate(tmp_path, tls_config(listen, admin, 1, chains, direct=True,
                                                 listener_extra=INSPECTOR))
    assert rc != 0 and "two filter chains match every connection" in msg, msg
    # A chain matched as TLS that serves plaintext.
    chains = [({"transport_protocol": "tls"}, "", "")]
    rc, msg, cfg = validate(tmp_path, tls_config(listen, admin, 1, chains, direct=True,
                                                 listener_extra=INSPECTOR))
    assert rc != 0 and "the chain would serve the other transport's bytes" in msg, msg
    # Another listener filter.
    rc, msg, cfg = validate(tmp_path, tls_config(
        listen, admin, 1, mixed_chains(certs), direct=True,
        listener_extra="\n      listener_filters: [{name: envoy.filters.listener.proxy_protocol}]"))
    assert rc != 0 and "unsupported listener filter" in msg, msg
    # The valid one loads.
    rc, msg, cfg = validate(tmp_path, mixed_config(certs, listen, admin))
    assert rc == 0, msg


def test_continue_on_listener_filters_timeout_serves_a_late_client_in_plaintext(certs):
    listen, admin = free_port(), free_port()
    cfg = mixed_config(certs, listen, admin, "\n      listener_filters_timeout: 0.3s"
                                             "\n      continue_on_listener_filters_timeout: true")
    with start(cfg, listen, admin):
        with socket.create_connection(("127.0.0.1", listen), timeout=5) as s:
            wait_for(lambda: stats(admin)[f"listener.127.0.0.1_{listen}.downstream_pre_cx_timeout"]
                     != "0", what="the inspector's timeout")
            s.sendall(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
            assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"hello over tls\n"), data


def test_a_connection_being_inspected_across_a_reload_is_served(certs):
    """A client connected before a reload that sends its first bytes after it: the
    inspection keeps the configuration it started with alive, and the request is served
    (no reset, no crash in the retired configuration)."""
    listen, admin = free_port(), free_port()
    cfg = mixed_config(certs, listen, admin, "\n      listener_filters_timeout: 10s")
    with start(cfg, listen, admin) as weir:
        with socket.create_connection(("127.0.0.1", listen), timeout=10) as s:
            time.sleep(0.2)  # accepted, and the inspector waits for the first byte
            status, _, body = request(admin, method="POST", path="/reload")
            assert status == 200, body
            assert wait_for(lambda: stats(admin).get("server.config_reload") == "1"), weir.logs()
            time.sleep(0.2)
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
            assert data.startswith(b"HTTP/1.1 200"), data[:200] + weir.logs().encode()
        assert request(listen)[0] == 200  # the new configuration serves
