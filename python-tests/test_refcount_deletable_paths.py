"""refcount.interop.DeletableCffiNativeHandle: the two release routes.

A handle of the refcount package holds one GObject of the C library (see
python/refcount/_core.c), of one of two kinds:

- released natively: given a native release function (a cffi or ctypes
  function, an address) and a class that keeps the default
  `_release_handle`, it is a plain RcDeletableNativeHandle, built and
  released without running any Python code of the package;
- released by Python: a Python callable as release_native, or a class that
  changes `_release_handle`; its GObject (a PyReleasedHandle) calls the
  handle's `_release_handle` with `self` intact.

A Python callable given as release_native is always called from
`_release_handle`: an exception there is a failed release, kept and retried,
as in pyrefcount. Every lifetime check looks at the native side (the test
library's alive flags, counts and freed log).
"""

import contextlib
import datetime
import gc
import inspect
import os
import sys
import threading
import typing

import gi

gi.require_version("Gio", "2.0")
gi.require_version("Refcount", "1.0")
from gi.repository import Gio, GObject, Refcount  # noqa: E402

import pytest  # noqa: E402
from cffi import FFI  # noqa: E402

import gi.overrides.Refcount as overrides  # noqa: E402
import refcount.base as refcount_base  # noqa: E402
import refcount.interop as interop  # noqa: E402
from refcount.interop import CffiWrapperFactory, DeletableCffiNativeHandle  # noqa: E402

from rcnative import address_of, ffi, lib, new_dog, timeout  # noqa: E402

INVALID_HANDLE_MESSAGE = "The specified handle argument is not a valid handle"

def test_the_package_does_not_use_the_accelerator():
    # The handles are the native core's types, whatever the mode.
    assert DeletableCffiNativeHandle.__module__ == "refcount.interop"
    assert type(DeletableCffiNativeHandle.__init__).__name__ == "wrapper_descriptor"

# ---------------------------------------------------------------------------
# The classes of each route
# ---------------------------------------------------------------------------

VALIDITY_CHECKS = []   # handles seen by Checked._is_valid_handle
RELEASE_RECORDS = []   # handles released by Recording._release_handle

class OwnInit(DeletableCffiNativeHandle):
    """Its own __init__, calling the base one with the cffi function."""

    def __init__(self, handle):
        super().__init__(handle, lib.rc_tn_release, "dog")

class Checked(DeletableCffiNativeHandle):
    """Changes the validity check: still released natively."""

    def _is_valid_handle(self, handle):
        VALIDITY_CHECKS.append(handle)
        return isinstance(handle, FFI.CData) and handle != ffi.NULL

class Recording(DeletableCffiNativeHandle):
    """Changes the release: released by Python."""

    def _release_handle(self) -> bool:
        RELEASE_RECORDS.append(self.get_handle())
        return super()._release_handle()

class Plain(DeletableCffiNativeHandle):
    """Changes nothing: released natively, as the base class."""

def make_base(dog):
    return DeletableCffiNativeHandle(dog, lib.rc_tn_release, "dog")

def make_own_init(dog):
    return OwnInit(dog)

def make_checked(dog):
    return Checked(dog, lib.rc_tn_release, "dog")

def make_recording(dog):
    return Recording(dog, lib.rc_tn_release, "dog")

def make_plain(dog):
    return Plain(dog, lib.rc_tn_release, "dog")

# name: (class, constructor, released natively)
ROUTES = {
    "base": (DeletableCffiNativeHandle, make_base, True),
    "own-init": (OwnInit, make_own_init, True),
    "plain-subclass": (Plain, make_plain, True),
    "valid-handle-override": (Checked, make_checked, True),
    "release-handle-override": (Recording, make_recording, False),
}
ROUTE_NAMES = list(ROUTES)
NATIVE_ROUTE_NAMES = [name for name in ROUTE_NAMES if ROUTES[name][2]]

@pytest.fixture(autouse=True)
def clear_records():
    VALIDITY_CHECKS.clear()
    RELEASE_RECORDS.clear()
    yield
    VALIDITY_CHECKS.clear()
    RELEASE_RECORDS.clear()

def gobject_type_name(handle):
    """The GType of the GObject under a handle (not the Python class's)."""
    return GObject.type_name(handle.as_gobject().g_type_instance.g_class.g_type)

def warm_up():
    """cffi's answer for the address of a ctype is asked once (in Python):
    a first handle shows the core `void *` and the function type."""
    dog = new_dog()
    DeletableCffiNativeHandle(dog, lib.rc_tn_release, "dog").release()
    assert lib.rc_tn_is_alive(dog) == 0

def check_route_side_effects(name, dog):
    """What the route's own Python code recorded for one release of dog."""
    if name == "valid-handle-override":
        assert len(VALIDITY_CHECKS) == 1 and VALIDITY_CHECKS[0] is dog
    if name == "release-handle-override":
        assert len(RELEASE_RECORDS) == 1 and RELEASE_RECORDS[0] is dog

