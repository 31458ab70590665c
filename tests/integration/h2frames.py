"""Hand-made HTTP/2 frames (RFC 9113) and HPACK literals (RFC 7541), for tests that send
what no well-behaved client would: floods, bad prefaces, oversized frames, HPACK bombs."""
import socket
import struct
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, \
    CONTINUATION = range(10)
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
NO_ERROR, PROTOCOL_ERROR, FLOW_CONTROL_ERROR, FRAME_SIZE_ERROR, ENHANCE_YOUR_CALM = 0, 1, 3, 6, 11


def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", stream & 0x7FFFFFFF) + payload


def settings(**values):
    ids = {"header_table_size": 1, "max_concurrent_streams": 3, "initial_window_size": 4,
           "max_frame_size": 5}
    return frame(SETTINGS, 0, 0, b"".join(struct.pack(">HI", ids[k], v) for k, v in values.items()))


def hpack_int(value, prefix_bits, first_byte=0):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first_byte | value])
    out = [first_byte | limit]
    value -= limit
    while value >= 128:
        out.append((value % 128) + 128)
        value //= 128
    out.append(value)
    return bytes(out)


def hpack_str(s):
    b = s.encode() if isinstance(s, str) else s
    return hpack_int(len(b), 7) + b


def literal(name, value, index=False):
    """A literal field with a literal name: 'incremental indexing' adds it to the table."""
    return (b"\x40" if index else b"\x00") + hpack_str(name) + hpack_str(value)


def indexed(i):
    return hpack_int(i, 7, 0x80)


def request_block(path="/", method="GET", authority="localhost", extra=()):
    block = literal(":method", method) + literal(":scheme", "http") + \
        literal(":authority", authority) + literal(":path", path)
    for k, v in extra:
        block += literal(k, v)
    return block


def headers(stream, block, end_stream=True):
    return frame(HEADERS, END_HEADERS | (END_STREAM if end_stream else 0), stream, block)


class Client:
    """A raw HTTP/2 client connection that reads frames back."""

    def __init__(self, port, preface=True, timeout=5):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        if preface:
            self.sock.sendall(PREFACE + settings())

    def send(self, data):
        self.sock.sendall(data)

    def read_frame(self, timeout=5):
        """The next frame (type, flags, stream, payload), or None when the peer closed."""
        deadline = time.monotonic() + timeout
        while len(self.buf) < 9 or len(self.buf) < 9 + int.from_bytes(self.buf[:3], "big"):
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                return None
            if not chunk:
                return None
            self.buf += chunk
        n = int.from_bytes(self.buf[:3], "big")
        f = (self.buf[3], self.buf[4], int.from_bytes(self.buf[5:9], "big") & 0x7FFFFFFF,
             self.buf[9:9 + n])
        self.buf = self.buf[9 + n:]
        return f

    def frames_until_close(self, timeout=5):
        out = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                f = self.read_frame(timeout=deadline - time.monotonic())
            except socket.timeout:
                break
            if f is None:
                return out, True
            out.append(f)
        return out, False

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def goaway_code(frames):
    """The error code of the first GOAWAY among `frames`, or None."""
    for ftype, _, _, payload in frames:
        if ftype == GOAWAY:
            return struct.unpack(">I", payload[4:8])[0]
    return None
