#!/usr/bin/env python3
"""`make soak`: weir under a long, mixed, hostile load, then a verdict.

weir (build/weir) runs the random_trap plugin (traps on one request in SOAK_TRAP_ONE_IN,
failure_policy FAIL_RELOAD) in front of the mock upstream of tests/integration/upstream.py,
run as its own process so that it can be killed. At the same time:

  good (wrk)      keep-alive GETs of a 128-byte body, in rounds until SOAK_REQUESTS in all;
                  a wrk script counts statuses and checks each 200's length and header
  good (checked)  Python keep-alive clients POST random bodies to the echoing upstream
                  and check every answer: the echo of their own request, or a 5xx by policy
  malformed       requests weir must refuse: each must get exactly 400
  resets          clients that reset (RST) mid-request head, mid-body and mid-response
  slow readers    2 MB responses read 16 KiB at a time (flow control holds them)
  restarts        the upstream killed (SIGKILL) every SOAK_RESTART_EVERY s, restarted 0.5 s
                  later: requests then get 503 (or 502), never a hang
  admin           polled every second (/ready); weir's RSS sampled at the same time

Policy 5xx: 503 (upstream unreachable or reset before a response; plugin failed, while its
VM reloads), 502 (upstream response broken). A checked request whose connection broke is
allowed only within a few seconds of an upstream kill (a response cut by the kill).

Verdict: every good request got a complete, correct response or a policy 5xx; every
malformed one a 400; no wrk timeout; the admin answered every poll; RSS at the end within
SOAK_RSS_GROWTH_MB of RSS after warm-up; weir alive and exiting 0 on SIGTERM.

Environment: SOAK_REQUESTS (1000000), SOAK_TRAP_ONE_IN (200000), SOAK_RESTART_EVERY (20),
SOAK_RSS_GROWTH_MB (48), SOAK_CONNECTIONS (16, wrk), SOAK_WORKERS (2, weir --concurrency)."""
import json
import os
import random
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import http.client
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "integration"))
from weir_harness import (BUILD_DIR, PLUGIN_DIR, Weir, free_port, proxy_config,  # noqa: E402
                          wait_for_port, wasm_filter)

TOTAL = int(os.environ.get("SOAK_REQUESTS", "1000000"))
TRAP_ONE_IN = int(os.environ.get("SOAK_TRAP_ONE_IN", "200000"))
RESTART_EVERY = float(os.environ.get("SOAK_RESTART_EVERY", "20"))
RSS_GROWTH_MB = float(os.environ.get("SOAK_RSS_GROWTH_MB", "48"))
CONNECTIONS = int(os.environ.get("SOAK_CONNECTIONS", "16"))
WORKERS = int(os.environ.get("SOAK_WORKERS", "2"))
WRK_ROUND_S = 10
BODY_LENGTH = 128
SLOW_LENGTH = 2_000_000
POLICY_5XX = (502, 503)
ABORT_WINDOW_S = 3.0  # a connection may break this long around an upstream kill

stop = threading.Event()
lock = threading.Lock()
counts = {}
failures = []  # (kind, detail): anything here fails the soak
aborts = []    # (kind, monotonic time) of broken connections, checked against the kills
kills = []     # (monotonic time killed, monotonic time back)


def count(key, n=1):
    with lock:
        counts[key] = counts.get(key, 0) + n


def fail(kind, detail):
    with lock:
        if len(failures) < 200:
            failures.append((kind, detail))
        counts["failures"] = counts.get("failures", 0) + 1


