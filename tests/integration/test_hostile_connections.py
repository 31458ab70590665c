"""Hostile clients at the edge: a regex route fed a huge path, running out of file
descriptors, connection limits. Real weir processes, real sockets. Every case ends by
checking that weir is still up, its admin answers and a normal request is served."""
import os
import resource
import socket
import time

import pytest

from upstream import Upstream
from weir_harness import WEIR_BIN, Weir, free_port, request, stats, wait_for_port


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
