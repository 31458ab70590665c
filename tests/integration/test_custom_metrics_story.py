"""The story every user starts with: the seed config, a stat_filter plugin, /stats."""
import subprocess

import pytest

from weir_harness import (PLUGIN_DIR, SOURCE_DIR, Weir, free_port, request, sdk_plugin,
                          seed_config, stats)

METRIC_LINES = ("stat_filter.custom_metric.num_of_request",
                "stat_filter.custom_metric.num_of_response")


TIME_STAT = "http.ingress_http.wasm.stat_filter.rq_wasm_time_us"


def grep_stat_filter(admin_port):
    """`curl /stats | grep stat_filter`: the plugin's two counters, and the time requests
    spent in it (weir's own histogram, keyed by the plugin's name), checked apart."""
    status, _, body = request(admin_port, path="/stats")
    assert status == 200
    lines = [l for l in body.decode().splitlines() if "stat_filter" in l]
    assert any(l.startswith(TIME_STAT + ": ") for l in lines), lines
    return [l for l in lines if not l.startswith(TIME_STAT + ": ")]


def test_example_config_unchanged_on_default_ports():
    """examples/custom-metrics/envoy.yaml exactly as `make run` starts it."""
    with Weir(config_path=SOURCE_DIR / "examples/custom-metrics/envoy.yaml",
              wait_ports=(8080, 9901, 8081)) as weir:
        assert grep_stat_filter(9901) == [f"{METRIC_LINES[0]}: 0", f"{METRIC_LINES[1]}: 0"]
        status, _, body = request(8080)
        assert (status, body) == (200, b"hello from mock\n")
        assert grep_stat_filter(9901) == [f"{METRIC_LINES[0]}: 1", f"{METRIC_LINES[1]}: 1"]


@pytest.mark.parametrize("plugin", [
    "stat_filter.wasm",              # weir's C++ SDK
    "rust_stat_filter_v01.wasm",     # Rust proxy-wasm 0.1.4, ABI 0.1.0, registers in _start
    "rust_stat_filter_v02.wasm",     # Rust proxy-wasm 0.2.1, ABI 0.2.1, _initialize
    "go_stat_filter.wasm",           # Go SDK, ABI 0.2.0, WASI reactor
    "as_stat_filter.wasm",           # AssemblyScript proxy-runtime 0.1.8, ABI 0.2.0
])
def test_seed_config_with_sdk_plugin(plugin):
    path = sdk_plugin(plugin)
    listen, admin, mock = free_port(), free_port(), free_port()
    config = seed_config(path, listen, admin, mock)
    if plugin.startswith("as_"):
        # AssemblyScript plugins abort unless root_id names their registered root context.
        config = config.replace("root_id: stat_filter", "root_id: as_stat_filter")
    with Weir(config, wait_ports=(listen, admin, mock)) as weir:
        assert grep_stat_filter(admin) == [f"{METRIC_LINES[0]}: 0", f"{METRIC_LINES[1]}: 0"], \
            weir.logs()
        for i in range(1, 4):
            status, _, body = request(listen)
            assert (status, body) == (200, b"hello from mock\n"), weir.logs()
            assert grep_stat_filter(admin) == [f"{METRIC_LINES[0]}: {i}",
                                               f"{METRIC_LINES[1]}: {i}"], weir.logs()


def test_counts_add_up_across_workers_and_connections():
    path = sdk_plugin("stat_filter.wasm")
    listen, admin, mock = free_port(), free_port(), free_port()
    with Weir(seed_config(path, listen, admin, mock), args=("--concurrency", "2"),
              wait_ports=(listen, admin, mock)):
        for _ in range(40):
            assert request(listen)[0] == 200
        s = stats(admin)
        assert s[METRIC_LINES[0]] == "40"
        assert s[METRIC_LINES[1]] == "40"
        assert s["http.ingress_http.downstream_rq_total"] == "40"
        assert s["http.ingress_http.downstream_rq_2xx"] == "40"
        assert s["cluster.mock_service.upstream_rq_total"] == "40"
