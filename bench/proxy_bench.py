#!/usr/bin/env python3
"""Side-by-side proxy benchmark on loopback: nginx (the peer) and weir with and without
plugins, proxying the same nginx mock, measured in interleaved rounds in one run; and both
again terminating TLS (keep-alive https with the same certificate, made here with openssl).

Prints req/s, p99 latency and the server's CPU time per request, with ratios against
nginx and against weir without plugins (the plugin's own cost). Single worker everywhere,
as in ../shared/reference/PEERS.md. Compare ratios within a run, never across runs.
HTTP/2 rows (cleartext, prior knowledge) are driven by h2load (nghttp2-client) with STREAMS
concurrent streams per connection, against nginx's `listen ... http2` and weir's AUTO
listener; their ratios are against nginx over HTTP/2. h2load reports no p99 (mean shown).
Environment: DURATION (s, default 10), ROUNDS (default 3), CONNS (default 32), STREAMS
(default 10), H2=0 skips the HTTP/2 rows, ONLY=REGEX measures only the rows whose name
matches (e.g. ONLY='^(nginx proxy|weir, no plugin)$' for the core comparison)."""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WEIR = Path(os.environ.get("WEIR_BIN", ROOT / "build/weir"))
PLUGINS = ROOT / "build/plugins"
DURATION = int(os.environ.get("DURATION", "10"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
CONNS = int(os.environ.get("CONNS", "32"))
STREAMS = int(os.environ.get("STREAMS", "10"))
H2 = os.environ.get("H2", "1") != "0" and shutil.which("h2load") is not None
ONLY = re.compile(os.environ.get("ONLY", ""))
TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"port {port} never opened")


def cpu_seconds(pids):
    """(user, user + system) CPU seconds of the processes and their children."""
    user = system = 0
    for pid in pids:
        for p in [pid] + children(pid):
            try:
                fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
                user += int(fields[11])
                system += int(fields[12])
            except (OSError, IndexError):
                pass
    return user / TICK, (user + system) / TICK


def children(pid):
    try:
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True,
                             text=True).stdout.split()
        return [int(x) for x in out]
    except OSError:
        return []


NGINX_MOCK = """worker_processes 1; daemon off; pid {dir}/mock.pid; error_log {dir}/mock.err;
events {{ worker_connections 4096; }}
http {{ access_log off; server {{ listen 127.0.0.1:{port}; keepalive_requests 1000000;
  location / {{ return 200 "hello from mock\\n"; }} }} }}
"""
NGINX_PROXY = """worker_processes 1; daemon off; pid {dir}/proxy.pid; error_log {dir}/proxy.err;
events {{ worker_connections 4096; }}
http {{ access_log off; upstream mock {{ server 127.0.0.1:{mock}; keepalive 64; }}
  server {{ listen 127.0.0.1:{port}; keepalive_requests 1000000;
  location / {{ proxy_pass http://mock; proxy_http_version 1.1;
    proxy_set_header Connection ""; }} }}
  server {{ listen 127.0.0.1:{h2port} http2; keepalive_requests 1000000;
    http2_max_requests 1000000;
  location / {{ proxy_pass http://mock; proxy_http_version 1.1;
    proxy_set_header Connection ""; }} }} }}
"""
NGINX_TLS_PROXY = """worker_processes 1; daemon off; pid {dir}/tls.pid; error_log {dir}/tls.err;
events {{ worker_connections 4096; }}
http {{ access_log off; upstream mock {{ server 127.0.0.1:{mock}; keepalive 64; }}
  server {{ listen 127.0.0.1:{port} ssl; keepalive_requests 1000000;
  ssl_certificate {dir}/cert.pem; ssl_certificate_key {dir}/key.pem;
  location / {{ proxy_pass http://mock; proxy_http_version 1.1;
    proxy_set_header Connection ""; }} }} }}
"""
WEIR_TLS_SOCKET = """
          transport_socket:
            name: envoy.transport_sockets.tls
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
              common_tls_context:
                tls_certificates:
                  - certificate_chain: {{ filename: {dir}/cert.pem }}
                    private_key: {{ filename: {dir}/key.pem }}"""


