"""Plugin code from elsewhere: vm_config.code.remote over HTTP (Envoy's RemoteDataSource:
sha256, cache, retries) and oci:// references pulled from Debian's docker-registry, pushed
there by `weir plugin push` in each image format (Wasm artifact image, Istio compat image,
CNCF application/wasm), anonymously and with htpasswd (Basic) auth."""
import hashlib
import http.server
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from weir_harness import (PLUGIN_DIR, SOURCE_DIR, WEIR_BIN, ClosedPort, Weir, cluster, free_port,
                          proxy_config, request, require, stats, wait_for_port)

REGISTRY_BIN = shutil.which("docker-registry") or "/usr/bin/docker-registry"
PLUGIN = PLUGIN_DIR / "add-header.wasm"
PLUGIN_CONFIG = "header: x-remote: yes"


def plugin_bytes():
    return PLUGIN.read_bytes()


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def remote_filter(uri, cluster_name="code_server", sha=None, retries=0, timeout="2s",
                  extra_remote="", vm_extra=""):
    sha_line = f"\n                              sha256: {sha}" if sha else ""
    cluster_line = f"\n                                cluster: {cluster_name}" if cluster_name else ""
    return f"""
                  - name: envoy.filters.http.wasm
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
                      config:
                        name: remote_plugin
                        root_id: add_header
                        configuration:
                          "@type": type.googleapis.com/google.protobuf.StringValue
                          value: {json.dumps(PLUGIN_CONFIG)}
                        vm_config:
                          runtime: envoy.wasm.runtime.v8{vm_extra}
                          code:
                            remote:
                              http_uri:
                                uri: {uri}{cluster_line}
                                timeout: {timeout}{sha_line}
                              retry_policy:
                                num_retries: {retries}
                                retry_back_off: {{ base_interval: 0.02s, max_interval: 0.05s }}{extra_remote}"""


class Ports:
    def __init__(self):
        self.listen, self.admin, self.upstream = free_port(), free_port(), free_port()


class Upstream:
    """An upstream answering 200 'ok' to everything."""

    def __init__(self, port):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class CodeServer:
    """A local HTTP server: path -> bytes, 404 for the rest; counts requests."""

    def __init__(self, files):
        hits = self.hits = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                hits.append(self.path)
                body = files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def start_weir(ports, filters, code_port, cache_dir, extra_args=()):
    config = proxy_config(ports.listen, ports.admin, ports.upstream, filters=filters,
                          extra_clusters={"code_server": code_port})
    return Weir(config, args=("--code-cache-dir", str(cache_dir), *extra_args),
                wait_ports=(ports.listen,))


def failed_start(ports, filters, code_port, cache_dir, timeout=20):
    """weir with this config must refuse to start: returns (exit code, output)."""
    config_path = Path(cache_dir).parent / f"refused-{time.monotonic_ns()}.yaml"
    config_path.write_text(proxy_config(ports.listen, ports.admin, ports.upstream,
                                        filters=filters,
                                        extra_clusters={"code_server": code_port}))
    out = subprocess.run([str(WEIR_BIN), "-c", str(config_path), "--code-cache-dir",
                          str(cache_dir)], capture_output=True, text=True, timeout=timeout,
                         cwd=SOURCE_DIR)
    return out.returncode, out.stdout + out.stderr, config_path


def assert_plugin_serves(ports):
    status, headers, body = request(ports.listen)
    assert status == 200 and body == b"ok"
    assert headers.get("x-remote") == "yes"


@pytest.fixture
def ports():
    p = Ports()
    upstream = Upstream(p.upstream)
    yield p
    upstream.close()


# --- code.remote over HTTP ----------------------------------------------------------------


def test_http_uri_is_fetched_verified_cached_and_used_with_the_server_gone(ports, tmp_path):
    code = plugin_bytes()
    server = CodeServer({"/plugins/add-header.wasm": code})
    cache = tmp_path / "cache"
    filters = remote_filter(f"http://127.0.0.1:{server.port}/plugins/add-header.wasm",
                            sha=sha256(code))
    with start_weir(ports, filters, server.port, cache) as weir:
        assert_plugin_serves(ports)
        s = stats(ports.admin)
        assert s["wasm.remote_load_cache_misses"] == "1"
        assert s["wasm.remote_load_fetch_successes"] == "1"
        assert s["wasm.remote_load_fetch_failures"] == "0"
    assert server.hits == ["/plugins/add-header.wasm"]
    server.close()
    assert (cache / "remote" / f"sha256-{sha256(code)}").read_bytes() == code

    # Second start: the server is gone (its cluster now points at a refusing port).
    with ClosedPort() as dead:
        with start_weir(ports, filters, dead, cache) as weir:
            assert_plugin_serves(ports)
            s = stats(ports.admin)
            assert s["wasm.remote_load_cache_hits"] == "1"
            assert s["wasm.remote_load_fetch_successes"] == "0"


