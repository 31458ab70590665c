"""TCP proxy (envoy.filters.network.tcp_proxy) and network Wasm plugins
(envoy.filters.network.wasm) against a real weir, a real TCP echo upstream and real
clients.

The plugin is tests/plugins/go/go_network (the public Go SDK; its modes are described in
its main.go): it counts and rewrites bytes, pauses, traps, closes. tests/plugins/rust/
rust_network (the Rust SDK, proxy-wasm 0.2.1) rewrites and holds bytes until a line ends;
tests/plugins/cpp/cpp_network (weir's C++ SDK) counts, rewrites, holds, drops, closes. The bulk transfer runs
through it with a checksum on both ends and weir's RSS sampled."""
import hashlib
import os
import socket
import struct
import subprocess
import sys
import threading
import time

import pytest

from stream_checks import small_asan_quarantine, stat_value, vm_rss_kib
from weir_harness import (WEIR_BIN, ClosedPort, Weir, cluster, free_port, sdk_plugin, stats,
                          wait_for, wait_for_port)

# The bulk transfer's size: 1 GiB takes about (see the test's printed timing) here; the
# soak runs the same test with WEIR_TCP_BULK_MIB=1024 when make test uses less.
BULK_MIB = int(os.environ.get("WEIR_TCP_BULK_MIB", "1024"))


class EchoUpstream:
    """A TCP echo server: each connection gets back what it sends; when the client shuts
    down its sending half, the echo finishes sending and closes."""

    def __init__(self, port=None):
        self.port = port or free_port()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(128)
        self.accepted = 0
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn):
        with conn:
            try:
                while True:
                    data = conn.recv(262144)
                    if not data:
                        break
                    conn.sendall(data)
                conn.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def close(self):
        self.stopping = True
        self.sock.close()


# The same echo in a process of its own, for the bulk transfer: in the test's process it
# would share the interpreter lock with the client's sender, receiver and hashes.
ECHO_PROCESS = """
import socket, sys, threading
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", int(sys.argv[1])))
server.listen(128)
def echo(conn):
    with conn:
        while True:
            data = conn.recv(1 << 20)
            if not data:
                break
            conn.sendall(data)
        conn.shutdown(socket.SHUT_WR)
while True:
    conn, _ = server.accept()
    threading.Thread(target=echo, args=(conn,), daemon=True).start()
"""


@pytest.fixture
def echo_process():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", ECHO_PROCESS, str(port)])
    try:
        wait_for_port(port, proc=proc)
        yield port
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture
def echo():
    upstream = EchoUpstream()
    yield upstream
    upstream.close()


def network_wasm(mode, failure_policy=None, name="go_network", wasm="go_network.wasm"):
    policy = f"\n                  failure_policy: {failure_policy}" if failure_policy else ""
    return f"""
            - name: envoy.filters.network.wasm
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm
                config:
                  name: {name}
                  root_id: {name}{policy}
                  configuration:
                    "@type": type.googleapis.com/google.protobuf.StringValue
                    value: {mode}
                  vm_config:
                    vm_id: {name}
                    runtime: envoy.wasm.runtime.v8
                    code:
                      local:
                        filename: {sdk_plugin(wasm)}"""


def tcp_config(listen_port, admin_port, upstream_port, filters="", tcp_extra="",
               listener_extra="", connect_timeout="1s"):
    return f"""
admin:
  address:
    socket_address: {{ address: 127.0.0.1, port_value: {admin_port} }}
static_resources:
  listeners:
    - name: tcp{listener_extra}
      address:
        socket_address: {{ address: 127.0.0.1, port_value: {listen_port} }}
      filter_chains:
        - filters:{filters}
            - name: envoy.filters.network.tcp_proxy
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
                stat_prefix: echo
                cluster: upstream{tcp_extra}
  clusters:{cluster("upstream", upstream_port, connect_timeout=connect_timeout)}
"""


def start(upstream_port, filters="", concurrency=1, env=None, **kw):
    listen, admin = free_port(), free_port()
    weir = Weir(tcp_config(listen, admin, upstream_port, filters, **kw),
                args=("--concurrency", str(concurrency)), wait_ports=(listen, admin), env=env)
    return weir, listen, admin


def exchange(port, payload, half_close=True, timeout=10):
    """Sends `payload`, shuts down the sending half (like `nc -N`), reads until the end."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(payload)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            data = s.recv(65536)
            if not data:
                break
            chunks.append(data)
        return b"".join(chunks)


def echo_line(port, line, timeout=5):
    """A connection that stays open: one line out, the same number of bytes back."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(line)
    got = b""
    while len(got) < len(line):
        data = s.recv(65536)
        if not data:
            break
        got += data
    return s, got