def weir_config(port, admin, mock, plugin, root_id, tls_socket=""):
    filters = ""
    if plugin:
        filters = f"""
                  - name: envoy.filters.http.wasm
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
                      config:
                        name: stat_filter
                        root_id: {root_id}
                        vm_config:
                          vm_id: stat_filter
                          code: {{ local: {{ filename: {plugin} }} }}"""
    return f"""
admin: {{ address: {{ socket_address: {{ address: 127.0.0.1, port_value: {admin} }} }} }}
static_resources:
  listeners:
    - name: ingress
      address: {{ socket_address: {{ address: 127.0.0.1, port_value: {port} }} }}
      filter_chains:
        - {tls_socket}
          filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: ingress_http
                generate_request_id: false
                route_config:
                  virtual_hosts:
                    - name: all
                      domains: ["*"]
                      routes: [{{ match: {{ prefix: "/" }}, route: {{ cluster: mock }} }}]
                http_filters:{filters}
                  - name: envoy.filters.http.router
  clusters:
    - name: mock
      type: STATIC
      connect_timeout: 1s
      load_assignment:
        cluster_name: mock
        endpoints: [{{ lb_endpoints: [{{ endpoint: {{ address: {{ socket_address: {{ address: 127.0.0.1, port_value: {mock} }} }} }} }}] }}]
"""


def url(port):
    return f"{'https' if port in TLS_PORTS else 'http'}://127.0.0.1:{port}/"


TLS_PORTS = set()


