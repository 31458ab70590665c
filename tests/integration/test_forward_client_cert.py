"""x-forwarded-client-cert (XFCC): weir terminates no TLS, so a client's XFCC header can only
be a forgery of an mTLS identity. As Envoy's default (forward_client_cert_details: SANITIZE),
weir removes it from every request before filters and the upstream see it; any mode that
would forward or build the header is a config error."""
import json
import socket
import subprocess

import pytest

from upstream import Upstream
from weir_harness import SOURCE_DIR, WEIR_BIN, Weir, free_port, proxy_config, request


def upstream_headers(upstream_body):
    return [name for name, _ in json.loads(upstream_body)["headers"]]


@pytest.mark.parametrize("hcm_extra", ["", "\n                forward_client_cert_details: SANITIZE"])
def test_client_xfcc_never_reaches_the_upstream(hcm_extra):
    listen, admin = free_port(), free_port()
    with Upstream() as up, Weir(proxy_config(listen, admin, up.port, hcm_extra=hcm_extra),
                                wait_ports=[listen]):
        status, _, body = request(listen, headers={
            "X-Forwarded-Client-Cert": 'By=spiffe://cluster.local/ns/default/sa/admin;Hash=abc',
            "x-kept": "yes"})
        assert status == 200
        names = upstream_headers(body)
        assert "x-forwarded-client-cert" not in names
        assert "x-kept" in names  # the request itself went through

        # Sent twice, in odd case, on a keep-alive connection's second request, with an
        # empty value: every copy goes.
        payload = (b"GET /one HTTP/1.1\r\nHost: a\r\n\r\n"
                   b"GET /two HTTP/1.1\r\nHost: a\r\nx-FORWARDED-client-CERT: one\r\n"
                   b"X-Forwarded-Client-Cert: two\r\nx-forwarded-client-cert:\r\n"
                   b"Connection: close\r\n\r\n")
        with socket.create_connection(("127.0.0.1", listen), timeout=10) as s:
            s.sendall(payload)
            reply = b""
            while True:
                data = s.recv(65536)
                if not data:
                    break
                reply += data
        assert reply.count(b"HTTP/1.1 200") == 2, reply
        assert len(up.requests) == 3
        for seen in up.requests:
            assert all(name != "x-forwarded-client-cert" for name, _ in seen["headers"]), seen
        assert up.requests[2]["path"] == "/two"


@pytest.mark.parametrize("mode", ["FORWARD_ONLY", "APPEND_FORWARD", "SANITIZE_SET",
                                  "ALWAYS_FORWARD_ONLY", "forward_only"])
def test_modes_that_forward_client_certificates_fail_to_load(tmp_path, mode):
    config = proxy_config(free_port(), free_port(), free_port(),
                          hcm_extra=f"\n                forward_client_cert_details: {mode}")
    path = tmp_path / "envoy.yaml"
    path.write_text(config)
    line = next(i + 1 for i, text in enumerate(config.splitlines())
                if "forward_client_cert_details" in text)
    out = subprocess.run([str(WEIR_BIN), "-c", str(path)], capture_output=True, text=True,
                         timeout=30, cwd=SOURCE_DIR)
    assert out.returncode == 1, out.stdout + out.stderr
    text = out.stdout + out.stderr
    assert f"{path}:{line}:" in text, text
    assert f"forward_client_cert_details {mode.upper()} is not supported" in text, text
    assert "weir has no client certificates to forward" in text, text


def test_an_unknown_mode_fails_to_load(tmp_path):
    config = proxy_config(free_port(), free_port(), free_port(),
                          hcm_extra="\n                forward_client_cert_details: BOGUS")
    path = tmp_path / "envoy.yaml"
    path.write_text(config)
    out = subprocess.run([str(WEIR_BIN), "-c", str(path)], capture_output=True, text=True,
                         timeout=30, cwd=SOURCE_DIR)
    assert out.returncode == 1
    assert "forward_client_cert_details BOGUS is not supported" in out.stdout + out.stderr