def closed_by_peer(sock, timeout=5):
    """True when the peer closes (EOF or reset) within `timeout`."""
    sock.settimeout(timeout)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


# ---------------------------------------------------------------- the proxy alone

def idle_stats(admin, listen):
    """The stats once no connection is open (the harness's port probe included)."""
    active = "listener.127.0.0.1_%d.downstream_cx_active" % listen
    total = "listener.127.0.0.1_%d.downstream_cx_total" % listen

    def idle():
        st = stats(admin)
        return st if int(st.get(total, "0")) >= 1 and int(st.get(active, "1")) == 0 else None
    return wait_for(idle, what="connections closed")


def test_bytes_pass_both_ways_with_half_close_and_tcp_stats(echo):
    weir, listen, admin = start(echo.port)
    with weir:
        before = idle_stats(admin, listen)  # wait_for_port's probe is one connection
        accepted = echo.accepted
        assert exchange(listen, b"hello weir\n") == b"hello weir\n"
        # The client's half-close reached the echo, whose close came back: both directions
        # ended and the connection is over.
        big = os.urandom(3 * 1024 * 1024 + 17)
        assert exchange(listen, big) == big
        s = idle_stats(admin, listen)

        def delta(name):
            return int(s[name]) - int(before.get(name, "0"))
        assert delta("tcp.echo.downstream_cx_total") == 2
        assert delta("tcp.echo.downstream_cx_rx_bytes_total") == 11 + len(big)
        assert delta("tcp.echo.downstream_cx_tx_bytes_total") == 11 + len(big)
        assert delta("cluster.upstream.upstream_cx_total") == 2
        assert echo.accepted - accepted == 2
        assert s["cluster.upstream.upstream_cx_active"] == "0"
        assert delta("listener.127.0.0.1_%d.downstream_cx_total" % listen) == 2


def test_interactive_exchange_keeps_the_connection_open(echo):
    weir, listen, _ = start(echo.port)
    with weir:
        s, got = echo_line(listen, b"ping\n")
        with s:
            assert got == b"ping\n"
            s.sendall(b"pong\n")
            assert s.recv(100) == b"pong\n"


def test_upstream_that_half_closes_first_still_gets_the_clients_bytes():
    """The upstream says goodbye and shuts down its sending half; the client reads the
    goodbye and the end of stream, then sends more: the upstream still gets it."""
    got = []
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"bye\n")
                conn.shutdown(socket.SHUT_WR)
                data = b""
                while True:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                got.append(data)

    threading.Thread(target=serve, daemon=True).start()
    weir, listen, admin = start(server.getsockname()[1])
    with weir:
        idle_stats(admin, listen)
        with socket.create_connection(("127.0.0.1", listen), timeout=5) as s:
            received = b""
            while True:
                data = s.recv(100)
                if not data:
                    break  # the upstream's end of stream, passed on
                received += data
            assert received == b"bye\n"
            s.sendall(b"after your goodbye\n")
            s.shutdown(socket.SHUT_WR)
            wait_for(lambda: b"after your goodbye\n" in got, what="the upstream got the bytes")
            assert closed_by_peer(s)  # both directions ended: weir closed
        idle_stats(admin, listen)
    server.close()


def test_upstream_down_closes_the_client_and_counts(echo):
    closed = ClosedPort()
    weir, listen, admin = start(closed.port)
    with closed, weir:
        before = idle_stats(admin, listen)  # the harness's port probe failed the same way
        failed = int(before["cluster.upstream.upstream_cx_connect_fail"])
        assert failed == int(before["tcp.echo.downstream_cx_total"])
        with socket.create_connection(("127.0.0.1", listen), timeout=5) as s:
            s.sendall(b"anyone there?\n")
            assert closed_by_peer(s)
        wait_for(lambda: stat_value(admin, "cluster.upstream.upstream_cx_connect_fail") ==
                 failed + 1, what="connect failure counted")
        assert stat_value(admin, "tcp.echo.downstream_cx_total") == failed + 1
        assert stat_value(admin, "cluster.upstream.upstream_cx_active") == 0
        assert weir.proc.poll() is None


