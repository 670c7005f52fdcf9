"""Interpreter exit with live handles, in a subprocess (same interpreter, same
environment).

- Natively released handles (DeletableNativeHandle with a cffi/ctypes
  function or an address) are freed at exit, each exactly once.
- Python-released handles (a subclass whose do_release_handle is Python)
  never crash the exit.

The observer is installed before gi is imported: the native library's freed
callback writes one line per freed object straight to a file descriptor
(os.write bound at definition, so that it works during module teardown), and
an atexit handler registered first (so it runs last) writes the counts.
"""

import os
import subprocess
import sys
import textwrap

import pytest

from rcnative import CDEF, KIND_CROC, KIND_DOG, native_lib_path, timeout

SCRIPT = textwrap.dedent(
    r'''
    import ctypes
    import os
    import sys

    clib = ctypes.CDLL(os.environ["RC_TEST_NATIVE_LIB"])
    clib.rc_tn_live_count.restype = ctypes.c_int
    clib.rc_tn_misuse_count.restype = ctypes.c_long
    FREED = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p)
    clib.rc_tn_set_freed_callback.argtypes = [FREED, ctypes.c_void_p]
    clib.rc_tn_set_freed_callback.restype = None
    fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)


    def on_freed(obj, kind, user_data, _write=os.write, _fd=fd):
        _write(_fd, b"freed %d %d\n" % (kind, obj or 0))


    callback = FREED(on_freed)
    # Never deallocated, even during interpreter teardown.
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(callback))
    clib.rc_tn_set_freed_callback(callback, None)

    import atexit


    def report(_write=os.write, _fd=fd, _clib=clib):
        _write(_fd, b"atexit live=%d misuse=%d\n" % (_clib.rc_tn_live_count(), _clib.rc_tn_misuse_count()))


    atexit.register(report)  # registered first: runs last

    import cffi
    import gi

    gi.require_version("Refcount", "1.0")
    gi.require_version("Gio", "2.0")
    from gi.repository import Gio, Refcount

    ffi = cffi.FFI()
    ffi.cdef(sys.argv[3])
    lib = ffi.dlopen(os.environ["RC_TEST_NATIVE_LIB"])
    ctypes_release = ctypes.CDLL(os.environ["RC_TEST_NATIVE_LIB"]).rc_tn_release
    ctypes_release.argtypes = [ctypes.c_void_p]
    ctypes_release.restype = None


    def address(ptr):
        return int(ffi.cast("uintptr_t", ptr))


    class Croc(Refcount.NativeHandle):
        def __init__(self, handle=None):
            super().__init__(handle, type_id="croc")
            self.name = "croc"

        def do_release_handle(self):
            assert self.name == "croc"
            lib.rc_tn_release(ffi.cast("void *", self.address))
            return True


    class Cycle:
        def __init__(self, handle):
            self.handle = handle
            self.myself = self


    mode = sys.argv[2]

    if mode in ("native", "both"):
        dogs = [lib.rc_tn_dog_new(b"exit-%d" % i) for i in range(6)]
        for d in dogs:
            print("dog", address(d))
        global_dog = Refcount.DeletableNativeHandle(dogs[0], lib.rc_tn_release, type_id="dog")
        listed_dogs = [
            Refcount.DeletableNativeHandle(dogs[1], lib.rc_tn_release, type_id="dog"),
            Refcount.DeletableNativeHandle(dogs[2], ctypes_release, type_id="dog"),
            Refcount.DeletableNativeHandle(address(dogs[3]), address(ffi.cast("void *", lib.rc_tn_release))),
        ]
        cycle_dog = Cycle(Refcount.DeletableNativeHandle(dogs[4], lib.rc_tn_release, type_id="dog"))
        factory = Refcount.WrapperFactory(strict=False)
        factory_dog = factory.create_wrapper(dogs[5], "dog", lib.rc_tn_release)
        del dogs

    if mode in ("python", "both"):
        crocs = [lib.rc_tn_croc_new() for i in range(4)]
        for c in crocs:
            print("croc", address(c))
        global_croc = Croc(crocs[0])
        listed_crocs = [Croc(crocs[1])]
        cycle_croc = Cycle(Croc(crocs[2]))
        store = Gio.ListStore.new(Refcount.NativeHandle)
        store.append(Croc(crocs[3]))
        del crocs

        # pyrefcount style, through the drop-in package: released by Python code.
        from refcount.interop import CffiNativeHandle, DeletableCffiNativeHandle

        class PyDog(CffiNativeHandle):
            def __init__(self, pointer):
                super().__init__(pointer, type_id="pydog")
                self.name = "pydog"

            def _release_handle(self):
                assert self.name == "pydog"
                lib.rc_tn_release(self.get_handle())
                return True

        py_dogs = [lib.rc_tn_dog_new(b"py-%d" % i) for i in range(3)]
        for d in py_dogs:
            print("pydog", address(d))
        py_dog = PyDog(py_dogs[0])
        py_deletable = DeletableCffiNativeHandle(py_dogs[1], lib.rc_tn_release, "dog")
        py_cycle = Cycle(PyDog(py_dogs[2]))
        del py_dogs

    sys.stdout.flush()
    '''
)

