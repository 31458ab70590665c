"""Higress plugins (proxy_abi_version_0_2_100) through a real weir process: plugins built
with Higress's own Go SDK (github.com/higress-group/wasm-go v1.0.2), a body-signature auth
plugin and a Redis quota plugin against a real redis-server on a free loopback port, plus
the Redis failure paths (down, silent, refused AUTH, malformed or too large replies)."""
import base64
import hashlib
import hmac
import json
import shutil
import socket
import subprocess
import threading
import time

import pytest

from abi_support import request, start, stat, wait_for
from upstream import Upstream
from weir_harness import free_port, require, sdk_plugin, wait_for_port, wasm_filter

SECRET = "s3cret-for-alice"
CONSUMERS = {"consumers": [{"name": "alice", "key": "alice-key", "secret": SECRET},
                           {"name": "bob", "key": "bob-key", "secret": "bobs-secret"}]}


def sign(body, secret=SECRET):
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def auth_filter():
    return wasm_filter("higress-body-auth", sdk_plugin("higress_body_auth.wasm"), root_id="",
                       configuration=json.dumps(CONSUMERS))


def test_higress_body_auth_accepts_a_signed_body_and_refuses_the_rest():
    with Upstream() as up, start({"upstream": up.port}, auth_filter()) as weir:
        body = b'{"order": 42, "items": ["a", "b"]}'
        status, _, data = request(weir.listen, "POST", "/orders", body=body,
                                  headers={"x-ca-key": "alice-key", "x-ca-signature": sign(body)})
        assert status == 200, (data, weir.logs())
        seen = json.loads(data)
        assert seen["body"].encode() == body
        assert "consumer alice authenticated" in weir.logs()

        # A body of 256 KiB arriving in many reads is checked whole.
        big = bytes(range(256)) * 1024
        status, _, data = request(weir.listen, "POST", "/upload", body=big,
                                  headers={"x-ca-key": "alice-key", "x-ca-signature": sign(big)})
        assert status == 200
        assert len(json.loads(data)["body"]) == len(big)

        def refused(headers, body=b"payload"):
            status, hdrs, data = request(weir.listen, "POST", "/orders", body=body, headers=headers)
            assert status == 401, data
            assert hdrs["content-type"] == "application/json"
            return json.loads(data)["message"]

        assert refused({"x-ca-key": "alice-key", "x-ca-signature": sign(b"other")}) == \
            "signature mismatch"
        # Bob's signature is not Alice's.
        assert refused({"x-ca-key": "alice-key",
                        "x-ca-signature": sign(b"payload", "bobs-secret")}) == "signature mismatch"
        assert refused({"x-ca-key": "mallory", "x-ca-signature": sign(b"payload")}) == \
            "unknown consumer key"
        assert refused({"x-ca-key": "alice-key", "x-ca-signature": "%%%"}) == \
            "signature is not base64"
        assert refused({}) == "missing x-ca-key or x-ca-signature"
        # No refused body reached the upstream. (Their headers may have: the wrapper lets
        # headers go on and buffers the body, as it must on stock Envoy, where a plugin
        # holding its headers gets no body callbacks until it resumes.)
        bodies = [bytes(r["body"]) for r in up.requests if r["body"]]
        assert bodies == [body, big], [len(b) for b in bodies]


def router_filter(extra=""):
    return wasm_filter("higress-model-router", sdk_plugin("higress_model_router.wasm"),
                       root_id="", configuration=json.dumps({"models": ["qwen-max", "gpt-4o"]}),
                       extra=extra)