def test_http_uri_sha256_mismatch_refuses_to_start_saying_expected_and_got(ports, tmp_path):
    code = plugin_bytes()
    server = CodeServer({"/p.wasm": code})
    wrong = sha256(b"something else")
    code_, output, config_path = failed_start(
        ports, remote_filter(f"http://127.0.0.1:{server.port}/p.wasm", sha=wrong),
        server.port, tmp_path / "cache")
    server.close()
    assert code_ != 0
    assert f"sha256 mismatch: expected {wrong}, got {sha256(code)}" in output
    assert f"{config_path}:" in output  # file:line of the filter
    assert not (tmp_path / "cache" / "remote" / f"sha256-{sha256(code)}").exists()


def test_http_uri_404_is_retried_then_refused(ports, tmp_path):
    server = CodeServer({})
    code_, output, _ = failed_start(
        ports, remote_filter(f"http://127.0.0.1:{server.port}/missing.wasm",
                             sha=sha256(b"x"), retries=2), server.port, tmp_path / "cache")
    server.close()
    assert code_ != 0
    assert "the server answered 404" in output
    assert server.hits == ["/missing.wasm"] * 3  # one attempt and two retries


def test_remote_code_config_errors_name_the_line(ports, tmp_path):
    # No sha256 for an http uri, and an unknown cluster: refused at load with file:line.
    code_, output, config_path = failed_start(
        ports, remote_filter("http://127.0.0.1:1/p.wasm"), 1, tmp_path / "cache")
    assert code_ != 0 and "code.remote needs sha256" in output and f"{config_path}:" in output
    code_, output, config_path = failed_start(
        ports, remote_filter("http://127.0.0.1:1/p.wasm", cluster_name="nowhere",
                             sha=sha256(b"x")), 1, tmp_path / "cache")
    assert code_ != 0 and "unknown cluster 'nowhere'" in output


# --- OCI registries -----------------------------------------------------------------------


