"""Hostile clients at the edge: a regex route fed a huge path, running out of file
descriptors, connection limits. Real weir processes, real sockets. Every case ends by
checking that weir is still up, its admin answers and a normal request is served."""
import http.client
import os
import resource
import socket
import time

from upstream import Upstream
from weir_harness import Weir, free_port, request, stats


def regex_config(listen_port, admin_port, upstream_port, runtime="", listener_extra="",
                 overload="", admin_extra=""):
    return f"""{runtime}{overload}
admin:{admin_extra}
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
                stat_prefix: ingress_http
                route_config:
                  virtual_hosts:
                    - name: all
                      domains: ["*"]
                      routes:
                        - match: {{ safe_regex: {{ regex: "/api/.*" }} }}
                          direct_response: {{ status: 200, body: {{ inline_string: "api" }} }}
                        - match:
                            prefix: "/"
                            headers:
                              - name: x-tenant
                                safe_regex_match: {{ regex: "[a-z]+-[0-9]+" }}
                          direct_response: {{ status: 200, body: {{ inline_string: "tenant" }} }}
                        - match: {{ prefix: "/" }}
                          route: {{ cluster: upstream }}
                http_filters:
                  - name: envoy.filters.http.router
  clusters:
    - name: upstream
      type: STATIC
      connect_timeout: 1s
      load_assignment:
        cluster_name: upstream
        endpoints:
          - lb_endpoints:
              - endpoint:
                  address:
                    socket_address: {{ address: 127.0.0.1, port_value: {upstream_port} }}
"""


def assert_still_serving(weir, port, admin_port):
    assert weir.proc.poll() is None, "weir died:\n" + weir.logs()[-3000:]
    status, _, body = request(admin_port, path="/ready")
    assert (status, body) == (200, b"LIVE\n")
    status, _, body = request(port, path="/echo")
    assert status == 200, body


def send_raw_request(port, head, timeout=10):
    """Sends one request head, returns the status line weir answers with."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(head)
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return data.split(b"\r\n", 1)[0]


# --- Regex -------------------------------------------------------------------------------

def test_huge_path_against_a_regex_route_is_matched_not_a_crash():
    # std::regex recursed once per character: a 30,000-byte path crashed the process.
    port, admin = free_port(), free_port()
    with Upstream() as up, Weir(regex_config(port, admin, up.port), wait_ports=[port, admin],
                                args=["--concurrency", "1"]) as weir:
        path = b"/api/" + b"a" * 30000
        assert send_raw_request(port, b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n") == \
            b"HTTP/1.1 200 OK"
        # Full match: the same path elsewhere does not take the regex route.
        status, _, body = request(port, path="/x/api/" + "a" * 30000)
        assert status == 200 and body != b"api"
        # A header regex on a huge value.
        value = "a" * 40000 + "-1"
        status, _, body = request(port, path="/t", headers={"x-tenant": value})
        assert (status, body) == (200, b"tenant")
        status, _, body = request(port, path="/t", headers={"x-tenant": value + "x"})
        assert status == 200 and body != b"tenant"
        assert_still_serving(weir, port, admin)


def test_regex_over_the_program_size_limit_fails_the_load_and_runtime_raises_it():
    port, admin = free_port(), free_port()
    big = "/asdf/.*" * 10  # RE2 program size 144, over Envoy's default limit of 100
    config = regex_config(port, admin, 1).replace('"/api/.*"', f'"{big}"')
    with Weir(config) as weir:
        assert weir.proc.wait(timeout=20) == 1
        log = weir.logs()
        assert "envoy.yaml:21:" in log and "RE2 program of size" in log, log
        assert "re2.max_program_size.error_level" in log
    runtime = """layered_runtime:
  layers:
    - name: static
      static_layer:
        re2: { max_program_size: { error_level: 100000 } }
