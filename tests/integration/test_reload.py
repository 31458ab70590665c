"""Hot reload through a real weir process: the config file changing (written in place,
replaced by rename, or swapped under a ConfigMap volume's symlinks), a plugin file changing (or arriving after its config), SIGHUP and
POST /reload each bring in the new configuration; a broken one (YAML error, missing plugin
file, a plugin that traps in on_vm_start, an unknown cluster, a start-up-only setting, a
port another process holds) keeps the old one serving and is counted; a request in flight
(HTTP/1, HTTP/2, tcp_proxy, a plugin's http call) finishes on the configuration it started
with, whose VMs are stopped (proxy_on_done) after it; idle keep-alive connections go after
the drain time; listeners come, move and go; an unchanged plugin is not compiled again;
and wrk through weir sees no error while plugins, a route and a cluster are swapped."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

from stream_checks import small_asan_quarantine, vm_rss_kib
from upstream import Upstream
from weir_harness import (PLUGIN_DIR, Weir, cluster, free_port, request, require, stats,
                          wait_for, wasm_filter)

WORKERS = 2
ACTIVE_VMS = "wasm.envoy.wasm.runtime.wasmtime.active"
# test_reload_under_load: rounds of ten plugin swaps under wrk (make soak runs more).
RELOAD_ROUNDS = int(os.environ.get("WEIR_RELOAD_ROUNDS", "1"))


def header_filter():
    path = PLUGIN_DIR / "header_filter.wasm"
    require(path.exists(), f"{path} not built")
    return path


def config_text(listen, admin, clusters, route_cluster="a", filters="", more_listeners=()):
    """One HTTP listener routing everything to `route_cluster`, `clusters` {name: port},
    and more listeners [(name, port)] routing the same way."""
    def listener(name, port):
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
                  name: local
                  virtual_hosts:
                    - name: all
                      domains: ["*"]
                      routes:
                        - match: {{ prefix: "/" }}
                          route: {{ cluster: {route_cluster} }}
                http_filters:{filters}
                  - name: envoy.filters.http.router"""
    listeners = listener("ingress", listen) + "".join(listener(n, p) for n, p in more_listeners)
    return f"""
admin:
  address:
    socket_address: {{ address: 127.0.0.1, port_value: {admin} }}
static_resources:
  listeners:{listeners}
  clusters:{"".join(cluster(n, p) for n, p in clusters.items())}
"""


def plugin(root_id, path=None, configuration=None):
    return wasm_filter("reloaded", path or header_filter(), root_id=root_id,
                       configuration=configuration)


