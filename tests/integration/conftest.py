import os
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(__file__))

# A sanitized weir (make test-asan) writes each AddressSanitizer, LeakSanitizer or UBSan
# report to a file here instead of its stderr, whichever way a test started it. The test
# during which a report appears fails with the report; one that appears later (a module
# fixture's weir stopping, leaks reported at exit) fails the session.
SANITIZER_REPORTS = Path(tempfile.mkdtemp(prefix="weir-sanitizer-reports-"))
for _var in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
    _opts = os.environ.get(_var, "")
    os.environ[_var] = (_opts + ":" if _opts else "") + f"log_path={SANITIZER_REPORTS}/report"
_reported = set()


def _new_reports():
    new = sorted(p for p in SANITIZER_REPORTS.iterdir() if p not in _reported)
    _reported.update(new)
    return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')}" for p in new)


@pytest.fixture(autouse=True)
def no_sanitizer_reports():
    yield
    reports = _new_reports()
    if reports:
        pytest.fail("sanitizer report from a weir process:\n" + reports, pytrace=False)


def pytest_sessionfinish(session, exitstatus):
    reports = _new_reports()
    if reports:
        sys.stderr.write("\nsanitizer report from a weir process:\n" + reports + "\n")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