def test_upstream_connect_timeout_closes_the_client_and_counts():
    """An upstream whose accept queue is full: the kernel drops the SYNs, the connect hangs,
    and the cluster's connect_timeout ends it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    try:
        # Fill the accept queue (never accepted); later SYNs get no answer.
        for _ in range(8):
            f = socket.socket()
            f.setblocking(False)
            f.connect_ex(("127.0.0.1", port))
            fillers.append(f)
        probe = socket.socket()
        probe.settimeout(0.5)
        try:
            probe.connect(("127.0.0.1", port))
            hangs = False
        except (socket.timeout, BlockingIOError):
            hangs = True
        probe.close()
        if not hangs:
            pytest.skip("this kernel answers connects past a full accept queue")
        weir, listen, admin = start(port, connect_timeout="0.25s")
        with weir:
            before = idle_stats(admin, listen)
            failed = int(before["cluster.upstream.upstream_cx_connect_fail"])
            with socket.create_connection(("127.0.0.1", listen), timeout=5) as s:
                s.sendall(b"hello?\n")
                started = time.time()
                assert closed_by_peer(s)
                assert time.time() - started >= 0.2
            wait_for(lambda: stat_value(admin, "cluster.upstream.upstream_cx_connect_fail") ==
                     failed + 1, what="connect timeout counted")
    finally:
        for f in fillers:
            f.close()
        server.close()


def test_idle_timeout_closes_a_silent_connection(echo):
    weir, listen, admin = start(echo.port, tcp_extra="\n                idle_timeout: 0.3s")
    with weir:
        s, got = echo_line(listen, b"hi\n")
        with s:
            assert got == b"hi\n"
            started = time.time()
            assert closed_by_peer(s, timeout=5)
            assert time.time() - started >= 0.25
        assert stat_value(admin, "tcp.echo.idle_timeout") == 1


def test_client_that_closes_with_data_buffered_for_a_slow_upstream_is_flushed():
    """An upstream that does not read: the client sends until weir stops reading it, then
    resets; weir keeps the upstream connection until what it read is out
    (tcp.echo.upstream_flush_total / upstream_flush_active), and the upstream gets it."""
    received = []  # per upstream connection (the harness's port probe makes one too)
    go_read = threading.Event()
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)

    def read_all(conn):
        go_read.wait(10)
        got = []
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                got.append(data)
        received.append(b"".join(got))

    def slow_upstream():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=read_all, args=(conn,), daemon=True).start()

    threading.Thread(target=slow_upstream, daemon=True).start()
    weir, listen, admin = start(server.getsockname()[1])
    with weir:
        # (The port probe's connection waits for the upstream to read its end of stream.)
        payload = os.urandom(16 * 1024 * 1024)
        s = socket.create_connection(("127.0.0.1", listen), timeout=10)
        s.setblocking(False)
        sent = 0
        # Push until the kernel refuses more: weir reads until the upstream's output is
        # over its limit, then stops reading (flow control).
        deadline = time.time() + 10
        while sent < len(payload) and time.time() < deadline:
            try:
                sent += s.send(payload[sent:sent + 65536])
            except BlockingIOError:
                if stat_value(admin, "tcp.echo.downstream_flow_control_paused_reading_total"):
                    break
                time.sleep(0.01)
        assert stat_value(admin, "tcp.echo.downstream_flow_control_paused_reading_total") >= 1
        print(f"\nflush: client sent {sent} bytes before weir stopped reading")
        # The client resets: what weir read is still owed to the upstream.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        wait_for(lambda: stat_value(admin, "tcp.echo.upstream_flush_total") == 1,
                 what="upstream flush counted")
        go_read.set()
        wait_for(lambda: len(received) == 2, timeout=20, what="the upstream connection closed")
        read_by_weir = stat_value(admin, "tcp.echo.downstream_cx_rx_bytes_total")
        assert read_by_weir > 0
        assert received[-1] == payload[:read_by_weir]
        wait_for(lambda: stat_value(admin, "tcp.echo.upstream_flush_active") == 0,
                 what="flush over")
        server.close()


def test_access_log_records_each_connection(echo, tmp_path):
    log = tmp_path / "tcp.log"
    weir, listen, admin = start(echo.port, tcp_extra=f"""
                access_log:
                  - name: envoy.access_loggers.file
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
                      path: {log}
                      log_format:
                        text_format_source:
                          inline_string: "%DOWNSTREAM_REMOTE_ADDRESS% %BYTES_RECEIVED% %BYTES_SENT% %UPSTREAM_HOST%\\n"