def replace_file(path, text):
    """As editors and deploy tools do: a new file renamed over the old one."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text) if isinstance(text, str) else tmp.write_bytes(text)
    os.rename(tmp, path)


def root_id_served(port, path="/"):
    status, headers, _ = request(port, path=path)
    assert status == 200
    return headers.get("x-weir-root-id")


def counter(admin, name):
    return int(stats(admin).get(name, "0"))


def wait_reloads(admin, n, name="server.config_reload"):
    wait_for(lambda: counter(admin, name) >= n, timeout=15, what=f"{name} >= {n}")


def build_wat(tmp_path, name, text):
    require(shutil.which("wat2wasm") is not None, "wat2wasm (wabt) missing")
    wat = tmp_path / f"{name}.wat"
    wat.write_text(text)
    out = tmp_path / f"{name}.wasm"
    subprocess.run(["wat2wasm", str(wat), "-o", str(out)], check=True)
    return out


# A Proxy-Wasm module that traps as soon as its VM starts.
TRAP_IN_VM_START = """(module
  (memory (export "memory") 1)
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param i32) (result i32) (i32.const 1024))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) unreachable)
)"""


def with_custom_section(wasm, tag):
    """The same module with a custom section appended: other bytes (another sha256, so
    another compiled module and VM), the same behaviour."""
    name = b"weir-test"
    payload = bytes([len(name)]) + name + tag.encode()
    assert len(payload) < 128
    return wasm + bytes([0, len(payload)]) + payload


@pytest.fixture
def setup():
    """An upstream, ports, and a weir started on a config with plugin root_id "one"."""
    started = []

    def start(root="one", args=(), **kw):
        up = Upstream()
        started.append(up)
        listen, admin = free_port(), free_port()
        text = config_text(listen, admin, {"a": up.port}, filters=plugin(root), **kw)
        weir = Weir(text, args=("--concurrency", str(WORKERS), *args),
                    wait_ports=(listen, admin))
        started.append(weir)
        return weir, listen, admin, up

    yield start
    for thing in reversed(started):
        if isinstance(thing, Weir):
            thing.__exit__(None, None, None)
        else:
            thing.close()


def test_config_file_change_reloads_the_plugin(setup):
    weir, listen, admin, up = setup()
    assert root_id_served(listen) == "one"
    dump = json.loads(request(admin, path="/config_dump")[2])["configs"][0]
    first_update = dump["last_updated"]
    # Written in place (open, write, close).
    weir.config_path.write_text(config_text(listen, admin, {"a": up.port}, filters=plugin("two")))
    wait_for(lambda: root_id_served(listen) == "two", what="the new root_id served")
    # Replaced by rename, as vim or a deploy tool does.
    replace_file(weir.config_path,
                 config_text(listen, admin, {"a": up.port}, filters=plugin("three")))
    wait_for(lambda: root_id_served(listen) == "three", what="the renamed-in config served")
    assert counter(admin, "server.config_reload") >= 2
    assert counter(admin, "server.config_reload_failure") == 0
    dump = json.loads(request(admin, path="/config_dump")[2])["configs"][0]
    assert "three" in json.dumps(dump["bootstrap"])
    assert dump["last_updated"] > first_update
    assert "reload done: configuration version" in weir.logs()


def test_plugin_file_change_reloads_the_plugin(setup, tmp_path):
    code = tmp_path / "plugin.wasm"
    shutil.copy(header_filter(), code)
    up = Upstream()
    try:
        listen, admin = free_port(), free_port()
        filters = wasm_filter("reloaded", code, root_id="one")
        with Weir(config_text(listen, admin, {"a": up.port}, filters=filters),
                  args=("--concurrency", str(WORKERS)), wait_ports=(listen, admin)):
            status, headers, _ = request(listen)
            assert headers.get("x-weir-root-id") == "one" and "x-trap-filter" not in headers
            trap_filter = PLUGIN_DIR / "trap_filter.wasm"
            replace_file(code, trap_filter.read_bytes())
            wait_for(lambda: request(listen)[1].get("x-trap-filter") == "ok",
                     what="the new plugin code served")
            assert "x-weir-root-id" not in request(listen)[1]
            wait_for(lambda: int(stats(admin)[ACTIVE_VMS]) == WORKERS,
                     what="the old VMs gone")
    finally:
        up.close()


# A Proxy-Wasm module whose VM takes 0.7 s to start (a large plugin's start, compressed):
# each worker's start, and weir's trial start, take that long.
SLOW_VM_START = """(module
  (import "env" "proxy_get_current_time_nanoseconds" (func $now (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param i32) (result i32) (i32.const 1024))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32)
    (local $until i64)
    (drop (call $now (i32.const 0)))
    (local.set $until (i64.add (i64.load (i32.const 0)) (i64.const 700000000)))
    (block $done
      (loop $wait
        (drop (call $now (i32.const 0)))
        (br_if $done (i64.ge_u (i64.load (i32.const 0)) (local.get $until)))
        (br $wait)))
    (i32.const 1))
)"""


def test_plugin_file_changed_while_weir_starts_reloads(tmp_path):
    """A deploy that swaps the plugin while weir is still starting its VMs: the change is
    seen (the files are watched before the VMs start), not lost."""
    code = tmp_path / "plugin.wasm"
    shutil.copy(build_wat(tmp_path, "slow_start", SLOW_VM_START), code)
    filters = wasm_filter("swapped", code, root_id="one").replace(
        "vm_config:", "vm_config:\n                          weir_limits: { call_deadline: 5s }")
    up = Upstream()
    try:
        listen, admin = free_port(), free_port()
        # The listener is bound before the VMs start: swap as soon as it is.
        with Weir(config_text(listen, admin, {"a": up.port}, filters=filters),
                  args=("--concurrency", str(WORKERS)), wait_ports=(listen,)) as weir:
            replace_file(code, header_filter().read_bytes())
            assert "started:" not in weir.logs()  # still starting its workers' VMs
            wait_for(lambda: root_id_served(listen) == "one", timeout=20,
                     what="the swapped-in plugin served")
            assert counter(admin, "server.config_reload") == 1
    finally:
        up.close()


def test_plugin_file_arriving_after_its_config_reloads(setup, tmp_path):
    """A deploy that writes the config before the plugin file: the first reload fails (the
    file is missing), the file's arrival reloads."""
    weir, listen, admin, up = setup()
    later = tmp_path / "later" / "plugin.wasm"
    later.parent.mkdir()
    weir.config_path.write_text(
        config_text(listen, admin, {"a": up.port}, filters=plugin("two", path=later)))
    wait_reloads(admin, 1, "server.config_reload_failure")
    assert root_id_served(listen) == "one"
    replace_file(later, header_filter().read_bytes())
    wait_reloads(admin, 1)
    assert root_id_served(listen) == "two"


