"""A small HTTP/1.1 upstream on loopback whose behaviour each test controls by path."""
import json
import socket
import threading
import time


class Upstream:
    """Paths: /echo (default: JSON of the request), /chunked, /trailers (chunked, with a
    trailer x-up-trailer: t1), /status/N, /close-after
    (answers, then closes the idle connection without warning), /slow/MS, /eof-body
    (no length, ends by closing), /big/N (N bytes)."""

    def __init__(self, port=0, close_idle_after_ms=None):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.close_idle_after_ms = close_idle_after_ms
        self.connections = 0
        self.requests = []
        self.lock = threading.Lock()
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.running = False
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _accept(self):
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        reader = conn.makefile("rb")
        try:
            while True:
                if self.close_idle_after_ms is not None:
                    conn.settimeout(self.close_idle_after_ms / 1000.0)
                try:
                    line = reader.readline()
                except (socket.timeout, OSError):
                    return  # idle too long: close without a word, as servers do
                conn.settimeout(None)
                if not line:
                    return
                method, target, version = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
                headers = []
                while True:
                    h = reader.readline().decode("latin-1").rstrip("\r\n")
                    if not h:
                        break
                    k, _, v = h.partition(":")
                    headers.append((k.strip().lower(), v.strip()))
                hd = dict(headers)
                body = b""
                if "chunked" in hd.get("transfer-encoding", ""):
                    while True:
                        size = int(reader.readline().split(b";")[0], 16)
                        if size == 0:
                            while reader.readline() not in (b"\r\n", b""):
                                pass
                            break
                        body += reader.read(size)
                        reader.readline()
                elif "content-length" in hd:
                    body = reader.read(int(hd["content-length"]))
                with self.lock:
                    self.requests.append({"method": method, "path": target, "headers": headers,
                                          "body": body})
                keep = self._respond(conn, method, target, version, headers, body)
                if not keep:
                    return
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def _send(self, conn, status, headers, body=b"", head=False):
        reason = {200: "OK", 204: "No Content", 304: "Not Modified", 404: "Not Found",
                  500: "Internal Server Error"}.get(status, "Status")
        out = f"HTTP/1.1 {status} {reason}\r\n"
        for k, v in headers:
            out += f"{k}: {v}\r\n"
        out += "\r\n"
        conn.sendall(out.encode() + (b"" if head else body))

    def _respond(self, conn, method, target, version, headers, body):
        hd = dict(headers)
        keep = hd.get("connection", "").lower() != "close" and version == "HTTP/1.1"
        path = target.split("?")[0]
        conn_hdr = [] if keep else [("connection", "close")]
        if path == "/chunked":
            conn.sendall(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n"
                         b"content-type: text/plain\r\n\r\n"
                         b"3\r\none\r\n3\r\ntwo\r\n5\r\nthree\r\n0\r\n\r\n")
            return keep
        if path == "/trailers":
            conn.sendall(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
                         b"4\r\nbody\r\n0\r\nx-up-trailer: t1\r\n\r\n")
            return keep
        if path.startswith("/status/"):
            code = int(path.split("/")[2])
            hdrs = conn_hdr + ([] if code in (204, 304) else [("content-length", "0")])
            self._send(conn, code, hdrs)
            return keep
        if path.startswith("/slow/"):
            time.sleep(int(path.split("/")[2]) / 1000.0)  # a slow upstream is the point
        if path == "/eof-body":
            conn.sendall(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nbody until close")
            return False
        if path.startswith("/big/"):
            data = b"x" * int(path.split("/")[2])
            self._send(conn, 200, conn_hdr + [("content-length", str(len(data)))], data,
                       head=(method == "HEAD"))
            return keep
        payload = json.dumps({"method": method, "path": target, "headers": headers,
                              "body": body.decode("latin-1")}).encode()
        self._send(conn, 200, conn_hdr + [("content-type", "application/json"),
                                          ("content-length", str(len(payload)))],
                   payload, head=(method == "HEAD"))
        return keep
