#!/usr/bin/env python3
"""Differential HTTP/1 parsing run: weir against nginx, each in front of its own recording
upstream, on the payloads of corpus.py (each on a fresh connection).

For every payload and proxy it records the statuses the client got (or a close, reset or
timeout) and what reached the upstream: the raw bytes and the requests a lenient upstream
parser makes of them. Then it compares:

  weir-more-lenient    weir forwarded more requests upstream than nginx did (nginx
                       rejected or dropped what weir passed on): the number to drive to 0
  weir-differs         as many requests, but a different method, target or body upstream
  weir-hangs           nginx answered, weir neither answered nor closed
  nginx-more-lenient   the reverse of the first: weir is the stricter one
  status-differs       both forwarded the same, but answered differently (e.g. 501 vs 400)

  tests/differential/harness.py --weir build/weir [--json out.json] [--only PREFIX] [-v]
Exit status 0 unless a proxy failed to start."""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "integration"))

import corpus  # noqa: E402
from weir_harness import free_port, proxy_config  # noqa: E402

CLIENT_TIMEOUT = 1.5  # s a payload may take before it counts as a hang
QUIET_PERIOD = 0.03  # s without upstream traffic before the next payload starts


# --- The upstream ------------------------------------------------------------------------

BAD = "bad"


def parse_request(buf):
    """A lenient request parser, as a typical backend has: returns (request, consumed), None
    when more bytes are needed, or BAD."""
    ends = [i for i in (buf.find(b"\r\n\r\n"), buf.find(b"\n\n")) if i >= 0]
    if not ends:
        return BAD if len(buf) > (1 << 20) else None
    end = min(ends)
    head_end = end + (4 if buf[end:end + 4] == b"\r\n\r\n" else 2)
    lines = [line.rstrip(b"\r") for line in buf[:end].split(b"\n")]
    parts = lines[0].split(b" ")
    method = parts[0]
    target = parts[1] if len(parts) > 1 else b""
    version = parts[2] if len(parts) > 2 else b"HTTP/0.9"
    fields = []
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        fields.append((name.strip().lower(), value.strip()))
    te = [v for n, v in fields if n == b"transfer-encoding"]
    cl = [v for n, v in fields if n == b"content-length"]
    pos = head_end
    body = b""
    if te and b"chunked" in te[-1].lower():
        while True:
            nl = buf.find(b"\n", pos)
            if nl < 0:
                return None
            try:
                size = int(buf[pos:nl].split(b";")[0].strip(), 16)
            except ValueError:
                return BAD
            pos = nl + 1
            if size == 0:
                while True:  # trailers, up to an empty line
                    nl = buf.find(b"\n", pos)
                    if nl < 0:
                        return None
                    empty = buf[pos:nl].strip() == b""
                    pos = nl + 1
                    if empty:
                        break
                break
            if len(buf) < pos + size:
                return None
            body += buf[pos:pos + size]
            pos += size
            nl = buf.find(b"\n", pos)
            if nl < 0:
                return None
            pos = nl + 1
    elif cl:
        try:
            length = int(cl[0])
        except ValueError:
            return BAD
        if len(buf) < pos + length:
            return None
        body = buf[pos:pos + length]
        pos += length
    keep = version == b"HTTP/1.1" and not any(
        n == b"connection" and b"close" in v.lower() for n, v in fields)
    request = {"method": method.decode("latin-1"), "target": target.decode("latin-1"),
               "body": body.decode("latin-1"), "keep_alive": keep}
    return request, pos