def test_configmap_volume_update_reloads(tmp_path):
    """A Kubernetes ConfigMap volume: envoy.yaml -> ..data/envoy.yaml, ..data -> a
    timestamped directory; an update renames a new ..data symlink into place and deletes the
    old directory. Each update reloads (no entry named envoy.yaml ever changes)."""
    volume = tmp_path / "volume"
    up = Upstream()
    listen, admin = free_port(), free_port()

    def publish(version, root, old=None):
        (volume / version).mkdir(parents=True)
        (volume / version / "envoy.yaml").write_text(
            config_text(listen, admin, {"a": up.port}, filters=plugin(root)))
        os.symlink(version, volume / "..data_tmp")
        os.replace(volume / "..data_tmp", volume / "..data")
        if old:
            shutil.rmtree(volume / old)

    try:
        publish("..2026_11_29_v1", "one")
        os.symlink("..data/envoy.yaml", volume / "envoy.yaml")
        with Weir(config_path=volume / "envoy.yaml", args=("--concurrency", str(WORKERS)),
                  wait_ports=(listen, admin)):
            assert root_id_served(listen) == "one"
            publish("..2026_11_29_v2", "two", old="..2026_11_29_v1")
            wait_for(lambda: root_id_served(listen) == "two", what="the first update served")
            publish("..2026_11_29_v3", "three", old="..2026_11_29_v2")
            wait_for(lambda: root_id_served(listen) == "three", what="the second update served")
            assert counter(admin, "server.config_reload") == 2
            assert counter(admin, "server.config_reload_failure") == 0
    finally:
        up.close()


def test_sighup_reloads(setup):
    weir, listen, admin, up = setup(args=("--disable-config-watch",))
    weir.config_path.write_text(config_text(listen, admin, {"a": up.port}, filters=plugin("two")))
    time.sleep(0.5)  # a watcher (turned off here) would have reloaded by now
    assert root_id_served(listen) == "one"
    assert counter(admin, "server.config_reload") == 0
    weir.proc.send_signal(signal.SIGHUP)
    wait_reloads(admin, 1)
    assert root_id_served(listen) == "two"
    assert "(SIGHUP)" in weir.logs()


def test_post_reload_on_the_admin_port(setup):
    weir, listen, admin, up = setup(args=("--disable-config-watch",))
    weir.config_path.write_text(
        config_text(listen, admin, {"a": up.port}, filters=plugin("two", configuration="cfg-2")))
    assert request(admin, path="/reload")[0] == 405  # a change needs POST
    status, _, body = request(admin, method="POST", path="/reload")
    assert (status, body) == (200, b"OK\n")
    status, headers, body = request(listen)
    assert headers["x-weir-root-id"] == "two"
    sent = dict(json.loads(body)["headers"])
    assert sent["x-weir-plugin-config"] == "cfg-2"
    assert counter(admin, "server.config_reload") == 1
    assert int(stats(admin)["server.config_reload_time_ms"]) > 1_600_000_000_000


