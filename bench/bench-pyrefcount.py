#!/usr/bin/python3
"""The refcount package and the GI layer against the real pyrefcount 1.2.x.

Each case is run with the same source against two or three layers:

- pyrefcount: the original pure-Python package, from a checkout named by
  RC_BENCH_PYREFCOUNT_SRC (or --pyrefcount-src DIR): its src/ directory,
  which holds the `refcount` package. It is not installable from Debian, and
  this project neither ships nor fetches it.
- refcount: this project's drop-in `refcount` package (python/refcount/),
  on its native core;
- gi: `from gi.repository import Refcount` with its overrides, where the case
  has a natural GI form.

pyrefcount and the drop-in package are both called `refcount`, so every
(layer, case) runs in a process of its own (`bench-pyrefcount.py --run LAYER
CASE`), which checks that it imported the `refcount` it was meant to. The
children run interleaved (pyrefcount, refcount, gi, then the
next case) for several rounds; the table gives the fastest round (a child
on this shared machine sometimes runs slower as a whole, which only adds
time), and every round's number.

Nothing is asserted about the timings. The benchmark fails only if a child
fails: a crash, a wrong import, or a native object left alive (the README
scenario's dogs and owners are counted by the test native library; a
malloc() that was not freed shows in the C heap). The cycle collector stays
on while timing, as in a program; garbage that only it frees is reported.

Environment: GI_TYPELIB_PATH, LD_LIBRARY_PATH and PYTHONPATH as for the test
suite, RC_TEST_NATIVE_LIB naming tests/testlib/librc-test-native.so (meson
sets them); RC_BENCH_PYREFCOUNT_SRC; RC_BENCH_QUICK=1 for a short run.
"""

import ctypes
import gc
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import tracemalloc

HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT_PYTHON = os.path.join(os.path.dirname(HERE), "python")

QUICK = os.environ.get("RC_BENCH_QUICK") == "1"
ROUNDS = 2 if QUICK else 5
REPS = 3 if QUICK else 5
SCALE = 4 if QUICK else 1
LIVE = 20_000 if QUICK else 200_000
# The CPU time of the child, not wall time: on a shared machine the time the
# child waits for a CPU is not its cost (RC_BENCH_WALL=1 for wall time).
CLOCK = time.perf_counter_ns if os.environ.get("RC_BENCH_WALL") == "1" else time.process_time_ns
LEAK_CHECK_OPS = 10_000
MEMORY_ROUNDS = 2  # its numbers hardly change from one process to the next
MAX_LOOP_NS = (40 if QUICK else 150) * 1_000_000

LAYERS = ("pyrefcount", "refcount", "gi")

# name, title, operations per repetition (full run), target ratio of the
# refcount package to pyrefcount, target ratio of the GI layer to pyrefcount.
CASES = (
    ("readme", "1 README Dog+DogOwner", 10_000, 0.8, None),
    ("subclass", "2 subclass create+drop", 30_000, 0.8, 1.5),
    ("owning", "3 owning create+drop", 30_000, 0.8, None),
    ("deletable", "4 deletable create+drop", 30_000, 0.7, None),
    ("get_handle", "5 get_handle()", 300_000, 1.0, None),
    ("reference_count", "6 reference_count", 300_000, 1.0, None),
    ("add_ref_release", "7 add_ref()+release()", 150_000, 0.7, None),
    ("memory", "8 bytes per live handle", None, 1.0, None),
    # The GI layer alone: what case 2's GI form costs before any refcount
    # code, a plain GObject subclass created and dropped with the same
    # malloc(16) and free(); its ratio is to pyrefcount's case 2.
    ("gi_floor", "9 GI floor of case 2", 30_000, None, 1.5),
)
CASE_NAMES = tuple(case[0] for case in CASES)


# --- helpers of the children -------------------------------------------------

class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                 "fsmblks", "uordblks", "fordblks", "keepcost")]


def malloc_in_use():
    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = _Mallinfo2
    info = libc.mallinfo2()
    return info.uordblks + info.hblkhd


