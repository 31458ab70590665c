"""The command line, config errors, validation mode and clean shutdown."""
import re
import signal
import socket
import subprocess
import threading

from upstream import Upstream
from weir_harness import (SOURCE_DIR, WEIR_BIN, Weir, free_port, proxy_config, request,
                          wait_for)


def run_weir(*args, timeout=30):
    return subprocess.run([str(WEIR_BIN), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=SOURCE_DIR)


def test_version():
    out = run_weir("--version")
    assert out.returncode == 0
    assert re.match(r"weir version \d+\.\d+\.\d+", out.stdout)


def test_missing_config_file_is_an_error():
    out = run_weir("-c", "/nonexistent/envoy.yaml")
    assert out.returncode != 0
    assert "/nonexistent/envoy.yaml" in out.stdout + out.stderr


def test_bad_config_names_file_line_column_and_starts_nothing(tmp_path):
    listen, admin = free_port(), free_port()
    text = proxy_config(listen, admin, 1)
    text = text.replace(f"port_value: {listen} ", "port_value: not-a-port ")
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    out = run_weir("-c", str(cfg))
    assert out.returncode != 0
    line = next(i + 1 for i, l in enumerate(text.splitlines()) if "not-a-port" in l)
    msg = out.stdout + out.stderr
    assert re.search(re.escape(str(cfg)) + rf":{line}:\d+", msg), msg
    assert "port_value" in msg
    with socket.socket() as s:  # nothing was left listening
        assert s.connect_ex(("127.0.0.1", admin)) != 0


def test_unknown_field_rejected_unless_allowed(tmp_path):
    listen, admin = free_port(), free_port()
    text = proxy_config(listen, admin, 1).replace("stat_prefix: ingress_http",
                                                  "stat_prefix: ingress_http\n                bogus_field: 1")
    cfg = tmp_path / "unknown.yaml"
    cfg.write_text(text)
    out = run_weir("-c", str(cfg), "--mode", "validate")
    assert out.returncode != 0 and "bogus_field" in out.stdout + out.stderr
    out = run_weir("-c", str(cfg), "--mode", "validate", "--allow-unknown-static-fields")
    assert out.returncode == 0, out.stdout + out.stderr


def test_validate_mode_checks_plugins_and_binds_nothing():
    out = run_weir("-c", "examples/custom-metrics/envoy.yaml", "--mode", "validate")
    assert out.returncode == 0, out.stdout + out.stderr


def test_validate_mode_rejects_a_module_that_is_not_wasm(tmp_path):
    bogus = tmp_path / "bogus.wasm"
    bogus.write_bytes(b"not wasm at all")
    text = (SOURCE_DIR / "examples/custom-metrics/envoy.yaml").read_text()
    text = re.sub(r"filename: .*", f"filename: {bogus}", text)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(text)
    out = run_weir("-c", str(cfg), "--mode", "validate")
    assert out.returncode != 0
    assert "stat_filter" in out.stdout + out.stderr


def test_a_data_source_file_that_never_ends_is_refused(tmp_path):
    # /dev/zero as a direct response body: read up to a bound, then a located error.
    text = (SOURCE_DIR / "examples/custom-metrics/envoy.yaml").read_text()
    text = text.replace('inline_string: "hello from mock\\n"', "filename: /dev/zero")
    assert "/dev/zero" in text
    cfg = tmp_path / "c.yaml"
    cfg.write_text(text)
    out = run_weir("-c", str(cfg), "--mode", "validate", timeout=30)
    msg = out.stdout + out.stderr
    assert out.returncode != 0, msg
    assert re.search(re.escape(str(cfg)) + r":\d+:\d+", msg), msg
    assert "larger than weir reads for a data source (16777216 bytes)" in msg, msg


def test_yaml_aliases_that_never_end_are_a_located_error(tmp_path):
    # The crash the config fuzzer found (fuzz/corpus/weir_config_fuzz), as a user meets it:
    # an alias inside its own anchor, then an alias bomb. Each is a located error, at once.
    cycle = tmp_path / "cycle.yaml"
    cycle.write_text((SOURCE_DIR / "fuzz/corpus/weir_config_fuzz/"
                      "alias-inside-its-own-anchor.yaml").read_text())
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 11)))
    for cfg, why in ((cycle, "YAML nested deeper than 100 levels"),
                     (bomb, "more than 1000000 YAML nodes once aliases are expanded")):
        out = run_weir("-c", str(cfg), "--mode", "validate", timeout=30)
        msg = out.stdout + out.stderr
        assert out.returncode == 1, msg  # an error, not a crash (a signal) or a hang
        assert re.search(re.escape(str(cfg)) + r":\d+:\d+: " + re.escape(why), msg), msg


def test_sigterm_lets_in_flight_request_finish():
    with Upstream() as up:
        listen, admin = free_port(), free_port()
        weir = Weir(proxy_config(listen, admin, up.port), wait_ports=(listen, admin))
        result = {}

        def slow():
            result["r"] = request(listen, path="/slow/800")

        t = threading.Thread(target=slow)
        t.start()
        wait_for(lambda: any(r["path"] == "/slow/800" for r in up.requests),
                 what="the request to reach the upstream")
        code = weir.stop(signal.SIGTERM)
        t.join()
        assert result["r"][0] == 200
        assert code == 0, weir.logs()


def test_sigint_exits_cleanly():
    listen, admin = free_port(), free_port()
    weir = Weir(proxy_config(listen, admin, 1), wait_ports=(listen, admin))
    assert weir.stop(signal.SIGINT) == 0, weir.logs()


def test_quitquitquit():
    listen, admin = free_port(), free_port()
    weir = Weir(proxy_config(listen, admin, 1), wait_ports=(listen, admin))
    assert request(admin, "GET", "/quitquitquit")[0] == 405
    assert request(admin, "POST", "/quitquitquit")[0] == 200
    weir.proc.wait(timeout=15)
    assert weir.proc.returncode == 0
    weir.log.close()
