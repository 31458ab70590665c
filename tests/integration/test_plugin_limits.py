"""A plugin's limits, enforced inside the call, through a real weir process: an infinite
loop anywhere a plugin runs (start function, _initialize, on_vm_start, on_configure, a
tick, a request callback) is stopped within twice its call deadline while the worker keeps
serving; memory.grow fails at exactly the memory cap, inside the plugin; the compiled-code
cache is used on the next start, and a damaged entry is ignored and rebuilt.

The looping and memory-bomb plugins are written in WAT here and built with wat2wasm."""
import datetime
import re
import subprocess
import time

import pytest

from abi_support import stat, wait_for
from upstream import Upstream
from weir_harness import (PLUGIN_DIR, Weir, cluster, free_port, request, require, stats,
                          wasm_filter)

DEADLINE_MS = 200

# Shared by the generated plugins: the "armed" counter (a weir metric, so it outlives VMs)
# and a bump allocator.
WAT_COMMON = r"""
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (import "env" "proxy_define_metric" (func $define_metric (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_increment_metric" (func $increment_metric (param i32 i64) (result i32)))
  (import "env" "proxy_get_metric" (func $get_metric (param i32 i32) (result i32)))
  (import "env" "proxy_set_tick_period_milliseconds" (func $set_tick (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "limits_test.armed")
  (data (i32.const 32) "looping now")
  (global $heap (mut i32) (i32.const 4096))
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param $size i32) (result i32) (local $block i32)
    global.get $heap local.set $block
    global.get $heap local.get $size i32.add global.set $heap
    local.get $block)
  ;; The armed counter's id is kept at 80, its value read to 64.
  (func $armed (result i32)
    (drop (call $define_metric (i32.const 0) (i32.const 0) (i32.const 17) (i32.const 80)))
    (drop (call $get_metric (i32.load (i32.const 80)) (i32.const 64)))
    (i32.wrap_i64 (i64.load (i32.const 64))))
  (func $arm
    (drop (call $define_metric (i32.const 0) (i32.const 0) (i32.const 17) (i32.const 80)))
    (drop (call $increment_metric (i32.load (i32.const 80)) (i64.const 1))))
  ;; Logs "looping now" (the test reads its timestamp) and never returns.
  (func $loop_forever (local $i i32)
    (drop (call $log (i32.const 2) (i32.const 32) (i32.const 11)))
    (loop $forever
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $forever)))
  (func $loop_if_armed (if (call $armed) (then (call $loop_forever))))
"""

PHASES = ["start", "initialize", "vm_start", "configure", "tick", "request"]


def looping_plugin_wat(phase):
    """A plugin that loops in `phase`. Start-up phases loop only once armed, so weir
    starts; a request arms the plugin and traps, and the FAIL_RELOAD policy then makes a
    new VM, which loops while it starts."""
    def hook(name):
        if name != phase:
            return ""
        return "(call $loop_forever)" if phase in ("tick", "request") else "(call $loop_if_armed)"
    request_body = (hook("request") if phase == "request" else
                    "(if (i32.eqz (call $armed)) (then (call $arm) (unreachable)))")
    return f"""(module {WAT_COMMON}
  (func $start {hook("start")})
  (start $start)
  (func (export "_initialize") {hook("initialize")})
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) {hook("vm_start")} (i32.const 1))
  (func (export "proxy_on_configure") (param i32 i32) (result i32)
    {"(drop (call $set_tick (i32.const 20)))" if phase == "tick" else ""}
    {hook("configure")} (i32.const 1))
  (func (export "proxy_on_tick") (param i32) {hook("tick")})
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    {request_body} (i32.const 0))
)"""


