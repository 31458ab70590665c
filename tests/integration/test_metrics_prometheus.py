"""Plugin and built-in metrics as a real Prometheus server scrapes them from
/stats/prometheus, and as promtool parses them."""
import json
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from upstream import Upstream
from weir_harness import (PLUGIN_DIR, Weir, free_port, proxy_config, request, require, sdk_plugin, stats,
                          wait_for_port, wasm_filter)

STATS_TAGS = r"""
stats_config:
  stats_tags:
    - tag_name: code
      regex: "^metrics_filter\\.responses(\\.code\\.(\\d+))$"
"""


@pytest.fixture
def weir_with_metrics_plugin():
    plugin = sdk_plugin("metrics_filter.wasm")
    listen, admin = free_port(), free_port()
    with Upstream() as upstream:
        config = STATS_TAGS + proxy_config(
            listen, admin, upstream.port,
            filters=wasm_filter("metrics", plugin))
        with Weir(config, wait_ports=(listen, admin)) as weir:
            yield weir, listen, admin, upstream


def send_traffic(listen):
    for value in (3, 7, 700):
        status, _, _ = request(listen, path="/echo", headers={"x-metrics-value": str(value)})
        assert status == 200
    status, _, _ = request(listen, path="/status/503")
    assert status == 503


def prometheus_text(admin):
    status, headers, body = request(admin, path="/stats/prometheus")
    assert status == 200
    assert headers["content-type"].startswith("text/plain; version=0.0.4")
    return body.decode()


def test_prometheus_output_has_types_tags_and_plugin_names(weir_with_metrics_plugin):
    weir, listen, admin, _ = weir_with_metrics_plugin
    send_traffic(listen)
    text = prometheus_text(admin)
    lines = text.splitlines()
    # Plugin metrics: no envoy_ prefix; the stats_tags regex turns the code into a label.
    assert "# TYPE metrics_filter_requests_total counter" in lines
    assert "metrics_filter_requests_total{} 4" in lines
    assert "# TYPE metrics_filter_responses counter" in lines
    assert 'metrics_filter_responses{code="200"} 3' in lines
    assert 'metrics_filter_responses{code="503"} 1' in lines
    assert "# TYPE metrics_filter_last_value gauge" in lines
    assert "metrics_filter_last_value{} 700" in lines
    assert "# TYPE metrics_filter_value histogram" in lines
    assert 'metrics_filter_value_bucket{le="5"} 1' in lines
    assert 'metrics_filter_value_bucket{le="10"} 2' in lines
    assert 'metrics_filter_value_bucket{le="+Inf"} 3' in lines
    assert "metrics_filter_value_sum{} 710" in lines
    assert "metrics_filter_value_count{} 3" in lines
    # Built-ins: envoy_ prefix and Envoy's default tags.
    assert 'envoy_cluster_upstream_rq_total{envoy_cluster_name="upstream"} 4' in lines
    assert ('envoy_http_downstream_rq_xx{envoy_response_code_class="2",'
            'envoy_http_conn_manager_prefix="ingress_http"} 3') in lines
    assert "# TYPE envoy_http_downstream_rq_time histogram" in lines
    assert "# TYPE envoy_server_live gauge" in lines
    # Time inside the plugin, per request.
    assert "# TYPE envoy_http_wasm_metrics_rq_wasm_time_us histogram" in lines
    assert ('envoy_http_wasm_metrics_rq_wasm_time_us_count'
            '{envoy_http_conn_manager_prefix="ingress_http"} 4' in lines)
    # One TYPE line per metric name.
    types = [l for l in lines if l.startswith("# TYPE ")]
    assert len(types) == len(set(l.split()[2] for l in types))


def test_promtool_parses_the_output(weir_with_metrics_plugin):
    promtool = shutil.which("promtool")
    require(promtool is not None, "promtool missing (scripts/setup test installs prometheus)")
    weir, listen, admin, _ = weir_with_metrics_plugin
    send_traffic(listen)
    proc = subprocess.run([promtool, "check", "metrics"], input=prometheus_text(admin).encode(),
                          capture_output=True, timeout=30)
    report = (proc.stdout + proc.stderr).decode()
    assert "error while linting" not in report, report
    assert proc.returncode in (0, 3), report  # 3: lint problems only
    # Only the lint kinds Envoy's own names produce.
    expected = ("no help text", 'counter metrics should have "_total" suffix',
                "metric names should not contain abbreviated units",
                "non-histogram and non-summary metrics should not have",
                "metric names should be written in 'snake_case' not 'camelCase'",
                "use base unit")
    for line in report.splitlines():
        assert any(kind in line for kind in expected), line


def query(prom_port, expr):
    url = f"http://127.0.0.1:{prom_port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=5) as resp:
        body = json.load(resp)
    assert body["status"] == "success", body
    return {json.dumps(r["metric"], sort_keys=True): r["value"][1] for r in body["data"]["result"]}


def wait_until_ready(prom_port, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{prom_port}/-/ready", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:  # includes HTTPError 503 while the TSDB opens
            pass
        time.sleep(0.2)
    raise TimeoutError("prometheus did not become ready")


def test_a_real_prometheus_scrapes_weir(weir_with_metrics_plugin, tmp_path):
    prometheus = shutil.which("prometheus")
    require(prometheus is not None, "prometheus missing (scripts/setup test installs it)")
    weir, listen, admin, _ = weir_with_metrics_plugin
    send_traffic(listen)
    prom_port = free_port()
    (tmp_path / "prometheus.yml").write_text(f"""
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: weir
    metrics_path: /stats/prometheus
    static_configs:
      - targets: ["127.0.0.1:{admin}"]
""")
    log = open(tmp_path / "prometheus.log", "w")
    proc = subprocess.Popen(
        [prometheus, f"--config.file={tmp_path / 'prometheus.yml'}",
         f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{prom_port}"],
        stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(prom_port, timeout=30, proc=proc)
        wait_until_ready(prom_port)
        want = {
            'metrics_filter_requests_total': {'{}': "4"},
            'metrics_filter_responses': {'{"code": "200"}': "3", '{"code": "503"}': "1"},
            'metrics_filter_last_value': {'{}': "700"},
            'metrics_filter_value_count': {'{}': "3"},
            'metrics_filter_value_sum': {'{}': "710"},
            'metrics_filter_value_bucket{le="10"}': {'{"le": "10"}': "2"},
            'envoy_cluster_upstream_rq_total': {'{"envoy_cluster_name": "upstream"}': "4"},
        }
        base = {"instance": f"127.0.0.1:{admin}", "job": "weir"}
        deadline = time.time() + 40
        got = {}
        while time.time() < deadline:
            got = {}
            for expr in want:
                result = query(prom_port, expr)
                got[expr] = {}
                for labels, value in result.items():
                    extra = {k: v for k, v in json.loads(labels).items()
                             if k not in base and k != "__name__"}
                    got[expr][json.dumps(extra, sort_keys=True)] = value
            if got == want:
                break
            time.sleep(0.5)
        assert got == want, (got, (tmp_path / "prometheus.log").read_text()[-2000:])
        # The scrape itself is healthy.
        assert query(prom_port, "up") == {json.dumps({**base, "__name__": "up"}, sort_keys=True): "1"}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
