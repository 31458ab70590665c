"""Checks the flow-control, upgrade and hostile-input suites share: polling, weir's memory,
and "weir is still fine" after an abuse."""
import os

from weir_harness import request, stats, wait_for  # noqa: F401 (wait_for: re-exported)


def small_asan_quarantine():
    """Extra environment for a weir whose RSS a test bounds. Under AddressSanitizer (make
    test-asan) freed memory waits in a 256 MiB quarantine before reuse, and RSS counts it as
    weir's; 1 MiB keeps ASan's bookkeeping out of the measurement. A plain weir ignores it."""
    opts = os.environ.get("ASAN_OPTIONS", "")
    return {"ASAN_OPTIONS": (opts + ":" if opts else "") + "quarantine_size_mb=1"}


def vm_rss_kib(pid):
    """Resident set size of a process, from /proc/<pid>/status."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


def stat_value(admin_port, name):
    return int(stats(admin_port).get(name, "0"))


def assert_still_serving(weir, listen_port, admin_port, path="/after"):
    """weir runs, its admin answers, and a plain request is proxied."""
    assert weir.proc.poll() is None, "weir exited:\n" + weir.logs()
    status, _, body = request(admin_port, path="/ready")
    assert status == 200 and body == b"LIVE\n"
    status, _, _ = request(listen_port, path=path)
    assert status == 200, weir.logs()