# Grows memory one page at a time until memory.grow fails, then records what it saw: the
# page count at the failure, the failing result, and the result of one huge grow.
MEMORY_BOMB_WAT = """(module
  (import "env" "proxy_define_metric" (func $define_metric (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_record_metric" (func $record_metric (param i32 i64) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "bomb.pages_at_failure")
  (data (i32.const 32) "bomb.grow_result")
  (data (i32.const 64) "bomb.huge_grow_result")
  (data (i32.const 96) "bomb.max_pages_seen")
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param i32) (result i32) (i32.const 1024))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func $gauge (param $name i32) (param $len i32) (param $value i64)
    (drop (call $define_metric (i32.const 1) (local.get $name) (local.get $len) (i32.const 200)))
    (drop (call $record_metric (i32.load (i32.const 200)) (local.get $value))))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (local $result i32) (local $max i32)
    (block $failed
      (loop $grow
        (local.set $result (memory.grow (i32.const 1)))
        (br_if $failed (i32.eq (local.get $result) (i32.const -1)))
        ;; Touch the new page, as a real allocation would.
        (i32.store8 (i32.sub (i32.shl (memory.size) (i32.const 16)) (i32.const 1)) (i32.const 1))
        (if (i32.gt_u (memory.size) (local.get $max)) (then (local.set $max (memory.size))))
        (br $grow)))
    (call $gauge (i32.const 0) (i32.const 21) (i64.extend_i32_u (memory.size)))
    (call $gauge (i32.const 32) (i32.const 16) (i64.extend_i32_s (local.get $result)))
    (call $gauge (i32.const 64) (i32.const 21)
      (i64.extend_i32_s (memory.grow (i32.const 60000))))
    (call $gauge (i32.const 96) (i32.const 19) (i64.extend_i32_u (local.get $max)))
    (i32.const 0))
)"""


def build_wat(tmp_path, name, text):
    require(subprocess.run(["which", "wat2wasm"], capture_output=True).returncode == 0,
            "wat2wasm (wabt) not installed")
    wat = tmp_path / f"{name}.wat"
    wat.write_text(text)
    wasm = tmp_path / f"{name}.wasm"
    subprocess.run(["wat2wasm", str(wat), "-o", str(wasm)], check=True)
    return wasm


def limited_filter(name, wasm_path, limits, policy="FAIL_CLOSED"):
    """A wasm filter with vm_config.weir_limits and a failure policy."""
    return f"""
                  - name: envoy.filters.http.wasm
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
                      config:
                        name: {name}
                        root_id: ""
                        failure_policy: {policy}
                        vm_config:
                          vm_id: {name}
                          runtime: "envoy.wasm.runtime.wasmtime"
                          weir_limits: {{ {limits} }}
                          code:
                            local:
                              filename: {wasm_path}"""


def listener(name, port, filters=""):
    return f"""
    - name: {name}
      address:
        socket_address: {{ address: 127.0.0.1, port_value: {port} }}
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: {name}
                route_config:
                  virtual_hosts:
                    - name: all
                      domains: ["*"]
                      routes:
                        - match: {{ prefix: "/" }}
                          route: {{ cluster: upstream }}
                http_filters:{filters}
                  - name: envoy.filters.http.router"""


def two_listener_weir(upstream_port, filters, args=()):
    """One worker; listener `plugged` runs `filters`, listener `plain` runs none."""
    plugged, plain, admin = free_port(), free_port(), free_port()
    text = f"""
admin:
  address:
    socket_address: {{ address: 127.0.0.1, port_value: {admin} }}
static_resources:
  listeners:{listener("plugged", plugged, filters)}{listener("plain", plain)}
  clusters:{cluster("upstream", upstream_port)}
"""
    weir = Weir(text, args=("--concurrency", "1", *args), wait_ports=(plugged, plain, admin))
    weir.plugged, weir.plain, weir.admin = plugged, plain, admin
    return weir


LOG_TIME = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})\]")


def log_time(line):
    return datetime.datetime.strptime(LOG_TIME.match(line).group(1), "%Y-%m-%d %H:%M:%S.%f")


def stop_latency_ms(logs):
    """From the plugin's "looping now" to weir's report of the stop, by weir's own log."""
    lines = logs.splitlines()
    start = next(i for i, l in enumerate(lines) if "wasm log" in l and "looping now" in l)
    stop = next(i for i in range(start + 1, len(lines))
                if f"call deadline of {DEADLINE_MS} ms" in lines[i])
    return (log_time(lines[stop]) - log_time(lines[start])).total_seconds() * 1000