def test_higress_plugin_holding_its_headers_reads_the_body_first():
    """HeaderStopIteration from a 0.2.100 plugin holds the headers alone, as Higress's host
    runs it (Envoy's allow_on_headers_stop_iteration): the wrapper buffers the body, the
    plugin adds a header chosen from it, then headers and body go on. A refused body sends
    nothing upstream, not even the headers."""
    with Upstream() as up, start({"upstream": up.port}, router_filter()) as weir:
        body = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
        status, _, data = request(weir.listen, "POST", "/v1/chat/completions", body=body.encode(),
                                  headers={"content-type": "application/json"})
        assert status == 200, (data, weir.logs())
        seen = json.loads(data)
        assert dict(seen["headers"])["x-higress-model"] == "gpt-4o"
        assert seen["body"] == body
        # 300 KiB in many reads, chunked: still read whole before the headers go.
        big = json.dumps({"model": "qwen-max", "pad": "p" * 300 * 1024}).encode()
        with socket.create_connection(("127.0.0.1", weir.listen), timeout=10) as s:
            s.sendall(b"POST /v1/chat HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
                      b"transfer-encoding: chunked\r\n\r\n")
            for i in range(0, len(big), 7000):
                piece = big[i:i + 7000]
                s.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            s.sendall(b"0\r\n\r\n")
            answer = b""
            while not answer.endswith(b"}"):
                chunk = s.recv(1 << 20)
                assert chunk, answer[:300]
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
        seen = json.loads(answer.split(b"\r\n\r\n", 1)[1])
        assert dict(seen["headers"])["x-higress-model"] == "qwen-max"
        assert seen["body"].encode("latin-1") == big
        before = len(up.requests)
        for bad, reason in ((b'{"model": "unknown"}', "unknown model"),
                            (b"not json {", "body is not JSON")):
            status, hdrs, data = request(weir.listen, "POST", "/v1/chat/completions", body=bad,
                                         headers={"content-type": "application/json"})
            assert (status, json.loads(data)["message"]) == (400, reason), weir.logs()
        assert len(up.requests) == before  # not even the headers went
        # A request without a body is not held.
        assert request(weir.listen, "GET", "/v1/models")[0] == 200
        assert len(up.requests) == before + 1


def test_allow_on_headers_stop_iteration_must_be_a_bool(tmp_path):
    import re
    from test_validate_report import config_with, validate
    text = config_with(sdk_plugin("higress_model_router.wasm"), root_id="")
    text = re.sub(r"^( *)root_id: (.*)$", r"\1root_id: \2\n\1allow_on_headers_stop_iteration: maybe",
                  text, count=1, flags=re.M)
    out = validate(tmp_path, text)
    said = out.stdout + out.stderr
    assert out.returncode != 0
    assert "allow_on_headers_stop_iteration" in said and "envoy.yaml:" in said, said


def test_higress_plugin_is_validated_as_abi_0_2_100(tmp_path):
    from test_validate_report import config_with, field, report_of, validate
    out = validate(tmp_path, config_with(sdk_plugin("higress_body_auth.wasm"), root_id=""))
    report = report_of(out.stdout, "stat_filter")
    assert field(report, "ABI") == "Proxy-Wasm 0.2.100 (Higress)", out.stdout + out.stderr


# ------------------------------------------------------------------ Redis

REDIS_PASSWORD = "weir-redis-pass"


def resp_command(*args):
    out = f"*{len(args)}\r\n"
    for a in args:
        a = str(a)
        out += f"${len(a.encode())}\r\n{a}\r\n"
    return out.encode()


