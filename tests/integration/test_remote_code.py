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
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()

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
                if self.path == "/redirect":
                    self.send_response(302)
                    self.send_header("location", "/elsewhere.wasm")
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                if self.path == "/huge":  # announces 1 GiB, sends it slowly
                    self.send_response(200)
                    self.send_header("content-length", str(1 << 30))
                    self.end_headers()
                    self.wfile.write(b"\0asm" + b"x" * 65536)
                    return
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
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()

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
        assert s["wasm.remote_load_cache_entries"] == "1"
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


def test_http_uri_retry_goes_to_the_clusters_next_endpoint(ports, tmp_path):
    """The code cluster's first endpoint refuses connections: the retry takes the second
    one, and the plugin loads."""
    code = plugin_bytes()
    server = CodeServer({"/p.wasm": code})
    try:
        with ClosedPort() as dead:
            config = proxy_config(ports.listen, ports.admin, ports.upstream,
                                  filters=remote_filter(f"http://127.0.0.1:{server.port}/p.wasm",
                                                        sha=sha256(code), retries=1),
                                  extra_clusters={"code_server": dead})
            first = f"socket_address: {{ address: 127.0.0.1, port_value: {dead} }}"
            assert config.count(first) == 1
            config = config.replace(first, first + f"""
              - endpoint:
                  address:
                    socket_address: {{ address: 127.0.0.1, port_value: {server.port} }}""")
            with Weir(config, args=("--code-cache-dir", str(tmp_path / "cache")),
                      wait_ports=(ports.listen,)) as weir:
                assert_plugin_serves(ports)
                assert "retrying" in weir.logs()
        assert server.hits == ["/p.wasm"]
    finally:
        server.close()


def test_http_uri_redirects_are_not_followed_and_the_size_is_capped(ports, tmp_path):
    server = CodeServer({"/elsewhere.wasm": plugin_bytes()})
    code_, output, _ = failed_start(
        ports, remote_filter(f"http://127.0.0.1:{server.port}/redirect", sha=sha256(b"x")),
        server.port, tmp_path / "cache")
    assert code_ != 0
    assert "the server answered 302 (redirects are not followed: /elsewhere.wasm)" in output
    started = time.monotonic()
    code_, output, _ = failed_start(
        ports, remote_filter(f"http://127.0.0.1:{server.port}/huge", sha=sha256(b"x")),
        server.port, tmp_path / "cache")
    server.close()
    assert code_ != 0
    assert "the response body is over 67108864 bytes (the limit)" in output
    assert time.monotonic() - started < 5
    assert "/elsewhere.wasm" not in server.hits