def test_broken_configs_keep_the_old_one_serving(setup, tmp_path):
    weir, listen, admin, up = setup(args=("--disable-config-watch",))
    good = config_text(listen, admin, {"a": up.port}, filters=plugin("one"))
    trapping = build_wat(tmp_path, "trap_in_vm_start", TRAP_IN_VM_START)
    broken = {
        "yaml": (good.replace("clusters:", "clusters: [", 1), r"envoy\.yaml:\d+:\d+"),
        "missing file": (good.replace(str(header_filter()), str(tmp_path / "missing.wasm")),
                         r"envoy\.yaml:\d+:\d+.*missing\.wasm"),
        "trap in on_vm_start": (good.replace(str(header_filter()), str(trapping)),
                                r"envoy\.yaml:\d+:\d+.*plugin 'reloaded'.*on_vm_start.*trap"),
        "unknown cluster": (good.replace("cluster: a }", "cluster: nowhere }"),
                            r"envoy\.yaml:\d+:\d+.*nowhere"),
        "admin moved": (good.replace(f"port_value: {admin} ", f"port_value: {free_port()} "),
                        r"needs a restart"),
    }
    for n, (what, (text, error)) in enumerate(broken.items(), start=1):
        assert text != good, what
        weir.config_path.write_text(text)
        status, _, body = request(admin, method="POST", path="/reload")
        assert status == 500, (what, body)
        assert re.search(error, body.decode()), (what, body)
        assert counter(admin, "server.config_reload_failure") == n, what
        assert root_id_served(listen) == "one", what
    assert counter(admin, "server.config_reload") == 0
    assert "reload failed, the previous configuration keeps serving" in weir.logs()
    # /config_dump still shows the live config, and a good config loads after all that.
    assert "nowhere" not in request(admin, path="/config_dump")[2].decode()
    weir.config_path.write_text(good.replace('root_id: "one"', 'root_id: "two"'))
    assert request(admin, method="POST", path="/reload")[0] == 200
    assert root_id_served(listen) == "two"
    wait_for(lambda: int(stats(admin)[ACTIVE_VMS]) == WORKERS, what="trial VMs gone")


def test_stream_in_flight_finishes_on_the_old_plugin(setup, tmp_path):
    weir, listen, admin, up = setup(args=("--disable-config-watch",))
    assert int(stats(admin)[ACTIVE_VMS]) == WORKERS
    result = {}

    def slow():
        result["response"] = request(listen, path="/slow/1500")

    thread = threading.Thread(target=slow)
    thread.start()
    wait_for(lambda: any(r["path"] == "/slow/1500" for r in up.requests), what="slow request")
    # Other code (bytes differ: a new VM) and another root_id.
    code = tmp_path / "other.wasm"
    code.write_bytes(with_custom_section(header_filter().read_bytes(), "v2"))
    weir.config_path.write_text(
        config_text(listen, admin, {"a": up.port}, filters=plugin("two", path=code)))
    assert request(admin, method="POST", path="/reload")[0] == 200
    assert root_id_served(listen) == "two"  # new streams: the new plugin
    # The worker with the stream in flight keeps its old VM and root; the other worker's
    # went at once (it had nothing in flight).
    wait_for(lambda: int(stats(admin)[ACTIVE_VMS]) == WORKERS + 1, what="one old VM left")
    wait_for(lambda: weir.logs().count("header_filter: on_done, root_id one") == WORKERS - 1,
             what="the idle worker's old root stopped")
    time.sleep(0.2)
    assert int(stats(admin)[ACTIVE_VMS]) == WORKERS + 1
    assert weir.logs().count("header_filter: on_done, root_id one") == WORKERS - 1
    thread.join(timeout=10)
    status, headers, _ = result["response"]
    assert status == 200
    assert headers["x-weir-root-id"] == "one"  # its response went through the old plugin
    assert headers["connection"] == "close"  # the old configuration's connections close
    wait_for(lambda: int(stats(admin)[ACTIVE_VMS]) == WORKERS, what="the old VMs gone")
    wait_for(lambda: weir.logs().count("header_filter: on_done, root_id one") == WORKERS,
             what="proxy_on_done on each old VM")


def test_unchanged_plugin_is_not_compiled_again(setup):
    weir, listen, admin, up = setup(args=("--disable-config-watch", "--code-cache-dir", ""))
    compiled = weir.logs().count("wasm: compiled a")
    assert compiled >= 1
    weir.config_path.write_text(config_text(listen, admin, {"a": up.port}, filters=plugin("two")))
    assert request(admin, method="POST", path="/reload")[0] == 200
    assert root_id_served(listen) == "two"
    assert weir.logs().count("wasm: compiled a") == compiled


