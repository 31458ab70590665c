"""Host-function error paths and stream lifecycles through a real weir process (weir's
C++ SDK plugin abi_probe, which calls the raw ABI): bad pointers, missing keys, CAS
mismatch, empty queue, unknown cluster, unknown foreign function; a plugin that pauses
forever; proxy_close_stream; properties; several plugins in one chain; plugins sharing a
VM by vm_id; body buffering past the per-stream limit."""
import http.client
import json
import socket

import pytest

from abi_support import request, start, stat, wait_for
from weir_harness import sdk_plugin
from upstream import Upstream
from weir_harness import wasm_filter


def probe_lines(body):
    return dict(line.split("=", 1) for line in body.decode().splitlines())


def test_error_paths_answer_statuses_and_never_crash():
    path = sdk_plugin("abi_probe.wasm")
    with Upstream() as up, start({"upstream": up.port}, wasm_filter("probe", path, root_id="")) as weir:
        status, _, body = request(weir.listen, headers={"x-probe": "errors"})
        assert status == 200, weir.logs()
        r = probe_lines(body)
        assert r["log_bad_pointer"] == "6"  # INVALID_MEMORY_ACCESS
        assert r["header_bad_key_pointer"] == "6"
        assert r["header_bad_out_pointer"] == "6"
        assert r["header_missing_key"] == "1"  # NOT_FOUND
        assert r["shared_missing_key"] == "1"
        assert r["shared_cas_mismatch"] == "8"  # CAS_MISMATCH
        assert r["shared_cas_match"] == "0"
        assert r["shared_stale_cas"] == "8"
        assert r["queue_resolve_unknown"] == "1"
        assert r["queue_dequeue_empty"] == "7"  # EMPTY
        assert r["queue_enqueue_unknown"] == "1"
        assert r["http_call_unknown_cluster"] == "2"  # BAD_ARGUMENT
        assert r["http_call_missing_path"] == "2"
        assert r["http_call_bad_pointer"] == "6"
        assert r["foreign_function_unknown"] == "1"
        assert r["call_response_header_outside_callback"] == "2"
        assert r["call_response_body_outside_callback"] == "1"
        # The VM is alive and the proxy serves on.
        assert request(weir.listen)[0] == 200


def lifecycle_counts(weir):
    s = {k: stat(weir, "abi_probe." + k) for k in ("on_done", "on_log", "on_delete", "active")}
    return s


def test_paused_forever_ends_at_stream_idle_timeout_with_callbacks_once():
    path = sdk_plugin("abi_probe.wasm")
    with Upstream() as up, start({"upstream": up.port}, wasm_filter("probe", path, root_id=""),
                                 hcm_extra="\n                stream_idle_timeout: 1s") as weir:
        status, _, _ = request(weir.listen, headers={"x-probe": "pause"}, timeout=10)
        assert status in (408, 504)
        assert up.requests == []
        assert request(weir.listen)[0] == 200
        want = {"on_done": "2", "on_log": "2", "on_delete": "2", "active": "0"}
        assert wait_for(lambda: lifecycle_counts(weir) == want, timeout=5), lifecycle_counts(weir)