# ---------------------------------------------------------------------------
# 1. Each route: kind, GObject, identity, released exactly once
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", ROUTE_NAMES)
def test_gobject_type_of_each_route(name):
    cls, make, native = ROUTES[name]
    dog = new_dog()
    h = make(dog)
    assert type(h) is cls
    assert not isinstance(h, Refcount.NativeHandle)
    assert isinstance(h.as_gobject(), Refcount.NativeHandle)
    if native:
        assert gobject_type_name(h) == "RcDeletableNativeHandle"
    else:
        assert gobject_type_name(h) == "PyReleasedHandle"
    h.release()
    assert lib.rc_tn_is_alive(dog) == 0

@pytest.mark.parametrize("name", ROUTE_NAMES)
def test_release_releases_the_native_object_once(name, freed_log):
    make = ROUTES[name][1]
    dog = new_dog()
    h = make(dog)
    assert h.get_handle() is dog
    assert h.ptr is dog
    assert h.type_id == "dog"
    assert h.reference_count == 1
    assert h.disposed is False

    h.add_ref()
    h.release()
    assert h.reference_count == 1
    assert lib.rc_tn_is_alive(dog) == 1
    assert freed_log.count(address_of(dog)) == 0

    h.release()
    assert lib.rc_tn_is_alive(dog) == 0
    assert freed_log.count(address_of(dog)) == 1
    assert h.disposed is True
    assert h.reference_count == 0
    assert h.get_handle() is None
    assert h.ptr is None

    h.release()
    h.dispose()
    h.dispose()
    del h
    gc.collect()
    assert freed_log.count(address_of(dog)) == 1
    assert lib.rc_tn_misuse_count() == 0
    check_route_side_effects(name, dog)

@pytest.mark.parametrize("name", ROUTE_NAMES)
def test_dispose_twice_is_harmless(name, freed_log):
    make = ROUTES[name][1]
    dog = new_dog()
    h = make(dog)
    h.dispose()
    assert h.disposed is True
    assert lib.rc_tn_is_alive(dog) == 0
    h.dispose()
    assert h.disposed is True
    assert h.get_handle() is None
    assert freed_log.count(address_of(dog)) == 1
    assert lib.rc_tn_misuse_count() == 0
    check_route_side_effects(name, dog)

@pytest.mark.parametrize("name", ROUTE_NAMES)
def test_garbage_collection_releases_the_native_object_once(name, freed_log):
    make = ROUTES[name][1]
    dog = new_dog()
    h = make(dog)
    assert h.get_handle() is dog
    del h
    gc.collect()
    assert lib.rc_tn_is_alive(dog) == 0
    assert freed_log.count(address_of(dog)) == 1
    assert lib.rc_tn_misuse_count() == 0
    check_route_side_effects(name, dog)

@pytest.mark.parametrize("name", ROUTE_NAMES)
def test_garbage_collection_of_a_cycle_releases_once(name, freed_log):
    make = ROUTES[name][1]
    dog = new_dog()
    h = make(dog)
    h.myself = h
    del h
    gc.collect()
    assert lib.rc_tn_is_alive(dog) == 0
    assert freed_log.count(address_of(dog)) == 1
    check_route_side_effects(name, dog)

@pytest.mark.parametrize("name", ROUTE_NAMES)
def test_garbage_collection_after_release_does_not_release_again(name, freed_log):
    make = ROUTES[name][1]
    dog = new_dog()
    h = make(dog)
    h.release()
    assert lib.rc_tn_is_alive(dog) == 0
    del h
    gc.collect()
    assert freed_log.count(address_of(dog)) == 1
    assert lib.rc_tn_misuse_count() == 0
    check_route_side_effects(name, dog)

# ---------------------------------------------------------------------------
# 2. Released natively: no Python code of the package runs
# ---------------------------------------------------------------------------

PACKAGE_FILES = {
    os.path.realpath(interop.__file__),
    os.path.realpath(refcount_base.__file__),
    os.path.realpath(overrides.__file__),
}

class PythonCalls:
    """The Python functions entered (profile "call" events) in a block."""

    def __init__(self):
        self.calls = []

    def hook(self, frame, event, arg):
        if event == "call":
            self.calls.append((os.path.realpath(frame.f_code.co_filename), frame.f_code.co_name))

    def in_package(self):
        return [(os.path.basename(f), n) for f, n in self.calls if f in PACKAGE_FILES]

    def names(self):
        return [n for f, n in self.calls if f in PACKAGE_FILES]

@contextlib.contextmanager
def python_calls():
    """Records the Python calls of the block; the profile hook is removed
    on leaving it, whatever happens."""
    traced = PythonCalls()
    gc.collect()
    previous = sys.getprofile()
    sys.setprofile(traced.hook)
    try:
        yield traced
    finally:
        sys.setprofile(previous)

@pytest.mark.traces
@pytest.mark.parametrize("name", NATIVE_ROUTE_NAMES)
def test_release_of_a_native_route_enters_no_python_code_of_the_package(name):
    make = ROUTES[name][1]
    dog = new_dog()
    h = make(dog)
    VALIDITY_CHECKS.clear()
    with python_calls() as traced:
        h.release()
    assert lib.rc_tn_is_alive(dog) == 0
    assert h.disposed is True
    assert traced.in_package() == [], traced.calls

