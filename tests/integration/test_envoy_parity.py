"""Envoy behaviours that plugin frameworks depend on, checked with a plugin built by the
public Go SDK (tests/plugins/go/go_parity): a filter that stops on its headers and
continues from its body callback, request-time properties, foreign functions."""
import hashlib
import json

from upstream import Upstream
from weir_harness import (Weir, free_port, proxy_config, request, sdk_plugin, stats,
                          wait_for, wasm_filter)


# go_parity stops on its headers and continues from its body callback: Envoy (>= 1.35)
# runs that only with allow_on_headers_stop_iteration; without it, a headers pause holds
# the body callbacks too (test_plugin_paused_for_an_auth_call_is_not_resumed_by_its_body).
ALLOW_STOP_ITERATION = "\n                        allow_on_headers_stop_iteration: true"


def parity_filter():
    return wasm_filter("parity", sdk_plugin("go_parity.wasm"), root_id="parity_root",
                       vm_id="parity_vm", extra=ALLOW_STOP_ITERATION)


def start(up, filters=None, hcm_extra="", route_extra="", listener_extra="", cluster_extra="",
          config=None):
    listen, admin = free_port(), free_port()
    if filters is None:
        filters = parity_filter()
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


def test_plugin_paused_for_an_auth_call_is_not_resumed_by_its_body():
    """Without allow_on_headers_stop_iteration (Envoy's default), a headers PAUSE holds the
    body and its callbacks too: go_auth pauses for its auth call and leaves the body
    callback to the Go SDK's default (Continue), which must not let the request through
    while the auth service has not answered."""
    import socket
    with socket.socket() as silent, Upstream() as up:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # connects, never answers: go_auth's 500 ms timeout decides
        listen, admin = free_port(), free_port()
        cfg = proxy_config(listen, admin, up.port,
                           extra_clusters={"auth": silent.getsockname()[1]},
                           filters=wasm_filter("go_auth", sdk_plugin("go_auth.wasm"), root_id=""))
        with Weir(cfg, args=("--concurrency", "1"), wait_ports=(listen, admin)) as weir:
            for body in (b"pay 10 to bob", b"x" * 200000):
                status, _, answer = request(listen, "POST", "/pay", body=body)
                assert (status, answer) == (500, b"auth service unavailable\n"), weir.logs()
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


# ---------------------------------------------------------------- 2.-5. properties

def parity_config(listen, admin, up_port, vhosts=None, hcm_extra="", route_config_extra="",
                  bootstrap_extra="", filters=None, listener_extra=""):
    """A config with node, listener, route and cluster metadata, and the go_parity plugin."""
    if filters is None:
        filters = parity_filter()
    if vhosts is None:
        vhosts = """
                    - name: all
                      domains: ["*"]
                      routes:
                        - name: main_route
                          match: { prefix: "/" }
                          route: { cluster: upstream }
                          metadata:
                            filter_metadata:
                              weir.test: { tier: gold, weight: 2.5, canary: true,
                                           tags: [a, b], nested: { k: v } }"""
    return f"""{bootstrap_extra}
node:
  id: node-1
  cluster: edge-cluster
  metadata: {{ ISTIO_VERSION: "1.20", region_hint: eu }}
  locality: {{ region: eu-west, zone: eu-west-1a }}
admin:
  address:
    socket_address: {{ address: 127.0.0.1, port_value: {admin} }}
static_resources:
  listeners:
    - name: ingress{listener_extra}
      metadata:
        filter_metadata:
          weir.listener: {{ role: edge }}
      address:
        socket_address: {{ address: 127.0.0.1, port_value: {listen} }}
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: ingress_http{hcm_extra}
                route_config:
                  name: local_routes{route_config_extra}
                  virtual_hosts:{vhosts}
                http_filters:{filters}
                  - name: envoy.filters.http.router
  clusters:
    - name: upstream
      type: STATIC
      connect_timeout: 1s
      metadata:
        filter_metadata:
          weir.cluster: {{ owner: team-a }}
      load_assignment:
        cluster_name: upstream
        endpoints:
          - lb_endpoints:
              - endpoint:
                  address:
                    socket_address: {{ address: 127.0.0.1, port_value: {up_port} }}
    - name: other
      type: STATIC
      connect_timeout: 1s
      load_assignment:
        cluster_name: other
        endpoints:
          - lb_endpoints:
              - endpoint:
                  address:
                    socket_address: {{ address: 127.0.0.1, port_value: {up_port} }}
"""