def test_listeners_added_removed_and_moved(setup):
    weir, listen, admin, up = setup(args=("--disable-config-watch",))
    extra = free_port()
    text = config_text(listen, admin, {"a": up.port}, filters=plugin("one"),
                       more_listeners=[("extra", extra)])
    weir.config_path.write_text(text)
    assert request(admin, method="POST", path="/reload")[0] == 200
    assert root_id_served(extra) == "one" and root_id_served(listen) == "one"
    # Moved to another port: the old one refuses connections, the new one serves.
    moved = free_port()
    weir.config_path.write_text(text.replace(f"port_value: {extra} ", f"port_value: {moved} "))
    assert request(admin, method="POST", path="/reload")[0] == 200
    assert root_id_served(moved) == "one"
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", extra), timeout=2).close()
    # Removed.
    weir.config_path.write_text(config_text(listen, admin, {"a": up.port}, filters=plugin("one")))
    assert request(admin, method="POST", path="/reload")[0] == 200
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", moved), timeout=2).close()
    assert root_id_served(listen) == "one"
    # A port another process holds: the reload fails, everything stays as it was.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        busy = taken.getsockname()[1]
        weir.config_path.write_text(config_text(listen, admin, {"a": up.port},
                                                filters=plugin("two"),
                                                more_listeners=[("busy", busy)]))
        status, _, body = request(admin, method="POST", path="/reload")
        assert status == 500 and b"listener 'busy'" in body
    assert root_id_served(listen) == "one"


def test_reload_refused_from_non_loopback_peers(setup):
    from test_admin_endpoints import non_loopback_address
    address = non_loopback_address()
    require(address is not None, "no non-loopback address on this host")
    up = Upstream()
    try:
        listen, admin = free_port(), free_port()
        text = config_text(listen, admin, {"a": up.port}, filters=plugin("one")).replace(
            f"address: 127.0.0.1, port_value: {admin} ", f"address: 0.0.0.0, port_value: {admin} ")
        with Weir(text, wait_ports=(listen, admin)):
            import http.client
            conn = http.client.HTTPConnection(address, admin, timeout=5)
            conn.request("POST", "/reload")
            assert conn.getresponse().status == 403
            conn.close()
            assert counter(admin, "server.config_reload") == 0
    finally:
        up.close()


def parse_wrk(output):
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return (requests, sum(int(x) for x in errors.groups()) if errors else 0,
            int(non_2xx.group(1)) if non_2xx else 0)