@pytest.mark.traces
@pytest.mark.parametrize("name", NATIVE_ROUTE_NAMES)
def test_collection_of_a_native_route_enters_no_python_code_of_the_package(name):
    make = ROUTES[name][1]
    dog = new_dog()
    h = make(dog)
    alive_after_del = None
    with python_calls() as traced:
        del h
        alive_after_del = lib.rc_tn_is_alive(dog)
        gc.collect()
    assert lib.rc_tn_is_alive(dog) == 0
    assert traced.in_package() == [], traced.calls
    # No cycle: the last Python reference gone, the native object goes at
    # once, without waiting for the collector.
    assert alive_after_del == 0

@pytest.mark.traces
@pytest.mark.parametrize("name", ["base", "plain-subclass", "own-init", "valid-handle-override"])
def test_construction_of_a_native_route_enters_no_python_code_of_the_package(name):
    make = ROUTES[name][1]
    warm_up()
    dog = new_dog()
    with python_calls() as traced:
        h = make(dog)
    assert h.get_handle() is dog
    assert traced.in_package() == [], traced.calls
    while not h.disposed:
        h.release()
    assert lib.rc_tn_is_alive(dog) == 0

def test_prior_ref_count_and_a_python_callable_are_taken_by_the_core():
    warm_up()
    dog = new_dog()
    h = DeletableCffiNativeHandle(dog, lib.rc_tn_release, "dog", 1)
    assert h.reference_count == 2 and gobject_type_name(h) == "RcDeletableNativeHandle"
    h.release()
    h.release()
    assert lib.rc_tn_is_alive(dog) == 0
    dog = new_dog()
    h = DeletableCffiNativeHandle(dog, lambda obj: lib.rc_tn_release(obj), "dog")
    assert gobject_type_name(h) == "PyReleasedHandle"
    h.release()
    assert lib.rc_tn_is_alive(dog) == 0

@pytest.mark.traces
def test_a_python_release_is_seen_by_the_profiler():
    # The profiler of the tests above does see Python release code.
    dog = new_dog()
    h = make_recording(dog)
    with python_calls() as traced:
        h.release()
    assert lib.rc_tn_is_alive(dog) == 0
    assert (os.path.realpath(__file__), "_release_handle") in traced.calls, traced.calls
    assert RELEASE_RECORDS == [dog]

# ---------------------------------------------------------------------------
# 3. A Python callable as release_native
# ---------------------------------------------------------------------------

class FlakyRelease:
    """Raises (without releasing) on its first `failures` calls, then
    releases the dog; records each call's argument and exception."""

    def __init__(self, failures=1):
        self.failures = failures
        self.calls = []
        self.raised = []

    def __call__(self, obj):
        self.calls.append(obj)
        if len(self.calls) <= self.failures:
            error = OSError("the kennel door is stuck")
            self.raised.append(error)
            raise error
        lib.rc_tn_release(obj)

def test_python_callable_release_is_called_once_with_the_very_cdata(freed_log):
    calls = []

    def release(obj):
        calls.append(obj)
        lib.rc_tn_release(obj)

    dog = new_dog()
    h = DeletableCffiNativeHandle(dog, release, "dog")
    # Released by _release_handle, on this very object.
    assert gobject_type_name(h) == "PyReleasedHandle"
    assert h.get_handle() is dog
    h.add_ref()
    h.release()
    assert calls == []
    assert lib.rc_tn_is_alive(dog) == 1
    h.release()
    assert len(calls) == 1 and calls[0] is dog
    assert lib.rc_tn_is_alive(dog) == 0
    assert h.get_handle() is None
    h.release()
    h.dispose()
    del h
    gc.collect()
    assert len(calls) == 1
    assert freed_log.count(address_of(dog)) == 1

def test_python_callable_release_on_garbage_collection(freed_log):
    calls = []

    def release(obj):
        calls.append(obj)
        lib.rc_tn_release(obj)

    dog = new_dog()
    h = DeletableCffiNativeHandle(dog, release, "dog")
    del h
    gc.collect()
    assert len(calls) == 1 and calls[0] is dog
    assert lib.rc_tn_is_alive(dog) == 0
    assert freed_log.count(address_of(dog)) == 1

def test_raising_python_callable_is_raised_again_from_release():
    release = FlakyRelease(failures=1)
    dog = new_dog()
    h = DeletableCffiNativeHandle(dog, release, "dog")
    with pytest.raises(OSError) as excinfo:
        h.release()
    assert excinfo.value is release.raised[0]
    assert str(excinfo.value) == "the kennel door is stuck"
    assert len(release.calls) == 1 and release.calls[0] is dog
    assert h.reference_count == 0
    assert lib.rc_tn_is_alive(dog) == 1  # it raised before releasing
    # In both modes _release_handle raised: a failed release (see "A release
    # that fails"), kept, undisposed, retried, as in pyrefcount.
    assert h.disposed is False
    assert h.get_handle() is dog
    h.dispose()  # the retry succeeds
    assert len(release.calls) == 2 and release.calls[1] is dog
    assert h.disposed is True
    assert lib.rc_tn_is_alive(dog) == 0
    h.dispose()
    assert len(release.calls) == 2
    assert lib.rc_tn_is_alive(dog) == 0
    del h
    gc.collect()
    assert lib.rc_tn_misuse_count() == 0