def start_parity(up, **kw):
    listen, admin = free_port(), free_port()
    weir = Weir(parity_config(listen, admin, up.port, **kw), args=("--concurrency", "1"),
                wait_ports=(listen, admin))
    weir.listen, weir.admin = listen, admin
    return weir


def props(weir, *paths, host=None, path="/"):
    headers = {"x-parity": "props", "x-props": ",".join(paths)}
    if host:
        headers["host"] = host
    status, _, body = request(weir.listen, path=path, headers=headers)
    assert status == 200, weir.logs()
    out = {}
    for line in body.decode().splitlines():
        name, _, value = line.partition(" ")
        out[name] = None if value.startswith("!") else bytes.fromhex(value)
    return out


def pairs(data):
    """Decodes Proxy-Wasm's serialized pairs."""
    import struct
    n = struct.unpack_from("<I", data)[0]
    sizes = [struct.unpack_from("<II", data, 4 + 8 * i) for i in range(n)]
    at, out = 4 + 8 * n, []
    for k, v in sizes:
        key = data[at:at + k]
        at += k + 1
        out.append((key, data[at:at + v]))
        at += v + 1
    return out


def test_request_time_properties_frameworks_read_first():
    with Upstream() as up, start_parity(up) as weir:
        p = props(weir, "cluster_name", "route_name", "plugin_root_id", "plugin_vm_id",
                  "plugin_name", "node.id", "node.cluster", "node.locality.region",
                  "node.metadata.ISTIO_VERSION")
        assert p == {"cluster_name": b"upstream", "route_name": b"main_route",
                     "plugin_root_id": b"parity_root", "plugin_vm_id": b"parity_vm",
                     "plugin_name": b"parity", "node.id": b"node-1",
                     "node.cluster": b"edge-cluster", "node.locality.region": b"eu-west",
                     "node.metadata.ISTIO_VERSION": b"1.20"}
        # upstream.address once the upstream is known (the response path).
        status, headers, _ = request(weir.listen)
        assert status == 200
        assert headers["x-upstream-address"] == f"127.0.0.1:{up.port}"


def test_node_metadata_map_and_node_message():
    with Upstream() as up, start_parity(up) as weir:
        p = props(weir, "node.metadata", "node")
        assert dict(pairs(p["node.metadata"])) == {b"ISTIO_VERSION": b"1.20",
                                                   b"region_hint": b"eu"}
        node = p["node"]  # a serialized envoy.config.core.v3.Node
        assert node.startswith(b"\x0a\x06node-1\x12\x0cedge-cluster\x1a")
        assert b"eu-west-1a" in node


def test_property_path_separators_are_checked():
    with Upstream() as up, start_parity(up) as weir:
        p = props(weir, "request.path", "requestXpath", "request.headersXhost", "plugin_nameX",
                  "node.idX", "cluster_name.x", "request.", path="/abc")
        assert p["request.path"] == b"/abc"
        for odd in ("requestXpath", "request.headersXhost", "plugin_nameX", "node.idX",
                    "cluster_name.x", "request."):
            assert p[odd] is None, odd


