"""Library lifetime: a handle whose release function lives in a shared
object keeps that object loaded until its release has run.

The crash this prevents (the issue): a cffi `ffi.dlopen()` library goes
out of scope while `DeletableCffiNativeHandle(lib.create_dog(), lib.release)`
handles are alive; cffi closes the library when its objects are collected;
the handles are dropped later and their release jumps into unmapped memory.

Here the release function is `rc_tu_dog_release` of
tests/unloadable/librc-test-unload.so (RC_TEST_UNLOAD_LIB), a shared object
nothing else in the process uses; the dogs come from the test native
library.  The library is given to handles as a cffi function (its `ffi`
and library objects then collected), a ctypes function (the CDLL closed
with `_ctypes.dlclose`) or an int address, through the GI overrides
(`Refcount.DeletableNativeHandle`) and through the `refcount` package
(`DeletableCffiNativeHandle`).  Each program first shows, without handles,
that dropping or closing the library really unloads it, so that "still
loaded" later can only be the handles' doing.

Every scenario runs in a child interpreter: a crash is its exit status,
and a failed check inside it a traceback, both reported here.
"""

import pytest

import rcnative
from rcnative import assert_clean_exit, describe_run, run_python, unload_lib_path

LAYERS = ["gi", "pkg"]
KINDS = ["cffi", "ctypes", "address"]

PRELUDE = r'''
import _ctypes
import ctypes
import gc
import os
import sys

import cffi

UNLOAD = os.environ["RC_TEST_UNLOAD_LIB"]
layer, kind, CDEF, UNLOAD_CDEF = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]

ffi = cffi.FFI()
ffi.cdef(CDEF)
lib = ffi.dlopen(os.environ["RC_TEST_NATIVE_LIB"])


def loaded():
    try:
        probe = ctypes.CDLL(UNLOAD, mode=os.RTLD_NOLOAD | os.RTLD_LAZY)
    except OSError:
        return False
    _ctypes.dlclose(probe._handle)
    return True


class Library:
    """The unloadable library, loaded the `kind` way; release() is the
    release function to give to handles, close() what a program does to
    let the library go (cffi: drop every object, the collector closes it)."""

    def __init__(self):
        if kind == "cffi":
            self.ffi = cffi.FFI()
            self.ffi.cdef(UNLOAD_CDEF)
            self.lib = self.ffi.dlopen(UNLOAD)
            self.release = self.lib.rc_tu_dog_release
        else:
            self.cdll = ctypes.CDLL(UNLOAD)
            function = self.cdll.rc_tu_dog_release
            function.argtypes = [ctypes.c_void_p]
            function.restype = None
            if kind == "ctypes":
                self.release = function
            else:
                self.release = ctypes.cast(function, ctypes.c_void_p).value
                assert isinstance(self.release, int)

    def close(self):
        if kind != "cffi":
            _ctypes.dlclose(self.cdll._handle)
        self.__dict__.clear()


def open_library():
    library = Library()
    return library, library.release


def make_handle(dog, release, type_id="DOG_PTR"):
    if layer == "gi":
        from gi.repository import Refcount

        return Refcount.DeletableNativeHandle(dog, release, type_id=type_id)
    from refcount.interop import DeletableCffiNativeHandle

    return DeletableCffiNativeHandle(dog, release, type_id)

'''

# The bindings, then the control: without handles, letting the library go
# unloads it.
CONTROL = r'''
import gi

gi.require_version("Refcount", "1.0")
from gi.repository import Refcount  # noqa: E402
import refcount.interop  # noqa: E402

assert not loaded(), "the unloadable library is loaded before the test opened it"
library, release = open_library()
assert loaded()
library.close()
del library, release
gc.collect()
assert not loaded(), "%s: letting the library go did not unload it (nothing to test then)" % kind
'''

