"""The admin interface as an operator uses it: readiness, server info, clusters,
config dump, stats formats, run-time log levels, and who may change the server."""
import json
import socket
import time
import urllib.parse

import pytest

from upstream import Upstream
from weir_harness import Weir, free_port, proxy_config, request, require, stats


@pytest.fixture
def weir_proxy():
    listen, admin = free_port(), free_port()
    with Upstream() as upstream:
        with Weir(proxy_config(listen, admin, upstream.port), args=("--concurrency", "2"),
                  wait_ports=(listen, admin)) as weir:
            yield weir, listen, admin, upstream


def get(admin, path, method="GET"):
    status, headers, body = request(admin, method=method, path=path)
    return status, headers, body.decode()


def test_ready_and_server_info(weir_proxy):
    _, _, admin, _ = weir_proxy
    assert get(admin, "/ready")[::2] == (200, "LIVE\n")
    status, headers, body = get(admin, "/server_info")
    assert status == 200 and headers["content-type"] == "application/json"
    info = json.loads(body)
    assert info["version"].startswith("weir/")
    assert info["state"] == "LIVE"
    assert info["command_line_options"]["concurrency"] == 2
    assert info["uptime_current_epoch"].endswith("s")


def test_clusters_lists_hosts_with_counters(weir_proxy):
    _, listen, admin, upstream = weir_proxy
    assert request(listen, path="/echo")[0] == 200
    status, _, body = get(admin, "/clusters")
    assert status == 200
    host = f"upstream::127.0.0.1:{upstream.port}::"
    lines = body.splitlines()
    assert "upstream::observability_name::upstream" in lines
    assert host + "health_flags::healthy" in lines
    assert host + "rq_total::1" in lines
    assert host + "rq_success::1" in lines
    clusters = json.loads(get(admin, "/clusters?format=json")[2])
    (cluster,) = clusters["cluster_statuses"]
    assert cluster["name"] == "upstream"
    assert cluster["host_statuses"][0]["address"]["socket_address"]["port_value"] == upstream.port


def test_config_dump_is_the_loaded_config_as_json(weir_proxy):
    _, listen, admin, _ = weir_proxy
    status, headers, body = get(admin, "/config_dump")
    assert status == 200 and headers["content-type"] == "application/json"
    dump = json.loads(body)
    (bootstrap,) = dump["configs"]
    assert bootstrap["@type"].endswith("envoy.admin.v3.BootstrapConfigDump")
    listener = bootstrap["bootstrap"]["static_resources"]["listeners"][0]
    assert listener["address"]["socket_address"]["port_value"] == listen


def test_stats_formats_filter_and_usedonly(weir_proxy):
    _, listen, admin, _ = weir_proxy
    before = stats(admin)
    assert before["http.ingress_http.downstream_rq_time"] == "No recorded values"
    assert before["server.live"] == "1"
    assert int(before["server.memory_allocated"]) > 0
    assert request(listen, path="/echo")[0] == 200
    # downstream_rq_time is recorded when the stream ends, just after the answer is sent.
    deadline = time.time() + 5
    while stats(admin)["http.ingress_http.downstream_rq_time"] == "No recorded values":
        assert time.time() < deadline
        time.sleep(0.02)
    after = stats(admin, "?filter=" + urllib.parse.quote(r"^http\.ingress_http\."))
    assert all(name.startswith("http.ingress_http.") for name in after)
    assert after["http.ingress_http.downstream_rq_2xx"] == "1"
    assert after["http.ingress_http.downstream_rq_time"].startswith("P0(")
    used = stats(admin, "?usedonly")
    assert "http.ingress_http.downstream_rq_5xx" not in used
    assert used["http.ingress_http.downstream_rq_2xx"] == "1"
    data = json.loads(get(admin, "/stats?format=json&filter=downstream_rq")[2])
    values = {s["name"]: s["value"] for s in data["stats"] if "name" in s}
    assert values["http.ingress_http.downstream_rq_2xx"] == 1
    histograms = data["stats"][-1]["histograms"]
    assert histograms["supported_quantiles"][-1] == 100
    (rq_time,) = histograms["computed_quantiles"]
    assert rq_time["name"] == "http.ingress_http.downstream_rq_time"
    assert len(rq_time["values"]) == 10
    assert get(admin, "/stats?filter=(")[0] == 400


def test_logging_level_changes_at_run_time(weir_proxy):
    weir, _, admin, _ = weir_proxy
    assert "active loggers:" in get(admin, "/logging")[2]
    assert get(admin, "/logging?level=debug")[0] == 405  # changes need POST
    status, _, body = get(admin, "/logging?level=debug", method="POST")
    assert status == 200, body
    assert ": debug" in body
    assert ": debug" in get(admin, "/logging")[2]
    assert json.loads(get(admin, "/server_info")[2])["command_line_options"]["log_level"] == "debug"
    assert get(admin, "/logging?level=shouty", method="POST")[0] == 400


def non_loopback_address():
    """An address of this host other than 127.x, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # no packet is sent
            address = s.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


def test_writes_refused_from_non_loopback_peers():
    address = non_loopback_address()
    require(address is not None, "no non-loopback address on this host")
    listen, admin = free_port(), free_port()
    with Upstream() as upstream:
        config = proxy_config(listen, admin, upstream.port).replace(
            f"socket_address: {{ address: 127.0.0.1, port_value: {admin} }}",
            f"socket_address: {{ address: 0.0.0.0, port_value: {admin} }}")
        with Weir(config, wait_ports=(listen, admin)) as weir:
            import http.client
            conn = http.client.HTTPConnection(address, admin, timeout=5)
            conn.request("POST", "/quitquitquit")
            resp = conn.getresponse()
            assert resp.status == 403
            conn.close()
            conn = http.client.HTTPConnection(address, admin, timeout=5)
            conn.request("GET", "/ready")
            assert conn.getresponse().status == 200  # reads are fine
            conn.close()
            assert weir.proc.poll() is None
            assert get(admin, "/quitquitquit", method="POST")[0] == 200  # loopback may
            weir.proc.wait(timeout=20)