"""
    with Upstream() as up, Weir(regex_config(port, admin, up.port, runtime=runtime)
                                .replace('"/api/.*"', f'"{big}"'),
                                wait_ports=[port, admin]) as weir:
        status, _, body = request(port, path="/asdf/" * 10)
        assert (status, body) == (200, b"api")
        assert_still_serving(weir, port, admin)


# --- Running out of file descriptors -----------------------------------------------------

def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def poll(condition, timeout=10.0, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def served(port, path="/echo"):
    try:
        return request(port, path=path, timeout=2)[0] == 200
    except OSError:
        return False


def test_fd_exhaustion_pauses_accepting_instead_of_spinning():
    # With 64 descriptors and 120 clients, accept() fails with EMFILE on a listener that
    # stays readable: weir used to spin a core and write ~10 MB of log lines a second.
    port, admin = free_port(), free_port()

    def low_fd_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))

    with Upstream() as up, Weir(regex_config(port, admin, up.port), wait_ports=[port, admin],
                                args=["--concurrency", "1"], preexec_fn=low_fd_limit) as weir:
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(120)]
        try:
            poll(lambda: "Too many open files" in weir.logs(), what="the EMFILE log line")
            cpu_before = cpu_seconds(weir.proc.pid)
            window_start = time.time()
            # A measurement window, not a synchronization: how much CPU weir burns while
            # it cannot accept. Spinning took ~0.4 s per second here.
            time.sleep(3)
            burnt = cpu_seconds(weir.proc.pid) - cpu_before
            assert burnt < 0.5, f"{burnt:.2f} CPU-seconds in {time.time() - window_start:.1f} s"
            log = weir.logs()
            assert len(log) < 10_000, f"{len(log)} bytes of log"
            assert log.count("Too many open files") == 1, log
            assert weir.proc.poll() is None
        finally:
            for c in clients:
                c.close()
        # Once the clients leave, weir accepts again (the queued ones, then new ones).
        poll(lambda: served(port), what="a request served after the clients left")
        s = stats(admin)
        assert int(s[f"listener.127.0.0.1_{port}.downstream_cx_accept_paused"]) >= 1
        assert_still_serving(weir, port, admin)


# --- Connection limits ---------------------------------------------------------------------

def open_served_connection(port):
    """A keep-alive connection that weir admitted and served once. Retried: an earlier
    probe's connection may still hold a slot until weir has seen it close."""
    def attempt():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request("GET", "/echo")
            resp = conn.getresponse()
            resp.read()
            assert resp.status == 200
            return conn
        except (OSError, http.client.HTTPException):
            conn.close()
            return None
    return poll(attempt, what=f"a connection admitted on port {port}")


def admitted_stats(admin_port):
    """The admin's stats, or None while weir still refuses the connection at its limit."""
    try:
        return stats(admin_port)
    except OSError:
        return None


def closed_at_once(port):
    """Connects; True when weir closes the connection without a word."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        try:
            return s.recv(1) == b""
        except ConnectionResetError:
            return True


def test_listener_connection_limit_from_the_runtime():
    port, admin = free_port(), free_port()
    runtime = """layered_runtime:
  layers:
    - name: limits
      static_layer:
        envoy.resource_limits.listener.ingress.connection_limit: 3
"""
    with Upstream() as up, Weir(regex_config(port, admin, up.port, runtime=runtime),
                                wait_ports=[admin]) as weir:
        # The port probe of wait_for_port would take a slot: poll for the first serve.
        poll(lambda: served(port), what="the listener")
        held = [open_served_connection(port) for _ in range(3)]
        overflow = f"listener.127.0.0.1_{port}.downstream_cx_overflow"
        before = int(stats(admin)[overflow])  # the retries above may have counted some
        assert closed_at_once(port)
        assert closed_at_once(port)
        assert int(stats(admin)[overflow]) == before + 2
        # A freed slot is usable again.
        held.pop().close()
        poll(lambda: served(port), what="a slot freed by a closed connection")
        for conn in held:
            conn.close()
        # weir sees those closes when its loop next runs: until then they hold their slots.
        poll(lambda: served(port), what="the listener after the clients left")
        assert "runtime key" not in weir.logs()  # the key was read, not warned about
        assert_still_serving(weir, port, admin)


def test_global_connection_limit_of_the_overload_manager():
    port, other_port, admin = free_port(), free_port(), free_port()
    overload = """overload_manager:
  resource_monitors:
    - name: envoy.resource_monitors.global_downstream_max_connections
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig
        max_active_downstream_connections: 2
"""
    config = regex_config(port, admin, 1, overload=overload)
    # A second listener that opts out of the global limit.
    second = config[config.index("    - name: ingress"):config.index("  clusters:")]
    second = second.replace("- name: ingress", "- name: exempt\n      ignore_global_conn_limit: true")
    second = second.replace(f"port_value: {port}", f"port_value: {other_port}")
    with Upstream() as up:
        config = regex_config(port, admin, up.port, overload=overload)
        config = config.replace("  clusters:", second + "  clusters:")
        with Weir(config) as weir:
            poll(lambda: served(port), what="the listener")
            held = [open_served_connection(port) for _ in range(2)]
            assert closed_at_once(port)
            # The admin counts toward the global limit, as in Envoy...
            assert closed_at_once(admin)
            # ... the exempt listener does not.
            assert served(other_port)
            held.pop().close()
            poll(lambda: served(admin, "/ready"), what="the admin after a slot freed")
            # That probe's own connection holds a slot until weir has seen it close.
            s = poll(lambda: admitted_stats(admin), what="the admin's stats")
            assert int(s[f"listener.127.0.0.1_{port}.downstream_global_cx_overflow"]) >= 1
            assert int(s["listener.admin.downstream_global_cx_overflow"]) >= 1
            assert int(s["overload.envoy.resource_monitors.global_downstream_max_connections"
                         ".failed_updates"]) >= 2
            for conn in held:
                conn.close()
            poll(lambda: served(port), what="the listener after the clients left")
            assert_still_serving(weir, port, admin)