def test_reload_under_load(tmp_path):
    """wrk through weir while the plugin is swapped ten times (file change and SIGHUP in
    turn, alternating two codes), a route and a cluster change, and a broken config comes
    and goes: no error, no non-2xx, the last plugin served, old VMs gone, RSS flat.
    `make soak` runs it longer (WEIR_RELOAD_ROUNDS rounds of ten swaps, ~9 s each)."""
    require(shutil.which("wrk") is not None, "wrk missing")
    code_a = tmp_path / "a.wasm"
    code_b = tmp_path / "b.wasm"
    shutil.copy(header_filter(), code_a)
    code_b.write_bytes(with_custom_section(header_filter().read_bytes(), "b"))
    with Upstream() as up1, Upstream() as up2:
        listen, admin = free_port(), free_port()

        last = 10 * RELOAD_ROUNDS

        def text(step, route="a", a_port=up1.port):
            code = code_a if step % 2 == 0 else code_b
            return config_text(listen, admin, {"a": a_port, "b": up2.port}, route_cluster=route,
                               filters=plugin(f"gen{step}", path=code))

        with Weir(text(0), args=("--concurrency", str(WORKERS)), wait_ports=(listen, admin),
                  env=small_asan_quarantine()) as weir:
            wrk = subprocess.Popen(
                ["wrk", "-t2", "-c8", f"-d{9 * RELOAD_ROUNDS}s", "--timeout", "5s",
                 f"http://127.0.0.1:{listen}/"],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            time.sleep(1.0)
            rss_before = vm_rss_kib(weir.proc.pid)
            reloads = 0
            for step in range(1, last + 1):
                if step % 2:
                    weir.config_path.write_text(text(step))  # the watcher reloads
                else:
                    replace_file(weir.config_path, text(step))
                    weir.proc.send_signal(signal.SIGHUP)  # (and the watcher again)
                wait_for(lambda: root_id_served(listen) == f"gen{step}", timeout=10,
                         what=f"plugin gen{step} served")
                reloads = counter(admin, "server.config_reload")
                if step % 10 == 4:  # a broken config in between: counted, nothing changes
                    failures = counter(admin, "server.config_reload_failure")
                    weir.config_path.write_text(text(step).replace("clusters:", "clusters: [", 1))
                    wait_reloads(admin, failures + 1, "server.config_reload_failure")
                    assert root_id_served(listen) == f"gen{step}"
                time.sleep(0.3)
                for up in (up1, up2):  # the mock keeps every request: long runs would
                    with up.lock:      # pause for seconds in Python's garbage collector
                        up.requests.clear()
            # The route to cluster b, then cluster a moved to the second upstream.
            before = up2.connections
            weir.config_path.write_text(text(last, route="b"))
            wait_for(lambda: up2.connections > before and counter(
                admin, "server.config_reload") > reloads, what="route to b")
            reloads = counter(admin, "server.config_reload")
            weir.config_path.write_text(text(last, route="a", a_port=up2.port))
            wait_reloads(admin, reloads + 1)
            assert wrk.poll() is None, "wrk ended before the reloads did"
            output, _ = wrk.communicate(timeout=30 * RELOAD_ROUNDS)
            print(output)
            total, errors, non_2xx = parse_wrk(output)
            assert total > 1000, output
            assert errors == 0, output
            assert non_2xx == 0, output
            assert root_id_served(listen) == f"gen{last}"
            wait_for(lambda: int(stats(admin)[ACTIVE_VMS]) == WORKERS, timeout=15,
                     what="old VMs gone")
            rss_after = vm_rss_kib(weir.proc.pid)
            print(f"RSS {rss_before} kB -> {rss_after} kB after {last} swaps")
            assert rss_after - rss_before < 64 * 1024, (rss_before, rss_after)
            assert counter(admin, "server.config_reload") >= last + 2
            assert counter(admin, "server.config_reload_failure") >= RELOAD_ROUNDS


def test_http2_connection_gets_goaway_and_finishes_its_stream(setup):
    import h2frames
    weir, listen, admin, up = setup(args=("--disable-config-watch",))
    with h2frames.Client(listen) as client:
        client.send(h2frames.headers(1, h2frames.request_block("/slow/800")))
        wait_for(lambda: any(r["path"] == "/slow/800" for r in up.requests), what="h2 request")
        weir.config_path.write_text(
            config_text(listen, admin, {"a": up.port}, filters=plugin("two")))
        assert request(admin, method="POST", path="/reload")[0] == 200
        frames, closed = client.frames_until_close(timeout=10)
    assert h2frames.goaway_code(frames) == h2frames.NO_ERROR
    ends = [f for f in frames if f[2] == 1 and f[1] & h2frames.END_STREAM]
    assert ends, frames  # the stream in flight was answered to its end
    assert any(f[0] == h2frames.HEADERS and f[2] == 1 for f in frames)
    assert closed
    assert root_id_served(listen) == "two"
    wait_for(lambda: int(stats(admin)[ACTIVE_VMS]) == WORKERS, what="the old VMs gone")


def test_a_burst_of_reloads_with_a_stream_in_flight(setup):
    """Thirty reloads in a row, one request held across all of them: each replaced
    configuration goes as soon as nothing uses it, the held one after its request."""
    weir, listen, admin, up = setup(args=("--disable-config-watch",))
    result = {}
    thread = threading.Thread(
        target=lambda: result.setdefault("r", request(listen, path="/slow/1500")))
    thread.start()
    wait_for(lambda: any(r["path"] == "/slow/1500" for r in up.requests), what="slow request")
    for n in range(30):
        # Renamed in whole: a signal must not find a file half written.
        replace_file(weir.config_path,
                     config_text(listen, admin, {"a": up.port}, filters=plugin(f"burst{n}")))
        if n % 2:
            assert request(admin, method="POST", path="/reload")[0] == 200
        else:
            weir.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: root_id_served(listen) == "burst29", what="the last config served")
    thread.join(timeout=10)
    assert result["r"][0] == 200 and result["r"][1]["x-weir-root-id"] == "one"
    wait_for(lambda: int(stats(admin)[ACTIVE_VMS]) == WORKERS, what="old VMs gone")
    # The held configuration's root contexts were stopped once its request ended (on its
    # worker just after the response went out: the client may see it first); the live ones
    # still serve.
    wait_for(lambda: weir.logs().count("header_filter: on_done, root_id one") == WORKERS,
             what="proxy_on_done for the held configuration's root contexts")
    assert root_id_served(listen) == "burst29"
    assert counter(admin, "server.config_reload_failure") == 0
    assert weir.proc.poll() is None