class ChildFailure(Exception):
    """A leak or a wrong import: the child exits non-zero."""


def import_refcount(layer, pyrefcount_src):
    """Puts the right `refcount` first on sys.path, imports it, and checks
    that it came from there. Returns the package."""
    if layer == "pyrefcount":
        root = pyrefcount_src
        try:
            import typing_extensions  # noqa: F401 - pyrefcount's only import besides cffi
        except ImportError:
            # Debian 12 has no python3-typing-extensions by default;
            # pyrefcount 1.2.x imports only TypeAlias from it, which is in
            # typing since Python 3.10.
            import types
            import typing

            shim = types.ModuleType("typing_extensions")
            shim.TypeAlias = typing.TypeAlias
            sys.modules["typing_extensions"] = shim
    else:
        root = PROJECT_PYTHON
    sys.path.insert(0, root)
    import refcount
    import refcount.interop

    expected = os.path.realpath(os.path.join(root, "refcount"))
    if layer == "pyrefcount":
        if expected == os.path.realpath(os.path.join(PROJECT_PYTHON, "refcount")):
            raise ChildFailure(f"{root} holds this project's refcount package, not pyrefcount")
        if "gi" in sys.modules:
            raise ChildFailure(f"the refcount package of {root} imported gi: it is not pyrefcount")
    for module in (refcount, refcount.interop):
        found = os.path.realpath(os.path.dirname(module.__file__))
        if found != expected:
            raise ChildFailure(f"layer {layer}: imported {module.__name__} from {found}, expected {expected}")
    return refcount


def load_native_lib(ffi):
    path = os.environ.get("RC_TEST_NATIVE_LIB")
    if not path or not os.path.exists(path):
        raise ChildFailure(f"RC_TEST_NATIVE_LIB={path!r}: it must name tests/testlib/librc-test-native.so")
    ffi.cdef("""
        void *rc_tn_dog_new (const char *name);
        void *rc_tn_owner_new (void *dog);
        int rc_tn_owner_walk (void *owner);
        void rc_tn_release (void *obj);
        int rc_tn_live_count (void);
        int rc_tn_dog_live_count (void);
        int rc_tn_owner_live_count (void);
        long rc_tn_misuse_count (void);
    """)
    return ffi.dlopen(path)


# --- the cases, with pyrefcount's public API: the same source for pyrefcount
# and the refcount package -----------------------------------------------------

def package_cases(ffi, libc, native):
    from refcount.interop import CffiNativeHandle, DeletableCffiNativeHandle, OwningCffiNativeHandle

    # pyrefcount's README sample, over the test native library.
    class CustomCffiNativeHandle(CffiNativeHandle):
        def __init__(self, pointer, prior_ref_count=0):
            super(CustomCffiNativeHandle, self).__init__(pointer, type_id="", prior_ref_count=prior_ref_count)

        def _release_handle(self) -> bool:
            native.rc_tn_release(self.get_handle())
            return True

    class Dog(CustomCffiNativeHandle):
        def __init__(self, pointer=None):
            if pointer is None:
                pointer = native.rc_tn_dog_new(b"Rex")
            super(Dog, self).__init__(pointer)

    class DogOwner(CustomCffiNativeHandle):
        def __init__(self, dog):
            super(DogOwner, self).__init__(None)
            self._set_handle(native.rc_tn_owner_new(dog.get_handle()))
            self.dog = dog
            self.dog.add_ref()  # Do note this important reference increment

        def say_walk(self):
            native.rc_tn_owner_walk(self.get_handle())

        def _release_handle(self) -> bool:
            super(DogOwner, self)._release_handle()
            self.dog.release()
            return True

    class FreeHandle(CffiNativeHandle):
        def _release_handle(self) -> bool:
            libc.free(self.get_handle())
            return True

    def readme(n):
        for _ in range(n):
            dog = Dog()
            owner = DogOwner(dog)
            owner.say_walk()
            dog = None
            owner = None

    def subclass(n):
        for _ in range(n):
            handle = FreeHandle(libc.malloc(16))
            del handle

    def owning(n):
        for _ in range(n):
            handle = OwningCffiNativeHandle(ffi.new("double[4]"))
            del handle

    def deletable(n):
        for _ in range(n):
            handle = DeletableCffiNativeHandle(libc.malloc(16), libc.free)
            del handle

    return {"readme": readme, "subclass": subclass, "owning": owning, "deletable": deletable,
            "make": lambda: FreeHandle(libc.malloc(16))}