""")
    with weir:
        idle_stats(admin, listen)
        assert exchange(listen, b"0123456789") == b"0123456789"
        line = wait_for(lambda: [l for l in (log.read_text() if log.exists() else "").splitlines()
                                 if " 10 10 " in l], timeout=5, what="the access log line")[0]
        assert line.startswith("127.0.0.1:")
        assert line.endswith(" 10 10 127.0.0.1:%d" % echo.port)


def test_validate_trial_starts_network_plugins_and_locates_their_errors(tmp_path):
    config = tmp_path / "envoy.yaml"

    def validate(text):
        config.write_text(text)
        return subprocess.run([str(WEIR_BIN), "-c", str(config), "--mode", "validate"],
                              capture_output=True, text=True, timeout=120)
    good = validate(tcp_config(free_port(), free_port(), free_port(), network_wasm("count")))
    assert good.returncode == 0, good.stdout + good.stderr
    assert "plugin 'go_network'" in good.stdout
    # A plugin that rejects its start (a missing file) fails with the filter's location.
    bad = validate(tcp_config(free_port(), free_port(), free_port(), network_wasm("count"))
                   .replace(str(sdk_plugin("go_network.wasm")), str(tmp_path / "missing.wasm")))
    assert bad.returncode != 0
    assert "envoy.yaml:" in bad.stdout + bad.stderr


# ---------------------------------------------------------------- with the Go plugin

def test_go_plugin_counts_and_rewrites_bytes_and_sees_properties(echo):
    weir, listen, admin = start(echo.port, network_wasm("rewrite"))
    with weir:
        before = idle_stats(admin, listen)
        got = exchange(listen, b"hello world\n")
        lines = got.split(b"\n")
        # The echo returned the rewritten client bytes (upper case, with the properties
        # line in front); on the way back the upstream line went in front and O became 0.
        assert lines[0] == b"up=127.0.0.1:%d" % echo.port, got
        assert lines[1].startswith(b"props src=127.0.0.1:"), got
        assert b" dst=127.0.0.1:%d id=" % listen in lines[1], got
        assert lines[2] == b"HELL0 W0RLD", got
        s = idle_stats(admin, listen)

        def delta(name):
            return int(s.get(name, "0")) - int(before.get(name, "0"))
        assert delta("go_network.streams_done") == 1
        assert delta("go_network.downstream_bytes") == 12
        assert delta("go_network.upstream_bytes") == len(got) - len(lines[0]) - 1
        assert delta("go_network.connections") == 1
        # The client shut down its half, then weir closed both sides once all ended.
        assert delta("go_network.downstream_close_local") == 1
        assert delta("go_network.upstream_close_local") == 1


def test_go_plugin_drops_bytes(echo):
    weir, listen, _ = start(echo.port, network_wasm("drop"))
    with weir:
        assert exchange(listen, b"keep 1\ndrop this\nkeep 2\n") == b"keep 1\nkeep 2\n"


def test_go_plugin_pause_holds_bytes_until_continue_stream(echo):
    """"hold": every client chunk is paused, and the plugin's tick (100 ms) resumes it with
    proxy_continue_stream from outside the callback."""
    weir, listen, admin = start(echo.port, network_wasm("hold"))
    with weir:
        started = time.time()
        s, got = echo_line(listen, b"held line\n")
        with s:
            assert got == b"held line\n"
        assert time.time() - started >= 0.05


def test_go_plugin_close_stream_closes_the_connection(echo):
    weir, listen, admin = start(echo.port, network_wasm("close"))
    with weir:
        s, got = echo_line(listen, b"fine\n")
        with s:
            assert got == b"fine\n"
            s.sendall(b"please close\n")
            assert closed_by_peer(s)
        s, got = echo_line(listen, b"still served\n")
        s.close()
        assert got == b"still served\n"


def test_go_plugin_that_traps_closes_its_connections_and_weir_goes_on(echo):
    weir, listen, admin = start(echo.port, network_wasm("trap"))
    with weir:
        other, got = echo_line(listen, b"bystander\n")
        assert got == b"bystander\n"
        with socket.create_connection(("127.0.0.1", listen), timeout=5) as s:
            s.sendall(b"now trap\n")
            assert closed_by_peer(s)
        wait_for(lambda: stat_value(admin, "wasm.plugin.go_network.vm_failures") == 1,
                 what="the VM failure counted")
        # fail-closed (the default): the worker's VM is dead, so the other connection
        # through it is closed too, as an HTTP stream the plugin held gets its 503, and new
        # connections are closed at once; weir itself goes on.
        assert closed_by_peer(other)
        other.close()
        with socket.create_connection(("127.0.0.1", listen), timeout=5) as s:
            assert closed_by_peer(s)
        assert weir.proc.poll() is None
        assert stats(admin)["server.live"] == "1"


def test_go_plugin_that_traps_with_fail_reload_serves_the_next_connections(echo):
    weir, listen, admin = start(echo.port, network_wasm("trap", failure_policy="FAIL_RELOAD"))
    with weir:
        with socket.create_connection(("127.0.0.1", listen), timeout=5) as s:
            s.sendall(b"now trap\n")
            assert closed_by_peer(s)
        # The next connection gets a new VM (the first reload is immediate).
        assert exchange(listen, b"served again\n") == b"served again\n"
        assert stat_value(admin, "wasm.plugin.go_network.vm_reload_success") == 1


def test_go_plugin_that_traps_with_fail_open_lets_connections_through(echo):
    weir, listen, admin = start(echo.port, network_wasm("trap", failure_policy="FAIL_OPEN"))
    with weir:
        with socket.create_connection(("127.0.0.1", listen), timeout=5) as s:
            s.sendall(b"now trap\n")
            s.shutdown(socket.SHUT_WR)
            got = b""
            while True:
                data = s.recv(100)
                if not data:
                    break
                got += data
        assert got == b"now trap\n"
        assert exchange(listen, b"after\n") == b"after\n"


def test_go_plugin_that_pauses_forever_is_bounded_by_flow_control(echo):
    """The plugin holds every client byte: weir reads up to the buffer limit (64 KiB
    here), stops reading, and its memory stays flat while the client pushes."""
    weir, listen, admin = start(
        echo.port, network_wasm("pause"),
        listener_extra="\n      per_connection_buffer_limit_bytes: 65536",
        env=small_asan_quarantine())
    with weir:
        baseline = vm_rss_kib(weir.proc.pid)
        s = socket.create_connection(("127.0.0.1", listen), timeout=5)
        s.setblocking(False)
        sent = 0
        chunk = b"x" * 65536
        deadline = time.time() + 3
        while time.time() < deadline:
            try:
                sent += s.send(chunk)
            except BlockingIOError:
                time.sleep(0.01)
        growth = vm_rss_kib(weir.proc.pid) - baseline
        rx = stat_value(admin, "tcp.echo.downstream_cx_rx_bytes_total")
        print(f"\npaused plugin: client pushed {sent} bytes, weir read {rx}, RSS +{growth} KiB")
        assert rx <= 65536 + 65536  # the limit, plus one read
        assert sent < 64 * 1024 * 1024  # the client was stopped by TCP, not by weir's memory
        assert growth < 16 * 1024
        assert stat_value(admin, "tcp.echo.downstream_flow_control_paused_reading_total") >= 1
        s.close()
        # Others are still served (a fresh connection is paused too, but accepted).
        assert echo.accepted >= 1


def test_bulk_transfer_through_the_go_plugin_checksum_and_bounded_rss(echo_process):
    weir, listen, admin = start(echo_process, network_wasm("count"), env=small_asan_quarantine())
    with weir:
        total = BULK_MIB * 1024 * 1024
        block = os.urandom(1024 * 1024)
        sent_hash = hashlib.sha256()
        recv_hash = hashlib.sha256()
        baseline = vm_rss_kib(weir.proc.pid)
        peak = [baseline]
        received = [0]
        s = socket.create_connection(("127.0.0.1", listen), timeout=30)

        def send():
            for i in range(BULK_MIB):
                data = i.to_bytes(8, "little") + block[8:]
                sent_hash.update(data)
                s.sendall(data)
            s.shutdown(socket.SHUT_WR)

        sender = threading.Thread(target=send, daemon=True)
        started = time.time()
        sender.start()
        next_sample = 0
        while True:
            data = s.recv(1 << 20)
            if not data:
                break
            recv_hash.update(data)
            received[0] += len(data)
            if received[0] >= next_sample:
                peak[0] = max(peak[0], vm_rss_kib(weir.proc.pid))
                next_sample += 16 * 1024 * 1024
        elapsed = time.time() - started
        sender.join(10)
        s.close()
        print(f"\nbulk: {BULK_MIB} MiB echoed through weir + go_network in {elapsed:.1f} s "
              f"({2 * BULK_MIB / elapsed:.0f} MiB/s through weir); RSS {baseline} KiB, "
              f"peak {peak[0]} KiB")
        assert received[0] == total
        assert recv_hash.hexdigest() == sent_hash.hexdigest()
        assert peak[0] - baseline < 48 * 1024
        s = idle_stats(admin, listen)
        assert int(s["go_network.downstream_bytes"]) == total
        assert int(s["go_network.upstream_bytes"]) == total


# ---------------------------------------------------------------- with the Rust plugin

def rust_network(mode):
    return network_wasm(mode, name="rust_network", wasm="rust_network.wasm")


def test_rust_plugin_rewrites_bytes_and_counts(echo):
    weir, listen, admin = start(echo.port, rust_network("upper"))
    with weir:
        before = idle_stats(admin, listen)
        assert exchange(listen, b"hello rust\n") == b"HELLO RUST\n"
        s = idle_stats(admin, listen)

        def delta(name):
            return int(s.get(name, "0")) - int(before.get(name, "0"))
        assert delta("rust_network.connections") == 1
        assert delta("rust_network.downstream_bytes") == 11
        assert delta("rust_network.upstream_bytes") == 11
        assert delta("rust_network.downstream_close_local") == 1
        assert delta("rust_network.upstream_close_local") == 1


def test_rust_plugin_holds_bytes_until_a_line_ends(echo):
    """PAUSE holds the client's bytes; the next bytes run the callback again with all of
    them, and CONTINUE lets them go together."""
    weir, listen, _ = start(echo.port, rust_network("line"))
    with weir:
        assert_held_until_the_line_ends(listen, b"hel", [b"lo", b"\n"])


def assert_held_until_the_line_ends(listen, first, rest):
    """`first` (no newline) comes back only once the `rest` has ended the line."""
    with socket.create_connection(("127.0.0.1", listen), timeout=5) as s:
        s.sendall(first)
        s.settimeout(0.3)  # the time under test: nothing comes back while held
        with pytest.raises(socket.timeout):
            s.recv(100)
        s.settimeout(5)
        for piece in rest:
            s.sendall(piece)
        line = first + b"".join(rest)
        got = b""
        while len(got) < len(line):
            data = s.recv(100)
            assert data
            got += data
        assert got == line


# ---------------------------------------------------------------- with the C++ SDK plugin

def cpp_network(mode, failure_policy=None):
    return network_wasm(mode, failure_policy, name="cpp_network", wasm="cpp_network.wasm")


def test_cpp_plugin_counts_and_rewrites_bytes(echo):
    """weir's C++ SDK (NetworkContext): client bytes upper-cased on the way in, a line
    naming the connection in front of the upstream's bytes on the way out; counters per
    direction, per connection and per close."""
    weir, listen, admin = start(echo.port, cpp_network("rewrite"))
    with weir:
        before = idle_stats(admin, listen)
        got = exchange(listen, b"hello c++\n")
        first, rest = got.split(b"\n", 1)
        assert first.startswith(b"conn=") and int(first[5:]) > 0, got
        assert rest == b"HELLO C++\n", got
        s = idle_stats(admin, listen)

        def delta(name):
            return int(s.get(name, "0")) - int(before.get(name, "0"))
        assert delta("cpp_network.connections") == 1
        assert delta("cpp_network.downstream_bytes") == 10
        assert delta("cpp_network.upstream_bytes") == 10
        assert delta("cpp_network.streams_done") == 1
        assert delta("cpp_network.downstream_close_local") == 1
        assert delta("cpp_network.upstream_close_local") == 1


def test_cpp_plugin_holds_bytes_until_a_line_ends_and_drops_lines(echo):
    weir, listen, admin = start(echo.port, cpp_network("line"))
    with weir:
        assert_held_until_the_line_ends(listen, b"par", [b"tial\n"])
        # The held bytes were counted once, not once per callback.
        wait_for(lambda: stat_value(admin, "cpp_network.downstream_bytes") == 8)
    weir, listen, _ = start(echo.port, cpp_network("drop"))
    with weir:
        assert exchange(listen, b"keep 1\ndrop it\nkeep 2\n") == b"keep 1\nkeep 2\n"


def test_cpp_plugin_close_downstream_closes_the_connection_only(echo):
    weir, listen, admin = start(echo.port, cpp_network("close"))
    with weir:
        other, got = echo_line(listen, b"bystander\n")
        assert got == b"bystander\n"
        with other:
            s, got = echo_line(listen, b"fine\n")
            with s:
                assert got == b"fine\n"
                s.sendall(b"please close\n")
                assert closed_by_peer(s)
            other.sendall(b"still here\n")
            assert other.recv(100) == b"still here\n"
