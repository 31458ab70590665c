"""Real plugins (weir's C++ SDK and the public Rust, Go and AssemblyScript SDKs) in a real
weir process: headers, local replies, and what happens when a plugin misbehaves."""
import json
import time

import pytest

from weir_harness import sdk_plugin
from upstream import Upstream
from weir_harness import Weir, free_port, proxy_config, request, stats, wasm_filter


def start(filters, up, concurrency=1, hcm_extra=""):
    listen, admin = free_port(), free_port()
    weir = Weir(proxy_config(listen, admin, up.port, filters=filters, hcm_extra=hcm_extra),
                args=("--concurrency", str(concurrency)), wait_ports=(listen, admin))
    weir.listen, weir.admin = listen, admin
    return weir


def seen_headers(body):
    return dict(json.loads(body)["headers"])


def test_cpp_header_filter_changes_both_directions():
    path = sdk_plugin("header_filter.wasm")
    with Upstream() as up, start(wasm_filter("hf", path, root_id="my_root",
                                             configuration="from-config"), up) as weir:
        status, headers, body = request(weir.listen, headers={"x-remove-me": "1",
                                                              "x-replace-me": "old"})
        assert status == 200, weir.logs()
        h = seen_headers(body)
        assert h["x-weir-plugin-config"] == "from-config"
        assert "x-remove-me" not in h
        assert h["x-replace-me"] == "replaced"
        assert headers["x-weir-root-id"] == "my_root"


def test_local_reply_from_plugin_never_reaches_upstream():
    path = sdk_plugin("header_filter.wasm")
    with Upstream() as up, start(wasm_filter("hf", path), up) as weir:
        status, headers, body = request(weir.listen, headers={"x-local-reply": "418"})
        assert status == 418
        assert body == b"local reply from plugin\n"
        assert headers["x-local"] == "yes"
        assert up.requests == []
        assert request(weir.listen)[0] == 200  # the connection and plugin go on


def test_two_plugins_in_chain_in_config_order():
    hf = sdk_plugin("header_filter.wasm")
    tf = sdk_plugin("trap_filter.wasm")
    filters = wasm_filter("hf", hf, configuration="c1") + wasm_filter("tf", tf)
    with Upstream() as up, start(filters, up) as weir:
        status, headers, body = request(weir.listen)
        assert status == 200
        assert headers["x-trap-filter"] == "ok" and "x-weir-root-id" in headers


def test_trap_fails_the_request_with_503_and_proxy_keeps_serving():
    path = sdk_plugin("trap_filter.wasm")
    with Upstream() as up, start(wasm_filter("tf", path), up) as weir:
        assert request(weir.listen)[1]["x-trap-filter"] == "ok"
        status, _, _ = request(weir.listen, headers={"x-weir-trap": "1"})
        assert status == 503
        assert "tf" in weir.logs()
        # Fail closed (Envoy's default): the dead plugin answers 503 from now on.
        assert request(weir.listen)[0] == 503
        assert request(weir.admin, path="/ready")[0] == 200
        assert weir.proc.poll() is None
        assert stats(weir.admin)["wasm.plugin.tf.vm_failures"] == "1"


def test_fail_open_skips_a_dead_plugin():
    path = sdk_plugin("trap_filter.wasm")
    with Upstream() as up, start(wasm_filter("tf", path, extra="\n                        fail_open: true"), up) as weir:
        request(weir.listen, headers={"x-weir-trap": "1"})
        status, headers, _ = request(weir.listen)
        assert status == 200 and "x-trap-filter" not in headers


