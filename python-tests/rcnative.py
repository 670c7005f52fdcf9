"""The native test library (tests/testlib/rc-test-native.h), loaded for the tests.

It is the ground truth of every lifetime test: a small C API of dogs, owners
and crocs with its own native reference counts and live counters, which never
crashes on misuse but counts it.

Loaded twice on purpose, through cffi (ABI mode) and through ctypes: both
dlopen() the same file, so they share one copy of the library and its
counters.  Tests get them through the `ffi`, `lib` and `ctypes_lib` fixtures
of conftest.py; modules that need the library at import time (classes written
in pyrefcount's style, which call `lib` directly) import it from here.
"""

import ctypes
import os

import cffi

CDEF = """
void *rc_tn_dog_new (const char *name);
void *rc_tn_owner_new (void *dog);
void *rc_tn_owner_new_borrowing (void *dog);
void *rc_tn_croc_new (void);
void rc_tn_add_ref (void *obj);
void rc_tn_release (void *obj);
int rc_tn_get_ref_count (void *obj);
int rc_tn_is_alive (void *obj);
const char *rc_tn_dog_get_name (void *dog);
void *rc_tn_owner_get_dog (void *owner);
int rc_tn_owner_walk (void *owner);
int rc_tn_croc_eat (void *croc, void *dog);
int rc_tn_live_count (void);
int rc_tn_dog_live_count (void);
int rc_tn_owner_live_count (void);
int rc_tn_croc_live_count (void);
long rc_tn_created_count (void);
long rc_tn_freed_count (void);
long rc_tn_misuse_count (void);
void rc_tn_reset_misuse_count (void);
typedef void (*RcTnFreedCallback) (void *obj, int kind, void *user_data);
void rc_tn_set_freed_callback (RcTnFreedCallback callback, void *user_data);
"""

KIND_DOG = 1
KIND_OWNER = 2
KIND_CROC = 3


def native_lib_path():
    """The path of librc-test-native.so, from RC_TEST_NATIVE_LIB (set by meson)."""
    path = os.environ.get("RC_TEST_NATIVE_LIB")
    if not path:
        # A missing library is a broken setup, never a reason to skip.
        raise RuntimeError(
            "RC_TEST_NATIVE_LIB is not set: it must name tests/testlib/librc-test-native.so "
            "of the build tree (meson test sets it)"
        )
    if not os.path.exists(path):
        raise RuntimeError("RC_TEST_NATIVE_LIB=%r does not exist" % path)
    return path


ffi = cffi.FFI()
ffi.cdef(CDEF)
lib = ffi.dlopen(native_lib_path())

FREED_CALLBACK_CTYPE = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p)


def load_ctypes_lib():
    """The same library through ctypes, with argtypes/restype of every function."""
    clib = ctypes.CDLL(native_lib_path())
    vp = ctypes.c_void_p
    signatures = {
        "rc_tn_dog_new": ([ctypes.c_char_p], vp),
        "rc_tn_owner_new": ([vp], vp),
        "rc_tn_owner_new_borrowing": ([vp], vp),
        "rc_tn_croc_new": ([], vp),
        "rc_tn_add_ref": ([vp], None),
        "rc_tn_release": ([vp], None),
        "rc_tn_get_ref_count": ([vp], ctypes.c_int),
        "rc_tn_is_alive": ([vp], ctypes.c_int),
        "rc_tn_dog_get_name": ([vp], ctypes.c_char_p),
        "rc_tn_owner_get_dog": ([vp], vp),
        "rc_tn_owner_walk": ([vp], ctypes.c_int),
        "rc_tn_croc_eat": ([vp, vp], ctypes.c_int),
        "rc_tn_live_count": ([], ctypes.c_int),
        "rc_tn_dog_live_count": ([], ctypes.c_int),
        "rc_tn_owner_live_count": ([], ctypes.c_int),
        "rc_tn_croc_live_count": ([], ctypes.c_int),
        "rc_tn_created_count": ([], ctypes.c_long),
        "rc_tn_freed_count": ([], ctypes.c_long),
        "rc_tn_misuse_count": ([], ctypes.c_long),
        "rc_tn_reset_misuse_count": ([], None),
        "rc_tn_set_freed_callback": ([FREED_CALLBACK_CTYPE, vp], None),
    }
    for name, (argtypes, restype) in signatures.items():
        func = getattr(clib, name)
        func.argtypes = argtypes
        func.restype = restype
    return clib


ctypes_lib = load_ctypes_lib()


def address_of(ptr):
    """The integer address of a cffi pointer."""
    return int(ffi.cast("uintptr_t", ptr))


