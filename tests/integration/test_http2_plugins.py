"""The same plugins, the same checks, over HTTP/1.1 and over HTTP/2 (cleartext, prior
knowledge), and both again over TLS (HTTP/2 chosen by ALPN), all through curl: what a
plugin sees and does must not depend on the protocol the client spoke. Go and Rust SDK
header plugins, the Go plugin's request-body rewrite, the AssemblyScript SDK's header
plugin, and the C++ SDK's response-body filter (examples/redact-body)."""
import json
import shutil
import subprocess
from pathlib import Path
from typing import NamedTuple, Optional

import pytest

from test_tls import certs, tls_socket  # noqa: F401  (certs: the module's CA and certificates)
from upstream import Upstream
from weir_harness import (PLUGIN_DIR, Weir, free_port, proxy_config, require, sdk_plugin, stats,
                          wasm_filter, wait_for)

CURL = shutil.which("curl")
PROTOCOLS = {"http1": ("--http1.1", "1.1", False), "http2": ("--http2-prior-knowledge", "2", False),
             "https1": ("--http1.1", "1.1", True), "h2-tls": ("--http2", "2", True)}


class Protocol(NamedTuple):
    name: str
    flag: str
    version: str
    certs: Optional[Path]  # TLS: the directory of the test certificates


def curl(port, protocol, path="/", headers=(), data=None):
    """(status, response headers dict, body) over `protocol`, checked to be that protocol."""
    args = [CURL, "-s", protocol.flag, "-D", "-", "-o", "/dev/stderr", "--max-time", "10"]
    for h in headers:
        args += ["-H", h]
    if data is not None:
        args += ["--data-binary", "@-"]
    if protocol.certs:
        url = f"https://a.example:{port}{path}"
        args += ["--cacert", str(protocol.certs / "ca.pem"), "--resolve",
                 f"a.example:{port}:127.0.0.1"]
    else:
        url = f"http://127.0.0.1:{port}{path}"
    out = subprocess.run(args + [url], capture_output=True, input=data, timeout=20, check=False)
    head = out.stdout.decode().split("\r\n")
    status_line = head[0].split()
    assert status_line[0] == f"HTTP/{protocol.version}", head[0]
    fields = {}
    for line in head[1:]:
        if ":" in line:
            k, _, v = line.partition(":")
            fields[k.strip().lower()] = v.strip()
    return int(status_line[1]), fields, out.stderr


def start(up, filters, protocol):
    listen, admin = free_port(), free_port()
    config = proxy_config(listen, admin, up.port, filters=filters)
    if protocol.certs:  # the one chain terminates TLS, offering h2 and http/1.1 by ALPN
        chain = "      filter_chains:\n        - filters:"
        assert chain in config
        socket = tls_socket(protocol.certs / "a.pem", protocol.certs / "a.key",
                            alpn=["h2", "http/1.1"], indent="          ")
        config = config.replace(chain, "      filter_chains:\n        -" + socket +
                                "\n          filters:")
    weir = Weir(config, args=("--concurrency", "1"), wait_ports=(listen, admin))
    weir.listen, weir.admin = listen, admin
    return weir


@pytest.fixture(params=list(PROTOCOLS))
def protocol(request, certs):  # noqa: F811
    require(CURL, "curl")
    flag, version, tls = PROTOCOLS[request.param]
    return Protocol(request.param, flag, version, certs if tls else None)


def test_go_plugin_headers_local_reply_and_request_body(protocol):
    path = sdk_plugin("go_headers.wasm")
    filters = wasm_filter("gh", path, configuration="gopher")
    with Upstream() as up, start(up, filters, protocol) as weir:
        status, headers, body = curl(weir.listen, protocol, "/g?x=1")
        assert status == 200, weir.logs()
        assert headers["x-go-config"] == "gopher"
        assert dict(json.loads(body)["headers"])["x-go-saw-path"] == "/g?x=1"
        status, _, body = curl(weir.listen, protocol, headers=["x-go-deny: 1"])
        assert (status, body) == (403, b"denied by go\n")
        # The body callback buffers the whole body and rewrites it.
        payload = b"hello body " * 5000
        status, _, body = curl(weir.listen, protocol, "/echo", headers=["x-go-upper-body: 1"],
                               data=payload)
        assert status == 200, weir.logs()
        assert json.loads(body)["body"] == payload.decode().upper()


def test_cpp_plugin_sees_request_protocol(protocol):
    path = sdk_plugin("header_filter.wasm")
    filters = wasm_filter("hf", path, configuration="c")
    with Upstream() as up, start(up, filters, protocol) as weir:
        status, headers, body = curl(weir.listen, protocol, "/p")
        assert status == 200, weir.logs()
        assert headers["x-weir-protocol"] == {"1.1": "HTTP/1.1", "2": "HTTP/2"}[protocol.version]
        assert dict(json.loads(body)["headers"])["x-weir-plugin-config"] == "c"


def test_rust_plugin_headers(protocol):
    path = sdk_plugin("rust_headers.wasm")
    filters = wasm_filter("rh", path, configuration="rusty")
    with Upstream() as up, start(up, filters, protocol) as weir:
        status, headers, body = curl(weir.listen, protocol, "/r?q=1")
        assert status == 200, weir.logs()
        assert headers["x-rust-config"] == "rusty"
        assert dict(json.loads(body)["headers"])["x-rust-saw-path"] == "/r?q=1"
        wait_for(lambda: stats(weir.admin)["rust_headers.active_requests"] == "0",
                 what="on_done ran")


def test_assemblyscript_plugin_headers(protocol):
    path = sdk_plugin("as_headers.wasm")
    filters = wasm_filter("ash", path, root_id="as_headers", configuration="asc")
    with Upstream() as up, start(up, filters, protocol) as weir:
        status, headers, body = curl(weir.listen, protocol, "/a")
        assert status == 200, weir.logs()
        assert headers["x-as-root-id"] == "as_headers"
        assert dict(json.loads(body)["headers"])["x-as-config"] == "asc"


def test_cpp_response_body_filter(protocol):
    path = PLUGIN_DIR / "redact-body.wasm"
    require(path.exists(), f"{path} not built")
    config = "pattern: ####-####-####-####\nmask: *"
    with Upstream() as up, start(up, wasm_filter("redact", path, root_id="redact_body",
                                                 configuration=config), protocol) as weir:
        status, _, body = curl(weir.listen, protocol, "/echo", data=b"card 1234-5678-9012-3456 ok")
        assert status == 200, weir.logs()
        assert b"card " + b"*" * 19 + b" ok" in body  # the whole match, dashes too
        assert b"1234" not in body
        assert stats(weir.admin)["redact_body.masked"] == "1"