def test_raising_python_callable_from_dispose():
    release = FlakyRelease(failures=1)
    dog = new_dog()
    h = DeletableCffiNativeHandle(dog, release, "dog")
    with pytest.raises(OSError, match="kennel door") as excinfo:
        h.dispose()
    assert excinfo.value is release.raised[0]
    assert h.disposed is False
    h.dispose()
    assert lib.rc_tn_is_alive(dog) == 0

def test_raising_python_callable_on_garbage_collection_goes_to_unraisablehook(monkeypatch):
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    release = FlakyRelease(failures=1)
    dog = new_dog()
    h = DeletableCffiNativeHandle(dog, release, "dog")
    del h
    gc.collect()
    assert len(release.calls) == 1 and release.calls[0] is dog
    assert len(seen) == 1
    assert seen[0].exc_value is release.raised[0]
    assert seen[0].exc_type is OSError
    # The failed release kept the dog and nothing can retry: leaked, not
    # freed twice.
    assert lib.rc_tn_is_alive(dog) == 1
    assert lib.rc_tn_misuse_count() == 0
    lib.rc_tn_release(dog)

def test_raising_python_callable_reported_by_the_default_unraisablehook(monkeypatch, capfd):
    # Outside pytest the hook is CPython's own, which takes only its
    # UnraisableHookArgs: the report must still reach stderr intact.
    monkeypatch.setattr(sys, "unraisablehook", sys.__unraisablehook__)
    release = FlakyRelease(failures=1)
    dog = new_dog()
    h = DeletableCffiNativeHandle(dog, release, "dog")
    del h
    gc.collect()
    monkeypatch.undo()
    out, err = capfd.readouterr()
    assert len(release.calls) == 1
    assert lib.rc_tn_is_alive(dog) == 1
    lib.rc_tn_release(dog)
    assert "the kennel door is stuck" in err, err
    assert "UnraisableHookArgs" not in err, err

# ---------------------------------------------------------------------------
# 4. release_native=None: pyrefcount's "nothing to release"
# ---------------------------------------------------------------------------

def test_none_release_native_releases_nothing_and_keeps_the_handle(recwarn):
    dog = new_dog()
    h = DeletableCffiNativeHandle(dog, None, "dog")
    assert h.get_handle() is dog
    assert h.reference_count == 1
    h.release()
    assert h.disposed is False
    assert h.reference_count == 0
    assert h.get_handle() is dog
    assert lib.rc_tn_get_ref_count(dog) == 1
    h.release()
    h.dispose()
    assert h.get_handle() is dog
    assert lib.rc_tn_get_ref_count(dog) == 1
    del h
    gc.collect()
    assert lib.rc_tn_is_alive(dog) == 1
    assert lib.rc_tn_get_ref_count(dog) == 1
    assert lib.rc_tn_misuse_count() == 0
    lib.rc_tn_release(dog)
    assert lib.rc_tn_is_alive(dog) == 0

def test_none_release_native_counts_as_before(recwarn):
    dog = new_dog()
    h = DeletableCffiNativeHandle(dog, None, "dog", prior_ref_count=1)
    assert h.reference_count == 2
    h.add_ref()
    h.release()
    h.release()
    assert h.reference_count == 1
    h.release()
    assert h.reference_count == 0
    assert h.disposed is False
    assert lib.rc_tn_get_ref_count(dog) == 1
    del h
    gc.collect()
    assert lib.rc_tn_get_ref_count(dog) == 1
    lib.rc_tn_release(dog)

# ---------------------------------------------------------------------------
# 5. Arguments through the C __init__
# ---------------------------------------------------------------------------

CALL_FORMS = {
    "positional": lambda dog, rel: DeletableCffiNativeHandle(dog, rel, "dog"),
    "positional-four": lambda dog, rel: DeletableCffiNativeHandle(dog, rel, "dog", 0),
    "type_id-keyword": lambda dog, rel: DeletableCffiNativeHandle(dog, rel, type_id="dog"),
    "release-keyword": lambda dog, rel: DeletableCffiNativeHandle(dog, release_native=rel, type_id="dog"),
    "all-keywords": lambda dog, rel: DeletableCffiNativeHandle(handle=dog, release_native=rel, type_id="dog"),
    "all-keywords-shuffled": lambda dog, rel: DeletableCffiNativeHandle(
        prior_ref_count=0, type_id="dog", release_native=rel, handle=dog),
    "own-init-subclass": lambda dog, rel: OwnInit(handle=dog),
}

@pytest.mark.parametrize("form", list(CALL_FORMS))
def test_keywords_and_positional_arguments_give_the_same_handle(form, freed_log):
    dog = new_dog()
    h = CALL_FORMS[form](dog, lib.rc_tn_release)
    assert h.get_handle() is dog
    assert h.type_id == "dog"
    assert h.reference_count == 1
    assert h.disposed is False
    assert gobject_type_name(h) == "RcDeletableNativeHandle"
    assert lib.rc_tn_get_ref_count(dog) == 1
    h.release()
    assert lib.rc_tn_is_alive(dog) == 0
    assert h.get_handle() is None
    h.release()
    assert freed_log.count(address_of(dog)) == 1