def test_lifecycle_on_client_reset_local_reply_and_close_stream():
    path = sdk_plugin("abi_probe.wasm")
    with Upstream() as up, start({"upstream": up.port}, wasm_filter("probe", path, root_id="")) as weir:
        # Client goes away while the plugin holds the request.
        with socket.create_connection(("127.0.0.1", weir.listen)) as s:
            s.sendall(b"GET / HTTP/1.1\r\nhost: x\r\nx-probe: pause\r\n\r\n")
            assert wait_for(lambda: stat(weir, "abi_probe.active") == "1", timeout=5)
        # Local reply from the plugin.
        assert request(weir.listen, headers={"x-probe": "errors"})[0] == 200
        # proxy_close_stream: the stream is reset, the client sees the connection close.
        with socket.create_connection(("127.0.0.1", weir.listen), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.1\r\nhost: x\r\nx-probe: close\r\n\r\n")
            try:
                data = s.recv(65536)
            except ConnectionResetError:
                data = b""
            assert data == b""
        want = {"on_done": "3", "on_log": "3", "on_delete": "3", "active": "0"}
        assert wait_for(lambda: lifecycle_counts(weir) == want, timeout=5), lifecycle_counts(weir)
        assert up.requests == []


def test_properties_from_a_real_stream():
    path = sdk_plugin("abi_probe.wasm")
    with Upstream() as up, start({"upstream": up.port},
                                 wasm_filter("probe", path, root_id="probe_root", vm_id="probe_vm")) as weir:
        status, _, body = request(weir.listen, path="/p?q=1", headers={"x-probe": "props"})
        assert status == 200
        p = probe_lines(body)
        assert p["request.path"] == "/p?q=1"
        assert p["request.method"] == "GET"
        assert p["request.host"].startswith("127.0.0.1")
        assert p["plugin_name"] == "probe"
        assert p["plugin_root_id"] == "probe_root"
        assert p["plugin_vm_id"] == "probe_vm"
        assert p["source.address"].startswith("127.0.0.1:")
        assert p["destination.port"] == str(weir.listen)
        assert p["no.such.property"] == "<1>"  # NOT_FOUND
        assert p["probe.mine"] == "set-by-plugin"


def test_plugins_in_chain_see_earlier_header_changes():
    hf = sdk_plugin("header_filter.wasm")
    probe = sdk_plugin("abi_probe.wasm")
    filters = wasm_filter("hf", hf, configuration="from-first") + wasm_filter("probe", probe, root_id="")
    with Upstream() as up, start({"upstream": up.port}, filters) as weir:
        status, _, body = request(weir.listen, headers={"x-probe": "chain"})
        assert status == 200
        seen = dict(json.loads(body)["headers"])
        assert seen["x-seen-by-probe"] == "from-first"


def test_plugins_with_one_vm_id_share_one_vm():
    probe = sdk_plugin("abi_probe.wasm")
    shared = (wasm_filter("a", probe, root_id="ra", vm_id="shared")
              + wasm_filter("b", probe, root_id="rb", vm_id="shared"))
    separate = (wasm_filter("a", probe, root_id="ra", vm_id="va")
                + wasm_filter("b", probe, root_id="rb", vm_id="vb"))
    with Upstream() as up, start({"upstream": up.port}, shared) as weir:
        _, headers, _ = request(weir.listen, headers={"x-probe": "roots"})
        assert headers["x-roots-ra"] == "2" and headers["x-roots-rb"] == "2"
    with Upstream() as up, start({"upstream": up.port}, separate) as weir:
        _, headers, _ = request(weir.listen, headers={"x-probe": "roots"})
        assert headers["x-roots-ra"] == "1" and headers["x-roots-rb"] == "1"


def test_body_rewrite_with_buffering_and_the_request_limit():
    path = sdk_plugin("body_filter.wasm")
    with Upstream() as up, start({"upstream": up.port}, wasm_filter("body", path, root_id="")) as weir:
        status, _, body = request(weir.listen, method="POST", body=b"hello body " * 1000)
        assert status == 200
        echoed = json.loads(body[:body.rindex(b"}") + 1])
        assert echoed["body"] == "HELLO BODY " * 1000
        assert body.endswith(b"-- seen by weir")
        # Past the per-stream buffer limit (1 MiB): 413, as Envoy.
        status, _, _ = request(weir.listen, method="POST", body=b"x" * (2 * 1024 * 1024))
        assert status == 413


def test_response_buffering_until_end_of_stream_and_its_limit():
    path = sdk_plugin("abi_probe.wasm")
    with Upstream() as up, start({"upstream": up.port}, wasm_filter("probe", path, root_id="")) as weir:
        status, _, body = request(weir.listen, path="/big/300000", headers={"x-probe": "buffer-response"})
        assert status == 200 and body == b"x" * 300000
        # Past the per-stream buffer limit (1 MiB) on the response side. The plugin let the
        # response headers go, so (as in Envoy) the 500 cannot be sent: the stream is reset
        # and the client gets a truncated body.
        with pytest.raises((http.client.IncompleteRead, ConnectionError)):
            request(weir.listen, path="/big/3000000", headers={"x-probe": "buffer-response"})
        assert request(weir.listen)[0] == 200


def test_lifecycle_when_the_upstream_fails():
    path = sdk_plugin("abi_probe.wasm")
    from weir_harness import ClosedPort
    with ClosedPort() as dead, start({"upstream": dead}, wasm_filter("probe", path, root_id="")) as weir:
        status, _, _ = request(weir.listen)
        assert status == 503  # nothing listens upstream
        want = {"on_done": "1", "on_log": "1", "on_delete": "1", "active": "0"}
        assert wait_for(lambda: lifecycle_counts(weir) == want, timeout=5), lifecycle_counts(weir)
