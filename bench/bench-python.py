#!/usr/bin/python3
"""Python benchmarks of refcount, with baselines measured in the same run.

Each case prints the median ns/op over several repetitions and a line with
the ratio to its baseline: cffi's ffi.gc for the lifecycle of a handle, a
plain Python method call for the calls on a handle. Nothing is asserted:
the numbers are for reading.

Environment: GI_TYPELIB_PATH, LD_LIBRARY_PATH and PYTHONPATH as for the test
suite; RC_BENCH_QUICK=1 for a short run.
"""

import ctypes
import gc
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc

import cffi
import gi

gi.require_version("Refcount", "1.0")
from gi.repository import Refcount  # noqa: E402

from refcount.interop import CffiNativeHandle, DeletableCffiNativeHandle  # noqa: E402

QUICK = os.environ.get("RC_BENCH_QUICK") == "1"
REPS = 5 if QUICK else 9
N = 5_000 if QUICK else 20_000
LIVE = 20_000 if QUICK else 200_000

ffi = cffi.FFI()
ffi.cdef("void *malloc(size_t); void free(void *);")
libc = ffi.dlopen(None)


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                 "fsmblks", "uordblks", "fordblks", "keepcost")]


_libc_ctypes = ctypes.CDLL(None)
_libc_ctypes.mallinfo2.restype = _Mallinfo2


def malloc_in_use():
    info = _libc_ctypes.mallinfo2()
    return info.uordblks + info.hblkhd


def median_ns(loop, n=N):
    samples = []
    for _ in range(REPS):
        start = time.perf_counter_ns()
        loop(n)
        samples.append((time.perf_counter_ns() - start) / n)
    return statistics.median(samples)


def report(name, value, baseline_name, baseline, target=None):
    print(f"{name}: median {value:.0f} ns/op ({REPS} reps of {N})")
    goal = ""
    if target:
        goal = f" (target <= {target:.2f}: {'met' if value / baseline <= target else 'MISSED'})"
    print(f"  ratio {name} / {baseline_name}: {value / baseline:.2f}{goal}")


# --- the cases -------------------------------------------------------------

def lifecycle_ffi_gc(n):
    for _ in range(n):
        ptr = ffi.gc(libc.malloc(16), libc.free)
        del ptr


def lifecycle_gi(n):
    for _ in range(n):
        handle = Refcount.DeletableNativeHandle(libc.malloc(16), libc.free)
        del handle


def lifecycle_package(n):
    for _ in range(n):
        handle = DeletableCffiNativeHandle(libc.malloc(16), libc.free)
        del handle


class FreeHandle(CffiNativeHandle):
    def _release_handle(self) -> bool:
        libc.free(self.get_handle())
        return True


def lifecycle_subclass(n):
    for _ in range(n):
        handle = FreeHandle(libc.malloc(16))
        del handle


class Plain:
    def method(self):
        return self


plain = Plain()


def plain_call(n):
    method = plain
    for _ in range(n):
        method.method()


MEMORY_CASES = {
    "ffi.gc": lambda: ffi.gc(libc.malloc(16), libc.free),
    "Refcount.DeletableNativeHandle": lambda: Refcount.DeletableNativeHandle(libc.malloc(16), libc.free),
    "refcount DeletableCffiNativeHandle": lambda: DeletableCffiNativeHandle(libc.malloc(16), libc.free),
    "CffiNativeHandle subclass": lambda: FreeHandle(libc.malloc(16)),
}


def memory(label):
    """Bytes per live handle of one kind, in this (fresh) process."""
    gc.disable()
    make = MEMORY_CASES[label]
    # Two passes: tracemalloc's own bookkeeping would count in malloc's.
    before_c = malloc_in_use()
    live = [make() for _ in range(LIVE)]
    total_bytes = (malloc_in_use() - before_c) / LIVE
    del live
    gc.collect()
    tracemalloc.start()
    before_py = tracemalloc.get_traced_memory()[0]
    live = [make() for _ in range(LIVE)]
    python_bytes = (tracemalloc.get_traced_memory()[0] - before_py) / LIVE
    tracemalloc.stop()
    del live
    print(f"bytes per live {label}: {python_bytes:.0f} of Python objects (tracemalloc) + "
          f"{total_bytes:.0f} on the C heap (mallinfo2: GObjects, the 16-byte payload and malloc's overhead)")
    return 0


def main():
    gc.disable()  # the collector's pauses are noise here; nothing leaks into cycles
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            cpu = next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {cpu}")
    print(f"python {sys.version.split()[0]}, pygobject {gi.__version__}, cffi {cffi.__version__}")
    print()

    floor = median_ns(lifecycle_ffi_gc)
    print(f"baseline ffi.gc(malloc, free) + drop: median {floor:.0f} ns/op")
    report("lifecycle Refcount.DeletableNativeHandle", median_ns(lifecycle_gi), "ffi.gc", floor)
    report("lifecycle refcount DeletableCffiNativeHandle", median_ns(lifecycle_package), "ffi.gc", floor, 3.0)
    report("lifecycle CffiNativeHandle subclass", median_ns(lifecycle_subclass), "ffi.gc", floor, 3.0)
    print()

    call = median_ns(plain_call)
    print(f"baseline plain Python method call: median {call:.0f} ns/op")
    for label, make in (("Refcount.DeletableNativeHandle", lambda: Refcount.DeletableNativeHandle(libc.malloc(16), libc.free)),
                        ("refcount DeletableCffiNativeHandle", lambda: DeletableCffiNativeHandle(libc.malloc(16), libc.free)),
                        ("CffiNativeHandle subclass", lambda: FreeHandle(libc.malloc(16)))):
        handle = make()

        def get_handle(n, h=handle):
            for _ in range(n):
                h.get_handle()

        def reference_count(n, h=handle):
            for _ in range(n):
                h.reference_count

        def add_ref_release(n, h=handle):
            for _ in range(n):
                h.add_ref()
                h.release()

        report(f"{label}.get_handle()", median_ns(get_handle), "method call", call, 2.0)
        report(f"{label}.reference_count", median_ns(reference_count), "method call", call, 2.0)
        report(f"{label} add_ref()+release()", median_ns(add_ref_release), "method call", call)
        handle.release()
    print()

    for label in MEMORY_CASES:
        # Each in a fresh process, so that the heap starts empty: freed
        # chunks of an earlier case would otherwise be reused and hide the
        # cost of a later one.
        result = subprocess.run([sys.executable, __file__, "--memory", label],
                                check=True, capture_output=True, text=True)
        print(result.stdout.strip())
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--memory":
        sys.exit(memory(sys.argv[2]))
    sys.exit(main())