@pytest.mark.parametrize("keywords", [False, True], ids=["positional", "keyword"])
def test_prior_ref_count_adds_references(keywords, freed_log):
    dog = new_dog()
    if keywords:
        h = DeletableCffiNativeHandle(handle=dog, release_native=lib.rc_tn_release, type_id="dog", prior_ref_count=2)
    else:
        h = DeletableCffiNativeHandle(dog, lib.rc_tn_release, "dog", 2)
    assert h.reference_count == 3
    assert h.get_handle() is dog
    h.release()
    h.release()
    assert h.reference_count == 1
    assert lib.rc_tn_is_alive(dog) == 1
    h.release()
    assert lib.rc_tn_is_alive(dog) == 0
    assert h.disposed is True
    assert freed_log.count(address_of(dog)) == 1

@pytest.mark.parametrize(
    "call",
    [
        lambda dog: DeletableCffiNativeHandle(dog),
        lambda dog: DeletableCffiNativeHandle(handle=dog),
        lambda dog: DeletableCffiNativeHandle(dog, type_id="dog"),
        lambda dog: DeletableCffiNativeHandle(handle=dog, type_id="dog", prior_ref_count=0),
    ],
    ids=["positional", "handle-keyword", "type_id-keyword", "three-keywords"],
)
def test_missing_release_native_raises_type_error_naming_it(call):
    dog = new_dog()
    with pytest.raises(TypeError) as excinfo:
        call(dog)
    assert "release_native" in str(excinfo.value)
    gc.collect()
    assert lib.rc_tn_get_ref_count(dog) == 1  # nothing was released
    lib.rc_tn_release(dog)

def test_missing_handle_and_release_native_raises_type_error():
    with pytest.raises(TypeError) as excinfo:
        DeletableCffiNativeHandle()
    assert "handle" in str(excinfo.value) and "release_native" in str(excinfo.value)

@pytest.mark.parametrize(
    "call",
    [
        lambda dog: DeletableCffiNativeHandle(dog, lib.rc_tn_release, bogus=1),
        lambda dog: DeletableCffiNativeHandle(dog, lib.rc_tn_release, "dog", 0, bogus=1),
        lambda dog: DeletableCffiNativeHandle(handle=dog, release_native=lib.rc_tn_release, typeid="dog"),
        lambda dog: DeletableCffiNativeHandle(dog, None, bogus=1),
    ],
    ids=["positional", "four-positional", "misspelt", "none-release"],
)
def test_unknown_keyword_raises_type_error(call):
    dog = new_dog()
    with pytest.raises(TypeError) as excinfo:
        call(dog)
    assert "unexpected keyword argument" in str(excinfo.value)
    gc.collect()
    assert lib.rc_tn_get_ref_count(dog) == 1
    lib.rc_tn_release(dog)

@pytest.mark.parametrize(
    "call, message",
    [
        (lambda dog: DeletableCffiNativeHandle(dog, lib.rc_tn_release, "dog", 0, None), "positional"),
        (lambda dog: DeletableCffiNativeHandle(dog, lib.rc_tn_release, handle=dog), "multiple values"),
        (lambda dog: DeletableCffiNativeHandle(dog, lib.rc_tn_release, release_native=lib.rc_tn_release),
         "multiple values"),
    ],
    ids=["five-positional", "handle-twice", "release-twice"],
)
def test_too_many_or_repeated_arguments_raise_type_error(call, message):
    dog = new_dog()
    with pytest.raises(TypeError, match=message):
        call(dog)
    gc.collect()
    assert lib.rc_tn_get_ref_count(dog) == 1
    lib.rc_tn_release(dog)

@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"prior_ref_count": -1}, ValueError, "prior_ref_count must be >= 0"),
        ({"prior_ref_count": True}, TypeError, "prior_ref_count must be an int"),
        ({"prior_ref_count": False}, TypeError, "prior_ref_count must be an int"),
        ({"prior_ref_count": "1"}, TypeError, "prior_ref_count must be an int"),
        ({"prior_ref_count": 1.0}, TypeError, "prior_ref_count must be an int"),
        ({"type_id": 5}, TypeError, "type_id must be a str or None"),
        ({"type_id": b"dog"}, TypeError, "type_id must be a str or None"),
    ],
    ids=["negative", "True", "False", "str-count", "float-count", "int-type_id", "bytes-type_id"],
)
@pytest.mark.parametrize("release_kind", ["cffi-function", "python-callable"])
def test_bad_counting_arguments_raise(kwargs, error, message, release_kind):
    dog = new_dog()
    release = lib.rc_tn_release if release_kind == "cffi-function" else (lambda obj: lib.rc_tn_release(obj))
    with pytest.raises(error) as excinfo:
        DeletableCffiNativeHandle(dog, release, **kwargs)
    assert type(excinfo.value) is error
    assert str(excinfo.value) == message
    gc.collect()
    assert lib.rc_tn_get_ref_count(dog) == 1  # a rejected handle released nothing
    lib.rc_tn_release(dog)

