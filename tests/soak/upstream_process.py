"""The soak's mock upstream as its own process, so that `make soak` can kill it (SIGKILL:
every connection reset at once) and start it again on the same port:
    python3 upstream_process.py PORT"""
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from upstream import Upstream  # noqa: E402

if __name__ == "__main__":
    upstream = Upstream(port=int(sys.argv[1]))
    print("ready", flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    upstream.close()