DROP_SCRIPT = PRELUDE + CONTROL + r'''
dogs = [lib.rc_tn_dog_new(b"dog-%d" % i) for i in range(6)]
addresses = [int(ffi.cast("uintptr_t", d)) for d in dogs]
library, release = open_library()
handles = [make_handle(d, release) for d in dogs]
# One owner, released by the unloadable library too, that depends on a dog.
owner_ptr = lib.rc_tn_owner_new_borrowing(dogs[5])
owner = make_handle(owner_ptr, release, "OWNER_PTR")
owner.add_dependency(handles[5])
handles[0].add_ref()
handles[1].add_ref()
del dogs, owner_ptr

# The program lets the library go while the handles live.
library.close()
del library, release
gc.collect()
assert loaded(), "the library was unloaded while handles still need its release function"
assert lib.rc_tn_dog_live_count() == 6

steps = []


def step(name, action):
    action()
    gc.collect()
    steps.append(name)
    assert lib.rc_tn_misuse_count() == 0, name


def drop(i):
    def action():
        handles[i] = None
    return action


# Every way a handle ends; the library stays loaded until the last one.
step("release twice", lambda: (handles[0].release(), handles[0].release()))
assert lib.rc_tn_is_alive(ffi.cast("void *", addresses[0])) == 0
assert loaded()
step("add_ref then drop", lambda: handles[1].release())
assert lib.rc_tn_is_alive(ffi.cast("void *", addresses[1])) == 1
step("drop", drop(1))
assert lib.rc_tn_is_alive(ffi.cast("void *", addresses[1])) == 0
assert loaded()
step("dispose", lambda: handles[2].dispose())
step("drop 3", drop(3))
assert loaded()


def cycle():
    h = handles[4]
    h.me = h
    handles[4] = None


step("cycle", cycle)
assert lib.rc_tn_is_alive(ffi.cast("void *", addresses[4])) == 0
assert loaded()
step("drop the dependency", drop(5))
assert lib.rc_tn_is_alive(ffi.cast("void *", addresses[5])) == 1, "the owner keeps its dog"
assert loaded()
step("drop the owner", lambda: globals().pop("owner"))
assert lib.rc_tn_dog_live_count() == 0
assert lib.rc_tn_owner_live_count() == 0
assert lib.rc_tn_misuse_count() == 0
# Only handles 2 (released, object alive) and the Nones are left.
assert handles[2].disposed
assert not loaded(), "the library is still loaded after the last release"
handles.clear()
gc.collect()
print("released %d dogs, unloaded" % len(addresses))
'''


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("layer", LAYERS)
def test_handles_outlive_the_library_object(layer, kind):
    process = run_python(DROP_SCRIPT, layer, kind, rcnative.CDEF, rcnative.UNLOAD_CDEF,
                         env={"RC_TEST_UNLOAD_LIB": unload_lib_path()})
    assert_clean_exit(process)
    assert process.stdout.strip() == "released 6 dogs, unloaded", describe_run(process)


# The handles live on until the interpreter exits.  What was freed is
# written by the test library's freed callback straight to a file
# descriptor, and a last atexit handler (registered first) writes the
# native counts and whether the library is still loaded.
EXIT_SCRIPT = PRELUDE + r'''
# Before the bindings are imported, so that `last` runs after their own
# atexit handlers.
log_fd = os.open(sys.argv[5], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
FREED = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p)
clib = ctypes.CDLL(os.environ["RC_TEST_NATIVE_LIB"])
clib.rc_tn_live_count.restype = ctypes.c_int
clib.rc_tn_misuse_count.restype = ctypes.c_long
clib.rc_tn_set_freed_callback.argtypes = [FREED, ctypes.c_void_p]
clib.rc_tn_set_freed_callback.restype = None


def on_freed(obj, kind, user_data, _write=os.write, _fd=log_fd):
    _write(_fd, b"freed %d\n" % (obj or 0))


callback = FREED(on_freed)
ctypes.pythonapi.Py_IncRef(ctypes.py_object(callback))  # never deallocated
clib.rc_tn_set_freed_callback(callback, None)

import atexit


def last(_write=os.write, _fd=log_fd, _clib=clib, _loaded=loaded):
    _write(_fd, b"atexit live=%d misuse=%d loaded=%d\n"
           % (_clib.rc_tn_live_count(), _clib.rc_tn_misuse_count(), _loaded()))


atexit.register(last)  # registered first: runs last
''' + CONTROL + r'''


class Cycle:
    def __init__(self, handle):
        self.handle = handle
        self.me = self


dogs = [lib.rc_tn_dog_new(b"exit-%d" % i) for i in range(4)]
for d in dogs:
    print("dog", int(ffi.cast("uintptr_t", d)))
library, release = open_library()
global_handle = make_handle(dogs[0], release)
listed = [make_handle(dogs[1], release)]
cycled = Cycle(make_handle(dogs[2], release))
owner = make_handle(dogs[3], release, "OWNER_PTR")
owner.add_dependency(make_handle(lib.rc_tn_dog_new(b"dependency"), release))
del dogs, d
library.close()
del library, release
gc.collect()
assert loaded()
sys.stdout.flush()
'''


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("layer", LAYERS)
def test_handles_alive_at_exit_after_the_library_object_was_collected(layer, kind, tmp_path):
    log_path = tmp_path / "freed.log"
    process = run_python(EXIT_SCRIPT, layer, kind, rcnative.CDEF, rcnative.UNLOAD_CDEF, log_path,
                         env={"RC_TEST_UNLOAD_LIB": unload_lib_path()})
    assert_clean_exit(process)
    created = [int(line.split()[1]) for line in process.stdout.splitlines() if line.startswith("dog ")]
    assert len(created) == 4, describe_run(process)
    lines = log_path.read_text().splitlines()
    freed = [int(line.split()[1]) for line in lines if line.startswith("freed ")]
    last = [line for line in lines if line.startswith("atexit ")]
    report = describe_run(process) + "\n--- log:\n" + "\n".join(lines)
    # Each dog released exactly once, the dependency too (5 objects), all
    # before the last atexit handler, which finds the library unloaded.
    assert [freed.count(address) for address in created] == [1, 1, 1, 1], report
    assert len(freed) == 5, report
    assert last == ["atexit live=0 misuse=0 loaded=0"], report