@pytest.mark.parametrize(
    "bad",
    [datetime.datetime(2024, 1, 1), 42, "dog", b"dog"],
    ids=["datetime", "int", "str", "bytes"],
)
def test_non_cdata_handle_raises_runtime_error(bad):
    with pytest.raises(RuntimeError) as excinfo:
        DeletableCffiNativeHandle(bad, lib.rc_tn_release)
    assert type(excinfo.value) is RuntimeError
    assert str(excinfo.value) == INVALID_HANDLE_MESSAGE
    gc.collect()
    assert lib.rc_tn_misuse_count() == 0

def test_datetime_handle_raises_runtime_error_with_keywords_too():
    with pytest.raises(RuntimeError) as excinfo:
        DeletableCffiNativeHandle(handle=datetime.datetime.now(), release_native=lib.rc_tn_release, type_id="dog")
    assert str(excinfo.value) == INVALID_HANDLE_MESSAGE

@pytest.mark.parametrize("cls", [DeletableCffiNativeHandle, Plain, Checked], ids=["base", "plain", "checked"])
def test_handle_set_later_is_released_once(cls, freed_log):
    h = cls(None, lib.rc_tn_release, "dog")
    assert h.disposed is True
    assert h.get_handle() is None
    h.release()  # nothing to release yet: harmless
    dog = new_dog(b"Late")
    h._set_handle(dog)
    assert h.get_handle() is dog
    assert h.disposed is False
    assert h.reference_count == 1
    assert ffi.string(lib.rc_tn_dog_get_name(h.get_handle())) == b"Late"
    # Set again, as pyrefcount allows: the new pointer is taken with a new
    # count, and the first one is forgotten (neither released nor kept).
    h.add_ref()
    other = new_dog(b"Other")
    h._set_handle(other)
    assert h.get_handle() is other
    assert h.reference_count == 1
    assert lib.rc_tn_get_ref_count(dog) == 1
    h.release()
    assert lib.rc_tn_is_alive(other) == 0
    assert lib.rc_tn_is_alive(dog) == 1
    assert h.get_handle() is None
    h.release()
    del h
    gc.collect()
    assert freed_log.count(address_of(other)) == 1
    assert freed_log.count(address_of(dog)) == 0
    lib.rc_tn_release(dog)
    assert lib.rc_tn_misuse_count() == 0

def test_handle_set_later_is_released_by_garbage_collection(freed_log):
    class Late(DeletableCffiNativeHandle):
        def __init__(self):
            super().__init__(None, lib.rc_tn_release, type_id="late")
            self._set_handle(new_dog(b"Late"))

    h = Late()
    assert gobject_type_name(h) == "RcDeletableNativeHandle"
    dog = h.get_handle()
    assert h.type_id == "late"
    assert h.reference_count == 1
    del h
    gc.collect()
    assert lib.rc_tn_is_alive(dog) == 0
    assert freed_log.count(address_of(dog)) == 1

# ---------------------------------------------------------------------------
# 6. Attributes set before or after the base __init__
# ---------------------------------------------------------------------------

class NamedBefore(DeletableCffiNativeHandle):
    def __init__(self, handle, name):
        self.name = name
        super().__init__(handle, lib.rc_tn_release, "dog")

class NamedAfter(DeletableCffiNativeHandle):
    def __init__(self, handle, name):
        super().__init__(handle, lib.rc_tn_release, "dog")
        self.name = name

@pytest.mark.parametrize("cls", [NamedBefore, NamedAfter], ids=["before", "after"])
@pytest.mark.parametrize("how", ["release", "gc"])
def test_attributes_set_around_the_base_init(cls, how, freed_log):
    dog = new_dog()
    h = cls(dog, "Rex")
    assert h.name == "Rex"
    assert h.get_handle() is dog
    assert h.reference_count == 1
    assert h.type_id == "dog"
    h.name = "Max"
    assert h.name == "Max"
    if how == "release":
        h.release()
        assert lib.rc_tn_is_alive(dog) == 0
        assert h.name == "Max"
        h.dispose()
        del h
    else:
        del h
    gc.collect()
    assert lib.rc_tn_is_alive(dog) == 0
    assert freed_log.count(address_of(dog)) == 1

def test_attributes_survive_a_round_trip_through_c(freed_log):
    store = Gio.ListStore.new(Refcount.NativeHandle)
    dog = new_dog()
    h = NamedAfter(dog, "Rex")
    store.append(h.as_gobject())
    del h
    gc.collect()
    assert lib.rc_tn_is_alive(dog) == 1
    item = refcount_base.handle_of(store.get_item(0))
    assert type(item) is NamedAfter
    assert item.name == "Rex"
    assert item.get_handle() is dog
    del item
    store.remove(0)
    gc.collect()
    assert lib.rc_tn_is_alive(dog) == 0
    assert freed_log.count(address_of(dog)) == 1

# ---------------------------------------------------------------------------
# 7. A non-function cffi pointer given as release function
# ---------------------------------------------------------------------------

