"""Hostile plugins against a real weir process (issue 8, "Plugins").

- A 278-byte plugin like the one that crashed weir: its allocator adds a header to the map that
  proxy_get_header_map_pairs is returning.
- tests/plugins/c/hostile_plugin.c: its allocator attacks every host call that returns
  data (changes or frees what is being returned, answers or closes the stream, re-enters,
  switches contexts, grows memory, answers bad pointers). The plugin reports what it got
  in a local reply; weir must answer correctly and stay up.
- The bounds of vm_config.weir_limits: outstanding http calls, call response bytes,
  shared queue items, shared data bytes, log line length; plugin metric names that would
  alias weir's own stats.

After every case: the process is alive, the admin answers, and another request is
proxied. Memory: weir's RSS stays bounded where a plugin tries to make it grow."""
import http.client
import json
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from abi_support import request, stat, wait_for
from upstream import Upstream
from weir_harness import Weir, cluster, free_port, require, sdk_plugin

LIMITS = {
    "max_outstanding_calls": 10,
    "max_call_response_bytes": 1048576,
    "max_shared_queue_items": 100,
    "max_shared_data_bytes": 102400,
    "max_log_line_bytes": 1000,
}

# The allocator grows the header map (by a header of 4 KiB of 'a') while
# proxy_get_header_map_pairs is returning it, and hands back the last bytes of memory.
CRASH_WAT = """
(module
  (import "env" "proxy_get_header_map_pairs" (func $pairs (param i32 i32 i32) (result i32)))
  (import "env" "proxy_add_header_map_value" (func $add (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (data (i32.const 16) "x-grow")
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param $size i32) (result i32)
    (memory.fill (i32.const 1024) (i32.const 97) (i32.const 4096))
    (drop (call $add (i32.const 0) (i32.const 16) (i32.const 6) (i32.const 1024) (i32.const 4096)))
    (i32.sub (i32.const 131072) (local.get $size)))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (drop (call $pairs (i32.const 0) (i32.const 0) (i32.const 8)))
    (i32.const 0)))
"""

# The stat namespaces weir reserves (src/proxy_wasm/vm.cc, is_reserved_metric_name).
RESERVED_ROOTS = {"cluster", "cluster_manager", "control_plane", "filesystem", "http", "http1",
                  "http2", "http3", "listener", "listener_manager", "main_thread", "overload",
                  "runtime", "server", "stats", "tcp", "vhost", "wasm", "workers"}


def filter_yaml(name, path, failure_policy=None, limits=None):
    policy = f"\n                        failure_policy: {failure_policy}" if failure_policy else ""
    lim = ""
    if limits:
        lim = "\n                          weir_limits:" + "".join(
            f"\n                            {k}: {v}" for k, v in limits.items())
    return f"""
                  - name: envoy.filters.http.wasm
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
                      config:
                        name: {name}
                        root_id: {name}{policy}
                        configuration:
                          "@type": type.googleapis.com/google.protobuf.StringValue
                          value: "hostile configuration"
                        vm_config:
                          vm_id: {name}
                          runtime: "envoy.wasm.runtime.v8"{lim}
                          code:
                            local:
                              filename: {path}"""


def weir_config(listen, admin, clusters, filters):
    return f"""
admin:
  address:
    socket_address: {{ address: 127.0.0.1, port_value: {admin} }}
static_resources:
  listeners:
    - name: ingress
      address:
        socket_address: {{ address: 127.0.0.1, port_value: {listen} }}
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: ingress_http
                route_config:
                  name: local
                  virtual_hosts:
                    - name: all
                      domains: ["*"]
                      routes:
                        - match: {{ prefix: "/" }}
                          route: {{ cluster: upstream }}
                http_filters:{filters}
                  - name: envoy.filters.http.router
  clusters:{"".join(cluster(n, p) for n, p in clusters.items())}
"""


def start_weir(clusters, filters):
    listen, admin = free_port(), free_port()
    weir = Weir(weir_config(listen, admin, clusters, filters), args=("--concurrency", "1"),
                wait_ports=(listen, admin))
    weir.listen, weir.admin = listen, admin
    return weir


