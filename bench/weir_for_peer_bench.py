#!/usr/bin/env python3
"""Runs weir + the custom-metrics plugin as peer-bench.sh's extra target: reads
PEERBENCH_UPSTREAM and PEERBENCH_PORT, execs weir in the foreground with one worker."""
import os
import socket
import tempfile
from pathlib import Path

from proxy_bench import PLUGINS, WEIR, weir_config

host, port = os.environ["PEERBENCH_UPSTREAM"].rsplit(":", 1)
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    admin = s.getsockname()[1]
cfg = Path(tempfile.mkdtemp(prefix="weir-peer-")) / "envoy.yaml"
cfg.write_text(weir_config(int(os.environ["PEERBENCH_PORT"]), admin, int(port),
                           PLUGINS / "stat_filter.wasm", "stat_filter"))
os.execv(str(WEIR), [str(WEIR), "-c", str(cfg), "--concurrency", "1", "-l", "warn"])