VOID_POINTERS = ["null", "non-null", "another-dog"]

def void_pointer(kind):
    """(release argument, dog to free afterwards or None)."""
    if kind == "null":
        return ffi.cast("void *", 0), None
    if kind == "non-null":
        # Never a function: calling it would crash.
        return ffi.cast("void *", 0x1234), None
    other = new_dog(b"NotAFunction")
    return other, other

def check_void_pointer_release(make, kind, monkeypatch, dispose_raises):
    """A `void *` given as release function: construction raises TypeError,
    or release() does (calling a non-function CData); never a crash, never
    a release."""
    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    release, other = void_pointer(kind)
    dog = new_dog()
    try:
        h = make(dog, release)
    except TypeError:
        h = None
    if h is not None:
        assert h.get_handle() is dog
        with pytest.raises(TypeError):
            h.release()
        assert lib.rc_tn_is_alive(dog) == 1
        if dispose_raises:
            with pytest.raises(TypeError):
                h.dispose()
        assert lib.rc_tn_get_ref_count(dog) == 1
        del h
    gc.collect()
    # Whatever happened, nothing was released nor called as a function.
    assert lib.rc_tn_get_ref_count(dog) == 1
    assert all(issubclass(u.exc_type, TypeError) for u in unraisable), unraisable
    if other is not None:
        assert lib.rc_tn_get_ref_count(other) == 1
        lib.rc_tn_release(other)
    lib.rc_tn_release(dog)
    assert lib.rc_tn_misuse_count() == 0

@pytest.mark.parametrize("kind", VOID_POINTERS)
def test_void_pointer_as_release_native_does_not_crash(kind, monkeypatch):
    # A failed release, tried again by dispose().
    check_void_pointer_release(lambda dog, release: DeletableCffiNativeHandle(dog, release, "dog"),
                               kind, monkeypatch, dispose_raises=True)

@pytest.mark.parametrize("kind", VOID_POINTERS)
def test_void_pointer_as_release_of_the_gi_class_does_not_crash(kind, monkeypatch):
    check_void_pointer_release(lambda dog, release: Refcount.DeletableNativeHandle(dog, release, "dog"),
                               kind, monkeypatch, dispose_raises=False)

@pytest.mark.traces
def test_void_pointer_release_does_not_poison_the_function_type(monkeypatch, freed_log):
    # A `void *` given as release first, then the real function: the
    # function still goes the native way, and the pointer type was not
    # taken for a function type.
    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    dog = new_dog()
    try:
        rejected = DeletableCffiNativeHandle(dog, ffi.cast("void *", 0x1234), "dog")
    except TypeError:
        rejected = None
    del rejected
    gc.collect()
    assert lib.rc_tn_get_ref_count(dog) == 1
    assert all(issubclass(u.exc_type, TypeError) for u in unraisable), unraisable
    h = DeletableCffiNativeHandle(dog, lib.rc_tn_release, "dog")
    assert gobject_type_name(h) == "RcDeletableNativeHandle"
    with python_calls() as traced:
        h.release()
    assert lib.rc_tn_is_alive(dog) == 0
    assert traced.in_package() == [], traced.calls
    assert freed_log.count(address_of(dog)) == 1

# ---------------------------------------------------------------------------
# 8. inspect.signature (CffiWrapperFactory reads it)
# ---------------------------------------------------------------------------

def test_signature_of_the_base_class():
    signature = inspect.signature(DeletableCffiNativeHandle)
    assert list(signature.parameters) == ["handle", "release_native", "type_id", "prior_ref_count"]
    parameters = signature.parameters
    assert parameters["prior_ref_count"].annotation is int
    assert parameters["prior_ref_count"].default == 0
    assert parameters["type_id"].default is None
    assert parameters["handle"].default is inspect.Parameter.empty
    assert parameters["release_native"].default is inspect.Parameter.empty
    assert parameters["type_id"].annotation == typing.Optional[str]

def test_signature_of_a_subclass_with_its_own_init():
    class OneArg(DeletableCffiNativeHandle):
        def __init__(self, handle):
            super().__init__(handle, lib.rc_tn_release, "dog")

    assert list(inspect.signature(OneArg).parameters) == ["handle"]
    assert list(inspect.signature(OwnInit).parameters) == ["handle"]
    assert list(inspect.signature(NamedBefore).parameters) == ["handle", "name"]

@pytest.mark.parametrize("cls", [Plain, Checked, Recording], ids=["plain", "checked", "recording"])
def test_signature_of_a_subclass_without_init(cls):
    signature = inspect.signature(cls)
    assert list(signature.parameters) == ["handle", "release_native", "type_id", "prior_ref_count"]
    assert signature.parameters["prior_ref_count"].annotation is int

def test_signature_of_a_subclass_of_a_subclass_with_init():
    class Derived(OwnInit):
        pass

    assert list(inspect.signature(Derived).parameters) == ["handle"]

