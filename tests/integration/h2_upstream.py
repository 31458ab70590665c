"""A real HTTP/2 upstream for the tests (Python's h2, Debian python3-h2): cleartext with
prior knowledge, or TLS with ALPN h2. One thread per connection. What it answers depends on
the request path:

  /echo...        200, body = JSON of what arrived (method, path, authority, scheme, headers,
                  body, trailers); with request header `x-want-trailers: 1`, response
                  trailers grpc-status: 0 and x-upstream-trailer: yes follow the body
  /big/N          200 with N bytes (sent as the windows allow)
  /slow/MS        the echo, after MS milliseconds (to hold streams open)
  /reset          headers and some data, then RST_STREAM (INTERNAL_ERROR)
  /reset-early    RST_STREAM before any header
  /goaway         the echo, then GOAWAY(NO_ERROR, last stream = this one); the connection
                  stays open until weir closes it
  /huge-header    a response head with a 200 KB field
It counts connections, and the most streams it saw open at once on one connection.
`mode="garbage"` answers the client preface with bytes that are not HTTP/2.
"""
import json
import select
import socket
import ssl
import threading
import sys
import time

try:
    import h2  # noqa: F401
except ImportError:
    # Debian's python3-h2 (scripts/setup) when the interpreter running pytest is not
    # Debian's own (a pyenv Python): the package is pure Python.
    sys.path.append("/usr/lib/python3/dist-packages")
import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings


class H2Upstream:
    def __init__(self, max_concurrent_streams=None, tls_context=None, mode="normal"):
        self.max_concurrent_streams = max_concurrent_streams
        self.tls_context = tls_context
        self.mode = mode
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.max_open_streams = 0
        self.requests = 0
        self.alpn = []
        self.lock = threading.Lock()
        self.stopping = False
        self.threads = []

    def __enter__(self):
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self.threads.append(t)
        return self

    def __exit__(self, *exc):
        self.stopping = True
        try:
            self.sock.close()
        except OSError:
            pass

    def _accept(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            t = threading.Thread(target=self._serve_safely, args=(conn,), daemon=True)
            t.start()

    def _serve_safely(self, conn):
        try:
            if self.tls_context:
                conn = self.tls_context.wrap_socket(conn, server_side=True)
                with self.lock:
                    self.alpn.append(conn.selected_alpn_protocol())
            self._serve(conn)
        except (OSError, ssl.SSLError, h2.exceptions.ProtocolError):
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def _serve(self, conn):
        if self.mode == "garbage":
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nthis is not http/2\r\n\r\n" + b"\xff" * 64)
            time.sleep(0.5)
            return
        settings = {}
        if self.max_concurrent_streams:
            settings[h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS] = self.max_concurrent_streams
        h2c = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding="utf-8",
                                      validate_inbound_headers=True))
        h2c.initiate_connection()
        if settings:
            h2c.update_settings(settings)
        conn.sendall(h2c.data_to_send())
        streams = {}   # id -> {"headers", "body", "trailers"}
        pending = {}   # id -> [bytes left, end_stream, trailers or None]
        timers = []    # (when, stream id)
        while True:
            timeout = 0.05 if (pending or timers) else 1.0
            r, _, _ = select.select([conn], [], [], timeout)
            if r:
                data = conn.recv(65536)
                if not data:
                    return
                for ev in h2c.receive_data(data):
                    self._on_event(h2c, ev, streams, pending, timers)
            now = time.monotonic()
            for when, sid in [t for t in timers if t[0] <= now]:
                timers.remove((when, sid))
                self._respond_echo(h2c, sid, streams, pending)
            self._pump(h2c, pending)
            out = h2c.data_to_send()
            if out:
                conn.sendall(out)

    def _on_event(self, h2c, ev, streams, pending, timers):
        if isinstance(ev, h2.events.RequestReceived):
            streams[ev.stream_id] = {"headers": ev.headers, "body": b"", "trailers": None}
            with self.lock:
                self.requests += 1
                open_now = len([s for s in streams.values() if not s.get("done")])
                self.max_open_streams = max(self.max_open_streams, open_now)
            path = dict(ev.headers).get(":path", "")
            if path.startswith("/reset-early"):
                h2c.reset_stream(ev.stream_id, error_code=2)
                streams[ev.stream_id]["done"] = True
            if ev.stream_ended:
                self._request_done(h2c, ev.stream_id, streams, pending, timers)
        elif isinstance(ev, h2.events.DataReceived):
            s = streams.get(ev.stream_id)
            if s is not None:
                s["body"] += ev.data
            h2c.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        elif isinstance(ev, h2.events.TrailersReceived):
            if ev.stream_id in streams:
                streams[ev.stream_id]["trailers"] = ev.headers
        elif isinstance(ev, h2.events.StreamEnded):
            self._request_done(h2c, ev.stream_id, streams, pending, timers)
        elif isinstance(ev, h2.events.StreamReset):
            pending.pop(ev.stream_id, None)
            if ev.stream_id in streams:
                streams[ev.stream_id]["done"] = True

    def _request_done(self, h2c, sid, streams, pending, timers):
        s = streams.get(sid)
        if s is None or s.get("done") or s.get("answered"):
            return
        s["answered"] = True
        path = dict(s["headers"]).get(":path", "")
        if path.startswith("/big/"):
            n = int(path.split("/")[2])
            h2c.send_headers(sid, [(":status", "200"), ("content-length", str(n))])
            pending[sid] = [b"b" * n, True, None]
        elif path.startswith("/slow/"):
            timers.append((time.monotonic() + int(path.split("/")[2]) / 1000.0, sid))
        elif path.startswith("/reset"):
            h2c.send_headers(sid, [(":status", "200")])
            h2c.send_data(sid, b"partial")
            h2c.reset_stream(sid, error_code=2)
            s["done"] = True
        elif path.startswith("/huge-header"):
            h2c.send_headers(sid, [(":status", "200"), ("x-huge", "h" * 200_000)], end_stream=True)
            s["done"] = True
        else:
            self._respond_echo(h2c, sid, streams, pending)
            if path.startswith("/goaway"):
                h2c.close_connection(last_stream_id=sid)

    def _respond_echo(self, h2c, sid, streams, pending):
        s = streams[sid]
        s["done"] = True
        hdrs = dict(s["headers"])
        seen = {
            "method": hdrs.get(":method"), "path": hdrs.get(":path"),
            "authority": hdrs.get(":authority"), "scheme": hdrs.get(":scheme"),
            "headers": [[k, v] for k, v in s["headers"] if not k.startswith(":")],
            "body": s["body"].decode("latin-1"),
            "trailers": [[k, v] for k, v in (s["trailers"] or [])],
        }
        body = json.dumps(seen).encode()
        want_trailers = hdrs.get("x-want-trailers") == "1"
        h2c.send_headers(sid, [(":status", "200"), ("content-type", "application/json"),
                               ("x-upstream", "h2")])
        trailers = [("grpc-status", "0"), ("x-upstream-trailer", "yes")] if want_trailers else None
        pending[sid] = [body, True, trailers]

    def _pump(self, h2c, pending):
        for sid in list(pending):
            data, end, trailers = pending[sid]
            try:
                window = min(h2c.local_flow_control_window(sid), h2c.max_outbound_frame_size)
            except (h2.exceptions.StreamClosedError, KeyError):
                pending.pop(sid)
                continue
            while data and window > 0:
                chunk, data = data[:window], data[window:]
                h2c.send_data(sid, chunk)
                window = min(h2c.local_flow_control_window(sid), h2c.max_outbound_frame_size)
            if data:
                pending[sid] = [data, end, trailers]
                continue
            pending.pop(sid)
            if trailers:
                h2c.send_headers(sid, trailers, end_stream=True)
            elif end:
                h2c.end_stream(sid)


def tls_context(cert, key, alpn=("h2",)):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(list(alpn))
    return ctx