def wrk(port):
    out = subprocess.run(["wrk", "-t1", f"-c{CONNS}", f"-d{DURATION}s", "--latency", url(port)],
                         capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, float(p99.group(1)) * scale, total, int(errors.group(1)) if errors else 0


def h2load(port):
    """The same measurement over cleartext HTTP/2: (req/s, mean ms, requests, failures)."""
    out = subprocess.run(["h2load", "-t1", f"-c{CONNS}", f"-m{STREAMS}", f"-D{DURATION}",
                          f"http://127.0.0.1:{port}/"], capture_output=True, text=True).stdout
    rps = float(re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out).group(1))
    done = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded", out)
    mean = re.search(r"time for request:\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1, "s": 1000}[mean.group(2)]
    total, ok = int(done.group(1)), int(done.group(2))
    return rps, float(mean.group(1)) * scale, total, total - ok


def main():
    for tool in ("nginx", "wrk"):
        if not shutil.which(tool):
            sys.exit(f"bench: {tool} missing: run scripts/setup bench")
    work = Path(tempfile.mkdtemp(prefix="weir-bench-"))
    procs = []

    def start(name, argv):
        log = open(work / f"{name}.log", "w")
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        procs.append(p)
        return p

    try:
        mock = free_port()
        (work / "mock.conf").write_text(NGINX_MOCK.format(dir=work, port=mock))
        start("mock", ["nginx", "-p", str(work), "-c", str(work / "mock.conf")])
        wait_port(mock)
        targets = []
        port, h2port = free_port(), free_port()
        (work / "proxy.conf").write_text(NGINX_PROXY.format(dir=work, port=port, h2port=h2port,
                                                            mock=mock))
        nginx = start("nginx", ["nginx", "-p", str(work), "-c", str(work / "proxy.conf")])
        targets.append(("nginx proxy", port, nginx))
        variants = [("weir, no plugin", None, ""),
                    ("weir + C++ stat_filter", PLUGINS / "stat_filter.wasm", "stat_filter"),
                    ("weir + Rust stat_filter", PLUGINS / "rust_stat_filter_v02.wasm",
                     "stat_filter"),
                    ("weir + Go stat_filter", PLUGINS / "go_stat_filter.wasm", "stat_filter")]
        for name, plugin, root in variants:
            if plugin is not None and not plugin.exists():
                print(f"bench: skipping '{name}': {plugin} not built", file=sys.stderr)
                continue
            port, admin = free_port(), free_port()
            cfg = work / f"weir-{port}.yaml"
            cfg.write_text(weir_config(port, admin, mock, plugin, root))
            targets.append((name, port, start(f"weir-{port}", [str(WEIR), "-c", str(cfg),
                                                                "--concurrency", "1",
                                                                "-l", "warn"])))
            if plugin is None and H2:
                # The same weir (codec_type AUTO) and the same nginx, over HTTP/2.
                targets.append(("nginx proxy, HTTP/2", h2port, nginx))
                targets.append(("weir, HTTP/2, no plugin", port, targets[-2][2]))
        # TLS keep-alive: the same EC P-256 certificate for nginx and weir.
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj",
                        "/CN=bench", "-keyout", str(work / "key.pem"), "-out",
                        str(work / "cert.pem")], check=True, capture_output=True)
        port = free_port()
        TLS_PORTS.add(port)
        (work / "tls.conf").write_text(NGINX_TLS_PROXY.format(dir=work, port=port, mock=mock))
        targets.append(("nginx proxy, TLS", port, start("nginx-tls", ["nginx", "-p", str(work),
                                                                     "-c", str(work / "tls.conf")])))
        port, admin = free_port(), free_port()
        TLS_PORTS.add(port)
        cfg = work / f"weir-{port}.yaml"
        cfg.write_text(weir_config(port, admin, mock, None, "",
                                   WEIR_TLS_SOCKET.format(dir=work).lstrip()))
        targets.append(("weir, no plugin, TLS", port, start(f"weir-{port}", [
            str(WEIR), "-c", str(cfg), "--concurrency", "1", "-l", "warn"])))
        for _, port, _ in targets:
            wait_port(port)
        targets = [t for t in targets if ONLY.search(t[0])]
        for name, port, _ in targets:  # warm up: JIT tiers, pools
            if "HTTP/2" in name:
                subprocess.run(["h2load", "-t1", f"-c{CONNS}", f"-m{STREAMS}", "-D2",
                                f"http://127.0.0.1:{port}/"], capture_output=True)
            else:
                subprocess.run(["wrk", "-t1", f"-c{CONNS}", "-d2s", url(port)],
                               capture_output=True)
        results = {name: [] for name, _, _ in targets}
        for r in range(ROUNDS):
            for name, port, proc in targets:
                user0, cpu0 = cpu_seconds([proc.pid])
                rps, p99, total, errors = h2load(port) if "HTTP/2" in name else wrk(port)
                user1, cpu1 = cpu_seconds([proc.pid])
                cpu = (cpu1 - cpu0) * 1e6 / max(total, 1)
                user = (user1 - user0) * 1e6 / max(total, 1)
                results[name].append((rps, p99, cpu, errors, user))
                print(f"round {r + 1} {name:26s} {rps:9.0f} req/s  p99 {p99:6.2f} ms  "
                      f"{cpu:6.1f} CPU us/req ({user:5.1f} user)", file=sys.stderr)

        def median(xs):
            xs = sorted(xs)
            return xs[len(xs) // 2]

        summary = {n: (median([x[0] for x in v]), median([x[1] for x in v]),
                       median([x[2] for x in v]), sum(x[3] for x in v),
                       median([x[4] for x in v]))
                   for n, v in results.items()}
        plain = summary.get("weir, no plugin")
        print(f"\nweir proxy benchmark: {ROUNDS} rounds x {DURATION}s, {CONNS} connections, "
              f"1 worker each (medians)\n")
        print(f"HTTP/2 rows: h2load, {STREAMS} streams per connection, ratios vs nginx over "
              f"HTTP/2, latency column = mean (h2load has no p99)\n")
        # CPU = user + system time of the server process per request; "user" is the part
        # spent outside the kernel (where a plugin's cost is; the sockets' is in the kernel).
        print(f"| target | req/s | vs nginx | p99 ms | CPU us/req | user us/req | "
              f"CPU vs nginx | plugin cost (CPU vs weir plain) | errors |")
        print("|---|---|---|---|---|---|---|---|---|")
        for name, (rps, p99, cpu, errors, user) in summary.items():
            base = summary["nginx proxy, HTTP/2" if "HTTP/2" in name else "nginx proxy"]
            cost = f"{(cpu / plain[2] - 1) * 100:+.1f}%" if plain and name.startswith("weir +") else "-"
            print(f"| {name} | {rps:.0f} | {rps / base[0]:.2f} | {p99:.2f} | {cpu:.1f} | "
                  f"{user:.1f} | {cpu / base[2]:.2f} | {cost} | {errors} |")
        tls_nginx, tls_weir = summary.get("nginx proxy, TLS"), summary.get("weir, no plugin, TLS")
        if tls_nginx and tls_weir:
            print(f"\nTLS keep-alive (https, same certificate): weir/nginx req/s "
                  f"{tls_weir[0] / tls_nginx[0]:.2f}, CPU per request {tls_weir[2]:.1f} us vs "
                  f"{tls_nginx[2]:.1f} us (ratio {tls_weir[2] / tls_nginx[2]:.2f})")
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