def test_route_cluster_and_listener_metadata():
    import struct
    with Upstream() as up, start_parity(up) as weir:
        p = props(weir, "route_metadata.filter_metadata.weir\\.test", "route_metadata",
                  "route_metadata.filter_metadata.weir.test.tier")
        # Dotted paths split at every dot: a namespace with a dot needs the token form,
        # which the props line cannot express; read the whole map instead.
        meta = dict(pairs(props(weir, "route_metadata.filter_metadata")
                          ["route_metadata.filter_metadata"]))
        ns = dict(pairs(meta[b"weir.test"]))
        assert ns[b"tier"] == b"gold"
        assert struct.unpack("<d", ns[b"weight"])[0] == 2.5
        assert ns[b"canary"] == b"\x01"
        assert [k for k, _ in pairs(ns[b"tags"])] == [b"a", b"b"]
        assert dict(pairs(ns[b"nested"])) == {b"k": b"v"}
        # The whole message: envoy.config.core.v3.Metadata, filter_metadata entry 1.
        raw = p["route_metadata"]
        assert raw[0] == 0x0a and b"weir.test" in raw and b"gold" in raw
        c = props(weir, "cluster_metadata.filter_metadata", "listener_metadata.filter_metadata",
                  "metadata")
        assert dict(pairs(dict(pairs(c["cluster_metadata.filter_metadata"]))[b"weir.cluster"])) \
            == {b"owner": b"team-a"}
        assert dict(pairs(dict(pairs(c["listener_metadata.filter_metadata"]))[b"weir.listener"])) \
            == {b"role": b"edge"}
        assert c["metadata"] == b""  # no dynamic metadata: an empty message


# ---------------------------------------------------------------- 4. virtual hosts and ports

VHOSTS = """
                    - name: ported
                      domains: ["foo:1234"]
                      routes:
                        - name: ported_route
                          match: { prefix: "/" }
                          direct_response: { status: 200, body: { inline_string: ported } }
                    - name: wild
                      domains: ["*.example.com"]
                      routes:
                        - name: wild_route
                          match: { prefix: "/" }
                          route: { cluster: other }
                    - name: prefixed
                      domains: ["api.*"]
                      routes:
                        - name: prefix_route
                          match: { prefix: "/" }
                          route: { cluster: other }
                    - name: default
                      domains: ["*"]
                      routes:
                        - name: default_route
                          match: { prefix: "/" }
                          route: { cluster: upstream }"""


def route_for(weir, host):
    return props(weir, "route_name", host=host)["route_name"].decode()


def test_virtual_hosts_match_the_host_with_its_port_as_envoy():
    with Upstream() as up, start_parity(up, vhosts=VHOSTS) as weir:
        assert route_for(weir, "foo:1234") == "ported_route"
        assert route_for(weir, "FOO:1234") == "ported_route"
        assert route_for(weir, "foo") == "default_route"
        assert route_for(weir, "foo:1235") == "default_route"
        assert route_for(weir, "a.example.com") == "wild_route"
        assert route_for(weir, "a.example.com:80") == "default_route"  # suffix sees the port
        assert route_for(weir, "example.com") == "default_route"  # the wildcard needs a label
        assert route_for(weir, "api.internal:8080") == "prefix_route"
        assert route_for(weir, "[::1]:1234") == "default_route"
        status, _, body = request(weir.listen, headers={"host": "foo:1234"})
        assert (status, body) == (200, b"ported")


def test_ignore_port_in_host_matching():
    with Upstream() as up, start_parity(
            up, vhosts=VHOSTS,
            route_config_extra="\n                  ignore_port_in_host_matching: true") as weir:
        assert route_for(weir, "foo:1234") == "default_route"
        assert route_for(weir, "a.example.com:80") == "wild_route"
        assert route_for(weir, "[::1]:1234") == "default_route"


def test_strip_any_host_port_changes_the_host_upstream_sees():
    with Upstream() as up, start_parity(up, vhosts=VHOSTS,
                                        hcm_extra="\n                strip_any_host_port: true") as weir:
        assert route_for(weir, "a.example.com:80") == "wild_route"
        status, _, body = request(weir.listen, headers={"host": "plain:9999"})
        assert status == 200, weir.logs()
        assert dict(json.loads(body)["headers"])["host"] == "plain"


