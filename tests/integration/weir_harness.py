"""Starts real weir processes and upstreams on loopback for the integration tests."""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from ports import free_port  # noqa: F401  (re-exported: tests import it from here)

SOURCE_DIR = Path(os.environ.get("WEIR_SOURCE_DIR", Path(__file__).resolve().parents[2]))
BUILD_DIR = Path(os.environ.get("WEIR_BUILD_DIR", SOURCE_DIR / "build"))
WEIR_BIN = Path(os.environ.get("WEIR_BIN", BUILD_DIR / "weir"))
PLUGIN_DIR = BUILD_DIR / "plugins"


SANITIZER_REPORT = re.compile(
    r"ERROR: (AddressSanitizer|LeakSanitizer)|^\S+:\d+:\d+: runtime error: ", re.M)




class ClosedPort:
    """A loopback port that refuses connections for as long as this object lives: it is
    bound (so no test running beside this one can take it and answer) but never listens.
    A port from free_port() is only free until someone else binds it."""

    def __init__(self):
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]

    def __enter__(self):
        return self.port

    def __exit__(self, *exc):
        self._socket.close()


def wait_for_port(port, timeout=20.0, proc=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"weir exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"port {port} did not open")


def wait_for(predicate, timeout=10.0, interval=0.02, what="condition"):
    """Polls `predicate` until it returns something true, and returns that; fails the test
    after `timeout` seconds. Tests wait on a state this way, never with a bare sleep."""
    deadline = time.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.time() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Weir:
    """A weir process running one config file."""

    def __init__(self, config_text=None, config_path=None, args=(), cwd=None, wait_ports=(),
                 preexec_fn=None, env=None):
        self.tmp = Path(tempfile.mkdtemp(prefix="weir-test-"))
        if config_path is None:
            config_path = self.tmp / "envoy.yaml"
            config_path.write_text(config_text)
        self.config_path = Path(config_path)
        self.log_path = self.tmp / "weir.log"
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [str(WEIR_BIN), "-c", str(config_path), *args],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=cwd or SOURCE_DIR,
            preexec_fn=preexec_fn, env={**os.environ, **env} if env else None)
        try:
            for port in wait_ports:
                wait_for_port(port, proc=self.proc)
        except (RuntimeError, TimeoutError) as e:
            raise RuntimeError(f"{e}; weir's log:\n{self.logs()[-4000:]}") from None

    def logs(self):
        if not self.log.closed:  # closed by stop()
            self.log.flush()
        return self.log_path.read_text()

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("weir did not stop on " + str(sig) + "\n" + self.logs())
        if not self.log.closed:
            self.log.close()
            # A sanitized weir (make test-asan) prints UBSan reports on stderr (ASan and
            # LeakSanitizer reports also go to files conftest.py watches).
            report = SANITIZER_REPORT.search(self.logs())
            if report:
                raise AssertionError("sanitizer report from weir:\n" + self.logs()[report.start():])
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            code = self.stop()
            # A crash (a fault, an abort), even on the way out, fails the test that ran it.
            crash = {-signal.SIGSEGV, -signal.SIGBUS, -signal.SIGILL, -signal.SIGFPE,
                     -signal.SIGABRT}
            if code in crash and exc[0] is None:
                raise AssertionError(f"weir died of signal {-code}\n{self.logs()}")
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


def request(port, method="GET", path="/", headers=None, body=None, timeout=10):
    """One request on a fresh connection; returns (status, headers dict, body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


def raw_exchange(port, payload, timeout=5, read_until_close=True):
    """Sends raw bytes, returns everything read until the peer closes (or timeout)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(payload)
        chunks = []
        try:
            while True:
                data = s.recv(65536)
                if not data:
                    break
                chunks.append(data)
                if not read_until_close:
                    break
        except socket.timeout:
            pass
        return b"".join(chunks)


def stats(admin_port, query=""):
    status, _, body = request(admin_port, path="/stats" + query)
    assert status == 200
    out = {}
    for line in body.decode().splitlines():
        name, _, value = line.partition(": ")
        out[name] = value
    return out


def wasm_filter(name, wasm_path, root_id=None, configuration=None, vm_id=None, extra=""):
    conf = ""
    if configuration is not None:
        conf = f"""
                        configuration:
                          "@type": type.googleapis.com/google.protobuf.StringValue
                          value: {json.dumps(configuration)}"""
    return f"""
                  - name: envoy.filters.http.wasm
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
                      config:
                        name: {name}
                        root_id: {json.dumps(root_id if root_id is not None else name)}{conf}{extra}
                        vm_config:
                          vm_id: {json.dumps(vm_id or name)}
                          runtime: "envoy.wasm.runtime.v8"
                          code:
                            local:
                              filename: {wasm_path}"""


def cluster(name, port, connect_timeout="1s", extra=""):
    """A STATIC cluster with one endpoint on 127.0.0.1."""
    return f"""
    - name: {name}
      type: STATIC
      connect_timeout: {connect_timeout}{extra}
      load_assignment:
        cluster_name: {name}
        endpoints:
          - lb_endpoints:
              - endpoint:
                  address:
                    socket_address: {{ address: 127.0.0.1, port_value: {port} }}"""


def proxy_config(listen_port, admin_port, upstream_port, filters="", hcm_extra="",
                 route_extra="", cluster_extra="", extra_clusters=None, services="",
                 listener_extra=""):
    """A listener proxying everything to the cluster `upstream`, with optional wasm filters,
    more clusters ({name: port}) and bootstrap WasmServices."""
    boot = f"bootstrap_extensions:{services}\n" if services else ""
    clusters = cluster("upstream", upstream_port, extra=cluster_extra)
    clusters += "".join(cluster(n, p) for n, p in (extra_clusters or {}).items())
    return f"""{boot}
admin:
  address:
    socket_address: {{ address: 127.0.0.1, port_value: {admin_port} }}
static_resources:
  listeners:
    - name: ingress{listener_extra}
      address:
        socket_address: {{ address: 127.0.0.1, port_value: {listen_port} }}
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: ingress_http{hcm_extra}
                route_config:
                  name: local
                  virtual_hosts:
                    - name: all
                      domains: ["*"]
                      routes:
                        - match: {{ prefix: "/" }}
                          route:
                            cluster: upstream{route_extra}
                http_filters:{filters}
                  - name: envoy.filters.http.router
  clusters:{clusters}
"""


def seed_config(wasm_path, listen_port, admin_port, mock_port):
    """The seed config with its ports and .wasm path replaced."""
    text = (SOURCE_DIR / "examples/custom-metrics/envoy.yaml").read_text()
    text = re.sub(r"filename: .*", f"filename: {wasm_path}", text)
    text = text.replace("port_value: 9901", f"port_value: {admin_port}")
    text = text.replace("port_value: 8080", f"port_value: {listen_port}")
    text = text.replace("port_value: 8081", f"port_value: {mock_port}")
    return text


def require(available, what):
    """Skips the test when something it needs is missing on this machine (a toolchain,
    a tool such as promtool); under CI=true a missing requirement fails the run instead,
    so CI never passes by skipping."""
    if available:
        return
    import pytest
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} (required under CI=true: see scripts/setup)")
    pytest.skip(f"{what} (see scripts/setup)")


def sdk_plugin(name):
    """The path of a plugin built by scripts/build-sdk-plugins (skipped locally when its
    toolchain is missing, a failure under CI=true)."""
    path = PLUGIN_DIR / name
    require(path.exists(), f"{path} not built (toolchain missing)")
    return path