class RecordingUpstream:
    """Answers every request it can parse with a small 200, and records what arrives while
    each payload (its `epoch`) is current."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.epoch = None
        self.records = {}
        self.last_activity = time.monotonic()
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def record(self, epoch):
        with self.lock:
            return self.records.setdefault(epoch, {"raw": b"", "requests": [], "unparsed": False})

    def quiet_for(self):
        with self.lock:
            return time.monotonic() - self.last_activity

    def close(self):
        self.running = False
        self.sock.close()

    def _accept(self):
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        buf = b""
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                with self.lock:
                    self.last_activity = time.monotonic()
                    epoch = self.epoch
                rec = self.record(epoch)
                with self.lock:
                    rec["raw"] += data
                buf += data
                while buf:
                    parsed = parse_request(buf)
                    if parsed is None:
                        break
                    if parsed == BAD:
                        with self.lock:
                            rec["unparsed"] = True
                        return
                    request, used = parsed
                    buf = buf[used:]
                    with self.lock:
                        rec["requests"].append(request)
                    head = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                    if not request["keep_alive"]:
                        head += b"Connection: close\r\n"
                    conn.sendall(head + b"\r\n" + (b"" if request["method"] == "HEAD" else b"ok"))
                    if not request["keep_alive"]:
                        return
        except OSError:
            return
        finally:
            conn.close()


# --- The proxies -------------------------------------------------------------------------

def wait_for_port(port, proc, what, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not open port {port}")


# nginx as a plain reverse proxy. Size limits are set to weir's (Envoy's) so that the run
# compares parsing rather than configuration: 60 KiB of headers (nginx: 8 KiB lines), no
# body size limit (nginx: 1 MiB).
NGINX_CONF = """worker_processes 1; daemon off; pid {dir}/nginx.pid; error_log {dir}/error.log info;
{user}
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {dir}/client_body; proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi; uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;
  large_client_header_buffers 4 64k;
  client_max_body_size 0;
  server {{
    listen 127.0.0.1:{port};
    location / {{ proxy_pass http://127.0.0.1:{upstream}; proxy_http_version 1.1; }}
  }}
}}
"""


class Proxy:
    def __init__(self, name, argv, port, workdir, log):
        self.name, self.port = name, port
        self.log = open(log, "w")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     cwd=workdir)
        wait_for_port(port, self.proc, name)

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def start_nginx(nginx, workdir, upstream_port):
    port = free_port()
    user = "user root;" if os.geteuid() == 0 else ""
    conf = workdir / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=workdir, port=port, upstream=upstream_port, user=user))
    return Proxy("nginx", [nginx, "-p", str(workdir), "-c", str(conf), "-e",
                           str(workdir / "error.log")], port, workdir, workdir / "nginx.out")


def start_weir(weir, workdir, upstream_port):
    port, admin = free_port(), free_port()
    conf = workdir / "envoy.yaml"
    conf.write_text(proxy_config(port, admin, upstream_port))
    return Proxy("weir", [weir, "-c", str(conf), "--concurrency", "1"], port, workdir,
                 workdir / "weir.log")


# --- One exchange ------------------------------------------------------------------------

def exchange(port, payload):
    """Sends the payload on a fresh connection and reads until the proxy closes or the
    timeout: returns (bytes read, how it ended: closed / reset / timeout)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=CLIENT_TIMEOUT)
    data = b""
    ended = "timeout"
    try:
        try:
            s.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass
        deadline = time.monotonic() + CLIENT_TIMEOUT
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                ended = "reset"
                break
            if not chunk:
                ended = "closed"
                break
            data += chunk
    finally:
        s.close()
    return data, ended


STATUS_LINE = re.compile(rb"HTTP/1\.[01] (\d{3})[^\r\n]*\r\n")


def response_statuses(data):
    """The status of each response in a response stream (bodies skipped by their framing)."""
    statuses = []
    pos = 0
    while pos < len(data):
        m = STATUS_LINE.match(data, pos)
        if not m:
            break
        status = int(m.group(1))
        statuses.append(status)
        end = data.find(b"\r\n\r\n", m.end() - 2)
        if end < 0:
            break
        head = data[m.end():end].lower()
        pos = end + 4
        cl = re.search(rb"(?:^|\n)content-length:\s*(\d+)", head)
        if status < 200 or status in (204, 304):
            continue
        if re.search(rb"(?:^|\n)transfer-encoding:\s*chunked", head):
            while True:
                nl = data.find(b"\r\n", pos)
                if nl < 0:
                    return statuses
                size = int(data[pos:nl].split(b";")[0] or b"0", 16)
                pos = nl + 2 + size + (2 if size else 0)
                if size == 0:
                    pos = data.find(b"\r\n", pos) + 2 if data.find(b"\r\n", pos) >= 0 else len(data)
                    break
        elif cl:
            pos += int(cl.group(1))
        else:
            break
    return statuses


def run_all(proxy, upstream, payloads, results, verbose):
    for name, payload in payloads:
        with upstream.lock:
            upstream.epoch = name
        data, ended = exchange(proxy.port, payload)
        # Let anything still in flight towards the upstream land in this payload's record.
        settle = time.monotonic() + 0.5
        while upstream.quiet_for() < QUIET_PERIOD and time.monotonic() < settle:
            time.sleep(0.005)
        rec = upstream.record(name)
        with upstream.lock:
            results[name] = {
                "statuses": response_statuses(data), "ended": ended,
                "response": data[:300].decode("latin-1"),
                "requests": [dict(r) for r in rec["requests"]],
                "upstream_raw": rec["raw"][:2000].decode("latin-1"),
                "upstream_unparsed": rec["unparsed"],
            }
        if verbose:
            print(f"{proxy.name:5} {name}: {results[name]['statuses']} {ended} "
                  f"upstream={len(rec['requests'])}", file=sys.stderr)


