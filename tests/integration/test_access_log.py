"""access_log on the http_connection_manager: Envoy's file logger, its format operators
and default format, written by a background thread."""
import re
import time

from upstream import Upstream
from weir_harness import Weir, free_port, proxy_config, request


def access_log(path, format_yaml=""):
    return f"""
                access_log:
                  - name: envoy.access_loggers.file
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
                      path: {path}{format_yaml}"""


def wait_for_lines(path, count, timeout=10):
    deadline = time.time() + timeout
    lines = []
    while time.time() < deadline:
        if path.exists():
            lines = path.read_text().splitlines()
            if len(lines) >= count:
                return lines
        time.sleep(0.1)
    raise AssertionError(f"{count} lines expected in {path}, got {lines}")


def test_custom_format(tmp_path):
    log = tmp_path / "access.log"
    fmt = """
                      log_format:
                        text_format_source:
                          inline_string: "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL% %RESPONSE_CODE% %BYTES_RECEIVED% %BYTES_SENT% %RESP(X-UP)% %RESPONSE_FLAGS% %UPSTREAM_HOST% %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%\\n\""""
    listen, admin = free_port(), free_port()
    with Upstream() as upstream:
        with Weir(proxy_config(listen, admin, upstream.port, hcm_extra=access_log(log, fmt)),
                  wait_ports=(listen, admin)) as weir:
            status, _, body = request(listen, method="POST", path="/echo", body=b"12345")
            assert status == 200
            assert request(listen, path="/status/404")[0] == 404
            lines = wait_for_lines(log, 2)
    # Each worker buffers its own lines: requests served by different workers may be
    # written in either order.
    assert sorted(lines) == sorted([
        # %BYTES_SENT% counts body bytes only, as in Envoy.
        f"POST /echo HTTP/1.1 200 5 {len(body)} - - 127.0.0.1:{upstream.port} 127.0.0.1",
        f"GET /status/404 HTTP/1.1 404 0 0 - - 127.0.0.1:{upstream.port} 127.0.0.1"])


def test_default_format(tmp_path):
    log = tmp_path / "access.log"
    listen, admin = free_port(), free_port()
    with Upstream() as upstream:
        with Weir(proxy_config(listen, admin, upstream.port, hcm_extra=access_log(log)),
                  wait_ports=(listen, admin)) as weir:
            assert request(listen, path="/echo", headers={"user-agent": "pytest",
                                                          "x-request-id": "rid-1"})[0] == 200
            (line,) = wait_for_lines(log, 1)
    pattern = (r'\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\] "GET /echo HTTP/1.1" 200 - 0 \d+ \d+ (\d+|-) '
               r'"-" "pytest" "rid-1" "127.0.0.1:\d+" "127.0.0.1:' + str(upstream.port) + '"')
    assert re.fullmatch(pattern, line), line


def test_lines_buffered_at_shutdown_are_written(tmp_path):
    log = tmp_path / "access.log"
    listen, admin = free_port(), free_port()
    with Upstream() as upstream:
        weir = Weir(proxy_config(listen, admin, upstream.port, hcm_extra=access_log(log)),
                    wait_ports=(listen, admin))
        with weir:
            for _ in range(5):
                assert request(listen, path="/echo")[0] == 200
        # Stopped right away, well inside the flush interval: nothing may be lost.
    assert len(log.read_text().splitlines()) == 5


def test_bad_operator_is_a_config_error(tmp_path):
    listen, admin = free_port(), free_port()
    fmt = """
                      format: "%NO_SUCH_FIELD%\""""
    config = proxy_config(listen, admin, 1, hcm_extra=access_log(tmp_path / "x.log", fmt))
    weir = Weir(config)
    code = weir.proc.wait(timeout=20)
    assert code != 0
    assert re.search(r"envoy\.yaml:\d+:\d+: .*%NO_SUCH_FIELD%", weir.logs()), weir.logs()
    weir.stop()
