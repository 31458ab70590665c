"""The soak's mock upstream as its own process, so that `make soak` can kill it (SIGKILL:
every connection reset at once) and start it again on the same port:
    python3 upstream_process.py PORT"""
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from upstream import Upstream  # noqa: E402

def quiet_resets(args):
    """A client of ours (weir) closing mid-response is part of the soak, not news."""
    if not issubclass(args.exc_type, OSError):
        sys.__excepthook__(args.exc_type, args.exc_value, args.exc_traceback)


if __name__ == "__main__":
    threading.excepthook = quiet_resets
    upstream = Upstream(port=int(sys.argv[1]))
    print("ready", flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    upstream.close()
