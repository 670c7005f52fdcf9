"""Fixtures shared by the Python suite.

- `ffi`, `lib`: the native test library through cffi (ABI mode);
  `ctypes_lib`: the same library through ctypes.  See rcnative.py.
- `native_balance` (autouse): every test must leave the native world as it
  found it: no native object leaked (after gc.collect()), no misuse detected
  by the native library (double release, use after free), no RcNativeHandle
  GObject left alive.  Tests that leak on purpose clean up themselves.
- `freed_log`: records every native object freed while the test runs.
"""

import gc
import sys
import threading

import gi

gi.require_version("Refcount", "1.0")
from gi.repository import Refcount  # noqa: E402

import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

import rcnative  # noqa: E402

# No example database on disk (the suite writes nothing in the source tree),
# no deadline (GC and threads make timings noisy), and the autouse balance
# fixture is meant to wrap the whole test, not each example.
settings.register_profile(
    "refcount",
    database=None,
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile("refcount")

@pytest.fixture(scope="session")
def ffi():
    return rcnative.ffi


@pytest.fixture(scope="session")
def lib():
    return rcnative.lib


@pytest.fixture(scope="session")
def ctypes_lib():
    return rcnative.ctypes_lib


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, "rep_" + report.when, report)


@pytest.fixture(autouse=True)
def native_balance(request):
    lib = rcnative.lib
    # pytest keeps the traceback of the last failure (sys.last_traceback),
    # and with it the locals of a failed test: let them go first.
    for name in ("last_type", "last_value", "last_traceback"):
        if hasattr(sys, name):
            delattr(sys, name)
    gc.collect()
    lib.rc_tn_reset_misuse_count()
    before = rcnative.counts()
    handles_before = Refcount.NativeHandle.get_live_count()
    threads_before = threading.active_count()
    yield
    call_report = getattr(request.node, "rep_call", None)
    if call_report is not None and call_report.failed:
        # The traceback keeps the test's locals (and handles) alive; the
        # failure itself is the report, not a second error about leaks.
        return
    gc.collect()
    after = rcnative.counts()
    assert after["misuse"] == 0, (
        "the native library detected %d misuse(s) (double release, use after free...)" % after["misuse"]
    )
    assert after == dict(before, misuse=0), "native objects leaked: before %r, after %r" % (before, after)
    assert Refcount.NativeHandle.get_live_count() == handles_before, (
        "RcNativeHandle objects leaked: %d before the test, %d after it and gc.collect()"
        % (handles_before, Refcount.NativeHandle.get_live_count())
    )
    assert threading.active_count() == threads_before, "the test left threads running"


class FreedLog(list):
    """(address, kind) of each native object freed, in order."""

    def addresses(self, kind=None):
        return [addr for addr, k in self if kind is None or k == kind]

    def count(self, address):  # noqa: D102 - list.count with an address
        return sum(1 for addr, _ in self if addr == address)


@pytest.fixture
def freed_log():
    ffi, lib = rcnative.ffi, rcnative.lib
    log = FreedLog()

    @ffi.callback("void(void *, int, void *)")
    def on_freed(obj, kind, user_data):
        log.append((rcnative.address_of(obj), kind))

    lib.rc_tn_set_freed_callback(on_freed, ffi.NULL)
    try:
        yield log
    finally:
        lib.rc_tn_set_freed_callback(ffi.NULL, ffi.NULL)


@pytest.fixture
def fast_switching():
    """Switch threads as often as possible, to make races likely."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(old)



@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    """A skipped or expected-to-fail test stands in for a feature that was
    not shown to work: CI counts it as a failure, as it does a run that
    collected no test at all (pytest's exit status 5 is non-zero already)."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    unproven = sum(len(reporter.stats.get(kind, [])) for kind in ("skipped", "xfailed", "xpassed"))
    if unproven and session.exitstatus == 0:
        reporter.write_line(f"{unproven} test(s) skipped or xfailed: counted as a failure", red=True)
        session.exitstatus = 1


@pytest.fixture
def frozen_gc():
    """gc.freeze() for the test: gc.collect() then scans only the objects
    the test created (a full collection of this process's heap takes some
    0.1 s, which tests that collect in a loop cannot afford).  Everything is
    unfrozen afterwards, before native_balance collects (which also
    collected just before this fixture froze)."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