def new_dog(name=b"Rex"):
    """A new native dog (native ref count 1), as a cffi `void *`."""
    dog = lib.rc_tn_dog_new(name)
    assert dog != ffi.NULL
    return dog


def counts():
    """Native live counts, for before/after comparisons."""
    return {
        "live": lib.rc_tn_live_count(),
        "dogs": lib.rc_tn_dog_live_count(),
        "owners": lib.rc_tn_owner_live_count(),
        "crocs": lib.rc_tn_croc_live_count(),
        "misuse": lib.rc_tn_misuse_count(),
    }


RC_ERROR_DOMAIN = "rc-error-quark"


def assert_rc_error(excinfo, code):
    """The exception of `pytest.raises` is a GLib.Error of the refcount
    domain with the given Refcount.Error code."""
    from gi.repository import GLib, Refcount

    error = excinfo.value
    assert isinstance(error, GLib.Error), repr(error)
    assert error.domain == RC_ERROR_DOMAIN, (error.domain, error.message)
    assert error.code == int(code), (error.code, int(code), error.message)
    assert error.matches(Refcount.error_quark(), int(code))


def timeout(seconds):
    """A deadlock guard's limit, scaled for slow runs (valgrind sets
    RC_TEST_TIMEOUT_MULTIPLIER): never a wait that synchronises anything."""
    return seconds * float(os.environ.get("RC_TEST_TIMEOUT_MULTIPLIER", "1"))


# ---------------------------------------------------------------------------
# The unloadable library (tests/unloadable/librc-test-unload.so) and Python
# programs run in a subprocess
# ---------------------------------------------------------------------------

UNLOAD_CDEF = """
void rc_tu_dog_release (void *dog);
void rc_tu_release_with_data (void *handle, void *user_data);
void rc_tu_notify (void *data);
"""


def unload_lib_path():
    """The path of librc-test-unload.so, from RC_TEST_UNLOAD_LIB (set by meson):
    a shared object no test program links with, whose functions release
    objects of the test native library (it links with it)."""
    path = os.environ.get("RC_TEST_UNLOAD_LIB")
    if not path:
        raise RuntimeError(
            "RC_TEST_UNLOAD_LIB is not set: it must name tests/unloadable/librc-test-unload.so "
            "of the build tree (meson test sets it)"
        )
    if not os.path.exists(path):
        raise RuntimeError("RC_TEST_UNLOAD_LIB=%r does not exist" % path)
    return path


def is_loaded(path):
    """Whether the shared object `path` is loaded in this process:
    dlopen(path, RTLD_NOLOAD | RTLD_LAZY) succeeds.  That dlopen() takes a
    reference when it succeeds: it is given back at once."""
    import _ctypes

    try:
        probe = ctypes.CDLL(path, mode=os.RTLD_NOLOAD | os.RTLD_LAZY)
    except OSError:
        return False
    _ctypes.dlclose(probe._handle)
    return True


CRASH_MARKERS = ("Fatal Python error", "Segmentation fault", "core dumped", "Aborted", "SIGSEGV",
                 "AddressSanitizer", "runtime error:")


def run_python(script, *args, env=None, seconds=120):
    """Runs `script` (Python source) in a new interpreter, the one running
    the tests, with this process's environment (plus `env`; a value None
    removes the variable).  Returns the CompletedProcess (text output).  A
    crash of the child is its exit status (a negative signal number), never
    the end of the test run."""
    import subprocess
    import sys
    import tempfile

    child_env = dict(os.environ)
    child_env["RC_TEST_NATIVE_LIB"] = native_lib_path()
    for key, value in (env or {}).items():
        if value is None:
            child_env.pop(key, None)
        else:
            child_env[key] = value
    with tempfile.NamedTemporaryFile("w", suffix=".py", prefix="rc-child-", delete=False) as f:
        f.write(script)
        script_path = f.name
    try:
        return subprocess.run(
            [sys.executable, script_path] + [str(a) for a in args],
            env=child_env,
            capture_output=True,
            text=True,
            timeout=timeout(seconds),
        )
    finally:
        os.unlink(script_path)


def describe_run(process):
    """Everything about a finished child, for assertion messages."""
    return "exit status %s\n--- stdout:\n%s\n--- stderr:\n%s" % (
        process.returncode, process.stdout, process.stderr)


def assert_clean_exit(process):
    """The child exited with status 0, without a crash or a Python error."""
    assert process.returncode == 0, describe_run(process)
    for marker in CRASH_MARKERS + ("Traceback", "Exception ignored"):
        assert marker not in process.stderr, describe_run(process)