def test_tcp_proxy_connection_keeps_its_cluster_across_a_reload():
    from test_tcp_proxy import EchoUpstream, tcp_config
    first, second = EchoUpstream(), EchoUpstream()
    try:
        listen, admin = free_port(), free_port()
        with Weir(tcp_config(listen, admin, first.port), args=("--disable-config-watch",),
                  wait_ports=(listen, admin)) as weir:
            wait_for(lambda: first.accepted == 1, what="the port probe's upstream connection")
            old = socket.create_connection(("127.0.0.1", listen), timeout=5)
            old.sendall(b"before\n")
            assert old.recv(100) == b"before\n"
            weir.config_path.write_text(tcp_config(listen, admin, second.port))
            assert request(admin, method="POST", path="/reload")[0] == 200
            # The open connection still talks to the first upstream...
            old.sendall(b"after\n")
            assert old.recv(100) == b"after\n"
            assert (first.accepted, second.accepted) == (2, 0)
            # ... new ones to the second.
            with socket.create_connection(("127.0.0.1", listen), timeout=5) as new:
                new.sendall(b"new\n")
                assert new.recv(100) == b"new\n"
            assert second.accepted == 1
            old.close()
    finally:
        first.close()
        second.close()


def test_idle_keepalive_connection_is_closed_after_the_drain_time(setup):
    """An idle keep-alive connection does not hold the old plugin VMs for ever: its next
    response closes it, or the drain time does."""
    import http.client
    weir, listen, admin, up = setup(args=("--disable-config-watch", "--drain-time-s", "1"))
    idle = http.client.HTTPConnection("127.0.0.1", listen, timeout=5)
    busy = http.client.HTTPConnection("127.0.0.1", listen, timeout=5)
    for conn in (idle, busy):
        conn.request("GET", "/")
        assert conn.getresponse().read()
    code = weir.tmp / "other.wasm"
    code.write_bytes(with_custom_section(header_filter().read_bytes(), "v2"))
    weir.config_path.write_text(
        config_text(listen, admin, {"a": up.port}, filters=plugin("two", path=code)))
    assert request(admin, method="POST", path="/reload")[0] == 200
    # The next request on an old connection is the old configuration's last one on it.
    busy.request("GET", "/")
    response = busy.getresponse()
    response.read()
    assert response.getheader("x-weir-root-id") == "one"
    assert response.getheader("connection") == "close"
    # The idle one is closed by weir once the drain time is over; then the old VMs go.
    wait_for(lambda: int(stats(admin)[ACTIVE_VMS]) == WORKERS, timeout=5, what="old VMs gone")
    assert idle.sock.recv(1) == b""  # closed by weir
    idle.close()
    busy.close()


def test_plugin_http_call_in_flight_across_reloads(setup):
    """A plugin's proxy_http_call in flight while the configuration is replaced (the VM is
    kept: same code) is answered; calls after the reload go through the new clusters."""
    auth = PLUGIN_DIR / "auth_filter.wasm"
    require(auth.exists(), f"{auth} not built")
    with Upstream() as auth_up, Upstream() as app:
        listen, admin = free_port(), free_port()

        def text(configuration):
            return config_text(listen, admin, {"a": app.port, "auth": auth_up.port},
                               filters=wasm_filter("auth", auth, root_id="",
                                                   configuration=configuration))

        with Weir(text("auth 5000"), args=("--concurrency", "1", "--disable-config-watch"),
                  wait_ports=(listen, admin)) as weir:
            result = {}
            thread = threading.Thread(target=lambda: result.setdefault(
                "r", request(listen, headers={"x-auth-path": "/slow/800"})))
            thread.start()
            wait_for(lambda: any(r["path"] == "/slow/800" for r in auth_up.requests),
                     what="the auth call")
            for n in range(3):
                weir.config_path.write_text(text(f"auth {4000 + n}"))
                assert request(admin, method="POST", path="/reload")[0] == 200
            thread.join(timeout=10)
            def authorized(response):  # the app saw the header the plugin adds after a 200
                status, _, body = response
                return status == 200 and dict(json.loads(body)["headers"]).get(
                    "x-auth-status") == "200"

            assert authorized(result["r"])
            for _ in range(3):
                assert authorized(request(listen))
            assert sum(r["path"] == "/check" for r in auth_up.requests) == 3
            assert weir.proc.poll() is None