# --- Comparison --------------------------------------------------------------------------

def rejected(r):
    return any(s >= 400 for s in r["statuses"]) or (r["ended"] != "timeout" and not r["statuses"])


def request_key(req):
    return (req["method"], req["target"], req["body"])


def forwarded(r):
    return len(r["requests"]) + (1 if r["upstream_unparsed"] else 0)


def classify(w, n):
    wf, nf = forwarded(w), forwarded(n)
    if wf > nf:
        return "weir-more-lenient"
    if nf > wf:
        return "nginx-more-lenient"
    if [request_key(r) for r in w["requests"]] != [request_key(r) for r in n["requests"]]:
        return "weir-differs"
    if w["ended"] == "timeout" and not w["statuses"] and n["statuses"]:
        return "weir-hangs"
    if w["statuses"] != n["statuses"] or rejected(w) != rejected(n):
        return "status-differs"
    return "same"


def compare(results_weir, results_nginx, payloads):
    verdicts = {}
    for name, _ in payloads:
        verdicts[name] = classify(results_weir[name], results_nginx[name])
    return verdicts


def describe(r):
    statuses = ",".join(str(s) for s in r["statuses"]) or "-"
    return f"{statuses} {r['ended']} fwd={forwarded(r)}"


def summary(verdicts, results_weir, results_nginx, out=sys.stdout):
    counts = {}
    for v in verdicts.values():
        counts[v] = counts.get(v, 0) + 1
    print(f"{len(verdicts)} payloads", file=out)
    for key in ("weir-more-lenient", "weir-differs", "weir-hangs", "nginx-more-lenient",
                "status-differs", "same"):
        print(f"  {key:20} {counts.get(key, 0)}", file=out)
    for key in ("weir-more-lenient", "weir-differs", "weir-hangs"):
        names = [n for n, v in verdicts.items() if v == key]
        if names:
            print(f"\n{key}: (weir | nginx: statuses, end, requests forwarded)", file=out)
            for n in names:
                print(f"  {n:45} weir {describe(results_weir[n]):28} nginx "
                      f"{describe(results_nginx[n])}", file=out)
    return counts


def run(weir, nginx="nginx", only=None, verbose=False, workdir=None):
    """Runs the corpus through both proxies; returns (payloads, weir results, nginx results,
    verdicts, weir_alive)."""
    payloads = [(n, p) for n, p in corpus.payloads() if not only or n.startswith(only)]
    weir = str(Path(weir).resolve())
    work = Path(workdir or tempfile.mkdtemp(prefix="weir-differential-"))
    (work / "nginx").mkdir(parents=True, exist_ok=True)
    (work / "weir").mkdir(parents=True, exist_ok=True)
    up_w, up_n = RecordingUpstream(), RecordingUpstream()
    proxies = []
    try:
        pw = start_weir(weir, work / "weir", up_w.port)
        proxies.append(pw)
        pn = start_nginx(nginx, work / "nginx", up_n.port)
        proxies.append(pn)
        res_w, res_n = {}, {}
        threads = [threading.Thread(target=run_all, args=(pw, up_w, payloads, res_w, verbose)),
                   threading.Thread(target=run_all, args=(pn, up_n, payloads, res_n, verbose))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        alive = pw.alive()
        return payloads, res_w, res_n, compare(res_w, res_n, payloads), alive
    finally:
        for p in proxies:
            p.stop()
        up_w.close()
        up_n.close()
        if workdir is None:
            shutil.rmtree(work, ignore_errors=True)


def main():
    root = HERE.parents[1]
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weir", default=str(root / "build/weir"))
    ap.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    ap.add_argument("--json", help="write every result here")
    ap.add_argument("--only", help="only payloads whose name starts with this")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    started = time.monotonic()
    payloads, res_w, res_n, verdicts, alive = run(args.weir, args.nginx, args.only, args.verbose)
    summary(verdicts, res_w, res_n)
    print(f"\nweir {'still running' if alive else 'DIED'}; {time.monotonic() - started:.1f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {n: {"verdict": verdicts[n], "weir": res_w[n], "nginx": res_n[n]}
             for n, _ in payloads}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