def rss_bytes(weir):
    for line in Path(f"/proc/{weir.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def assert_still_serving(weir, up):
    assert weir.proc.poll() is None, "weir died:\n" + weir.logs()[-3000:]
    assert request(weir.admin, path="/ready")[0] == 200
    # Counted by path: a case whose plugin continued its headers before answering locally
    # (/body) may reach the upstream late, as it would with Envoy.
    plain = lambda: sum(1 for r in up.requests if r["path"] == "/plain")
    before = plain()
    status, _, body = request(weir.listen, path="/plain")
    assert status == 200, weir.logs()[-3000:]
    assert json.loads(body)["path"] == "/plain"
    assert plain() == before + 1


def report(body):
    return dict(line.split("=", 1) for line in body.decode("latin-1").splitlines() if "=" in line)


def hostile_case(weir, path, **kw):
    status, headers, body = request(weir.listen, path=path, **kw)
    assert status == 200, (path, status, body[:300], weir.logs()[-3000:])
    return report(body)


@pytest.fixture(scope="module")
def blackhole():
    """A cluster endpoint that accepts connections (in the kernel's backlog) and never
    answers: calls to it stay in flight."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(128)
    yield s.getsockname()[1]
    s.close()


@pytest.fixture(scope="module")
def hostile(blackhole):
    path = sdk_plugin("hostile_plugin.wasm")
    with Upstream() as up:
        weir = start_weir({"upstream": up.port, "blackhole": blackhole},
                          filter_yaml("hostile", path, limits=LIMITS))
        with weir:
            weir.up = up
            yield weir


def test_the_allocator_that_grows_the_map_being_returned_crashed_weir(tmp_path):
    require(shutil.which("wat2wasm"), "wat2wasm (wabt) missing")
    wasm = tmp_path / "crash.wasm"
    (tmp_path / "crash.wat").write_text(CRASH_WAT)
    subprocess.run(["wat2wasm", str(tmp_path / "crash.wat"), "-o", str(wasm)], check=True)
    assert wasm.stat().st_size < 400
    with Upstream() as up:
        with start_weir({"upstream": up.port}, filter_yaml("crash", wasm)) as weir:
            for _ in range(3):
                status, _, body = request(weir.listen, path="/crash")
                assert status == 200, weir.logs()[-3000:]
                # The allocator's header reached the upstream: its host call took effect.
                assert ["x-grow", "a" * 4096] in json.loads(body)["headers"]
            assert_still_serving(weir, up)


def test_map_changed_by_the_allocator_is_returned_as_it_was(hostile):
    r = hostile_case(hostile, "/pairs", headers={"x-one": "1"})
    assert r["status"] == "0"
    assert r["has_attack"] == "0" and r["has_one"] == "1" and r["path"] == "/pairs"
    assert r["path_now"] == "/changed" and r["attack_len_now"] == "65536"
    assert_still_serving(hostile, hostile.up)


def test_header_value_removed_by_the_allocator_is_returned_intact(hostile):
    victim = "a header value long enough to live in its own heap block"
    r = hostile_case(hostile, "/value", headers={"x-victim": victim})
    assert r["status"] == "0" and r["value"] == victim and r["victim_now"] == "1"
    assert_still_serving(hostile, hostile.up)


def test_body_replaced_by_the_allocator_is_returned_intact(hostile):
    r = hostile_case(hostile, "/body", method="POST", body=b"b" * 100000)
    assert r["status"] == "0" and r["length"] == "100000" and r["intact"] == "1"
    assert r["now"] == "short"
    assert_still_serving(hostile, hostile.up)


@pytest.mark.parametrize("path, expected", [
    ("/shared", {"status": "0", "value": "small value", "same_cas": "1", "size_now": "10240",
                 "cas_changed": "1"}),
    ("/property", {"status": "0", "value": "an original value, long enough to live on the heap",
                   "value_now": "replaced"}),
    ("/property-headers", {"status": "0", "has_path": "1", "has_attack": "0"}),
    ("/config", {"status": "0", "value": "hostile configuration", "nested_status": "0",
                 "nested_value": "hostile configuration"}),
    ("/dequeue", {"status": "0", "value": "first", "nested_status": "0",
                  "nested_value": "second"}),
    ("/recurse", {"status": "0", "deepest": "8", "refused_status": "10"}),
    ("/effective", {"status": "0", "has_path": "1", "nested_status": "2", "after_status": "0"}),
    ("/grow", {"status": "0", "has_path": "1", "grew_pages": "512"}),
    ("/bad-pointer", {"status": "6", "path_after": "/bad-pointer"}),
    ("/pointer-at-end", {"status": "6", "path_after": "/pointer-at-end"}),
    ("/zero-pointer", {"status": "6", "path_after": "/zero-pointer"}),
    ("/iovecs", {"too_many": "28", "many": "0", "many_written": str(1024 * 1024),
                 "bad_iovec": "21", "bad_array": "21"}),
])
def test_allocator_attacks_get_correct_answers(hostile, path, expected):
    r = hostile_case(hostile, path)
    assert {k: r.get(k) for k in expected} == expected, r
    assert_still_serving(hostile, hostile.up)


def test_the_out_pointers_as_the_allocated_block(hostile):
    r = hostile_case(hostile, "/overlap", headers={"x-victim": "victim value"})
    assert r == {"status": "0", "ptr_is_block": "1", "size": "12"}
    assert_still_serving(hostile, hostile.up)


def test_local_reply_from_the_allocator(hostile):
    status, _, body = request(hostile.listen, path="/local-reply")
    assert (status, body) == (403, b"denied by the allocator")
    assert "/local-reply: status 0" in hostile.logs()
    assert_still_serving(hostile, hostile.up)


def test_close_from_the_allocator(hostile):
    conn = http.client.HTTPConnection("127.0.0.1", hostile.listen, timeout=10)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
        conn.request("GET", "/close")
        conn.getresponse().read()
    conn.close()
    assert wait_for(lambda: "/close: status 0" in hostile.logs())
    assert_still_serving(hostile, hostile.up)


def test_http_call_response_changed_by_the_allocator_is_returned_as_it_was(hostile):
    r = hostile_case(hostile, "/call/echo")
    assert r["call_status"] == "0" and int(r["headers"]) > 0
    assert r["pairs_status"] == "0" and r["pairs_count"] == r["headers"]
    assert r["pairs_has_attack"] == "0" and r["nested_status"] == "0"
    assert r["body_status"] == "0" and r["body_length"] == r["body_size"]
    assert r["body_now"] == "short"
    assert_still_serving(hostile, hostile.up)


# ---------------------------------------------------------------- limits


def test_outstanding_http_calls_are_bounded(hostile):
    r = hostile_case(hostile, "/calls")
    assert r["accepted"] == "10"
    assert r["refused_status"] == "10"  # INTERNAL_FAILURE
    assert stat(hostile, "wasm.plugin.hostile.http_calls_over_limit") == "30"
    assert_still_serving(hostile, hostile.up)
    # The 10 time out (500 ms, unanswered): then calls are accepted again.
    assert wait_for(lambda: stat(hostile, "cluster.blackhole.upstream_rq_timeout") == "10")
    assert hostile_case(hostile, "/call/echo")["call_status"] == "0"


# weir closes the upstream connection 1 MiB into the body: the upstream's send fails.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_an_http_call_response_past_the_limit_fails_the_call_and_is_not_buffered(hostile):
    before = rss_bytes(hostile)
    r = hostile_case(hostile, "/call/big/67108864")  # 64 MiB against a 1 MiB bound
    assert r["call_status"] == "0"
    assert r["headers"] == "0" and r["body_size"] == "0"  # delivered as a failed call
    assert stat(hostile, "wasm.plugin.hostile.http_call_responses_too_large") == "1"
    assert rss_bytes(hostile) - before < 16 * 1024 * 1024
    # A response within the bound is delivered whole.
    r = hostile_case(hostile, "/call/big/1000000")
    assert r["headers"] != "0" and r["body_size"] == "1000000"
    assert_still_serving(hostile, hostile.up)


def test_an_http_call_request_past_the_limit_is_refused(hostile):
    before = len(hostile.up.requests)
    assert hostile_case(hostile, "/big-request")["status"] == "2"  # BAD_ARGUMENT
    assert_still_serving(hostile, hostile.up)
    assert not any(r["path"] == "/echo" and len(r["body"]) > 0
                   for r in hostile.up.requests[before:])


def test_shared_data_bytes_are_bounded(hostile):
    before = rss_bytes(hostile)
    r = hostile_case(hostile, "/shared-flood")
    assert 80 < int(r["stored"]) < 100
    assert r["refused_status"] == "8"  # CAS_MISMATCH: what the Rust SDK handles
    assert r["shrink_status"] == "0"
    assert stat(hostile, "wasm.plugin.hostile.shared_data_full") == "1"
    assert rss_bytes(hostile) - before < 8 * 1024 * 1024
    assert_still_serving(hostile, hostile.up)


def test_shared_queue_items_are_bounded(hostile):
    r = hostile_case(hostile, "/queue-flood")
    assert r == {"queued": "100", "refused_status": "1", "drained": "100"}
    assert stat(hostile, "wasm.plugin.hostile.shared_queue_full") == "1"
    assert_still_serving(hostile, hostile.up)


def test_long_log_lines_are_cut(hostile):
    r = hostile_case(hostile, "/big-log")
    assert r["log"] == "0" and r["stdout_bytes"] == str(24 * 128 * 1024)
    logs = hostile.logs()
    cut = "wasm log hostile hostile: " + "a" * 1000 + "...[truncated]"
    assert logs.count(cut + "\n") >= 2, logs[-2000:]
    assert "wasm log hostile hostile: the line after" in logs
    assert max(len(line) for line in logs.splitlines()) < 1200
    assert int(stat(hostile, "wasm.plugin.hostile.log_lines_truncated")) >= 2
    assert_still_serving(hostile, hostile.up)


def test_metrics_that_alias_weir_stats_are_refused(hostile):
    r = hostile_case(hostile, "/metrics")
    for name in ("http.ingress_http.downstream_rq_total", "cluster.upstream.upstream_rq_200",
                 "server.live", "wasm.plugin.hostile.vm_failures",
                 "listener.127.0.0.1_80.downstream_cx_total", "runtime.load_success",
                 "envoy_cluster_upstream_rq_total", "envoy.anything", ""):
        assert r["counter " + name] == "2", name  # BAD_ARGUMENT
    assert r["counter hostile.requests"] == "0"
    assert r["gauge hostile.requests"] == "2"  # one name, one stat
    assert r["gauge hostile.level"] == "0"
    hostile_case(hostile, "/metrics")  # again: no second log line
    logs = hostile.logs()
    assert logs.count("proxy_define_metric('server.live') refused") == 1
    # /stats: weir's stats are weir's, the plugin's counter is the plugin's.
    status, _, text = request(hostile.admin, path="/stats")
    lines = text.decode().splitlines()
    assert "server.live: 1" in lines
    assert "hostile.requests: 2" in lines
    assert [l for l in lines if l.startswith("hostile.requests:")] == ["hostile.requests: 2"]
    status, _, prom = request(hostile.admin, path="/stats/prometheus")
    prom = prom.decode()
    assert "# TYPE hostile_requests counter" in prom
    assert "\nhostile_requests{} 2" in prom or "\nhostile_requests 2" in prom
    types = re.findall(r"^# TYPE (\S+) ", prom, re.M)
    assert len(types) == len(set(types))
    assert_still_serving(hostile, hostile.up)


def test_every_stat_weir_emits_is_in_a_reserved_namespace(hostile):
    """The rule for plugin metric names stays right as weir grows stats: each of weir's
    own is under a namespace plugins may not use."""
    hostile_case(hostile, "/metrics")
    request(hostile.listen, path="/plain")
    status, _, text = request(hostile.admin, path="/stats?format=json")
    names = [s["name"] for s in json.loads(text)["stats"] if "name" in s]
    plugin = {"hostile.requests", "hostile.level"}
    assert names
    strays = [n for n in names if n not in plugin and n.split(".")[0] not in RESERVED_ROOTS]
    assert strays == []


def test_memory_grown_past_the_limit_by_the_allocator_applies_the_failure_policy():
    path = sdk_plugin("hostile_plugin.wasm")
    limits = {"max_memory_bytes": 67108864}
    with Upstream() as up:
        with start_weir({"upstream": up.port},
                        filter_yaml("grower", path, failure_policy="FAIL_OPEN",
                                    limits=limits)) as weir:
            status, _, body = request(weir.listen, path="/grow-past-limit")
            assert status == 200
            r = report(body)
            if r.get("grew_pages") == "0":
                # An engine that caps memory during the call: the grow failed in the plugin,
                # which got its answer and lives on.
                assert r["status"] == "0"
                assert "past the limit" not in weir.logs()
            else:
                # One that checks when the call returns: the VM is stopped then, and
                # FAIL_OPEN proxies the requests that follow.
                assert "past the limit" in weir.logs()
                status, _, body = request(weir.listen, path="/grow-past-limit")
                assert status == 200 and json.loads(body)["path"] == "/grow-past-limit"
            assert rss_bytes(weir) < 256 * 1024 * 1024
            assert_still_serving(weir, up)