def test_strip_matching_host_port_strips_only_the_listeners_port():
    with Upstream() as up, start_parity(up, vhosts=VHOSTS,
                                        hcm_extra="\n                strip_matching_host_port: true") as weir:
        assert route_for(weir, f"a.example.com:{weir.listen}") == "wild_route"
        assert route_for(weir, "a.example.com:81") == "default_route"


def test_plugin_rewriting_authority_reaches_another_virtual_host():
    with Upstream() as up, start_parity(up, vhosts=VHOSTS) as weir:
        status, _, body = request(weir.listen, headers={"host": "x",
                                                        "x-parity-authority": "foo:1234"})
        assert (status, body) == (200, b"ported"), weir.logs()
        p = props(weir, "route_name", "cluster_name", host="x")
        assert p == {"route_name": b"default_route", "cluster_name": b"upstream"}
        status, _, _ = request(weir.listen, headers={"host": "x",
                                                     "x-parity-authority": "b.example.com"})
        assert status == 200


def test_duplicate_domains_both_strip_modes_and_bad_metadata_fail_to_load():
    import subprocess
    from weir_harness import WEIR_BIN
    with Upstream() as up:
        dup = VHOSTS + """
                    - name: again
                      domains: ["FOO:1234"]"""
        for cfg, message in (
                (parity_config(free_port(), free_port(), up.port, vhosts=dup),
                 "Duplicate entry of domain FOO:1234"),
                (parity_config(free_port(), free_port(), up.port,
                               hcm_extra="\n                strip_any_host_port: true"
                                         "\n                strip_matching_host_port: true"),
                 "oneof"),
                (parity_config(free_port(), free_port(), up.port).replace(
                    "weir.cluster: { owner: team-a }", "weir.cluster: 5"),
                 "a filter_metadata entry must be a mapping")):
            import tempfile
            with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
                f.write(cfg)
                f.flush()
                r = subprocess.run([str(WEIR_BIN), "-c", f.name, "--mode", "validate"],
                                   capture_output=True, text=True, timeout=60)
            assert r.returncode != 0
            assert message in r.stderr + r.stdout, r.stderr


# ---------------------------------------------------------------- 6. foreign functions

def serialization_failure(headers):
    # The Go SDK names no status 3 (SERIALIZATION_FAILURE): it says "unknown status code: 3".
    return headers["x-foreign-error"].endswith("status code: 3")


def test_compress_and_uncompress_foreign_functions_use_zlib_as_envoy():
    import zlib
    with Upstream() as up, start_parity(up) as weir:
        data = b"weir compresses this " * 500
        status, headers, body = request(weir.listen, "POST", "/", body=data,
                                        headers={"x-parity": "compress"})
        assert status == 200, (headers, weir.logs())
        assert len(body) < len(data) and zlib.decompress(body) == data  # zlib format
        status, _, back = request(weir.listen, "POST", "/", body=zlib.compress(data),
                                  headers={"x-parity": "uncompress"})
        assert (status, back) == (200, data)
        # Not zlib data: an error status, and the proxy goes on.
        status, headers, _ = request(weir.listen, "POST", "/", body=b"not zlib at all",
                                     headers={"x-parity": "uncompress"})
        assert status == 500 and serialization_failure(headers)
        status, headers, _ = request(weir.listen, "POST", "/", body=b"x",
                                     headers={"x-parity": "foreign:no_such_function"})
        assert status == 500 and "not found" in headers["x-foreign-error"].lower()
        # Compressing an empty and a large incompressible body.
        assert request(weir.listen, "POST", "/", body=b"",
                       headers={"x-parity": "compress"})[0] == 200
        noise = bytes(range(256)) * 3000
        status, _, body = request(weir.listen, "POST", "/", body=noise,
                                  headers={"x-parity": "compress"})
        assert status == 200 and zlib.decompress(body) == noise