# --- the same with the GI layer's public API ---------------------------------

def gi_cases(ffi, libc, native):
    import gi

    gi.require_version("Refcount", "1.0")
    from gi.repository import GObject, Refcount

    class CustomHandle(Refcount.NativeHandle):
        def __init__(self, pointer, prior_ref_count=0):
            super().__init__(pointer, type_id="", prior_ref_count=prior_ref_count)

        def do_release_handle(self):
            native.rc_tn_release(self.get_handle())
            return True

    class Dog(CustomHandle):
        def __init__(self, pointer=None):
            if pointer is None:
                pointer = native.rc_tn_dog_new(b"Rex")
            super().__init__(pointer)

    class DogOwner(CustomHandle):
        def __init__(self, dog):
            super().__init__(None)
            self.set_handle(native.rc_tn_owner_new(dog.get_handle()))
            self.dog = dog
            self.dog.add_ref()

        def say_walk(self):
            native.rc_tn_owner_walk(self.get_handle())

        def do_release_handle(self):
            super().do_release_handle()
            self.dog.release()
            return True

    class FreeHandle(Refcount.NativeHandle):
        def do_release_handle(self):
            libc.free(self.get_handle())
            return True

    def readme(n):
        for _ in range(n):
            dog = Dog()
            owner = DogOwner(dog)
            owner.say_walk()
            dog = None
            owner = None

    def subclass(n):
        for _ in range(n):
            handle = FreeHandle(libc.malloc(16))
            del handle

    def owning(n):
        for _ in range(n):
            handle = Refcount.OwningNativeHandle(ffi.new("double[4]"))
            del handle

    def deletable(n):
        for _ in range(n):
            handle = Refcount.DeletableNativeHandle(libc.malloc(16), libc.free)
            del handle

    class Plain(GObject.Object):
        pass

    def gi_floor(n):
        for _ in range(n):
            plain = Plain()
            libc.free(libc.malloc(16))
            del plain

    return {"readme": readme, "subclass": subclass, "owning": owning, "deletable": deletable,
            "gi_floor": gi_floor, "make": lambda: FreeHandle(libc.malloc(16))}


def call_loops(handle):
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

    return {"get_handle": get_handle, "reference_count": reference_count,
            "add_ref_release": add_ref_release}


def cyclic_garbage_per_op(loop, n=1000):
    """Objects per operation that only the cycle collector frees."""
    gc.collect()
    gc.disable()
    try:
        loop(n)
        return gc.collect() / n
    finally:
        gc.enable()