def redis_query(port, *commands):
    """Sends commands (lists of arguments) to Redis, returns the raw reply bytes."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"".join(resp_command(*c) for c in commands))
        time.sleep(0.1)
        s.settimeout(0.5)
        data = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except socket.timeout:
            pass
        return data


def run_redis(port, directory):
    binary = shutil.which("redis-server")
    require(binary, "redis-server is not installed")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--requirepass", REDIS_PASSWORD, "--dir", str(directory)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, proc=proc)
    except BaseException:
        proc.kill()
        raise
    proc.port = port
    return proc


@pytest.fixture
def redis_server(tmp_path):
    proc = run_redis(free_port(), tmp_path)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(10)


def redis_cluster(port):
    """Higress's StaticIpCluster name for service "redis": weir's cluster is named so."""
    return f"outbound|{port}||redis.static"


def quota_filter(port, **conf):
    configuration = {"service_name": "redis", "service_port": port, "username": "default",
                     "password": REDIS_PASSWORD, "database": 2, "timeout": 1000, "limit": 3}
    configuration.update(conf)
    return wasm_filter("higress-redis-quota", sdk_plugin("higress_redis.wasm"), root_id="",
                       configuration=json.dumps(configuration))


def start_with_redis(up, redis_port, **conf):
    return start({"upstream": up.port, redis_cluster(redis_port): redis_port},
                 quota_filter(redis_port, **conf))


def test_higress_redis_quota_against_a_real_redis(redis_server):
    port = redis_server.port
    with Upstream() as up, start_with_redis(up, port) as weir:
        for n in (1, 2, 3):
            status, _, data = request(weir.listen, headers={"x-api-key": "alice"})
            assert status == 200, (data, weir.logs())
            assert dict(json.loads(data)["headers"])["x-quota-count"] == str(n)
        status, _, data = request(weir.listen, headers={"x-api-key": "alice"})
        assert status == 429 and data == b"quota exceeded: 4\n"
        # Another key has its own quota.
        status, _, data = request(weir.listen, headers={"x-api-key": "bob"})
        assert status == 200 and dict(json.loads(data)["headers"])["x-quota-count"] == "1"
        # The plugin's commands went to database 2 after AUTH, with the EXPIRE it sent.
        reply = redis_query(port, ["AUTH", "default", REDIS_PASSWORD], ["SELECT", "2"],
                            ["GET", "quota:alice"], ["TTL", "quota:alice"], ["SELECT", "0"],
                            ["EXISTS", "quota:alice"])
        parts = reply.split(b"\r\n")
        assert parts[:5] == [b"+OK", b"+OK", b"$1", b"4", parts[4]], reply
        assert parts[4].startswith(b":") and 0 < int(parts[4][1:]) <= 60, reply
        assert parts[5:7] == [b"+OK", b":0"], reply
        assert len(up.requests) == 4


def redis_clients(port):
    """Client connections Redis has, not counting the one asking."""
    reply = redis_query(port, ["AUTH", "default", REDIS_PASSWORD], ["CLIENT", "LIST"])
    return reply.count(b" addr=") - 1  # (" laddr=" is the server side)


def wait_expires_answered(port, n):
    """Waits until Redis has answered n EXPIREs (a key's first request sends one that the
    plugin does not wait for), and weir has had time to read the answer: its connection is
    back in the pool."""
    wait_for(lambda: f"cmdstat_expire:calls={n},".encode() in redis_query(
        port, ["AUTH", "default", REDIS_PASSWORD], ["INFO", "commandstats"]))
    time.sleep(0.2)


def redis_cx(weir, port, what):
    return int(stat(weir, f"cluster.{redis_cluster(port)}.upstream_cx_{what}") or 0)


def test_higress_redis_connections_are_pooled_and_reused(redis_server):
    """Calls reuse a worker's authenticated connections (AUTH and SELECT once per
    connection): 36 requests in a row open no connection; a burst of 16 at once opens
    more, and afterwards at most 4 stay idle."""
    port = redis_server.port
    with Upstream() as up, start_with_redis(up, port, limit=1000, timeout=5000) as weir:
        # A key's first request also sends an EXPIRE the plugin does not wait for: the next
        # request may find that connection still busy and open a second one. So the first
        # four requests (one per key) are allowed two connections, and then none.
        for i in range(4):
            assert request(weir.listen, headers={"x-api-key": f"k{i}"})[0] == 200, weir.logs()
        wait_expires_answered(port, 4)
        warm = redis_cx(weir, port, "total")
        assert warm in (1, 2)
        for i in range(4, 40):
            status, _, data = request(weir.listen, headers={"x-api-key": f"k{i % 4}"})
            assert status == 200, (data, weir.logs())
        assert dict(json.loads(data)["headers"])["x-quota-count"] == "10"
        assert redis_cx(weir, port, "total") == warm
        assert redis_clients(port) == warm
        results = []

        def one(i):
            results.append(request(weir.listen, headers={"x-api-key": f"burst{i}"})[0])
        threads = [threading.Thread(target=one, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == [200] * 16, [l for l in weir.logs().splitlines() if "redis" in l][-8:]
        assert redis_cx(weir, port, "active") <= 4
        assert redis_clients(port) <= 4
        # The pooled connections still work, on database 2.
        assert request(weir.listen, headers={"x-api-key": "k0"})[0] == 200
        reply = redis_query(port, ["AUTH", "default", REDIS_PASSWORD], ["SELECT", "2"],
                            ["GET", "quota:k0"])
        assert reply.endswith(b"$2\r\n11\r\n"), reply
        # Redis closes every client connection (as its idle `timeout` would): the pooled
        # ones are dropped, and the next calls open a new one instead of failing.
        total = redis_cx(weir, port, "total")
        redis_query(port, ["AUTH", "default", REDIS_PASSWORD], ["CLIENT", "KILL", "TYPE", "normal",
                                                                "SKIPME", "yes"])
        wait_for(lambda: redis_cx(weir, port, "active") == 0)
        for _ in range(3):
            assert request(weir.listen, headers={"x-api-key": "k0"})[0] == 200, weir.logs()
        assert redis_cx(weir, port, "total") == total + 1


def test_higress_redis_restart_fails_calls_then_they_work_again(redis_server, tmp_path):
    """Redis killed with pooled connections: the next calls fail cleanly (503 from the
    plugin, at once), and once Redis is back on its port calls work again, on new
    connections."""
    port = redis_server.port
    with Upstream() as up, start_with_redis(up, port, limit=1000, timeout=5000) as weir:
        for _ in range(5):
            assert request(weir.listen, headers={"x-api-key": "k"})[0] == 200, weir.logs()
        redis_server.kill()
        redis_server.wait(10)
        for _ in range(3):
            t0 = time.time()
            status, _, data = request(weir.listen, headers={"x-api-key": "k"})
            assert (status, data) == (503, b"redis unavailable\n"), weir.logs()
            assert time.time() - t0 < 1.0
        assert wait_for(lambda: redis_cx(weir, port, "active") == 0), weir.logs()
        again = run_redis(port, tmp_path)
        try:
            status, _, data = request(weir.listen, headers={"x-api-key": "k"})
            assert status == 200, (data, weir.logs())
            # A new server: the count starts again.
            assert dict(json.loads(data)["headers"])["x-quota-count"] == "1"
            wait_expires_answered(port, 1)
            for _ in range(5):
                assert request(weir.listen, headers={"x-api-key": "k"})[0] == 200, weir.logs()
            assert redis_cx(weir, port, "active") == 1
        finally:
            again.terminate()
            again.wait(10)


def test_higress_redis_down_answers_the_plugin_with_a_failure(redis_server):
    port = redis_server.port
    with Upstream() as up, start_with_redis(up, port) as weir:
        assert request(weir.listen, headers={"x-api-key": "k"})[0] == 200
        redis_server.terminate()
        redis_server.wait(10)
        t0 = time.time()
        status, _, data = request(weir.listen, headers={"x-api-key": "k"})
        assert status == 503 and data == b"redis unavailable\n", data
        assert time.time() - t0 < 1.0  # a refused connect fails at once, not at the timeout
        # weir itself is fine.
        assert request(weir.admin, path="/ready")[0] == 200


def test_higress_redis_refused_auth_is_the_plugins_to_read(redis_server):
    port = redis_server.port
    with Upstream() as up, start_with_redis(up, port, password="wrong") as weir:
        status, _, data = request(weir.listen, headers={"x-api-key": "k"})
        assert status == 500, data
        assert data.startswith(b"redis error: WRONGPASS"), data
        assert len(up.requests) == 0


class FakeRedis:
    """A TCP server that answers every connection with `reply` (bytes, or None: never)."""

    def __init__(self, reply):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.reply = reply
        self.conns = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn):
        try:
            conn.recv(65536)
            if self.reply is not None:
                conn.sendall(self.reply)
        except OSError:
            pass

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


@pytest.mark.parametrize("what,reply,too_large", [
    ("silent", None, False),  # never answers: the plugin's timeout (300 ms) ends the call
    ("not RESP", b"hello world\r\n", False),
    ("too large", b"$8000000\r\n" + b"x" * (5 << 20), True),  # past max_call_response_bytes
])
def test_higress_redis_bad_servers_fail_the_call_cleanly(what, reply, too_large):
    fake = FakeRedis(reply)
    try:
        with Upstream() as up, start_with_redis(up, fake.port, password="", username="",
                                                 database=0, timeout=300) as weir:
            t0 = time.time()
            status, _, data = request(weir.listen, headers={"x-api-key": "k"})
            assert status == 503 and data == b"redis unavailable\n", (what, data, weir.logs())
            assert time.time() - t0 < 3.0
            if too_large:
                assert stat(weir, "wasm.plugin.higress-redis-quota.http_call_responses_too_large") == "1"
            assert "redis call failed" in weir.logs()
            assert len(up.requests) == 0
    finally:
        fake.close()


def test_higress_redis_unknown_cluster_is_refused_at_init(redis_server):
    port = redis_server.port
    with Upstream() as up, start({"upstream": up.port, redis_cluster(port): port},
                                 quota_filter(port + 1 if port < 65535 else port - 1)) as weir:
        # proxy_redis_init answered BAD_ARGUMENT (no such cluster); Higress's wrapper retries
        # it before each command and refuses the command.
        status, _, data = request(weir.listen, headers={"x-api-key": "k"})
        assert status == 503 and data.startswith(b"redis call refused"), data
        assert len(up.requests) == 0


def test_higress_redis_calls_count_against_max_outstanding_calls():
    fake = FakeRedis(None)  # holds every call until the plugin's timeout
    try:
        filt = quota_filter(fake.port, password="", username="", database=0, timeout=3000)
        filt = filt.replace('runtime: "envoy.wasm.runtime.v8"',
                            'runtime: "envoy.wasm.runtime.v8"\n'
                            '                          weir_limits: { max_outstanding_calls: 2 }')
        with Upstream() as up, start({"upstream": up.port, redis_cluster(fake.port): fake.port},
                                     filt) as weir:
            results = []

            def one():
                results.append(request(weir.listen, headers={"x-api-key": "k"}, timeout=10))
            held = [threading.Thread(target=one) for _ in range(2)]
            for t in held:
                t.start()
            deadline = time.time() + 5
            while len(fake.conns) < 2 and time.time() < deadline:
                time.sleep(0.02)
            assert len(fake.conns) == 2
            # A third call while two are outstanding is refused at once.
            t0 = time.time()
            status, _, data = request(weir.listen, headers={"x-api-key": "k"})
            assert status == 503 and data.startswith(b"redis call refused"), data
            assert time.time() - t0 < 1.0
            assert stat(weir, "wasm.plugin.higress-redis-quota.http_calls_over_limit") == "1"
            for t in held:
                t.join(10)
            # The two held calls ended at the plugin's timeout.
            assert [r[0] for r in results] == [503, 503], results
            assert len(fake.conns) == 2 and len(up.requests) == 0
    finally:
        fake.close()


def test_higress_redis_many_concurrent_calls_on_two_workers(redis_server):
    port = redis_server.port
    with Upstream() as up, start({"upstream": up.port, redis_cluster(port): port},
                                 quota_filter(port, limit=1000000), concurrency=2) as weir:
        counts, errors = [], []

        def client():
            for _ in range(20):
                try:
                    status, _, data = request(weir.listen, headers={"x-api-key": "shared"})
                    if status != 200:
                        errors.append((status, data))
                    else:
                        counts.append(int(dict(json.loads(data)["headers"])["x-quota-count"]))
                except OSError as e:
                    errors.append(repr(e))
        threads = [threading.Thread(target=client) for _ in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        # Every INCR answered its own caller: 200 distinct counts, 1..200.
        assert sorted(counts) == list(range(1, 201))
        reply = redis_query(port, ["AUTH", "default", REDIS_PASSWORD], ["SELECT", "2"],
                            ["GET", "quota:shared"])
        assert reply.endswith(b"$3\r\n200\r\n"), reply