@pytest.mark.parametrize("phase", PHASES)
def test_infinite_loop_is_stopped_within_twice_the_deadline(tmp_path, phase):
    wasm = build_wat(tmp_path, f"loop_{phase}", looping_plugin_wat(phase))
    filters = limited_filter("looper", wasm, f"call_deadline: {DEADLINE_MS / 1000}s",
                             policy="FAIL_RELOAD")
    with Upstream() as up, two_listener_weir(up.port, filters) as weir:
        if phase in ("start", "initialize", "vm_start", "configure"):
            # Arms the plugin and traps: this request fails by policy.
            assert request(weir.plugged, timeout=30)[0] == 503, weir.logs()
            # Reloads the VM, which loops while it starts; the stream fails closed.
            started = time.monotonic()
            assert request(weir.plugged, timeout=30)[0] == 503, weir.logs()
            assert time.monotonic() - started < 2 * DEADLINE_MS / 1000 + 1, weir.logs()
            assert wait_for(lambda: "reloading the VM failed" in weir.logs()), weir.logs()
        elif phase == "request":
            started = time.monotonic()
            assert request(weir.plugged, timeout=30)[0] == 503, weir.logs()
            assert time.monotonic() - started < 2 * DEADLINE_MS / 1000 + 1, weir.logs()
            # The time inside the plugin is recorded as it was: the loop ran to the deadline.
            # (Recorded when the stream completes on its worker, which may be just after
            # the client read the 503: wait for it.)
            def recorded_sums():
                text = request(weir.admin, path="/stats?format=prometheus")[2]
                text = text.decode() if isinstance(text, bytes) else text
                return [int(float(v)) for v in re.findall(
                    r"envoy_http_wasm_looper_rq_wasm_time_us_sum\{[^}]*\} (\S+)", text)
                    if int(float(v)) > 0]
            sums = wait_for(recorded_sums) or []
            assert sums and DEADLINE_MS * 1000 <= max(sums) <= 30_000_000, weir.logs()
        else:  # tick: the worker's VM loops on its own, soon after start-up
            assert wait_for(lambda: stat(weir, "wasm.plugin.looper.vm_failures") == "1"), \
                weir.logs()
        logs = weir.logs()
        assert f"stopped after exceeding the call deadline of {DEADLINE_MS} ms" in logs, logs
        latency = stop_latency_ms(logs)
        print(f"{phase}: stopped {latency:.0f} ms after it began looping")
        assert DEADLINE_MS <= latency <= 2 * DEADLINE_MS, logs
        # The worker serves on, the admin answers, the process is up.
        for _ in range(5):
            assert request(weir.plain)[0] == 200
        assert request(weir.admin, path="/ready")[0] == 200
        assert weir.proc.poll() is None


def test_start_function_looping_at_start_up_fails_the_start_naming_the_deadline(tmp_path):
    text = looping_plugin_wat("start").replace("(call $loop_if_armed)", "(call $loop_forever)")
    wasm = build_wat(tmp_path, "loop_always", text)
    filters = limited_filter("looper", wasm, f"call_deadline: {DEADLINE_MS / 1000}s")
    with Upstream() as up:
        port, admin = free_port(), free_port()
        config = tmp_path / "envoy.yaml"
        config.write_text(f"""
admin:
  address:
    socket_address: {{ address: 127.0.0.1, port_value: {admin} }}
static_resources:
  listeners:{listener("plugged", port, filters)}
  clusters:{cluster("upstream", up.port)}
""")
        from weir_harness import WEIR_BIN
        run = subprocess.run([str(WEIR_BIN), "-c", str(config)], capture_output=True, text=True,
                             timeout=60)
        assert run.returncode != 0
        out = run.stdout + run.stderr
        assert ("start-up failed: instantiating the module failed: start function: stopped "
                f"after exceeding the call deadline of {DEADLINE_MS} ms") in out, out
        assert DEADLINE_MS <= stop_latency_ms(out) <= 2 * DEADLINE_MS, out


