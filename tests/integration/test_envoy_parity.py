"""Envoy behaviours that plugin frameworks depend on, checked with a plugin built by the
public Go SDK (tests/plugins/go/go_parity): a filter that stops on its headers and
continues from its body callback, request-time properties, foreign functions."""
import hashlib
import json

from upstream import Upstream
from weir_harness import Weir, free_port, proxy_config, request, sdk_plugin, stats, wasm_filter


def start(up, filters=None, hcm_extra="", route_extra="", listener_extra="", cluster_extra="",
          config=None):
    listen, admin = free_port(), free_port()
    if filters is None:
        filters = wasm_filter("parity", sdk_plugin("go_parity.wasm"), root_id="parity_root",
                              vm_id="parity_vm")
    cfg = config or proxy_config(listen, admin, up.port, filters=filters, hcm_extra=hcm_extra,
                                 route_extra=route_extra, listener_extra=listener_extra,
                                 cluster_extra=cluster_extra)
    weir = Weir(cfg, args=("--concurrency", "1"), wait_ports=(listen, admin))
    weir.listen, weir.admin = listen, admin
    return weir


def signed(body):
    return {"x-parity": "sign", "x-signature": hashlib.sha256(body).hexdigest()}


# ---------------------------------------------------------------- 1. body continues headers

def test_headers_paused_body_verified_then_whole_request_goes_upstream():
    with Upstream() as up, start(up) as weir:
        body = b"pay 10 to bob" * 1000
        status, _, answer = request(weir.listen, "POST", "/pay", body=body, headers=signed(body))
        assert status == 200, weir.logs()
        seen = json.loads(answer)
        assert dict(seen["headers"])["x-signature-verified"] == "yes"
        assert seen["body"].encode("latin-1") == body
        assert seen["path"] == "/pay"


def test_headers_paused_chunked_body_in_pieces_is_verified():
    import socket
    with Upstream() as up, start(up) as weir:
        parts = [b"a" * 3000, b"b" * 5000, b"c" * 7]
        body = b"".join(parts)
        sig = hashlib.sha256(body).hexdigest().encode()
        with socket.create_connection(("127.0.0.1", weir.listen), timeout=10) as s:
            s.sendall(b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                      b"x-parity: sign\r\nx-signature: " + sig + b"\r\n\r\n")
            for p in parts:
                s.sendall(b"%x\r\n%s\r\n" % (len(p), p))
            s.sendall(b"0\r\n\r\n")
            data = b""
            while b"\r\n\r\n" not in data:
                data += s.recv(65536)
            assert data.startswith(b"HTTP/1.1 200"), data[:200]


def test_bad_signature_gets_the_local_reply_and_nothing_goes_upstream():
    with Upstream() as up, start(up) as weir:
        headers = signed(b"something else")
        status, _, answer = request(weir.listen, "POST", "/pay", body=b"pay 1000", headers=headers)
        assert (status, answer) == (401, b"bad signature\n"), weir.logs()
        assert not up.requests


def test_body_continue_request_over_the_buffer_limit_is_413():
    with Upstream() as up, start(up, listener_extra="\n      per_connection_buffer_limit_bytes: 65536") as weir:
        body = b"x" * (300 * 1024)
        status, _, _ = request(weir.listen, "POST", "/big", body=body, headers=signed(body))
        assert status == 413, weir.logs()
        assert stats(weir.admin)["http.ingress_http.downstream_rq_too_large"] == "1"
        assert not up.requests
        # The connection manager still serves.
        small = b"ok"
        assert request(weir.listen, "POST", "/s", body=small, headers=signed(small))[0] == 200


def test_response_headers_paused_body_counted_then_headers_and_body_go_out():
    with Upstream() as up, start(up) as weir:
        status, headers, answer = request(weir.listen, path="/big/70000",
                                          headers={"x-parity-response": "count"})
        assert status == 200, weir.logs()
        assert headers["x-body-bytes"] == "70000"
        assert len(answer) == 70000
