"""`weir --mode validate -c FILE`: the report a plugin author reads first. Per plugin: ABI
version, exported callbacks, imports weir does not implement, memory size."""
import re
import shutil
import subprocess

import pytest

from weir_harness import PLUGIN_DIR, SOURCE_DIR, WEIR_BIN, free_port, seed_config


def validate(tmp_path, text):
    config = tmp_path / "envoy.yaml"
    config.write_text(text)
    return subprocess.run([str(WEIR_BIN), "-c", str(config), "--mode", "validate"],
                          cwd=SOURCE_DIR, capture_output=True, text=True, timeout=60)


def report_of(stdout, plugin_name):
    """The report block of one plugin: its header line and the indented lines below it."""
    lines = stdout.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(f"plugin '{plugin_name}'"):
            block = [line]
            for more in lines[i + 1:]:
                if not more.startswith("  "):
                    break
                block.append(more)
            return "\n".join(block)
    raise AssertionError(f"no report for plugin '{plugin_name}' in:\n{stdout}")


def field(report, name):
    """A field's text, continuation lines joined."""
    m = re.search(rf"^  {name}:\s+(.*(?:\n {{14}}\S.*)*)", report, re.M)
    assert m, f"no '{name}' in:\n{report}"
    return " ".join(part.strip() for part in m.group(1).splitlines())


def config_with(wasm_path, root_id="stat_filter"):
    text = seed_config(wasm_path, free_port(), free_port(), free_port())
    return text.replace("root_id: stat_filter", f"root_id: {root_id}")


def test_report_on_an_sdk_plugin(tmp_path):
    wasm = PLUGIN_DIR / "stat_filter.wasm"
    assert wasm.exists(), f"{wasm} was not built"
    out = validate(tmp_path, config_with(wasm))
    assert out.returncode == 0, out.stdout + out.stderr
    report = report_of(out.stdout, "stat_filter")
    assert "(root_id 'stat_filter', vm_id 'stat_filter')" in report
    assert field(report, "code").startswith(f"{wasm}, ")
    assert field(report, "ABI") == "Proxy-Wasm 0.2.1"
    assert re.match(r"\d+ page\(s\) of 64 KiB \(\d+ KiB\) at start; weir's limit 256 MiB$",
                    field(report, "memory")), report
    assert field(report, "start-up") == "_initialize"
    assert set(field(report, "allocator").split(", ")) == {"malloc", "proxy_on_memory_allocate"}
    callbacks = field(report, "callbacks").split(", ")
    for cb in ("proxy_on_context_create", "proxy_on_vm_start", "proxy_on_configure",
               "proxy_on_request_headers", "proxy_on_response_headers", "proxy_on_delete"):
        assert cb in callbacks, report
    assert "proxy_on_memory_allocate" not in callbacks
    # The C++ SDK exports only the stream callbacks the plugin overrides: the host then
    # makes no call into Wasm for the others.
    for cb in ("proxy_on_request_body", "proxy_on_response_body", "proxy_on_request_trailers",
               "proxy_on_response_trailers", "proxy_on_done", "proxy_on_log"):
        assert cb not in callbacks, report
    assert re.fullmatch(r"\d+, all implemented by weir", field(report, "imports")), report


UNKNOWN_IMPORT_WAT = """
(module
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (import "env" "proxy_frobnicate" (func $frobnicate (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_frobnicate" (func $sock (param i32) (result i32)))
  (memory (export "memory") 3)
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "malloc") (param i32) (result i32) (i32.const 1024))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_configure") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (drop (call $frobnicate (i32.const 0)))
    (drop (call $sock (i32.const 0)))
    (i32.const 0)))
"""


def wat_module(tmp_path, text, name):
    if shutil.which("wat2wasm") is None:
        pytest.fail("wat2wasm not installed (package wabt; scripts/setup installs it)")
    wat, wasm = tmp_path / f"{name}.wat", tmp_path / f"{name}.wasm"
    wat.write_text(text)
    subprocess.run(["wat2wasm", str(wat), "-o", str(wasm)], check=True)
    return wasm


def test_report_names_imports_weir_does_not_implement(tmp_path):
    wasm = wat_module(tmp_path, UNKNOWN_IMPORT_WAT, "unknown_import")
    out = validate(tmp_path, config_with(wasm))
    # Stubbed imports do not stop the plugin from loading: they answer UNIMPLEMENTED / ENOSYS.
    assert out.returncode == 0, out.stdout + out.stderr
    report = report_of(out.stdout, "stat_filter")
    assert field(report, "ABI") == "Proxy-Wasm 0.2.1"
    assert field(report, "memory").startswith("3 page(s) of 64 KiB (192 KiB) at start")
    assert field(report, "start-up") == "(none)"
    assert field(report, "allocator") == "malloc"
    assert field(report, "callbacks").split(", ") == [
        "proxy_on_context_create", "proxy_on_vm_start", "proxy_on_configure",
        "proxy_on_request_headers"]
    imports = field(report, "imports")
    assert imports.startswith("3; 2 NOT implemented by weir"), report
    assert "env.proxy_frobnicate" in imports and "wasi_snapshot_preview1.sock_frobnicate" in imports
    assert "proxy_log" not in imports


def test_report_comes_even_when_the_plugin_fails_to_start(tmp_path):
    wasm = PLUGIN_DIR / "stat_filter.wasm"
    out = validate(tmp_path, config_with(wasm, root_id="no_such_root"))
    assert out.returncode != 0
    report = report_of(out.stdout, "stat_filter")
    assert field(report, "ABI") == "Proxy-Wasm 0.2.1"
    assert "no context factory registered for root_id \"no_such_root\"" in out.stdout + out.stderr


def test_report_on_a_file_that_is_not_a_proxy_wasm_module(tmp_path):
    bogus = tmp_path / "bogus.wasm"
    bogus.write_bytes(b"not wasm at all")
    out = validate(tmp_path, config_with(bogus))
    assert out.returncode != 0
    report = report_of(out.stdout, "stat_filter")
    assert field(report, "error").startswith("not a valid Wasm module"), report

    no_abi = wat_module(tmp_path, '(module (func (export "f")))', "no_abi")
    out = validate(tmp_path, config_with(no_abi))
    assert out.returncode != 0
    assert field(report_of(out.stdout, "stat_filter"), "ABI").startswith(
        "none: not a Proxy-Wasm module"), out.stdout