_RUNS = {}


class ExitRun:
    def __init__(self, mode, directory):
        log_path = os.path.join(str(directory), "freed-%s.log" % mode)
        script_path = os.path.join(str(directory), "exit_%s.py" % mode)
        with open(script_path, "w") as f:
            f.write(SCRIPT)
        env = dict(os.environ)
        env["RC_TEST_NATIVE_LIB"] = native_lib_path()
        self.process = subprocess.run(
            [sys.executable, script_path, log_path, mode, CDEF],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout(120),
        )
        self.stdout = self.process.stdout
        self.stderr = self.process.stderr
        # "dog": natively released; "croc", "pydog": released by Python code.
        self.created = {"dog": [], "croc": [], "pydog": []}
        for line in self.stdout.splitlines():
            what, addr = line.split()
            self.created[what].append(int(addr))
        self.freed = []
        self.atexit_lines = []
        if os.path.exists(log_path):
            with open(log_path) as f:
                for line in f:
                    parts = line.split()
                    if parts[0] == "freed":
                        self.freed.append((int(parts[1]), int(parts[2])))
                    else:
                        self.atexit_lines.append(line.strip())

    def times_freed(self, address):
        return sum(1 for _, freed in self.freed if freed == address)

    def describe(self):
        return "exit code %s\nstdout:\n%s\nstderr:\n%s\nfreed: %r\natexit: %r" % (
            self.process.returncode, self.stdout, self.stderr, self.freed, self.atexit_lines)


@pytest.fixture(scope="module")
def exit_runs(tmp_path_factory):
    directory = tmp_path_factory.mktemp("exit")

    def get(mode):
        if mode not in _RUNS:
            _RUNS[mode] = ExitRun(mode, directory)
        return _RUNS[mode]

    return get


CRASH_MARKERS = ("Fatal Python error", "Segmentation fault", "core dumped", "Aborted", "SIGSEGV")


@pytest.mark.parametrize("mode", ["native", "python", "both"])
def test_exit_with_live_handles_does_not_crash(mode, exit_runs):
    run = exit_runs(mode)
    assert run.process.returncode == 0, run.describe()
    for marker in CRASH_MARKERS:
        assert marker not in run.stderr, run.describe()


@pytest.mark.parametrize("mode", ["native", "python", "both"])
def test_exit_prints_no_exception(mode, exit_runs):
    run = exit_runs(mode)
    assert "Traceback" not in run.stderr, run.describe()
    assert "Exception ignored" not in run.stderr, run.describe()


@pytest.mark.parametrize("mode", ["native", "both"])
def test_natively_released_handles_are_freed_at_exit_exactly_once(mode, exit_runs):
    run = exit_runs(mode)
    created = run.created["dog"]
    assert len(created) == 6, run.describe()
    assert [run.times_freed(address) for address in created] == [1] * 6, run.describe()
    freed_dogs = [address for kind, address in run.freed if kind == KIND_DOG]
    assert set(freed_dogs) <= set(created) | set(run.created["pydog"]), run.describe()


@pytest.mark.parametrize("mode", ["native", "python", "both"])
def test_no_misuse_up_to_the_last_atexit_handler(mode, exit_runs):
    run = exit_runs(mode)
    assert len(run.atexit_lines) == 1, run.describe()
    assert run.atexit_lines[0].endswith(" misuse=0"), run.describe()


@pytest.mark.parametrize("mode", ["python", "both"])
def test_python_released_handles_are_never_freed_twice_at_exit(mode, exit_runs):
    run = exit_runs(mode)
    created = run.created["croc"] + run.created["pydog"]
    assert len(created) == 7, run.describe()
    assert all(run.times_freed(address) <= 1 for address in created), run.describe()
    freed_crocs = [address for kind, address in run.freed if kind == KIND_CROC]
    assert set(freed_crocs) <= set(run.created["croc"]), run.describe()
