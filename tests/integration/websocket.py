"""A WebSocket echo upstream and a WebSocket client, both hand-rolled (RFC 6455 framing,
no extensions), for tests of HTTP upgrades through weir."""
import base64
import hashlib
import json
import os
import socket
import struct
import threading

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC11B2D"
OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 1, 2, 8, 9, 10


def accept_key(key):
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def encode_frame(opcode, payload, mask):
    head = bytes([0x80 | opcode])
    mask_bit = 0x80 if mask else 0
    n = len(payload)
    if n < 126:
        head += bytes([mask_bit | n])
    elif n < 65536:
        head += bytes([mask_bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


class FrameReader:
    """Reads frames from a socket (or from bytes already read past the HTTP head)."""

    def __init__(self, sock, pending=b""):
        self.sock = sock
        self.buf = pending

    def _need(self, n):
        while len(self.buf) < n:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed while reading a frame")
            self.buf += data
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read(self):
        b0, b1 = self._need(2)
        opcode, masked, n = b0 & 0x0F, b1 & 0x80, b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._need(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._need(8))[0]
        key = self._need(4) if masked else None
        payload = self._need(n)
        if key:
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        return opcode, payload


def read_head(sock, pending=b""):
    """Reads an HTTP head; returns (start line, {lower name: value}, bytes after it)."""
    buf = pending
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("closed before the end of the head: %r" % buf)
        buf += data
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    fields = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    return lines[0], fields, rest


class WebSocketUpstream:
    """Paths: /ws (with Upgrade: websocket) echoes every frame until a close frame;
    /switch answers 101 to anything and then only records what it receives; any other
    request gets a 200 with a JSON echo of its head (keep-alive)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.connections = 0
        self.requests = []        # (start line, fields) of every HTTP request seen
        self.switched_bytes = b""  # what arrived on /switch connections after the 101
        self.closed_tunnels = 0    # echo tunnels that ended (close frame or EOF)
        threading.Thread(target=self._accept, daemon=True).start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.sock.close()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        rest = b""
        try:
            while True:
                try:
                    start, fields, rest = read_head(conn, rest)
                except ConnectionError:
                    return
                with self.lock:
                    self.requests.append((start, fields))
                path = start.split(" ")[1]
                if path == "/switch":
                    conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                 b"Connection: Upgrade\r\n\r\n")
                    self._record_switched(conn, rest)
                    return
                if path == "/ws" and fields.get("upgrade", "").lower() == "websocket":
                    conn.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                  "Connection: Upgrade\r\nSec-WebSocket-Accept: "
                                  + accept_key(fields["sec-websocket-key"]) + "\r\n\r\n").encode())
                    self._echo(conn, rest)
                    return
                body = json.dumps({"start": start, "fields": fields}).encode()
                conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                             b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        finally:
            conn.close()

    def _record_switched(self, conn, rest):
        with self.lock:
            self.switched_bytes += rest
        while True:
            try:
                data = conn.recv(65536)
            except OSError:
                return
            if not data:
                return
            with self.lock:
                self.switched_bytes += data

    def _echo(self, conn, rest):
        reader = FrameReader(conn, rest)
        try:
            while True:
                opcode, payload = reader.read()
                if opcode == OP_CLOSE:
                    conn.sendall(encode_frame(OP_CLOSE, payload, mask=False))
                    return
                if opcode == OP_PING:
                    conn.sendall(encode_frame(OP_PONG, payload, mask=False))
                    continue
                conn.sendall(encode_frame(opcode, payload, mask=False))
        except (ConnectionError, OSError):
            return
        finally:
            with self.lock:
                self.closed_tunnels += 1


class WebSocketClient:
    """One WebSocket connection through weir."""

    def __init__(self, port, path="/ws", timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: ws.test\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        self.status_line, self.fields, rest = read_head(self.sock)
        self.expected_accept = accept_key(key)
        self.reader = FrameReader(self.sock, rest)

    def send(self, payload, opcode=OP_BINARY):
        self.sock.sendall(encode_frame(opcode, payload, mask=True))

    def recv(self):
        return self.reader.read()

    def close(self):
        self.sock.close()
