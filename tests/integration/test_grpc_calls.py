"""gRPC calls and streams from plugins, through a real weir process, to a real gRPC
service (tests/grpc/echo_service, grpc-go, built with grpcurl by scripts/build-grpc-tools)
over HTTP/2 on loopback. Plugins built with the Go SDK (go_grpc, which declares the gRPC
ABI itself: the SDK has no gRPC API) and the Rust SDK (rust_grpc, proxy-wasm 0.2.1's
dispatch_grpc_call / open_grpc_stream) allow or deny from a unary answer, read the
answer's metadata, and run bidirectional streams; failures (a stopped service, a timeout,
a status, a cancel, a trap in a gRPC callback, a message too large, too many calls) each
end as Envoy ends them."""
import subprocess
import threading
import time

import pytest

from abi_support import request, start, stat
from upstream import Upstream
from weir_harness import (BUILD_DIR, SOURCE_DIR, ClosedPort, cluster, free_port, proxy_config,
                          require, sdk_plugin, wasm_filter, Weir)

TOOLS = BUILD_DIR / "tools"
# gRPC needs HTTP/2 to the cluster (Envoy's typed protocol options).
H2 = """
      typed_extension_protocol_options:
        envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
          "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
          explicit_http_config:
            http2_protocol_options: {}"""


@pytest.fixture(scope="module")
def tools():
    build = subprocess.run([str(SOURCE_DIR / "scripts" / "build-grpc-tools"), str(TOOLS)],
                           capture_output=True, text=True)
    require(build.returncode != 77, "Go >= 1.26 to build the gRPC test tools")
    assert build.returncode == 0, build.stderr
    return TOOLS


