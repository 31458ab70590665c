#!/usr/bin/env python3
"""TCP proxy benchmark on loopback: a bulk transfer (client -> proxy -> sink) through
haproxy in TCP mode (the peer), weir's tcp_proxy without a plugin and with the Go SDK
network plugin (tests/plugins/go/go_network, counting bytes), and straight to the sink,
in interleaved rounds in one run.

Prints MiB/s and the proxy's CPU seconds per GiB, with ratios against haproxy. One
worker / thread everywhere. The client and the sink are Python processes of their own
(the sink reads and discards, then answers with the byte count, which the client checks).
Environment: BULK_MIB (default 2048), ROUNDS (default 3)."""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from proxy_bench import cpu_seconds, free_port, wait_port  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
WEIR = Path(os.environ.get("WEIR_BIN", ROOT / "build/weir"))
PLUGINS = ROOT / "build/plugins"
BULK_MIB = int(os.environ.get("BULK_MIB", "2048"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))

SINK = """
import socket, sys, threading
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", int(sys.argv[1])))
server.listen(64)
def sink(conn):
    with conn:
        total = 0
        buf = bytearray(1 << 20)
        while True:
            n = conn.recv_into(buf)
            if not n:
                break
            total += n
        conn.sendall(b"%d\\n" % total)
while True:
    conn, _ = server.accept()
    threading.Thread(target=sink, args=(conn,), daemon=True).start()
"""

HAPROXY = """global
  nbthread 1
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend bulk
  bind 127.0.0.1:{port}
  default_backend sink
backend sink
  server s1 127.0.0.1:{sink}
"""


def weir_config(port, admin, sink, plugin):
    filters = ""
    if plugin:
        filters = f"""
            - name: envoy.filters.network.wasm
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm
                config:
                  name: go_network
                  root_id: go_network
                  configuration: {{ "@type": type.googleapis.com/google.protobuf.StringValue, value: count }}
                  vm_config: {{ vm_id: go_network, code: {{ local: {{ filename: {plugin} }} }} }}"""
    return f"""
admin: {{ address: {{ socket_address: {{ address: 127.0.0.1, port_value: {admin} }} }} }}
static_resources:
  listeners:
    - name: bulk
      address: {{ socket_address: {{ address: 127.0.0.1, port_value: {port} }} }}
      filter_chains:
        - filters:{filters}
            - name: envoy.filters.network.tcp_proxy
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
                stat_prefix: bulk
                cluster: sink
  clusters:
    - name: sink
      type: STATIC
      connect_timeout: 1s
      load_assignment:
        cluster_name: sink
        endpoints: [{{ lb_endpoints: [{{ endpoint: {{ address: {{ socket_address: {{ address: 127.0.0.1, port_value: {sink} }} }} }} }}] }}]
"""


def transfer(port, mib):
    """Sends `mib` MiB, half-closes, waits for the sink's count; returns seconds."""
    block = os.urandom(1 << 20)
    started = time.time()
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        for _ in range(mib):
            s.sendall(block)
        s.shutdown(socket.SHUT_WR)
        answer = b""
        while not answer.endswith(b"\n"):
            data = s.recv(100)
            if not data:
                break
            answer += data
    elapsed = time.time() - started
    if int(answer or b"0") != mib << 20:
        raise RuntimeError(f"the sink got {answer!r}, expected {mib << 20} bytes")
    return elapsed


def main():
    work = Path(tempfile.mkdtemp(prefix="weir-tcp-bench-"))
    procs = []

    def start(name, argv):
        log = open(work / f"{name}.log", "w")
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        procs.append(p)
        return p

    try:
        sink = free_port()
        start("sink", [sys.executable, "-c", SINK, str(sink)])
        wait_port(sink)
        targets = [("direct (no proxy)", sink, None)]
        if shutil.which("haproxy"):
            port = free_port()
            (work / "haproxy.cfg").write_text(HAPROXY.format(port=port, sink=sink))
            targets.append(("haproxy (mode tcp)", port,
                            start("haproxy", ["haproxy", "-db", "-f", str(work / "haproxy.cfg")])))
        else:
            print("tcp bench: haproxy missing (scripts/setup bench): no peer row", file=sys.stderr)
        variants = [("weir tcp_proxy", None),
                    ("weir tcp_proxy + Go go_network", PLUGINS / "go_network.wasm")]
        for name, plugin in variants:
            if plugin is not None and not plugin.exists():
                print(f"tcp bench: skipping '{name}': {plugin} not built", file=sys.stderr)
                continue
            port, admin = free_port(), free_port()
            cfg = work / f"weir-{port}.yaml"
            cfg.write_text(weir_config(port, admin, sink, plugin))
            targets.append((name, port, start(f"weir-{port}", [str(WEIR), "-c", str(cfg),
                                                                "--concurrency", "1",
                                                                "-l", "warn"])))
        for _, port, _ in targets:
            wait_port(port)
        for _, port, _ in targets:  # warm up
            transfer(port, 64)
        results = {name: [] for name, _, _ in targets}
        for r in range(ROUNDS):
            for name, port, proc in targets:
                cpu0 = cpu_seconds([proc.pid]) if proc else 0
                seconds = transfer(port, BULK_MIB)
                cpu = (cpu_seconds([proc.pid]) - cpu0) if proc else 0
                results[name].append((BULK_MIB / seconds, cpu * 1024 / BULK_MIB))
                print(f"round {r + 1} {name:32s} {BULK_MIB / seconds:8.0f} MiB/s  "
                      f"{cpu * 1024 / BULK_MIB:5.2f} CPU s/GiB", file=sys.stderr)

        def median(xs):
            xs = sorted(xs)
            return xs[len(xs) // 2]

        summary = {n: (median([x[0] for x in v]), median([x[1] for x in v]))
                   for n, v in results.items()}
        peer = summary.get("haproxy (mode tcp)")
        print(f"\nTCP proxy benchmark: {ROUNDS} rounds x {BULK_MIB} MiB, client -> proxy -> "
              f"sink, 1 worker each (medians)\n")
        print("| target | MiB/s | vs haproxy | proxy CPU s/GiB | CPU vs haproxy |")
        print("|---|---|---|---|---|")
        for name, (rate, cpu) in summary.items():
            vs = f"{rate / peer[0]:.2f}" if peer else "-"
            cpu_vs = f"{cpu / peer[1]:.2f}" if peer and peer[1] and cpu else "-"
            cpu_text = f"{cpu:.2f}" if cpu else "-"
            print(f"| {name} | {rate:.0f} | {vs} | {cpu_text} | {cpu_vs} |")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
