"""The examples in examples/: each one runs from its own envoy.yaml (ports moved to free ones)
and does what its README promises."""
import contextlib
import re
import shutil
import subprocess
import time

import pytest

from weir_harness import (PLUGIN_DIR, SOURCE_DIR, WEIR_BIN, ClosedPort, Weir, free_port, request,
                          require, stats)


def example_config(name):
    """examples/<name>/envoy.yaml with every port moved to a free one and the plugin paths
    pointed at PLUGIN_DIR. Returns (text, {port in the file: port used})."""
    text = (SOURCE_DIR / "examples" / name / "envoy.yaml").read_text()
    ports = {int(p): free_port() for p in sorted(set(re.findall(r"port_value: (\d+)", text)))}
    text = re.sub(r"port_value: (\d+)", lambda m: f"port_value: {ports[int(m.group(1))]}", text)
    text = text.replace("filename: build/plugins/", f"filename: {PLUGIN_DIR}/")
    return text, ports


def plugin(name):
    path = PLUGIN_DIR / f"{name}.wasm"
    assert path.exists(), f"{path} was not built (examples/CMakeLists.txt builds it)"
    return path


@contextlib.contextmanager
def run_example(name, edit=None, args=()):
    """Runs the example; `edit(text, ports)` may change its config text first."""
    plugin(name)
    text, ports = example_config(name)
    if edit:
        text = edit(text, ports)
    with Weir(text, args=args, wait_ports=tuple(ports.values())) as weir:
        yield weir, ports


def validate(tmp_path, text):
    config = tmp_path / "envoy.yaml"
    config.write_text(text)
    return subprocess.run([str(WEIR_BIN), "-c", str(config), "--mode", "validate"],
                          cwd=SOURCE_DIR, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("name", ["add-header", "auth-call", "rate-limit", "redact-body"])
def test_example_config_validates_as_shipped(name, tmp_path):
    """`build/weir -c examples/<name>/envoy.yaml` from the repo root: paths and plugin are right."""
    plugin(name)
    config = f"examples/{name}/envoy.yaml"
    if PLUGIN_DIR != SOURCE_DIR / "build/plugins":  # a build elsewhere: only the path differs
        text = (SOURCE_DIR / config).read_text()
        config = tmp_path / "envoy.yaml"
        config.write_text(text.replace("filename: build/plugins/", f"filename: {PLUGIN_DIR}/"))
    out = subprocess.run([str(WEIR_BIN), "-c", str(config), "--mode", "validate"],
                         cwd=SOURCE_DIR, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"build/plugins/{name}.wasm" in out.stdout or str(PLUGIN_DIR) in out.stdout


# ---- add-header

def test_add_header_sets_the_configured_response_headers():
    with run_example("add-header") as (weir, ports):
        status, headers, body = request(ports[8082])
        assert (status, body) == (200, b"hello from mock\n"), weir.logs()
        assert headers["x-greeting"] == "hello from weir"
        assert headers["x-served-by"] == "add-header example"


def test_add_header_refuses_a_configuration_it_cannot_read(tmp_path):
    plugin("add-header")
    text, _ = example_config("add-header")
    out = validate(tmp_path, text.replace("header: x-greeting: hello from weir", "header: x-greeting"))
    assert out.returncode != 0
    assert "add-header: bad configuration: expected 'header: <name>: <value>'" in out.stdout + out.stderr


# ---- auth-call

def test_auth_call_lets_allowed_requests_through_and_answers_403_otherwise():
    with run_example("auth-call") as (weir, ports):
        listen, admin = ports[8084], ports[9903]
        status, _, body = request(listen, headers={"authorization": "Bearer let-me-in"})
        assert (status, body) == (200, b"hello from mock\n"), weir.logs()
        status, _, body = request(listen)
        assert (status, body) == (403, b"forbidden\n"), weir.logs()
        status, _, body = request(listen, headers={"authorization": "Bearer guess"})
        assert (status, body) == (403, b"forbidden\n"), weir.logs()
        s = stats(admin)
        assert (s["auth_call.allowed"], s["auth_call.denied"], s["auth_call.failed"]) == ("1", "2", "0")


def test_auth_call_answers_503_when_the_auth_service_does_not_answer():
    closed = ClosedPort()

    def point_auth_cluster_at_a_closed_port(text, ports):
        endpoint = f"socket_address: {{ address: 127.0.0.1, port_value: {ports[8086]} }}"
        assert endpoint in text
        return text.replace(endpoint, endpoint.replace(str(ports[8086]), str(closed.port)))

    with closed, run_example("auth-call", edit=point_auth_cluster_at_a_closed_port) as (weir, ports):
        status, _, body = request(ports[8084], headers={"authorization": "Bearer let-me-in"})
        assert (status, body) == (503, b"auth service unavailable\n"), weir.logs()
        assert stats(ports[9903])["auth_call.failed"] == "1"


# ---- rate-limit

def test_rate_limit_shares_one_bucket_across_workers_and_refills_it():
    with run_example("rate-limit", args=("--concurrency", "2")) as (weir, ports):
        listen, admin = ports[8087], ports[9904]
        # Fresh connections: the workers share the requests, and the bucket.
        answers = [request(listen) for _ in range(5)]
        assert [a[0] for a in answers] == [200, 200, 200, 429, 429], weir.logs()
        assert answers[0][2] == b"hello from mock\n"
        _, headers, body = answers[3]
        assert body == b"too many requests\n"
        retry_after = int(headers["retry-after"])
        assert 1 <= retry_after <= 5
        s = stats(admin)
        assert (s["rate_limit.allowed"], s["rate_limit.limited"]) == ("3", "2")

        time.sleep(retry_after + 0.5)  # the refill is due by then (ticks every 100 ms)
        assert [request(listen)[0] for _ in range(4)] == [200, 200, 200, 429], weir.logs()
        assert stats(admin)["rate_limit.allowed"] == "6"


# ---- redact-body

def test_redact_body_masks_the_configured_patterns():
    with run_example("redact-body") as (weir, ports):
        status, headers, body = request(ports[8089])
        want = b"order 42 paid with card " + b"*" * 19 + b", ref " + b"*" * 10 + b"\n"
        assert (status, body) == (200, want), weir.logs()
        assert headers["content-length"] == str(len(want))
        assert stats(ports[9905])["redact_body.masked"] == "2"


# ---- the author's workflow

def test_build_script_builds_a_small_plugin(tmp_path):
    """`make plugin SRC=...` runs scripts/build-cpp-plugin; the custom-metrics plugin stays small."""
    require(shutil.which("clang-14") is not None, "clang-14 not installed")
    out = tmp_path / "stat_filter.wasm"
    run = subprocess.run(["scripts/build-cpp-plugin", "-o", str(out),
                          "examples/custom-metrics/stat_filter.cc"],
                         cwd=SOURCE_DIR, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"built {out}" in run.stdout
    assert out.stat().st_size < 100 * 1024
