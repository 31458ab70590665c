"""Asynchronous host functions through a real weir process, with plugins built by the
public SDKs and weir's C++ SDK: proxy_http_call (answered on the root context), ticks,
shared data with compare-and-swap, shared queues woken on the owning worker, and a
bootstrap WasmService (singleton) feeding filters on every worker."""
import json
import time

import pytest

from abi_support import request, start, stat, wait_for, wasm_service
from weir_harness import sdk_plugin
from upstream import Upstream
from weir_harness import ClosedPort, wasm_filter


def seen_headers(body):
    return dict(json.loads(body)["headers"])


@pytest.mark.parametrize("plugin,root_id,configuration,allowed_header", [
    ("auth_filter.wasm", "", "auth 300", ("x-auth-status", "200")),  # C++ SDK
    ("go_auth.wasm", "", "auth", ("x-go-auth", "allowed")),  # Go SDK
    ("as_auth.wasm", "as_auth", "auth", ("x-as-auth", "allowed")),  # AssemblyScript SDK
    ("rust_auth_v01.wasm", "", None, ("x-rust-auth", "allowed")),  # Rust 0.1.4, ABI 0.1.0
])
def test_http_call_authorization(plugin, root_id, configuration, allowed_header):
    path = sdk_plugin(plugin)
    with Upstream() as up, Upstream() as auth, start(
            {"upstream": up.port, "auth": auth.port},
            wasm_filter("authz", path, root_id=root_id, configuration=configuration)) as weir:
        # Allowed: the auth service says 200, the request reaches the upstream.
        status, _, body = request(weir.listen, path="/ok", headers={"x-auth-path": "/status/200"})
        assert status == 200, weir.logs()
        name, value = allowed_header
        assert seen_headers(body)[name] == value
        assert auth.requests[-1]["path"] == "/status/200"
        # Denied: anything but 200 is a 403 and nothing goes upstream.
        before = len(up.requests)
        status, _, _ = request(weir.listen, path="/no", headers={"x-auth-path": "/status/401"})
        assert status == 403
        # The call times out (300 ms for the C++ plugin, 500 ms for the others): 500.
        status, _, _ = request(weir.listen, path="/slow", headers={"x-auth-path": "/slow/1500"})
        assert status == 500
        assert len(up.requests) == before
        assert request(weir.listen, headers={"x-auth-path": "/status/200"})[0] == 200


@pytest.mark.parametrize("policy,expected", [("FAIL_CLOSED", 503), ("FAIL_OPEN", 200)])
def test_trap_in_http_call_answer_applies_failure_policy_to_the_waiting_stream(policy, expected):
    path = sdk_plugin("auth_filter.wasm")
    extra = f"\n                        failure_policy: {policy}"
    with Upstream() as up, Upstream() as auth, start(
            {"upstream": up.port, "auth": auth.port},
            wasm_filter("authz", path, root_id="", configuration="auth 2000", extra=extra),
            hcm_extra="\n                stream_idle_timeout: 30s") as weir:
        t = time.time()
        status, _, _ = request(weir.listen, headers={"x-auth-path": "/status/599"}, timeout=20)
        assert status == expected, weir.logs()
        assert time.time() - t < 5  # right away, not at the stream idle timeout
        assert weir.proc.poll() is None


def test_http_call_to_a_dead_cluster_answers_500():
    path = sdk_plugin("auth_filter.wasm")
    with ClosedPort() as dead, Upstream() as up, start({"upstream": up.port, "auth": dead},
                                 wasm_filter("authz", path, root_id="", configuration="auth 1000")) as weir:
        status, _, _ = request(weir.listen)
        assert status == 500
        assert up.requests == []


def test_http_call_to_an_unknown_cluster_is_bad_argument():
    path = sdk_plugin("auth_filter.wasm")
    with Upstream() as up, start({"upstream": up.port},
                                 wasm_filter("authz", path, root_id="", configuration="nosuch 1000")) as weir:
        status, headers, _ = request(weir.listen)
        assert status == 500
        assert headers["x-auth-call-status"] == "bad_argument"


def test_go_plugin_ticks_and_counts_with_cas():
    path = sdk_plugin("go_auth.wasm")
    with Upstream() as up, Upstream() as auth, start(
            {"upstream": up.port, "auth": auth.port},
            wasm_filter("authz", path, root_id="", configuration="auth"), concurrency=2) as weir:
        for _ in range(6):
            assert request(weir.listen, headers={"x-auth-path": "/status/200"})[0] == 200

        def go_stats():
            status, _, body = request(weir.listen, headers={"x-go-auth-stats": "1"})
            assert status == 200
            return dict(kv.split("=") for kv in body.decode().split())
        assert wait_for(lambda: int(go_stats()["ticks"]) >= 2, timeout=5), go_stats()  # 100 ms ticks
        assert go_stats()["allowed"] == "6"  # CAS loop across two workers' VMs