def test_nack_on_code_cache_miss_refuses_the_first_load_and_fills_the_cache(ports, tmp_path):
    code = plugin_bytes()
    server = CodeServer({"/p.wasm": code})
    filters = remote_filter(f"http://127.0.0.1:{server.port}/p.wasm", sha=sha256(code),
                            vm_extra="\n                          nack_on_code_cache_miss: true")
    cache = tmp_path / "cache"
    code_, output, _ = failed_start(ports, filters, server.port, cache)
    assert code_ != 0 and "nack_on_code_cache_miss" in output
    assert server.hits == ["/p.wasm"]
    with start_weir(ports, filters, server.port, cache) as weir:  # the next load: cached
        assert_plugin_serves(ports)
        assert stats(ports.admin)["wasm.remote_load_cache_hits"] == "1"
    assert server.hits == ["/p.wasm"]
    server.close()


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

    def __init__(self, tmp, htpasswd=None, tls=None):
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
        http_tls = ""
        if tls:  # (certificate, key)
            http_tls = f"""  tls:
    certificate: {tls[0]}
    key: {tls[1]}
"""
        self.scheme = "https" if tls else "http"
        (self.dir / "config.yml").write_text(f"""version: 0.1
log:
  level: error
  accesslog: {{ disabled: true }}
storage:
  filesystem: {{ rootdirectory: {self.dir}/data }}
http:
  addr: 127.0.0.1:{self.port}
  secret: weir-test-secret
{http_tls}{auth}""")
        self.log = open(self.dir / "registry.log", "w")
        self.proc = subprocess.Popen([REGISTRY_BIN, "serve", str(self.dir / "config.yml")],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        wait_for_port(self.port, timeout=10, proc=self.proc)

    def ref(self, repo_tag):
        return f"oci://127.0.0.1:{self.port}/{repo_tag}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()  # its storage is thrown away: no need for a graceful stop
            self.proc.wait(timeout=10)
        self.log.close()


@pytest.fixture
def registry(tmp_path):
    r = Registry(tmp_path)
    yield r
    r.stop()


def weir_plugin(*args, timeout=30, env=None):
    return subprocess.run([str(WEIR_BIN), "plugin", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=SOURCE_DIR,
                          env={**os.environ, **env} if env else None)


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


class TokenAuthFront:
    """A registry front that wants Bearer tokens, as Docker Hub or GHCR do: a request
    without one gets 401 and a WWW-Authenticate challenge naming the token endpoint
    (/token here, which wants Basic credentials), with one it is passed to `registry`."""

    def __init__(self, registry_port, user, password):
        import base64
        import http.client
        token = "tok-" + os.urandom(8).hex()
        basic = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.token_requests = token_requests = []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def reply(self, status, body=b"", headers=()):
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def handle_any(self):
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.path.startswith("/token"):
                    token_requests.append(self.path)
                    if self.headers.get("authorization") != basic:
                        return self.reply(401)
                    return self.reply(200, json.dumps({"token": token}).encode(),
                                      [("content-type", "application/json")])
                if self.headers.get("authorization") != "Bearer " + token:
                    host = self.headers.get("host")
                    return self.reply(401, b"{}", [(
                        "www-authenticate",
                        f'Bearer realm="http://{host}/token",service="weir-test"')])
                upstream = http.client.HTTPConnection("127.0.0.1", registry_port, timeout=10)
                upstream.putrequest(self.command, self.path, skip_host=True,
                                    skip_accept_encoding=True)
                for k, v in self.headers.items():
                    if k.lower() not in ("authorization", "content-length", "connection"):
                        upstream.putheader(k, v)
                upstream.putheader("content-length", str(len(body)))
                upstream.endheaders(body)
                response = upstream.getresponse()
                data = response.read()
                headers = [(k, v) for k, v in response.getheaders()
                           if k.lower() not in ("content-length", "connection",
                                                "transfer-encoding")]
                upstream.close()
                if self.command == "HEAD":
                    self.send_response(response.status)
                    for k, v in headers:
                        self.send_header(k, v)
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    return
                self.reply(response.status, data, headers)

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = handle_any

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_oci_bearer_token_auth(ports, registry, tmp_path):
    password = "t0ken-pa55"
    front = TokenAuthFront(registry.port, "bob", password)
    try:
        import base64
        docker_config = tmp_path / "docker-config.json"
        docker_config.write_text(json.dumps({"auths": {f"127.0.0.1:{front.port}": {
            "auth": base64.b64encode(f"bob:{password}".encode()).decode()}}}))
        ref = f"oci://127.0.0.1:{front.port}/plugins/tokened:v1"
        push(ref, "--docker-config", str(docker_config))
        assert any("scope=repository%3Aplugins%2Ftokened%3Apull%2Cpush" in r
                   for r in front.token_requests)
        auth = f"""
                              weir_registry_auth:
                                docker_config: {docker_config}"""
        with start_weir(ports, remote_filter(ref, extra_remote=auth), front.port,
                        tmp_path / "cache") as weir:
            assert_plugin_serves(ports)
            assert password not in weir.logs()
        assert any(r.endswith("scope=repository%3Aplugins%2Ftokened%3Apull&service=weir-test")
                   for r in front.token_requests)
        # No credentials: the token endpoint refuses, and weir says so.
        code_, output, _ = failed_start(ports, remote_filter(ref), front.port,
                                        tmp_path / "cache2")
        assert code_ != 0 and "token endpoint answered 401" in output, output
    finally:
        front.close()


def test_http_uri_over_https_through_the_clusters_tls_context(ports, tmp_path):
    import ssl
    from test_tls import make_ca, make_cert, upstream_tls
    certs = tmp_path / "certs"
    certs.mkdir()
    make_ca(certs, "ca", "weir test CA")
    make_ca(certs, "other_ca", "another CA")
    make_cert(certs, "server", "plugins.test", "DNS:plugins.test,IP:127.0.0.1")
    code = plugin_bytes()
    server = CodeServer({"/p.wasm": code})
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs / "server.pem", certs / "server.key")
    server.server.socket = context.wrap_socket(server.server.socket, server_side=True)
    filters = remote_filter("https://plugins.test/p.wasm", sha=sha256(code))

    def config(ca):
        return proxy_config(ports.listen, ports.admin, ports.upstream, filters=filters) + \
            cluster("code_server", server.port, extra=upstream_tls(certs, ca=ca,
                                                                   sni="plugins.test"))
    try:
        with Weir(config("ca.pem"), args=("--code-cache-dir", str(tmp_path / "c1")),
                  wait_ports=(ports.listen,)) as weir:
            assert_plugin_serves(ports)
        assert server.hits == ["/p.wasm"]
        # A server whose certificate the cluster's CA did not sign: refused.
        path = tmp_path / "other.yaml"
        path.write_text(config("other_ca.pem"))
        out = subprocess.run([str(WEIR_BIN), "-c", str(path), "--code-cache-dir",
                              str(tmp_path / "c2")], capture_output=True, text=True, timeout=20)
        assert out.returncode != 0
        assert "TLS handshake failed" in out.stdout + out.stderr, out.stdout + out.stderr
    finally:
        server.close()


def raw_push(registry, repo, tag, layer, layer_type, config=b"{}",
             config_type="application/vnd.oci.image.config.v1+json"):
    """An image pushed with nothing of weir's: the registry API spoken from Python."""
    import http.client

    def call(method, path, body=b"", headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", registry.port, timeout=10)
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        response.read()
        conn.close()
        return response

    def blob(data):
        digest = "sha256:" + sha256(data)
        started = call("POST", f"/v2/{repo}/blobs/uploads/")
        assert started.status == 202
        location = started.getheader("location")
        location = location[location.index("/v2/"):] if "://" in location else location
        sep = "&" if "?" in location else "?"
        assert call("PUT", f"{location}{sep}digest={digest}", data,
                    {"content-type": "application/octet-stream"}).status == 201
        return {"mediaType": None, "digest": digest, "size": len(data)}

    layer_desc = blob(layer)
    layer_desc["mediaType"] = layer_type
    config_desc = blob(config)
    config_desc["mediaType"] = config_type
    manifest = json.dumps({"schemaVersion": 2,
                           "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": config_desc, "layers": [layer_desc]}).encode()
    assert call("PUT", f"/v2/{repo}/manifests/{tag}", manifest, {
        "content-type": "application/vnd.oci.image.manifest.v1+json"}).status == 201


def test_oci_compat_image_made_by_tar_tools_is_read(ports, registry, tmp_path):
    """A compat image as `docker build` with `COPY plugin.wasm ./` makes it: a gzip'd tar
    with a directory entry and ./plugin.wasm (pax headers, other files beside it)."""
    import gzip
    import io
    import tarfile
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in (("./etc/notes.txt", b"not the plugin"),
                           ("./plugin.wasm", plugin_bytes())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.pax_headers = {"comment": "x" * 300}
            tar.addfile(info, io.BytesIO(data))
    raw_push(registry, "plugins/docker-built", "v1", gzip.compress(out.getvalue()),
             "application/vnd.oci.image.layer.v1.tar+gzip")
    # A layer that is not gzip at all although its type says so: refused, clearly.
    raw_push(registry, "plugins/broken", "v1", b"\x1f\x8bnot really gzip",
             "application/vnd.oci.image.layer.v1.tar+gzip")
    with start_weir(ports, remote_filter(registry.ref("plugins/docker-built:v1")),
                    registry.port, tmp_path / "cache") as weir:
        assert_plugin_serves(ports)
        assert "compat image" in weir.logs()
    code_, output, _ = failed_start(ports, remote_filter(registry.ref("plugins/broken:v1")),
                                    registry.port, tmp_path / "cache")
    assert code_ != 0 and "not valid gzip" in output, output


class LyingRegistry:
    """A registry (or a mirror in the middle) that answers what it likes: path -> (status,
    content type, body). Counts the paths asked."""

    def __init__(self, routes, require_authorization=None):
        self.hits = hits = []
        self.authorizations = authorizations = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                hits.append(self.path)
                authorizations.append(self.headers.get("authorization"))
                if require_authorization and \
                        self.headers.get("authorization") != require_authorization:
                    self.send_response(401)
                    self.send_header("www-authenticate", 'Basic realm="test"')
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                status, content_type, body = routes.get(self.path, (404, "text/plain", b"no"))
                if isinstance(body, str):  # a redirect: body is the location
                    self.send_response(status)
                    self.send_header("location", body)
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_oci_digests_are_checked_and_sizes_bounded_whatever_the_registry_says(ports, tmp_path):
    code = plugin_bytes()
    oci = "application/vnd.oci.image.manifest.v1+json"

    def manifest(layer_digest, size, layer_type="application/vnd.module.wasm.content.layer.v1+wasm"):
        return json.dumps({"schemaVersion": 2, "mediaType": oci,
                           "config": {"mediaType": "application/vnd.module.wasm.config.v1+json",
                                      "digest": "sha256:" + sha256(b"{}"), "size": 2},
                           "layers": [{"mediaType": layer_type, "digest": layer_digest,
                                       "size": size}]}).encode()

    good_digest = "sha256:" + sha256(code)
    tampered = manifest(good_digest, len(code))
    index = json.dumps({"schemaVersion": 2,
                        "mediaType": "application/vnd.oci.image.index.v1+json",
                        "manifests": []}).encode()
    routes = {
        # The layer's bytes are not the ones its digest names.
        "/v2/p/swapped/manifests/v1": (200, oci, tampered),
        f"/v2/p/swapped/blobs/{good_digest}": (200, "application/octet-stream",
                                               code + b"\0evil"),
        # A manifest asked for by digest that is not the manifest with that digest.
        "/v2/p/pinned/manifests/sha256:" + "a" * 64: (200, oci, tampered),
        # A layer announced at 1 GiB: refused before a byte of it is fetched.
        "/v2/p/huge/manifests/v1": (200, oci, manifest("sha256:" + "b" * 64, 1 << 30)),
        "/v2/p/multi/manifests/v1": (200, "application/vnd.oci.image.index.v1+json", index),
        # A manifest over 4 MiB.
        "/v2/p/bloated/manifests/v1": (200, oci, b"{" + b" " * (5 << 20) + b"}"),
    }
    registry = LyingRegistry(routes)
    expected = {
        "p/swapped:v1": f"blob digest mismatch: expected {good_digest}, got sha256:"
                        + sha256(code + b"\0evil"),
        "p/pinned@sha256:" + "a" * 64: "manifest digest mismatch: expected sha256:" + "a" * 64
                                        + ", got sha256:" + sha256(tampered),
        "p/huge:v1": "the layer is 1073741824 bytes, over the limit of 67108864",
        "p/multi:v1": "is an image index",
        "p/bloated:v1": "the response body is over 4194304 bytes",
    }
    try:
        for ref, message in expected.items():
            code_, output, _ = failed_start(
                ports, remote_filter(f"oci://127.0.0.1:{registry.port}/{ref}"), registry.port,
                tmp_path / "cache")
            assert code_ != 0
            assert message in output, output
        assert not any("b" * 64 in hit for hit in registry.hits)  # the huge layer: never asked
        assert not list((tmp_path / "cache" / "remote").glob(f"sha256-{sha256(code)}"))
    finally:
        registry.close()


def test_oci_blob_redirects_are_followed_a_few_times_without_the_credentials(ports, tmp_path):
    import base64
    code = plugin_bytes()
    digest = "sha256:" + sha256(code)
    oci = "application/vnd.oci.image.manifest.v1+json"
    manifest = json.dumps({"schemaVersion": 2, "mediaType": oci,
                           "config": {"mediaType": "application/vnd.module.wasm.config.v1+json",
                                      "digest": "sha256:" + sha256(b"{}"), "size": 2},
                           "layers": [{"mediaType": "application/wasm", "digest": digest,
                                       "size": len(code)}]}).encode()
    storage = LyingRegistry({"/store/blob": (200, "application/octet-stream", code)})
    basic = "Basic " + base64.b64encode(b"carol:hunter2").decode()
    registry = LyingRegistry({
        "/v2/p/ok/manifests/v1": (200, oci, manifest),
        f"/v2/p/ok/blobs/{digest}": (307, "", f"http://127.0.0.1:{storage.port}/store/blob"),
    }, require_authorization=basic)
    loop = LyingRegistry({"/again": (302, "", "/again")})
    registry_routes_loop = f"http://127.0.0.1:{loop.port}/again"
    docker_config = tmp_path / "auth.json"
    docker_config.write_text(json.dumps({"auths": {f"127.0.0.1:{registry.port}": {
        "username": "carol", "password": "hunter2"}}}))
    auth = f"""
                              weir_registry_auth:
                                docker_config: {docker_config}"""
    try:
        with start_weir(ports, remote_filter(f"oci://127.0.0.1:{registry.port}/p/ok:v1",
                                             extra_remote=auth), registry.port,
                        tmp_path / "cache"):
            assert_plugin_serves(ports)
        assert storage.hits == ["/store/blob"]
        assert storage.authorizations == [None]  # the registry's credentials stayed there
    finally:
        storage.close()
    # A blob that redirects for ever: refused after a few hops.
    loop_registry = LyingRegistry({
        "/v2/p/loop/manifests/v1": (200, oci, manifest),
        f"/v2/p/loop/blobs/{digest}": (302, "", registry_routes_loop),
    })
    try:
        code_, output, _ = failed_start(
            ports, remote_filter(f"oci://127.0.0.1:{loop_registry.port}/p/loop:v1"),
            loop_registry.port, tmp_path / "cache2")
        assert code_ != 0 and "more than 3 redirects" in output, output
        assert len(loop.hits) == 3
    finally:
        loop_registry.close()
        loop.close()
        registry.close()


def with_custom_section(wasm, payload):
    """The same module with a custom section appended: other bytes, same behaviour."""
    name = b"weir-test"
    body = bytes([len(name)]) + name + payload
    assert len(body) < 128
    return wasm + b"\x00" + bytes([len(body)]) + body


def test_oci_tag_is_resolved_again_at_each_load(ports, registry, tmp_path):
    first = tmp_path / "first.wasm"
    second = tmp_path / "second.wasm"
    first.write_bytes(with_custom_section(plugin_bytes(), b"1"))
    second.write_bytes(with_custom_section(plugin_bytes(), b"2"))
    ref = registry.ref("plugins/moving:latest")
    digest1 = push(ref, file=first)
    cache = tmp_path / "cache"
    with start_weir(ports, remote_filter(ref), registry.port, cache) as weir:
        assert_plugin_serves(ports)
        assert digest1 in weir.logs()
    digest2 = push(ref, file=second)  # the tag moves
    assert digest2 != digest1
    with start_weir(ports, remote_filter(ref), registry.port, cache) as weir:
        assert_plugin_serves(ports)
        assert digest2 in weir.logs() and digest1 not in weir.logs()
    assert (cache / "remote" / f"sha256-{sha256(second.read_bytes())}").exists()


def test_oci_over_https_verified_against_the_system_cas_without_a_cluster(ports, tmp_path):
    """No cluster: weir speaks HTTPS to the registry named in the reference and verifies it
    against the system's CAs (here SSL_CERT_FILE, which OpenSSL reads for them) and the
    reference's host."""
    from test_tls import make_ca, make_cert
    certs = tmp_path / "certs"
    certs.mkdir()
    make_ca(certs, "ca", "weir test CA")
    make_ca(certs, "other_ca", "another CA")
    make_cert(certs, "registry", "registry.test", "DNS:registry.test,IP:127.0.0.1")
    make_cert(certs, "misnamed", "elsewhere.test", "DNS:elsewhere.test")
    trusted = {"SSL_CERT_FILE": str(certs / "ca.pem")}
    registry = Registry(tmp_path, tls=(certs / "registry.pem", certs / "registry.key"))
    misnamed = Registry(tmp_path, tls=(certs / "misnamed.pem", certs / "misnamed.key"))
    try:
        ref = registry.ref("plugins/tls:v1")
        out = weir_plugin("push", str(PLUGIN), ref, env=trusted)
        assert out.returncode == 0, out.stderr
        # Another CA, or a certificate for another host: refused.
        out = weir_plugin("push", str(PLUGIN), ref, env={"SSL_CERT_FILE": str(certs / "other_ca.pem")})
        assert out.returncode != 0 and "TLS handshake failed" in out.stderr, out.stderr
        out = weir_plugin("push", str(PLUGIN), misnamed.ref("plugins/tls:v1"), env=trusted)
        assert out.returncode != 0 and "TLS handshake failed" in out.stderr, out.stderr
        config = proxy_config(ports.listen, ports.admin, ports.upstream,
                              filters=remote_filter(ref, cluster_name=None))
        with Weir(config, args=("--code-cache-dir", str(tmp_path / "cache")),
                  wait_ports=(ports.listen,), env=trusted):
            assert_plugin_serves(ports)
    finally:
        registry.stop()
        misnamed.stop()
