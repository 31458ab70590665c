#!/usr/bin/env python3
"""Writes the seed corpus of weir_http2_server_fuzz (fuzz/corpus/weir_http2_server_fuzz):
whole client conversations built with tests/integration/h2frames.py. Each file is the
harness's 5-byte prefix (option bits, RNG seed; see fuzz/http2_server_fuzz.cc) followed by
the client's bytes. Rerun after changing the seeds: python3 fuzz/make_http2_seeds.py"""
import pathlib
import struct
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))
from h2frames import (ACK, CONTINUATION, DATA, END_HEADERS, END_STREAM, HEADERS, PING,  # noqa
                      PREFACE, PRIORITY, RST_STREAM, SETTINGS, WINDOW_UPDATE, frame, headers,
                      indexed, literal, request_block, settings)

PREFACE_BIT, SMALL, RESPOND_IN_CALLBACKS, DEFER, GOAWAY, SKIP_FLUSH, RESET_SOME = (
    1, 2, 4, 8, 16, 32, 64)


def rst(stream, code=8):
    return frame(RST_STREAM, 0, stream, struct.pack(">I", code))


def window_update(stream, increment):
    return frame(WINDOW_UPDATE, 0, stream, struct.pack(">I", increment))


def seeds():
    start = PREFACE + settings()
    get = request_block("/", extra=[("host", "h"), ("cookie", "a=1"), ("cookie", "b=2")])
    post = request_block("/upload", method="POST", extra=[("content-length", "10")])
    yield "get", 0, start + headers(1, get)
    yield "get_respond", RESPOND_IN_CALLBACKS | RESET_SOME, start + headers(1, get) + \
        frame(SETTINGS, ACK, 0)
    yield "post_data_trailers", RESPOND_IN_CALLBACKS, start + headers(1, post, False) + \
        frame(DATA, 0, 1, b"hello") + frame(DATA, 0, 1, b"world") + \
        headers(1, literal("x-trailer", "t"), True)
    yield "post_deferred", PREFACE_BIT | DEFER | SMALL, settings(initial_window_size=10) + \
        headers(1, post, False) + frame(DATA, END_STREAM, 1, b"0123456789") + \
        window_update(0, 100000) + window_update(1, 100000)
    block = request_block("/continued", extra=[("x-long", "v" * 300)])
    yield "continuation", PREFACE_BIT, frame(HEADERS, END_STREAM, 1, block[:10]) + \
        frame(CONTINUATION, 0, 1, block[10:100]) + \
        frame(CONTINUATION, END_HEADERS, 1, block[100:])
    yield "continuation_flood", PREFACE_BIT, frame(HEADERS, 0, 1, block[:10]) + \
        b"".join(frame(CONTINUATION, 0, 1, b"") for _ in range(50))
    yield "rst_flood", PREFACE_BIT | SMALL, b"".join(
        headers(i, request_block("/r"), False) + rst(i) for i in range(1, 80, 2))
    yield "rapid_reset", PREFACE_BIT | RESPOND_IN_CALLBACKS, b"".join(
        headers(i, request_block("/r")) + rst(i) for i in range(1, 1200, 2))
    yield "settings_ping_flood", PREFACE_BIT | SKIP_FLUSH, \
        b"".join(settings() + frame(PING, 0, 0, b"12345678") for _ in range(200))
    yield "empty_frames", PREFACE_BIT, headers(1, post, False) + \
        b"".join(frame(DATA, 0, 1) for _ in range(5))
    yield "priority_window_flood", PREFACE_BIT | SMALL, \
        b"".join(frame(PRIORITY, 0, 3, struct.pack(">IB", 0, 16)) for _ in range(20)) + \
        b"".join(window_update(0, 1) for _ in range(20))
    bomb = literal("x-bomb", "b" * 4000, index=True)
    yield "hpack_bomb", PREFACE_BIT, headers(1, request_block("/b") + bomb) + \
        b"".join(headers(i, request_block("/b") + indexed(62) * 100) for i in range(3, 30, 2))
    yield "many_streams_goaway", PREFACE_BIT | GOAWAY | RESPOND_IN_CALLBACKS | SMALL, \
        b"".join(headers(i, request_block(f"/{i}")) for i in range(1, 40, 2))
    yield "bad_preface", 0, b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n" + settings()
    yield "http1", 0, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    yield "frame_too_large", PREFACE_BIT, struct.pack(">I", 20000)[1:] + bytes([DATA, 0]) + \
        struct.pack(">I", 1) + b"x" * 20000
    yield "reused_stream_id", PREFACE_BIT | RESPOND_IN_CALLBACKS, headers(5, get) + \
        headers(3, get) + headers(5, get)
    yield "big_frames_window", PREFACE_BIT | RESPOND_IN_CALLBACKS, \
        settings(max_frame_size=1 << 20, initial_window_size=1 << 30) + \
        window_update(0, 1 << 30) + headers(1, get)


def main():
    out = HERE / "corpus" / "weir_http2_server_fuzz"
    out.mkdir(parents=True, exist_ok=True)
    for i, (name, bits, body) in enumerate(seeds()):
        (out / f"seed-{name}").write_bytes(bytes([bits]) + struct.pack("<I", 0x9e3779b9 + i) + body)


if __name__ == "__main__":
    main()