@pytest.mark.parametrize(
    "wrapper, expected",
    [(DeletableCffiNativeHandle, DeletableCffiNativeHandle), (OwnInit, OwnInit), (Plain, Plain)],
    ids=["base", "own-init", "plain"],
)
def test_cffi_wrapper_factory_builds_each_class(wrapper, expected, freed_log):
    factory = CffiWrapperFactory({"dog": wrapper}, strict_wrapping=True)
    dog = new_dog()
    h = factory.create_wrapper(dog, "dog", lib.rc_tn_release)
    assert type(h) is expected
    assert h.get_handle() is dog
    assert h.type_id == "dog"
    h.release()
    assert lib.rc_tn_is_alive(dog) == 0
    assert freed_log.count(address_of(dog)) == 1

# ---------------------------------------------------------------------------
# 9. Threads
# ---------------------------------------------------------------------------

def test_threads_create_and_release_native_handles():
    n_threads, per_thread = 8, 2000
    created_before = lib.rc_tn_created_count()
    freed_before = lib.rc_tn_freed_count()
    dogs_before = lib.rc_tn_dog_live_count()
    start = threading.Barrier(n_threads, timeout=timeout(60))
    errors = []
    released_alive = []

    def work(index):
        try:
            start.wait()
            for i in range(per_thread):
                dog = lib.rc_tn_dog_new(b"Threaded")
                h = DeletableCffiNativeHandle(dog, lib.rc_tn_release, "dog")
                if h.get_handle() is not dog:
                    errors.append("get_handle() is not the dog given")
                if i % 3 == 0:
                    h.add_ref()
                    h.release()
                if i % 2 == 0:
                    h.release()
                    if lib.rc_tn_is_alive(dog):
                        released_alive.append(i)
                    h.dispose()
                del h
        except BaseException as error:  # noqa: B902 - reported below
            errors.append(repr(error))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout(120))
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert released_alive == []
    gc.collect()
    assert lib.rc_tn_created_count() - created_before == n_threads * per_thread
    assert lib.rc_tn_freed_count() - freed_before == n_threads * per_thread
    assert lib.rc_tn_dog_live_count() == dogs_before
    assert lib.rc_tn_misuse_count() == 0

# ---------------------------------------------------------------------------
# 10. A natively released handle given to C (through as_gobject())
# ---------------------------------------------------------------------------

def test_c_helpers_take_a_native_handle():
    dog = new_dog()
    h = DeletableCffiNativeHandle(dog, lib.rc_tn_release, "dog")
    assert Refcount.is_native_handle(h, "dog") is True
    assert Refcount.is_native_handle(h, "cat") is False
    assert Refcount.is_native_handle(h, None) is True
    assert Refcount.unwrap_native_handle(h) == address_of(dog)
    assert interop.is_cffi_native_handle(h, "dog") is True
    assert interop.unwrap_cffi_native_handle(h) is dog
    h.release()
    assert lib.rc_tn_is_alive(dog) == 0
    assert not Refcount.unwrap_native_handle(h)  # NULL

def test_native_handle_kept_by_a_c_container(freed_log):
    warm_up()
    # The warm-up freed a dog whose address the next one may reuse.
    freed_log.clear()
    store = Gio.ListStore.new(Refcount.NativeHandle)
    dog = new_dog()
    h = DeletableCffiNativeHandle(dog, lib.rc_tn_release, "dog")
    assert gobject_type_name(h) == "RcDeletableNativeHandle"
    store.append(h.as_gobject())
    del h
    gc.collect()
    # C still holds the handle: nothing is released.
    assert lib.rc_tn_is_alive(dog) == 1
    assert lib.rc_tn_get_ref_count(dog) == 1
    # Back from C: the very handle given.
    item = refcount_base.handle_of(store.get_item(0))
    assert isinstance(item, DeletableCffiNativeHandle)
    assert item.reference_count == 1
    assert Refcount.is_native_handle(item, "dog") is True
    assert Refcount.unwrap_native_handle(item) == address_of(dog)
    handle_back = item.get_handle()
    unwrapped_back = interop.unwrap_cffi_native_handle(item)
    # As generated bindings pass it to the native library.
    try:
        count_back = lib.rc_tn_get_ref_count(interop.wrap_as_pointer_handle(item).ptr)
    except TypeError as error:
        count_back = error
    del item
    store.remove(0)
    gc.collect()
    assert lib.rc_tn_is_alive(dog) == 0
    assert freed_log.count(address_of(dog)) == 1
    # Back from C, the handle was still the very object given.
    assert handle_back is dog, handle_back
    assert unwrapped_back is dog, unwrapped_back
    assert count_back == 1, count_back

def test_native_handle_released_while_a_c_container_holds_it(freed_log):
    store = Gio.ListStore.new(Refcount.NativeHandle)
    dog = new_dog()
    h = DeletableCffiNativeHandle(dog, lib.rc_tn_release, "dog")
    store.append(h.as_gobject())
    h.release()
    assert lib.rc_tn_is_alive(dog) == 0
    item = store.get_item(0)
    assert item.disposed is True
    assert Refcount.is_native_handle(item, "dog") is True
    assert not Refcount.unwrap_native_handle(item)
    del h, item
    store.remove_all()
    gc.collect()
    assert freed_log.count(address_of(dog)) == 1