class EchoService:
    """The gRPC test service on a free loopback port, for as long as the object lives."""

    def __init__(self, tools):
        self.proc = subprocess.Popen([str(tools / "echo_service")], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("LISTENING "), line
        self.port = int(line.split()[1])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture(scope="module")
def service(tools):
    s = EchoService(tools)
    yield s
    s.stop()


def grpc_weir(plugin, grpc_port, limits="", upstream_port=None, configuration=None):
    """weir with `plugin` in the chain, the cluster grpc_service (HTTP/2) at `grpc_port`
    and the cluster upstream (HTTP/1) where allowed requests go."""
    filt = wasm_filter(plugin, sdk_plugin(plugin + ".wasm"), root_id="",
                       configuration=configuration)
    if limits:
        filt = filt.replace('runtime: "envoy.wasm.runtime.v8"',
                            'runtime: "envoy.wasm.runtime.v8"\n'
                            f'                          weir_limits: {{ {limits} }}')
    listen, admin = free_port(), free_port()
    text = proxy_config(listen, admin, upstream_port, filters=filt)
    text += cluster("grpc_service", grpc_port, extra=H2)
    weir = Weir(text, args=("--concurrency", "1"), wait_ports=(listen, admin))
    weir.listen, weir.admin = listen, admin
    return weir


@pytest.mark.parametrize("plugin", ["go_grpc", "rust_grpc"])
def test_unary_call_allows_and_denies(service, plugin):
    with Upstream() as up, grpc_weir(plugin, service.port, upstream_port=up.port) as weir:
        status, _, data = request(weir.listen, path="/unary", headers={"x-user": "alice"})
        assert status == 200, (data, weir.logs())
        seen = {k.lower(): v for k, v in up.requests[-1]["headers"]}
        assert seen["x-grpc-answer"] == "allow:alice"
        if plugin == "go_grpc":
            # The answer's initial metadata, readable in the unary call's callback.
            assert seen["x-check-id"] == "alice"
            assert seen["x-check-authority"] == "grpc_service"  # the cluster's name
        status, _, data = request(weir.listen, path="/unary", headers={"x-user": "denyme"})
        assert (status, data) == (403, b"denied\n")
        assert len(up.requests) == 1


@pytest.mark.parametrize("plugin", ["go_grpc", "rust_grpc"])
def test_bidirectional_stream_with_several_messages_each_way(service, plugin):
    with Upstream() as up, grpc_weir(plugin, service.port, upstream_port=up.port) as weir:
        for n in (1, 5):
            status, headers, data = request(weir.listen, path="/stream", headers={"x-count": str(n)})
            assert status == 200, (data, weir.logs())
            assert data.decode() == ",".join(f"echo:m{i}" for i in range(n))
            assert headers["x-grpc-status"] == "0"
            assert headers["x-chat"] == "open"            # initial metadata
            assert headers["x-chat-count"] == str(n)      # trailing metadata
        assert len(up.requests) == 0


def test_failures_carry_the_grpc_status_and_message(service):
    with Upstream() as up, grpc_weir("go_grpc", service.port, upstream_port=up.port) as weir:
        status, headers, _ = request(weir.listen, path="/unary",
                                     headers={"x-user": "fail:7:not for you"})
        assert status == 503
        assert (headers["x-grpc-status"], headers["x-grpc-message"]) == ("7", "not for you")
    with Upstream() as up, grpc_weir("rust_grpc", service.port, upstream_port=up.port) as weir:
        status, headers, _ = request(weir.listen, path="/unary", headers={"x-user": "fail:5:gone"})
        assert status == 503
        assert (headers["x-grpc-status"], headers["x-grpc-message"]) == ("5", "gone")


def test_a_stopped_service_is_unavailable(tools):
    with ClosedPort() as dead, Upstream() as up, \
            grpc_weir("go_grpc", dead, upstream_port=up.port) as weir:
        status, headers, _ = request(weir.listen, path="/unary", headers={"x-user": "alice"})
        assert status == 503
        assert headers["x-grpc-status"] == "14"  # UNAVAILABLE
        status, headers, _ = request(weir.listen, path="/stream", headers={"x-count": "2"})
        assert headers["x-grpc-status"] == "14"
        assert len(up.requests) == 0


def test_a_call_past_its_timeout_is_deadline_exceeded(service):
    with Upstream() as up, grpc_weir("go_grpc", service.port, upstream_port=up.port) as weir:
        t0 = time.time()
        status, headers, _ = request(weir.listen, path="/unary",
                                     headers={"x-user": "sleep:3000", "x-timeout": "200"})
        assert status == 503
        assert headers["x-grpc-status"] == "4"  # DEADLINE_EXCEEDED
        assert time.time() - t0 < 2.0


def test_a_cancelled_call_never_calls_back(service):
    with Upstream() as up, grpc_weir("go_grpc", service.port, upstream_port=up.port) as weir:
        status, _, _ = request(weir.listen, path="/cancel")
        assert status == 200
        assert ("x-cancel-status", "0") in [(k.lower(), v) for k, v in up.requests[-1]["headers"]]
        # The service would have answered after 300 ms: give it twice that, then make sure
        # the plugin heard nothing (the absence of a callback can only be waited for).
        time.sleep(0.6)
        status, _, _ = request(weir.listen, path="/unary", headers={"x-user": "bob"})
        assert status == 200
        assert "callback for cancelled call" not in weir.logs()


def test_a_trap_in_a_grpc_callback_fails_the_vm_and_weir_keeps_serving(service):
    with Upstream() as up, grpc_weir("go_grpc", service.port, upstream_port=up.port) as weir:
        status, _, _ = request(weir.listen, path="/unary", headers={"x-user": "trap"})
        assert status == 503  # fail closed, Envoy's default
        assert "VM failed" in weir.logs()
        # The worker is fine: the next request is served (fail closed again: the VM is dead).
        status, _, _ = request(weir.listen, path="/unary", headers={"x-user": "alice"})
        assert status == 503
        assert stat(weir, "wasm.plugin.go_grpc.vm_failures") == "1"


def test_an_oversized_answer_is_resource_exhausted(service):
    with Upstream() as up, grpc_weir("go_grpc", service.port, upstream_port=up.port,
                                     limits="max_call_response_bytes: 4096") as weir:
        # An answer under the bound arrives (x * 2000 is no "allow": denied).
        status, headers, _ = request(weir.listen, path="/unary", headers={"x-user": "big:2000"})
        assert status == 403, headers
        status, headers, _ = request(weir.listen, path="/unary", headers={"x-user": "big:100000"})
        assert status == 503
        assert headers["x-grpc-status"] == "8"  # RESOURCE_EXHAUSTED
        # weir stays healthy, and so does the service.
        status, _, _ = request(weir.listen, path="/unary", headers={"x-user": "carol"})
        assert status == 200


def test_calls_past_max_outstanding_calls_are_refused(service):
    with Upstream() as up, grpc_weir("go_grpc", service.port, upstream_port=up.port,
                                     limits="max_outstanding_calls: 2") as weir:
        results = []

        def slow():
            results.append(request(weir.listen, path="/unary", headers={"x-user": "sleep:800"}))
        held = [threading.Thread(target=slow) for _ in range(2)]
        for t in held:
            t.start()
        time.sleep(0.3)  # both calls are in flight (they take 800 ms)
        status, headers, _ = request(weir.listen, path="/unary", headers={"x-user": "dave"})
        assert status == 500
        assert headers["x-grpc-call-status"] == "10"  # INTERNAL_FAILURE
        for t in held:
            t.join(10)
        assert [r[0] for r in results] == [200, 200]
        assert stat(weir, "wasm.plugin.go_grpc.http_calls_over_limit") == "1"
        # Slots come back: calls work again.
        status, _, _ = request(weir.listen, path="/unary", headers={"x-user": "erin"})
        assert status == 200


def test_service_argument_as_a_serialized_grpc_service(service):
    """What Envoy's C++ SDK passes: a GrpcService naming the cluster and an authority."""
    with Upstream() as up, grpc_weir("go_grpc", service.port, upstream_port=up.port,
                                     configuration="proto:grpc_service:echo.example") as weir:
        status, _, data = request(weir.listen, path="/unary", headers={"x-user": "alice"})
        assert status == 200, (data, weir.logs())
        seen = {k.lower(): v for k, v in up.requests[-1]["headers"]}
        assert seen["x-grpc-answer"] == "allow:alice"
        assert seen["x-check-authority"] == "echo.example"
    with Upstream() as up, grpc_weir("go_grpc", service.port, upstream_port=up.port,
                                     configuration="proto:no_such_cluster:x") as weir:
        status, headers, _ = request(weir.listen, path="/unary", headers={"x-user": "alice"})
        assert status == 500
        assert headers["x-grpc-call-status"] == "10"  # INTERNAL_FAILURE, as Envoy


def test_service_argument_must_name_a_configured_cluster(service):
    with Upstream() as up, grpc_weir("go_grpc", service.port, upstream_port=up.port,
                                     configuration="no_such_cluster") as weir:
        status, headers, _ = request(weir.listen, path="/unary", headers={"x-user": "alice"})
        assert status == 500
        assert headers["x-grpc-call-status"] == "4"  # PARSE_FAILURE, as Envoy


def grpcurl(tools, port, method, data, *flags):
    return subprocess.run(
        [str(tools / "grpcurl"), "-plaintext", "-v", "-max-time", "10",
         "-import-path", str(SOURCE_DIR / "tests" / "grpc"), "-proto", "echo.proto",
         "-d", data, *flags, f"127.0.0.1:{port}", f"weir.test.Echo/{method}"],
        capture_output=True, text=True, timeout=30)


def test_grpcurl_through_weir_with_a_plugin_reading_grpc_status(tools, service):
    """gRPC proxied by weir (HTTP/2 on both sides, trailers both ways), with go_grpc in the
    chain adding a response trailer from the grpc-status it reads."""
    filt = wasm_filter("go_grpc", sdk_plugin("go_grpc.wasm"), root_id="")
    listen, admin = free_port(), free_port()
    text = proxy_config(listen, admin, service.port, filters=filt, cluster_extra=H2)
    with Weir(text, args=("--concurrency", "1"), wait_ports=(listen, admin)) as weir:
        weir.admin = admin
        out = grpcurl(tools, listen, "Check", '"hi"')
        assert out.returncode == 0, out.stdout + out.stderr + weir.logs()
        assert '"allow:hi"' in out.stdout
        assert "x-check-id: hi" in out.stdout                 # response headers
        assert "x-check-trailer: done" in out.stdout          # response trailers
        assert "x-go-grpc-saw-status: 0" in out.stdout        # added by the plugin
        out = grpcurl(tools, listen, "Chat", '"a" "b" "c"')
        assert out.returncode == 0, out.stdout + out.stderr
        assert [line for line in out.stdout.splitlines() if line.startswith('"echo:')] == \
            ['"echo:a"', '"echo:b"', '"echo:c"']
        assert "x-chat-count: 3" in out.stdout
        out = grpcurl(tools, listen, "Check", '"fail:7:not for you"')
        assert out.returncode != 0
        assert "PermissionDenied" in out.stdout + out.stderr
        assert "not for you" in out.stdout + out.stderr
        assert stat(weir, "go_grpc.grpc_status_0") == "2"
        assert stat(weir, "go_grpc.grpc_status_7") == "1"