def test_singleton_service_refreshes_a_token_read_by_filters_on_every_worker():
    path = sdk_plugin("token_service.wasm")
    with Upstream() as up, Upstream() as tokens, start(
            {"upstream": up.port, "token": tokens.port},
            wasm_filter("reader", path, root_id="token_reader", vm_id="tokens"),
            services=wasm_service("token_service", path, "token_service", "tokens", "token 300"),
            concurrency=2) as weir:
        def token_now():
            status, _, body = request(weir.listen)
            return seen_headers(body)["x-token"] if status == 200 else None
        first = wait_for(token_now, timeout=5)
        assert first and first.startswith("token-"), weir.logs()
        # The service refreshes the token every 300 ms.
        later = wait_for(lambda: (t := token_now()) and int(t.split("-")[1]) > int(first.split("-")[1]) and t,
                         timeout=5)
        assert later, (first, token_now(), weir.logs())
        # One service instance in the process: refreshes arrive once per period, not once
        # per worker (2 workers would double the rate).
        calls = [r for r in tokens.requests if r["path"].startswith("/token")]
        numbers = [int(r["path"].split("n=")[1]) for r in calls]
        assert numbers == sorted(set(numbers)), numbers
        # Many connections so that both workers serve some: every one sees a token.
        for _ in range(10):
            assert token_now() is not None


def test_queue_items_from_every_worker_wake_the_owner():
    path = sdk_plugin("token_service.wasm")
    with Upstream() as up, Upstream() as tokens, start(
            {"upstream": up.port, "token": tokens.port},
            wasm_filter("reader", path, root_id="token_reader", vm_id="tokens"),
            services=wasm_service("token_service", path, "token_service", "tokens", "token 100"),
            concurrency=2) as weir:
        assert wait_for(lambda: request(weir.listen)[0] == 200, timeout=5), weir.logs()
        sent = 1
        for _ in range(19):
            assert request(weir.listen)[0] == 200
            sent += 1

        def hits():
            return int(request(weir.listen, headers={"x-show-hits": "1"})[2])
        assert wait_for(lambda: hits() == sent, timeout=5), hits()


def test_rust_queue_ticks_properties_and_trailers():
    path = sdk_plugin("rust_queue.wasm")
    with Upstream() as up, start({"upstream": up.port},
                                 wasm_filter("rq", path, root_id="", vm_id="rq_vm"),
                                 concurrency=2) as weir:
        for _ in range(5):
            status, _, body = request(weir.listen)
            assert status == 200, weir.logs()
            assert seen_headers(body)["x-rust-plugin-name"] == "rq"

        def stats_now():
            body = request(weir.listen, headers={"x-rust-stats": "1"})[2].decode()
            return dict(kv.split("=") for kv in body.split())
        assert wait_for(lambda: stats_now()["dequeued"] == "5", timeout=5), stats_now()
        assert wait_for(lambda: int(stats_now()["ticks"]) >= 3, timeout=5), stats_now()  # 100 ms
        # Request trailers reach the plugin's trailer callback.
        import socket
        with socket.create_connection(("127.0.0.1", weir.listen), timeout=5) as s:
            s.sendall(b"POST /t HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n"
                      b"5\r\nhello\r\n0\r\nx-client-trailer: tv\r\n\r\n")
            data = b""
            while b"\r\n\r\n" not in data:
                data += s.recv(65536)
        head = data.split(b"\r\n\r\n")[0].decode().lower()
        assert " 200 " in head.splitlines()[0]
        assert "x-rust-saw-trailer: tv" in head


def test_sigterm_with_a_service_and_a_call_in_flight_exits_cleanly():
    import socket
    token = sdk_plugin("token_service.wasm")
    auth = sdk_plugin("auth_filter.wasm")
    with Upstream() as up, Upstream() as slow:
        weir = start({"upstream": up.port, "token": slow.port, "auth": slow.port},
                     wasm_filter("authz", auth, root_id="", configuration="auth 5000"),
                     services=wasm_service("token_service", token, "token_service", "tokens", "token 50"),
                     concurrency=2)
        try:
            with socket.create_connection(("127.0.0.1", weir.listen)) as s:
                s.sendall(b"GET / HTTP/1.1\r\nhost: x\r\nx-auth-path: /slow/3000\r\n\r\n")
                wait_for(lambda: any(r["path"] == "/slow/3000" for r in slow.requests), timeout=5)
                # Ticks, token calls and the paused stream's auth call are all in flight.
                assert weir.stop() == 0, weir.logs()
        finally:
            weir.stop()