def timed(loop, n):
    """The samples (ns/op) and the n they were taken with."""
    warm_up = max(n // 10, 1)  # caches, first-seen cffi types
    start = CLOCK()
    loop(warm_up)
    per_op = (CLOCK() - start) / warm_up
    # A layer many times slower than the others gets a shorter loop, so
    # that it does not take most of the run.
    n = max(min(n, int(MAX_LOOP_NS / per_op)), n // 20, 1)
    gc.collect()
    samples = []
    for _ in range(REPS):
        start = CLOCK()
        loop(n)
        samples.append((CLOCK() - start) / n)
    return samples, n


def memory(make):
    """Bytes per live handle, in this fresh process (as bench-python.py)."""
    # Two passes: tracemalloc's own bookkeeping would count in malloc's.
    before_c = malloc_in_use()
    live = [make() for _ in range(LIVE)]
    c_bytes = (malloc_in_use() - before_c) / LIVE
    del live
    gc.collect()
    tracemalloc.start()
    before_py = tracemalloc.get_traced_memory()[0]
    live = [make() for _ in range(LIVE)]
    py_bytes = (tracemalloc.get_traced_memory()[0] - before_py) / LIVE
    tracemalloc.stop()
    del live
    return {"py_bytes": py_bytes, "c_bytes": c_bytes, "bytes": py_bytes + c_bytes, "live": LIVE}


def run_child(layer, case, pyrefcount_src):
    """One case on one layer; prints one JSON line."""
    import cffi

    result = {"layer": layer, "case": case}
    if layer == "gi":
        native_ffi = cffi.FFI()
        native = load_native_lib(native_ffi) if case == "readme" else None
        ffi = cffi.FFI()
        ffi.cdef("void *malloc(size_t); void free(void *);")
        libc = ffi.dlopen(None)
        cases = gi_cases(ffi, libc, native)
        import gi.overrides.Refcount as overrides

        result["module"] = os.path.realpath(overrides.__file__)
    else:
        package = import_refcount(layer, pyrefcount_src)
        result["module"] = os.path.realpath(os.path.dirname(package.__file__))
        native_ffi = cffi.FFI()
        native = load_native_lib(native_ffi) if case == "readme" else None
        ffi = cffi.FFI()
        ffi.cdef("void *malloc(size_t); void free(void *);")
        libc = ffi.dlopen(None)
        cases = package_cases(ffi, libc, native)
    if case == "gi_floor" and layer != "gi":
        raise ChildFailure(f"case {case} is measured on layer gi only")

    # The cycle collector stays on while timing, as in a program: a layer
    # whose handles only it frees pays for that here.
    n = dict((c[0], c[2]) for c in CASES)[case]
    if case == "memory":
        gc.disable()
        result.update(memory(cases["make"]))
    elif case in ("get_handle", "reference_count", "add_ref_release"):
        n //= SCALE
        handle = cases["make"]()
        loop = call_loops(handle)[case]
        result["samples"], n = timed(loop, n)
        result["cyclic"] = cyclic_garbage_per_op(loop)
        if handle.reference_count != 1:
            raise ChildFailure(f"reference_count {handle.reference_count} after the loops, expected 1")
        handle.release()
        if not handle.disposed:
            raise ChildFailure("the handle is not disposed after its last release()")
    else:
        n //= SCALE
        result["samples"], n = timed(cases[case], n)
        result["cyclic"] = cyclic_garbage_per_op(cases[case])
        if case in ("subclass", "deletable"):
            # A leaked malloc(16) takes at least 32 bytes of malloc's; the
            # heap, warm by now, hardly grows otherwise.
            gc.collect()
            before = malloc_in_use()
            cases[case](LEAK_CHECK_OPS)
            gc.collect()
            grown = malloc_in_use() - before
            if grown >= 16 * LEAK_CHECK_OPS:
                raise ChildFailure(f"the C heap grew by {grown} bytes over {LEAK_CHECK_OPS} handles: "
                                   "free() not called?")
        if case == "readme":
            live = native.rc_tn_live_count()
            if live or native.rc_tn_misuse_count():
                raise ChildFailure(f"README scenario: {native.rc_tn_dog_live_count()} dogs and "
                                   f"{native.rc_tn_owner_live_count()} owners left alive, "
                                   f"{native.rc_tn_misuse_count()} misuses")
    if "samples" in result:
        result["n"] = n
        result["ns"] = statistics.median(result["samples"])
    print(json.dumps(result))
    return 0


# --- the parent ---------------------------------------------------------------

def find_pyrefcount(argv):
    src = os.environ.get("RC_BENCH_PYREFCOUNT_SRC")
    if "--pyrefcount-src" in argv:
        src = argv[argv.index("--pyrefcount-src") + 1]
    if not src:
        return None, "RC_BENCH_PYREFCOUNT_SRC is not set (nor --pyrefcount-src)"
    src = os.path.abspath(src)
    if not os.path.exists(os.path.join(src, "refcount", "interop.py")) and \
            os.path.exists(os.path.join(src, "src", "refcount", "interop.py")):
        src = os.path.join(src, "src")  # the checkout's root was given
    if not os.path.exists(os.path.join(src, "refcount", "interop.py")):
        return None, f"{src} has no refcount/interop.py (give pyrefcount's src/ directory)"
    return src, None


def pyrefcount_version(src):
    """The newest release in the checkout's CHANGELOG.md, if there is one."""
    try:
        with open(os.path.join(os.path.dirname(src), "CHANGELOG.md"), encoding="utf-8") as changelog:
            for line in changelog:
                match = re.match(r"##\s*\[?v?(\d+\.\d+\.\d+)", line)
                if match:
                    return match.group(1)
    except OSError:
        pass
    return "version unknown"


def machine_header():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            cpu = next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {cpu}")
    versions = []
    for name in ("gi", "cffi"):
        try:
            module = __import__(name)
            versions.append(f"{'pygobject' if name == 'gi' else name} {module.__version__}")
        except ImportError:
            versions.append(f"{name} missing")
    print(f"python {sys.version.split()[0]} ({sys.executable}), {', '.join(versions)}")
    print("load average at start: %.2f %.2f %.2f" % os.getloadavg())


def spawn(layer, case, pyrefcount_src):
    env = dict(os.environ)
    args = [sys.executable, os.path.abspath(__file__), "--run", layer, case]
    if pyrefcount_src:
        args += ["--pyrefcount-src", pyrefcount_src]
    process = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)
    if process.returncode != 0 or not process.stdout.strip():
        return None, (f"{layer} {case}: exit status {process.returncode}\n"
                      f"{process.stdout}{process.stderr}")
    return json.loads(process.stdout.strip().splitlines()[-1]), process.stderr.strip()


def fmt_value(case, value):
    if value is None:
        return "-"
    return f"{value:.0f} B" if case == "memory" else f"{value:.0f} ns"


def fmt_ratio(value, base, target=None):
    if value is None or base is None:
        return "-", "", ""
    ratio = value / base
    if target is None:
        return f"{ratio:.2f}", "", ""
    return f"{ratio:.2f}", f"<={target:.1f}", "met" if ratio <= target else "MISSED"


def main(argv):
    pyrefcount_src, why = find_pyrefcount(argv)
    layers = [layer for layer in LAYERS if pyrefcount_src or layer != "pyrefcount"]
    cases = list(CASES)
    if not os.environ.get("RC_TEST_NATIVE_LIB"):
        print("RC_TEST_NATIVE_LIB is not set: case 1 (README scenario) is left out")
        cases = [case for case in cases if case[0] != "readme"]

    machine_header()
    print(f"{ROUNDS} rounds, each child the median of {REPS} repetitions; "
          f"{LIVE} live handles for the memory case, in {MEMORY_ROUNDS} rounds"
          f"{' (RC_BENCH_QUICK=1)' if QUICK else ''}")
    if pyrefcount_src:
        print(f"pyrefcount: {pyrefcount_src} ({pyrefcount_version(pyrefcount_src)})")
    else:
        print(f"*** pyrefcount NOT MEASURED: {why}.")
        print("*** Give a pyrefcount 1.2.x checkout's src/ directory as RC_BENCH_PYREFCOUNT_SRC "
              "for the ratios; the other layers' numbers follow.")
    print()

    results = {}  # (layer, case) -> list over rounds
    failures = []
    modules = {}
    start = time.monotonic()
    for round_index in range(ROUNDS):
        for case in cases:
            for layer in layers:
                if (layer, case[0]) in failures or (case[0] == "memory" and round_index >= MEMORY_ROUNDS):
                    continue
                if case[0] == "gi_floor" and layer != "gi":
                    continue
                result, stderr = spawn(layer, case[0], pyrefcount_src)
                if result is None:
                    print(f"FAILED: {stderr}")
                    failures.append((layer, case[0]))
                    continue
                if stderr:
                    print(f"{layer} {case[0]} (stderr): {stderr}")
                modules[layer] = result["module"]
                results.setdefault((layer, case[0]), []).append(result)
        print(f"round {round_index + 1}/{ROUNDS} done after {time.monotonic() - start:.0f} s")
    print()
    for layer in layers:
        if layer in modules:
            print(f"{layer:16} {modules[layer]}")
    print()

    def value(layer, case):
        rounds = results.get((layer, case))
        if not rounds:
            return None
        if case == "memory":
            return statistics.median(r["bytes"] for r in rounds)
        # The fastest round: on a shared machine a child process may run
        # slower as a whole (1.5x seen on this VM, every layer alike, from
        # one process to the next), and that only ever adds time.
        return min(r["ns"] for r in rounds)

    header = (f"{'case':26} {'pyrefcount':>10} {'refcount':>10} {'ratio':>6} {'target':>6} {'':6} "
              f"{'gi':>10} {'ratio':>6} {'target':>6}")
    print(header)
    print("-" * len(header))
    for name, title, _, target, gi_target in cases:
        base = value("pyrefcount", "subclass" if name == "gi_floor" else name)
        ours = value("refcount", name)
        ratio, goal, verdict = fmt_ratio(ours, base, target)
        if base is None and ours is not None:
            goal = f"<={target:.1f}"
        gi_value = value("gi", name)
        gi_ratio, gi_goal, gi_verdict = fmt_ratio(gi_value, base, gi_target)
        print(f"{title:26} {fmt_value(name, base):>10} {fmt_value(name, ours):>10} {ratio:>6} {goal:>6} "
              f"{verdict:6} "
              f"{fmt_value(name, gi_value):>10} {gi_ratio:>6} {gi_goal:>6} {gi_verdict}".rstrip())
    print()
    print("ns per operation (the fastest round, each round a child's median); ratios to pyrefcount;")
    print("bytes per handle: the median over rounds.")
    print("Per round (ns/op, or bytes per handle as Python + C heap):")
    for name, title, _, _, _ in cases:
        for layer in layers:
            rounds = results.get((layer, name), [])
            if not rounds and name == "gi_floor":
                continue
            if name == "memory":
                text = ", ".join(f"{r['py_bytes']:.0f}+{r['c_bytes']:.0f}" for r in rounds)
            else:
                text = ", ".join(f"{r['ns']:.0f}" for r in rounds)
                if rounds:
                    sizes = sorted(set(r["n"] for r in rounds))
                    text += f"  (n={sizes[0]})" if len(sizes) == 1 else f"  (n={sizes[0]}..{sizes[-1]})"
            print(f"  {title:26} {layer:16} {text}")
    cyclic = [(title, layer, statistics.median(r["cyclic"] for r in results[(layer, name)]))
              for name, title, _, _, _ in cases for layer in layers
              if name != "memory" and results.get((layer, name))]
    cyclic = [entry for entry in cyclic if entry[2] >= 0.5]
    if cyclic:
        print("Garbage left to the cycle collector (objects per operation; it runs during the timing):")
        for title, layer, per_op in cyclic:
            print(f"  {title:26} {layer:16} {per_op:.1f}")
    print("load average at end: %.2f %.2f %.2f" % os.getloadavg())
    if not pyrefcount_src:
        print(f"*** pyrefcount NOT MEASURED ({why}): no ratios.")
    if failures:
        print("FAILED: " + ", ".join(f"{layer} {case}" for layer, case in failures))
        return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "--run":
        layer, case = sys.argv[2], sys.argv[3]
        if layer not in LAYERS or case not in CASE_NAMES:
            sys.exit(f"usage: {sys.argv[0]} --run {{{','.join(LAYERS)}}} {{{','.join(CASE_NAMES)}}}")
        src, why = find_pyrefcount(sys.argv)
        if layer == "pyrefcount" and not src:
            sys.exit(f"pyrefcount: {why}")
        try:
            sys.exit(run_child(layer, case, src))
        except ChildFailure as failure:
            sys.exit(f"FAILED: {failure}")
    sys.exit(main(sys.argv[1:]))