class Registry:
    """Debian's docker-registry on loopback with its storage in a temp dir; with
    `htpasswd` ({user: password}) it asks for Basic credentials."""

    def __init__(self, tmp, htpasswd=None):
        require(os.path.exists(REGISTRY_BIN), "docker-registry is not installed")
        self.port = free_port()
        self.dir = Path(tmp) / f"registry-{self.port}"
        self.dir.mkdir(parents=True)
        auth = ""
        if htpasswd:
            require(shutil.which("htpasswd"), "htpasswd (apache2-utils) is not installed")
            lines = [subprocess.run(["htpasswd", "-Bbn", u, p], capture_output=True, text=True,
                                    check=True).stdout.strip() for u, p in htpasswd.items()]
            (self.dir / "htpasswd").write_text("\n".join(lines) + "\n")
            auth = f"""auth:
  htpasswd:
    realm: weir-test
    path: {self.dir}/htpasswd
"""
        (self.dir / "config.yml").write_text(f"""version: 0.1
log:
  level: error
  accesslog: {{ disabled: true }}
storage:
  filesystem: {{ rootdirectory: {self.dir}/data }}
http:
  addr: 127.0.0.1:{self.port}
  secret: weir-test-secret
{auth}""")
        self.log = open(self.dir / "registry.log", "w")
        self.proc = subprocess.Popen([REGISTRY_BIN, "serve", str(self.dir / "config.yml")],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        wait_for_port(self.port, timeout=10, proc=self.proc)

    def ref(self, repo_tag):
        return f"oci://127.0.0.1:{self.port}/{repo_tag}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.log.close()


@pytest.fixture
def registry(tmp_path):
    r = Registry(tmp_path)
    yield r
    r.stop()


def weir_plugin(*args, timeout=30):
    return subprocess.run([str(WEIR_BIN), "plugin", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=SOURCE_DIR)


def push(ref, *extra, file=None):
    out = weir_plugin("push", str(file or PLUGIN), ref, "--plain-http", *extra)
    assert out.returncode == 0, out.stderr
    pushed = out.stdout.strip()
    assert pushed.startswith(ref + "@sha256:")
    return pushed.split("@", 1)[1]


@pytest.mark.parametrize("fmt", [["--format", "wasm"], ["--format", "compat"],
                                 ["--format", "compat", "--docker-manifest"],
                                 ["--format", "cncf"]],
                         ids=["wasm-artifact", "istio-compat", "compat-docker-v2", "cncf"])
def test_oci_image_formats_are_pulled_verified_and_served(ports, registry, tmp_path, fmt):
    digest = push(registry.ref("plugins/add-header:v1"), *fmt)
    cache = tmp_path / "cache"
    filters = remote_filter(registry.ref("plugins/add-header:v1"), sha=sha256(plugin_bytes()))
    with start_weir(ports, filters, registry.port, cache) as weir:
        assert_plugin_serves(ports)
        assert digest in weir.logs()  # the manifest it resolved the tag to
        assert stats(ports.admin)["wasm.remote_load_fetch_successes"] == "1"
    # weir plugin pull gives back the very module.
    out = weir_plugin("pull", registry.ref(f"plugins/add-header@{digest}"), "-o",
                      str(tmp_path / "pulled.wasm"), "--plain-http")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "pulled.wasm").read_bytes() == plugin_bytes()


def test_oci_by_tag_and_by_digest_start_again_with_the_registry_stopped(ports, tmp_path):
    registry = Registry(tmp_path)
    digest = push(registry.ref("plugins/add-header:stable"))
    cache = tmp_path / "cache"
    by_tag = remote_filter(registry.ref("plugins/add-header:stable"))  # no sha256: the digest
    by_digest = remote_filter(registry.ref(f"plugins/add-header@{digest}"))
    for filters in (by_tag, by_digest):
        with start_weir(ports, filters, registry.port, cache):
            assert_plugin_serves(ports)
    registry.stop()
    with ClosedPort() as dead:
        # The registry's cluster now refuses: the tag falls back to its last digest.
        with start_weir(ports, by_tag, dead, cache) as weir:
            assert_plugin_serves(ports)
            assert "unreachable" in weir.logs() and digest in weir.logs()
        with start_weir(ports, by_digest, dead, cache):
            assert_plugin_serves(ports)


def test_oci_refuses_wrong_digest_media_type_missing_tag_and_wrong_sha256(ports, registry,
                                                                         tmp_path):
    push(registry.ref("plugins/add-header:v1"))
    push(registry.ref("plugins/odd:v1"), "--layer-media-type", "application/octet-stream")
    cache = tmp_path / "cache"
    cases = [
        (registry.ref("plugins/add-header@sha256:" + "0" * 64), None,
         "not found in 127.0.0.1"),
        (registry.ref("plugins/odd:v1"), None,
         "unsupported media type: the layers of 127.0.0.1:%d/plugins/odd:v1 are "
         "[application/octet-stream]" % registry.port),
        (registry.ref("plugins/add-header:nope"), None, "manifest 'nope' not found"),
        (registry.ref("plugins/add-header:v1"), "1" * 64,
         "sha256 mismatch: expected " + "1" * 64 + ", got " + sha256(plugin_bytes())),
    ]
    for uri, sha, expected in cases:
        code_, output, config_path = failed_start(ports, remote_filter(uri, sha=sha),
                                                  registry.port, cache)
        assert code_ != 0, output
        assert expected in output, output
        assert f"{config_path}:" in output


def test_oci_registry_that_hangs_times_out_quickly(ports, tmp_path):
    # A socket that accepts and never answers.
    hang = socket.socket()
    hang.bind(("127.0.0.1", 0))
    hang.listen(16)
    port = hang.getsockname()[1]
    try:
        started = time.monotonic()
        code_, output, _ = failed_start(
            ports, remote_filter(f"oci://127.0.0.1:{port}/plugins/x:v1", timeout="0.3s",
                                 retries=1), port, tmp_path / "cache")
        elapsed = time.monotonic() - started
    finally:
        hang.close()
    assert code_ != 0
    assert "timed out" in output
    assert elapsed < 5, elapsed  # two attempts of 0.3 s, a back-off, start-up


def test_oci_basic_auth_from_a_docker_config_and_never_logged(ports, tmp_path):
    password = "s3cret-pa55word"
    registry = Registry(tmp_path, htpasswd={"alice": password})
    try:
        import base64
        docker_config = tmp_path / "docker-config.json"
        docker_config.write_text(json.dumps({"auths": {f"127.0.0.1:{registry.port}": {
            "auth": base64.b64encode(f"alice:{password}".encode()).decode()}}}))
        # Without credentials the push is refused...
        out = weir_plugin("push", str(PLUGIN), registry.ref("plugins/private:v1"),
                          "--plain-http", "--docker-config", str(tmp_path / "none.json"))
        assert out.returncode != 0
        # ...with them it goes through.
        push(registry.ref("plugins/private:v1"), "--docker-config", str(docker_config))
        auth = f"""
                              weir_registry_auth:
                                docker_config: {docker_config}"""
        cache = tmp_path / "cache"
        with start_weir(ports, remote_filter(registry.ref("plugins/private:v1"),
                                             extra_remote=auth), registry.port, cache) as weir:
            assert_plugin_serves(ports)
            assert password not in weir.logs()
        # Wrong credentials: a clear refusal, the password nowhere in the output.
        docker_config.write_text(json.dumps({"auths": {f"127.0.0.1:{registry.port}": {
            "username": "alice", "password": "wrong-" + password}}}))
        code_, output, _ = failed_start(
            ports, remote_filter(registry.ref("plugins/private:v1"), extra_remote=auth),
            registry.port, tmp_path / "cache2")
        assert code_ != 0
        assert "401 Unauthorized" in output
        assert password not in output
    finally:
        registry.stop()