def test_uncompress_of_a_zip_bomb_is_refused_and_memory_stays_bounded():
    import zlib
    with Upstream() as up, start_parity(up) as weir:
        bomb = zlib.compress(b"\0" * (1 << 28), 9)  # 256 MiB of zeros in about 260 KB
        assert len(bomb) < 300_000
        status, headers, _ = request(weir.listen, "POST", "/", body=bomb,
                                     headers={"x-parity": "uncompress"}, timeout=60)
        assert status == 500, weir.logs()
        assert serialization_failure(headers)
        small = zlib.compress(b"\0" * (1 << 20))  # 1 MiB out: fine (the bound is 4 MiB)
        status, _, out = request(weir.listen, "POST", "/", body=small,
                                 headers={"x-parity": "uncompress"}, timeout=30)
        assert status == 200 and out == b"\0" * (1 << 20)
        rss_kib = int([l for l in open(f"/proc/{weir.proc.pid}/status")
                       if l.startswith("VmHWM")][0].split()[1])
        assert rss_kib < 400 * 1024, f"weir peaked at {rss_kib} KiB"


def test_compress_of_a_huge_buffer_is_refused():
    with Upstream() as up, start_parity(
            up, listener_extra="\n      per_connection_buffer_limit_bytes: 16777216") as weir:
        huge = bytes(range(256)) * (5 * 4096)  # 5 MiB, over the 4 MiB bound
        status, headers, _ = request(weir.listen, "POST", "/", body=huge,
                                     headers={"x-parity": "compress"}, timeout=60)
        assert status == 500, weir.logs()
        assert "bad argument" in headers["x-foreign-error"].lower()
        ok = bytes(range(256)) * (3 * 4096)  # 3 MiB: fine
        status, _, body = request(weir.listen, "POST", "/", body=ok,
                                  headers={"x-parity": "compress"}, timeout=60)
        import zlib
        assert status == 200 and zlib.decompress(body) == ok


# ---------------------------------------------------------------- 7. stats by plugin name

def test_plugin_time_is_keyed_by_plugin_name():
    plugin = sdk_plugin("header_filter.wasm")
    filters = (wasm_filter("first", plugin, root_id="") + wasm_filter("twice", plugin, root_id="")
               + wasm_filter("twice", plugin, root_id=""))
    with Upstream() as up, start(up, filters=filters) as weir:
        assert request(weir.listen)[0] == 200, weir.logs()
        names = [f"http.ingress_http.wasm.{n}.rq_wasm_time_us" for n in ("first", "twice",
                                                                         "twice_2")]
        # Recorded when the stream completes, just after the response went out.
        wait_for(lambda: all(stats(weir.admin)[n].startswith("P0(") for n in names),
                 what="each plugin's time recorded under its name")
        assert not any(".wasm.0." in k for k in stats(weir.admin))


def test_headers_paused_body_with_trailers_is_verified_then_trailers_follow():
    import socket
    with Upstream() as up, start(up) as weir:
        body = b"signed with trailers"
        sig = hashlib.sha256(body).hexdigest().encode()
        with socket.create_connection(("127.0.0.1", weir.listen), timeout=10) as s:
            s.sendall(b"POST /t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                      b"x-parity: sign\r\nx-signature: " + sig + b"\r\n\r\n"
                      b"%x\r\n%s\r\n0\r\nx-trailer: t1\r\n\r\n" % (len(body), body))
            data = b""
            while b"\r\n\r\n" not in data:
                data += s.recv(65536)
            assert data.startswith(b"HTTP/1.1 200"), data[:300]
        seen = up.requests[-1]
        assert dict(seen["headers"])["x-signature-verified"] == "yes"
        assert seen["body"] == body