def test_fail_reload_brings_a_fresh_instance():
    path = sdk_plugin("trap_filter.wasm")
    extra = "\n                        failure_policy: FAIL_RELOAD"
    with Upstream() as up, start(wasm_filter("tf", path, extra=extra), up) as weir:
        assert request(weir.listen, headers={"x-weir-trap": "1"})[0] == 503
        deadline = time.time() + 10
        while time.time() < deadline:
            status, headers, _ = request(weir.listen)
            if status == 200:
                assert headers["x-trap-filter"] == "ok"
                break
            time.sleep(0.2)
        else:
            raise AssertionError("plugin never reloaded\n" + weir.logs())
        s = stats(weir.admin)
        assert s["wasm.plugin.tf.vm_failures"] == "1"
        assert int(s["wasm.plugin.tf.vm_reload_success"]) >= 1
        assert int(s["wasm.envoy.wasm.runtime.wasmtime.active"]) >= 1
        assert int(s["wasm.envoy.wasm.runtime.wasmtime.created"]) >= 3  # trial, worker, reload
        assert int(s["wasm.envoy.wasm.runtime.wasmtime.memory_bytes"]) > 0


def test_infinite_loop_is_interrupted():
    path = sdk_plugin("trap_filter.wasm")
    extra = "\n                        failure_policy: FAIL_RELOAD"
    with Upstream() as up, start(wasm_filter("tf", path, extra=extra), up) as weir:
        t = time.time()
        status, _, _ = request(weir.listen, headers={"x-weir-loop": "1"}, timeout=30)
        assert status == 503
        assert time.time() - t < 10
        assert request(weir.admin, path="/ready")[0] == 200


def test_memory_bomb_is_stopped():
    path = sdk_plugin("trap_filter.wasm")
    with Upstream() as up, start(wasm_filter("tf", path), up) as weir:
        status, _, _ = request(weir.listen, headers={"x-weir-grow": "1"}, timeout=60)
        assert status == 503
        assert weir.proc.poll() is None


def test_rust_plugin_reads_configuration_and_sets_headers():
    path = sdk_plugin("rust_headers.wasm")
    with Upstream() as up, start(wasm_filter("rh", path, configuration="rusty"), up) as weir:
        status, headers, body = request(weir.listen, path="/r?q=1")
        assert status == 200, weir.logs()
        assert headers["x-rust-config"] == "rusty"
        assert seen_headers(body)["x-rust-saw-path"] == "/r?q=1"
        # on_done/on_log run right after the response is written: wait for them.
        deadline = time.time() + 5
        while stats(weir.admin)["rust_headers.active_requests"] != "0" and time.time() < deadline:
            time.sleep(0.02)
        assert stats(weir.admin)["rust_headers.active_requests"] == "0"


def test_go_plugin_headers_and_local_reply():
    path = sdk_plugin("go_headers.wasm")
    with Upstream() as up, start(wasm_filter("gh", path, configuration="gopher"), up) as weir:
        status, headers, body = request(weir.listen, path="/g")
        assert status == 200, weir.logs()
        assert headers["x-go-config"] == "gopher"
        assert seen_headers(body)["x-go-saw-path"] == "/g"
        status, _, body = request(weir.listen, headers={"x-go-deny": "1"})
        assert (status, body) == (403, b"denied by go\n")


def test_assemblyscript_plugin_headers():
    path = sdk_plugin("as_headers.wasm")
    with Upstream() as up, start(wasm_filter("ash", path, root_id="as_headers",
                                             configuration="asc"), up) as weir:
        status, headers, body = request(weir.listen)
        assert status == 200, weir.logs()
        assert headers["x-as-root-id"] == "as_headers"
        assert seen_headers(body)["x-as-config"] == "asc"


def test_buffer_limit_follows_per_connection_buffer_limit_bytes():
    path = sdk_plugin("body_filter.wasm")
    with Upstream() as up:
        listen, admin = free_port(), free_port()
        cfg = proxy_config(listen, admin, up.port, filters=wasm_filter("body", path, root_id=""),
                           listener_extra="\n      per_connection_buffer_limit_bytes: 4096")
        with Weir(cfg, wait_ports=(listen, admin)) as weir:
            assert request(listen, method="POST", body=b"a" * 1000)[0] == 200
            status, _, _ = request(listen, method="POST", body=b"a" * 200000)
            assert status == 413, weir.logs()