def rst_close(sock):
    """Close with a RST (SO_LINGER 0), as a client that dies does."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    finally:
        sock.close()


# --- The upstream, a process we can kill -------------------------------------------------

class UpstreamProcess:
    def __init__(self, port):
        self.port = port
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen([sys.executable, str(HERE / "upstream_process.py"),
                                      str(self.port)], stdout=subprocess.PIPE)
        assert self.proc.stdout.readline().strip() == b"ready"

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def restarter(upstream):
    while not stop.wait(RESTART_EVERY):
        killed = time.monotonic()
        upstream.kill()
        time.sleep(0.5)
        upstream.start()
        wait_for_port(upstream.port)
        with lock:
            kills.append((killed, time.monotonic()))
        count("upstream restarts")


# --- Traffic -------------------------------------------------------------------------------

def checked_client(port, seed):
    """Keep-alive POSTs whose echo is checked byte for byte."""
    rng = random.Random(seed)
    conn = None
    n = 0
    while not stop.is_set():
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        n += 1
        path = f"/echo/{seed}/{n}?q={rng.randrange(1 << 30)}"
        body = bytes(rng.randrange(32, 127) for _ in range(rng.randrange(0, 2000)))
        try:
            conn.request("POST", path, body=body, headers={"x-soak": str(n)})
            resp = conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException) as e:
            # Broken connection: allowed only around an upstream kill (checked at the end).
            with lock:
                aborts.append(("checked", time.monotonic(), repr(e)))
            count("checked: connection broken")
            conn.close()
            conn = None
            continue
        if resp.status == 200:
            try:
                echo = json.loads(data)
                ok = (echo["method"] == "POST" and echo["path"] == path
                      and echo["body"].encode("latin-1") == body
                      and ("x-soak", str(n)) in [tuple(h) for h in echo["headers"]]
                      and resp.getheader("x-random-trap") == "passed")
            except (ValueError, KeyError):
                ok = False
            if ok:
                count("checked: 200 correct")
            else:
                fail("checked", f"wrong 200 for {path}: {data[:200]!r}")
        elif resp.status in POLICY_5XX:
            count(f"checked: {resp.status} by policy")
        else:
            fail("checked", f"status {resp.status} for {path}: {data[:200]!r}")
        if resp.will_close:
            conn.close()
            conn = None
    if conn:
        conn.close()


MALFORMED = [
    b"GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nX-Folded: a\r\n b\r\n\r\n",
    b"GET / HTTP/1.1\nHost: a\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    b"GET / HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03garbage\r\n\r\n",
    b"GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
]


def malformed_client(port):
    i = 0
    while not stop.is_set():
        payload = MALFORMED[i % len(MALFORMED)]
        i += 1
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                s.sendall(payload)
                head = s.recv(32)
        except OSError as e:
            fail("malformed", f"{payload[:40]!r}: {e!r}")
            continue
        if head.startswith(b"HTTP/1.1 400 "):
            count("malformed: 400")
        else:
            fail("malformed", f"{payload[:40]!r} got {head!r}")


def reset_client(port):
    kinds = ("head", "body", "response")
    i = 0
    while not stop.is_set():
        kind = kinds[i % 3]
        i += 1
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            if kind == "head":
                s.sendall(b"GET /echo HTTP/1.1\r\nHost: a\r\nX-Partial: ")
            elif kind == "body":
                s.sendall(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n"
                          + b"b" * 1000)
            else:
                s.sendall(b"GET /big/1000000 HTTP/1.1\r\nHost: a\r\n\r\n")
                s.recv(1000)
            rst_close(s)
            count(f"reset mid-{kind}")
        except OSError as e:
            fail("reset", f"{kind}: {e!r}")
        time.sleep(0.01)


def slow_reader(port):
    request = f"GET /big/{SLOW_LENGTH} HTTP/1.1\r\nHost: a\r\n\r\n".encode()
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
                s.sendall(request)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = s.recv(16384)
                    if not chunk:
                        raise ConnectionError("closed before the head")
                    data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                length = int(re.search(rb"content-length: (\d+)", head, re.I).group(1))
                while len(body) < length:
                    time.sleep(0.02)
                    chunk = s.recv(16384)
                    if not chunk:
                        raise ConnectionError(f"closed after {len(body)} of {length} bytes")
                    body += chunk
        except (OSError, AttributeError, ValueError) as e:
            with lock:
                aborts.append(("slow", time.monotonic(), repr(e)))
            count("slow: connection broken")
            continue
        if status == 200 and body == b"x" * SLOW_LENGTH:
            count("slow: 2 MB complete")
        elif status in POLICY_5XX:
            count(f"slow: {status} by policy")
        else:
            fail("slow", f"status {status}, {len(body)} bytes")


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def admin_poller(admin_port, pid, samples):
    start = time.monotonic()
    while not stop.wait(1.0):
        t = time.monotonic() - start
        try:
            conn = http.client.HTTPConnection("127.0.0.1", admin_port, timeout=2)
            conn.request("GET", "/ready")
            resp = conn.getresponse()
            resp.read()
            conn.close()
            if resp.status == 200:
                count("admin: answered")
            else:
                fail("admin", f"/ready answered {resp.status} at {t:.0f}s")
        except (OSError, http.client.HTTPException) as e:
            fail("admin", f"/ready failed at {t:.0f}s: {e!r}")
        samples.append((t, rss_kib(pid)))


def run_wrk(port):
    out = subprocess.run(
        ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{WRK_ROUND_S}s", "--timeout", "10s",
         "-s", str(HERE / "check.lua"), f"http://127.0.0.1:{port}/big/{BODY_LENGTH}",
         "--", str(BODY_LENGTH)], capture_output=True, text=True, timeout=WRK_ROUND_S + 60)
    line = next((l for l in out.stdout.splitlines() if l.startswith("SOAK-WRK")), None)
    if line is None:
        fail("wrk", f"no summary: {out.stdout[-500:]} {out.stderr[-500:]}")
        return 0
    fields = dict(kv.split("=", 1) for kv in line.split()[1:])
    requests = int(fields["requests"])
    count("wrk: requests", requests)
    for key in ("connect", "read", "write", "timeout", "bad_body", "no_plugin"):
        count(f"wrk: {key}", int(fields[key]))
    for kv in filter(None, fields["statuses"].split(",")):
        status, n = kv.split("=")
        count(f"wrk: {status}", int(n))
        if int(status) != 200 and int(status) not in POLICY_5XX:
            fail("wrk", f"{n} responses with status {status}")
    if int(fields["bad_body"]) or int(fields["no_plugin"]) or int(fields["timeout"]):
        fail("wrk", line)
    return requests


def good_total():
    with lock:
        return (counts.get("wrk: requests", 0)
                + sum(v for k, v in counts.items() if k.startswith(("checked:", "slow:"))))


def total_requests():
    with lock:
        return sum(v for k, v in counts.items()
                   if k.startswith(("checked:", "slow:", "malformed:", "reset mid-"))
                   ) + counts.get("wrk: requests", 0)


# --- The run -------------------------------------------------------------------------------

def main():
    plugin = PLUGIN_DIR / "random_trap.wasm"
    if not plugin.exists():
        sys.exit(f"soak: {plugin} missing (make build)")
    upstream = UpstreamProcess(free_port())
    listen, admin = free_port(), free_port()
    filters = wasm_filter("random_trap", plugin, configuration=f"trap_one_in={TRAP_ONE_IN}",
                          extra="\n                        failure_policy: FAIL_RELOAD")
    config = proxy_config(listen, admin, upstream.port, filters=filters)
    weir = Weir(config, args=("--concurrency", str(WORKERS)), wait_ports=(listen, admin))
    samples = []
    threads = [threading.Thread(target=f, args=a, daemon=True) for f, a in [
        (restarter, (upstream,)),
        (admin_poller, (admin, weir.proc.pid, samples)),
        (checked_client, (listen, 1)),
        (checked_client, (listen, 2)),
        (malformed_client, (listen,)),
        (reset_client, (listen,)),
        (slow_reader, (listen,)),
        (slow_reader, (listen,)),
    ]]
    started = time.monotonic()
    print(f"soak: {TOTAL} requests, trap 1 in {TRAP_ONE_IN}, upstream killed every "
          f"{RESTART_EVERY:.0f} s, weir pid {weir.proc.pid}", flush=True)
    for t in threads:
        t.start()
    try:
        while total_requests() < TOTAL and weir.proc.poll() is None:
            run_wrk(listen)
            elapsed = time.monotonic() - started
            print(f"soak: {total_requests():>9} requests, {elapsed:5.0f} s, RSS "
                  f"{samples[-1][1] / 1024 if samples else 0:.1f} MiB, "
                  f"{counts.get('failures', 0)} failures", flush=True)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    elapsed = time.monotonic() - started
    alive = weir.proc.poll() is None
    stats_text = ""
    if alive:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", admin, timeout=5)
            conn.request("GET", "/stats")
            stats_text = conn.getresponse().read().decode()
        except OSError:
            pass
    exit_code = weir.stop()
    upstream.stop()

    # Broken connections only around a kill.
    unexplained = [(kind, at, why) for kind, at, why in aborts
                   if not any(k - ABORT_WINDOW_S <= at <= back + ABORT_WINDOW_S
                              for k, back in kills)]
    for kind, at, why in unexplained[:20]:
        fail(kind, f"connection broke {at - started:.1f}s into the run, no upstream kill "
                   f"near: {why}")
    if not alive:
        fail("weir", f"weir died (exit {weir.proc.returncode})\n{weir.logs()[-2000:]}")
    elif exit_code != 0:
        fail("weir", f"weir exited {exit_code} on SIGTERM")
    polls = counts.get("admin: answered", 0)
    if polls < (elapsed - 2) * 0.9:
        fail("admin", f"only {polls} polls answered in {elapsed:.0f} s")

    # RSS: after warm-up (the first tenth of the run, at least 10 s) to the end.
    rss = [(t, kib / 1024) for t, kib in samples if kib]
    warm = [v for t, v in rss if t >= max(10.0, elapsed / 10)]
    if len(warm) >= 10:
        baseline = sum(warm[:5]) / 5
        final = sum(warm[-5:]) / 5
        growth = final - baseline
        if growth > RSS_GROWTH_MB:
            fail("rss", f"RSS grew {growth:.1f} MiB after warm-up (bound {RSS_GROWTH_MB} MiB)")
    else:
        baseline = final = growth = float("nan")
        fail("rss", "too few RSS samples")

    reloads = re.findall(r"wasm\.plugin\.random_trap\.vm_reload(?:_success)?: (\d+)", stats_text)
    print()
    print(f"{'soak summary':<44}{'value':>14}")
    print("-" * 58)
    rows = [("duration (s)", f"{elapsed:.0f}"), ("requests in all", total_requests()),
            ("good requests (wrk + checked + slow)", good_total())]
    rows += sorted(counts.items())
    rows += [("policy-broken connections near a kill", len(aborts) - len(unexplained)),
             ("plugin VM reloads (traps)", reloads[0] if reloads else "?"),
             ("RSS first sample (MiB)", f"{rss[0][1]:.1f}" if rss else "?"),
             ("RSS after warm-up (MiB)", f"{baseline:.1f}"),
             ("RSS at the end (MiB)", f"{final:.1f}"),
             ("RSS max (MiB)", f"{max(v for _, v in rss):.1f}" if rss else "?"),
             (f"RSS growth (MiB, bound {RSS_GROWTH_MB:.0f})", f"{growth:.1f}")]
    for name, value in rows:
        print(f"{name:<44}{value!s:>14}")
    step = max(1, len(rss) // 30)
    print("RSS series (s:MiB): " + " ".join(f"{t:.0f}:{v:.1f}" for t, v in rss[::step]))
    if failures:
        print(f"\nsoak FAILED: {counts.get('failures', 0)} failures; first ones:")
        for kind, detail in failures[:30]:
            print(f"  {kind}: {detail}")
        return 1
    print("\nsoak passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