def test_memory_grow_fails_at_exactly_the_cap_inside_the_plugin(tmp_path):
    wasm = build_wat(tmp_path, "memory_bomb", MEMORY_BOMB_WAT)
    cap_pages = 64  # 4 MiB
    filters = limited_filter("bomb", wasm, f"max_memory_bytes: {cap_pages * 65536}")
    with Upstream() as up, two_listener_weir(up.port, filters) as weir:
        # The plugin handles the failure itself: the request goes on.
        assert request(weir.plugged)[0] == 200, weir.logs()
        s = stats(weir.admin)
        assert s["bomb.grow_result"] == "-1"
        assert s["bomb.pages_at_failure"] == str(cap_pages)
        assert s["bomb.max_pages_seen"] == str(cap_pages)  # never above, not even once
        assert s["bomb.huge_grow_result"] == "-1"
        assert "wasm.plugin.bomb.vm_failures" not in s  # nothing to kill
        # Again, in the same VM: still at the cap, still alive.
        assert request(weir.plugged)[0] == 200
        assert stats(weir.admin)["bomb.pages_at_failure"] == str(cap_pages)
        assert request(weir.plain)[0] == 200


def test_module_asking_for_more_memory_than_the_cap_fails_to_load(tmp_path):
    wasm = build_wat(tmp_path, "big_memory", MEMORY_BOMB_WAT.replace(
        '(memory (export "memory") 1)', '(memory (export "memory") 100)'))
    filters = limited_filter("bomb", wasm, f"max_memory_bytes: {64 * 65536}")
    with Upstream() as up:
        weir = Weir(f"""
static_resources:
  listeners:{listener("plugged", free_port(), filters)}
  clusters:{cluster("upstream", up.port)}
""", args=("--mode", "validate"))
        code = weir.proc.wait(timeout=60)
        logs = weir.logs()
        weir.stop()
        assert code != 0, logs
        assert "instantiating the module failed" in logs and "memory" in logs, logs


# --- the compiled-code cache ------------------------------------------------------------------


def served_once(wasm, cache_dir, log_level="info"):
    """Starts weir with the plugin, serves one request, stops; returns the log."""
    with Upstream() as up, two_listener_weir(
            up.port, wasm_filter("cached", wasm, root_id="stat_filter"),
            args=("--code-cache-dir", str(cache_dir), "-l", log_level)) as weir:
        status, headers, _ = request(weir.plugged)
        assert status == 200, weir.logs()
        return weir.logs()


COMPILED = "wasm: compiled a module"
FROM_CACHE = "wasm: loaded compiled code from the code cache"


def test_second_start_uses_the_code_cache_and_a_damaged_entry_is_rebuilt(tmp_path):
    wasm = PLUGIN_DIR / "stat_filter.wasm"
    assert wasm.exists(), f"{wasm} not built (the default build makes it)"
    cache = tmp_path / "code-cache"

    first = served_once(wasm, cache)
    assert COMPILED in first and FROM_CACHE not in first, first
    entries = list(cache.glob("*.cwasm"))
    assert len(entries) == 1
    assert oct(cache.stat().st_mode & 0o777) == "0o700"

    second = served_once(wasm, cache)
    assert FROM_CACHE in second and COMPILED not in second, second

    # Damage the machine code (not the header): the checksum catches it.
    data = bytearray(entries[0].read_bytes())
    data[len(data) // 2] ^= 0xFF
    entries[0].write_bytes(bytes(data))
    third = served_once(wasm, cache, log_level="debug")
    assert "checksum mismatch" in third and COMPILED in third, third
    assert FROM_CACHE not in third

    # Rebuilt whole: used again.
    fourth = served_once(wasm, cache)
    assert FROM_CACHE in fourth, fourth

    # Garbage in place of the entry: ignored, compiled, served.
    entries[0].write_bytes(b"\x7fELF not a cache entry")
    fifth = served_once(wasm, cache)
    assert COMPILED in fifth, fifth


def test_empty_code_cache_dir_turns_the_cache_off(tmp_path):
    wasm = PLUGIN_DIR / "stat_filter.wasm"
    assert wasm.exists(), f"{wasm} not built (the default build makes it)"
    for _ in range(2):
        logs = served_once(wasm, "")
        assert COMPILED in logs and FROM_CACHE not in logs, logs
