"""The GI layer (gi.repository.Refcount with its overrides): handles, their
accepted kinds of pointers and release functions, properties, counting,
borrowing, errors, ReferenceCounter and WrapperFactory.

Lifetime paths of Python subclasses (release through del, GC, C) are in
test_gi_lifecycle.py; threads in test_gi_threads.py; interpreter exit in
test_gi_exit.py.
"""

import ctypes
import gc
import sys
import warnings
import weakref

import gi

gi.require_version("Refcount", "1.0")
from gi.module import get_introspection_module  # noqa: E402
from gi.repository import GLib, GObject, Refcount  # noqa: E402

import cffi  # noqa: E402
import pytest  # noqa: E402

from rcnative import address_of, assert_rc_error, ffi, lib, new_dog  # noqa: E402

# The GI classes without the Python overrides: their methods call C directly.
RawRefcount = get_introspection_module("Refcount")


def release_by_address(handle):
    """Release the native object of any handle kind, given its int address."""
    lib.rc_tn_release(ffi.cast("void *", handle.address))


class DogHandle(Refcount.NativeHandle):
    """A Python subclass of the abstract GI base that releases a native dog."""

    def __init__(self, handle=None, type_id="dog", prior_ref_count=0):
        super().__init__(handle, type_id=type_id, prior_ref_count=prior_ref_count)
        self.releases = []

    def do_release_handle(self):
        self.releases.append(self.address)
        release_by_address(self)
        return True


def deletable_dog(name=b"Rex", **kwargs):
    dog = new_dog(name)
    return dog, Refcount.DeletableNativeHandle(dog, lib.rc_tn_release, type_id="dog", **kwargs)


def make_capsule(address, name=None):
    new = ctypes.pythonapi.PyCapsule_New
    new.restype = ctypes.py_object
    new.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
    return new(address, name, None)


# The name must outlive the capsules made with it.
CAPSULE_NAME = b"rc_test.dog"


# ---------------------------------------------------------------------------
# Kinds of handle
# ---------------------------------------------------------------------------


def test_cffi_pointer_handle_is_returned_as_given():
    dog, h = deletable_dog()
    assert h.get_handle() is dog
    assert h.ptr is dog
    assert h.address == address_of(dog)
    assert h.type_id == "dog"
    assert h.reference_count == 1
    assert h.disposed is False
    assert h.is_invalid is False
    # Wrapping takes no native reference.
    assert lib.rc_tn_get_ref_count(dog) == 1
    h.release()
    assert lib.rc_tn_is_alive(dog) == 0


def test_int_address_handle_is_returned_as_given():
    dog = new_dog()
    address = address_of(dog)
    h = Refcount.DeletableNativeHandle(address, lib.rc_tn_release, type_id="dog")
    assert h.get_handle() is address
    assert h.ptr is address
    assert h.address == address
    assert lib.rc_tn_get_ref_count(dog) == 1
    h.release()
    assert lib.rc_tn_is_alive(dog) == 0


def test_ctypes_c_void_p_handle_is_returned_as_given(ctypes_lib):
    pointer = ctypes.c_void_p(ctypes_lib.rc_tn_dog_new(b"Rex"))
    h = Refcount.DeletableNativeHandle(pointer, ctypes_lib.rc_tn_release, type_id="dog")
    assert h.get_handle() is pointer
    assert h.ptr is pointer
    assert h.address == pointer.value
    assert ctypes_lib.rc_tn_get_ref_count(pointer) == 1
    h.release()
    assert ctypes_lib.rc_tn_is_alive(pointer) == 0


def test_ctypes_typed_pointer_handle_gives_the_pointee_address():
    value = ctypes.c_int(77)
    pointer = ctypes.pointer(value)
    h = Refcount.OwningNativeHandle(pointer, type_id="int")
    assert h.get_handle() is pointer
    assert h.address == ctypes.addressof(value)
    assert ctypes.c_int.from_address(h.address).value == 77
    h.release()
    assert h.disposed is True


@pytest.mark.parametrize("name", [None, CAPSULE_NAME], ids=["unnamed", "named"])
def test_capsule_handle_gives_the_capsule_pointer(name):
    dog = new_dog()
    capsule = make_capsule(address_of(dog), name)
    h = Refcount.DeletableNativeHandle(capsule, lib.rc_tn_release, type_id="dog")
    assert h.get_handle() is capsule
    assert h.address == address_of(dog)
    assert Refcount.unwrap_native_handle(h) == address_of(dog)
    h.release()
    assert lib.rc_tn_is_alive(dog) == 0


def test_none_handle_is_disposed_and_release_is_harmless():
    h = Refcount.OwningNativeHandle(None, type_id="nothing")
    assert h.get_handle() is None
    assert h.ptr is None
    assert h.address is None
    assert h.disposed is True
    assert h.is_invalid is True
    h.release()
    h.dispose()
    assert h.disposed is True


@pytest.mark.parametrize(
    "bad",
    ["a string", 1.5, object(), [1, 2], b"bytes"],
    ids=["str", "float", "object", "list", "bytes"],
)
@pytest.mark.parametrize("kind", ["deletable", "owning", "subclass"])
def test_unsupported_handle_kind_raises_type_error_naming_the_accepted_kinds(bad, kind):
    with pytest.raises(TypeError) as excinfo:
        if kind == "deletable":
            Refcount.DeletableNativeHandle(bad, lib.rc_tn_release, type_id="dog")
        elif kind == "owning":
            Refcount.OwningNativeHandle(bad)
        else:
            DogHandle(bad)
    message = str(excinfo.value).lower()
    for accepted in ("none", "int", "cffi", "ctypes", "capsule"):
        assert accepted in message, (accepted, str(excinfo.value))


def test_address_is_none_when_not_set_or_released():
    assert DogHandle(None).address is None
    assert Refcount.OwningNativeHandle(None).address is None
    dog, h = deletable_dog()
    assert h.address == address_of(dog)
    h.release()
    assert h.address is None


def test_cffi_buffer_is_kept_alive_by_the_handle():
    buffer = ffi.new("char[16]", b"kept alive")
    alive = weakref.ref(buffer)
    h = Refcount.OwningNativeHandle(buffer, type_id="buffer")
    address = h.address
    del buffer
    gc.collect()
    assert alive() is not None
    assert h.get_handle() is alive()
    assert ffi.string(ffi.cast("char *", address)) == b"kept alive"
    h.release()


def test_original_object_is_let_go_once_disposed():
    buffer = ffi.new("char[16]", b"let go")
    alive = weakref.ref(buffer)
    h = Refcount.OwningNativeHandle(buffer)
    del buffer
    h.dispose()
    gc.collect()
    assert alive() is None
    assert h.get_handle() is None


def test_ctypes_object_is_kept_alive_by_the_handle():
    value = ctypes.c_int(1234)
    pointer = ctypes.pointer(value)
    alive = weakref.ref(value)
    h = Refcount.OwningNativeHandle(pointer)
    del value, pointer
    gc.collect()
    assert alive() is not None
    assert ctypes.c_int.from_address(h.address).value == 1234
    h.release()


# ---------------------------------------------------------------------------
# Counting and release
# ---------------------------------------------------------------------------


def test_type_id_defaults_to_none():
    h = Refcount.DeletableNativeHandle(new_dog(), lib.rc_tn_release)
    assert h.type_id is None
    h.release()


def test_prior_ref_count_adds_references():
    dog, h = deletable_dog(prior_ref_count=2)
    assert h.reference_count == 3
    h.release()
    h.release()
    assert h.reference_count == 1
    assert lib.rc_tn_get_ref_count(dog) == 1
    assert h.disposed is False
    h.release()
    assert lib.rc_tn_is_alive(dog) == 0
    assert h.disposed is True


def test_add_ref_keeps_the_native_object_until_the_last_release():
    dog, h = deletable_dog()
    h.add_ref()
    h.add_ref()
    assert h.reference_count == 3
    h.release()
    h.release()
    assert h.reference_count == 1
    assert lib.rc_tn_is_alive(dog) == 1
    h.release()
    assert h.reference_count == 0
    assert lib.rc_tn_is_alive(dog) == 0


def test_decrement_ref_never_releases():
    dog, h = deletable_dog()
    h.decrement_ref()
    assert h.reference_count == 0
    assert h.disposed is False
    assert lib.rc_tn_get_ref_count(dog) == 1
    # A count at 0 is released by the next release, once.
    h.release()
    assert h.disposed is True
    assert lib.rc_tn_is_alive(dog) == 0


def test_everything_after_release_is_a_harmless_no_op(freed_log):
    dog, h = deletable_dog()
    address = address_of(dog)
    h.release()
    assert freed_log.count(address) == 1
    h.release()
    h.dispose()
    h.decrement_ref()
    h.add_ref()  # no resurrection
    assert h.reference_count == 0
    assert h.disposed is True
    assert h.is_invalid is True
    assert h.get_handle() is None
    assert h.ptr is None
    assert h.address is None
    assert freed_log.count(address) == 1
    assert lib.rc_tn_misuse_count() == 0


def test_dispose_is_a_synonym_of_release():
    dog, h = deletable_dog()
    h.add_ref()
    h.dispose()
    assert h.reference_count == 1
    assert lib.rc_tn_is_alive(dog) == 1
    h.dispose()
    assert h.disposed is True
    assert lib.rc_tn_is_alive(dog) == 0


def test_subclass_release_runs_once_on_last_release():
    dog = new_dog()
    h = DogHandle(dog, prior_ref_count=1)
    h.release()
    assert h.releases == []
    h.release()
    assert h.releases == [address_of(dog)]
    h.release()
    h.dispose()
    assert h.releases == [address_of(dog)]
    assert lib.rc_tn_is_alive(dog) == 0


def test_subclass_release_handle_returning_false_keeps_the_handle(capfd):
    class Reluctant(Refcount.NativeHandle):
        def __init__(self, handle):
            super().__init__(handle, type_id="reluctant")
            self.answers = [False, True]
            self.calls = 0

        def do_release_handle(self):
            self.calls += 1
            answer = self.answers.pop(0)
            if answer:
                release_by_address(self)
            return answer

    dog = new_dog()
    h = Reluctant(dog)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        h.release()
    out, err = capfd.readouterr()
    assert h.calls == 1
    assert h.disposed is False
    assert h.get_handle() is dog
    assert lib.rc_tn_is_alive(dog) == 1
    # The failure is logged (a GLib warning, or a Python warning).
    assert "reluctant" in err or any("reluctant" in str(w.message) for w in caught), (err, caught)
    # An explicit later dispose retries.
    h.dispose()
    assert h.calls == 2
    assert h.disposed is True
    assert lib.rc_tn_is_alive(dog) == 0


# ---------------------------------------------------------------------------
# acquire, borrow, with
# ---------------------------------------------------------------------------


def test_acquire_returns_the_handle_object_and_adds_a_reference():
    dog, h = deletable_dog()
    assert h.acquire() is dog
    assert h.reference_count == 2
    h.release()
    assert lib.rc_tn_is_alive(dog) == 1
    h.release()
    assert lib.rc_tn_is_alive(dog) == 0


def test_acquire_on_disposed_handle_raises_disposed():
    dog, h = deletable_dog()
    h.release()
    with pytest.raises(GLib.Error) as excinfo:
        h.acquire()
    assert_rc_error(excinfo, Refcount.Error.DISPOSED)
    assert h.reference_count == 0


def test_borrow_holds_a_reference_for_the_block():
    dog, h = deletable_dog()
    with h.borrow() as ptr:
        assert ptr is dog
        assert h.reference_count == 2
        # The owner lets go inside the block: the borrow keeps it alive.
        h.release()
        assert h.reference_count == 1
        assert lib.rc_tn_is_alive(dog) == 1
        assert ffi.string(lib.rc_tn_dog_get_name(ptr)) == b"Rex"
    assert h.disposed is True
    assert lib.rc_tn_is_alive(dog) == 0


def test_borrow_gives_back_its_reference_on_exception():
    dog, h = deletable_dog()
    with pytest.raises(ZeroDivisionError):
        with h.borrow():
            assert h.reference_count == 2
            1 / 0
    assert h.reference_count == 1
    assert lib.rc_tn_is_alive(dog) == 1
    h.release()
    assert lib.rc_tn_is_alive(dog) == 0


def test_borrow_of_disposed_handle_raises_disposed():
    dog, h = deletable_dog()
    h.release()
    entered = []
    with pytest.raises(GLib.Error) as excinfo:
        with h.borrow():
            entered.append(True)
    assert_rc_error(excinfo, Refcount.Error.DISPOSED)
    assert entered == []
    assert h.reference_count == 0


def test_with_statement_returns_the_handle_and_disposes_at_exit():
    dog, h = deletable_dog()
    with h as same:
        assert same is h
        assert lib.rc_tn_is_alive(dog) == 1
    assert h.disposed is True
    assert lib.rc_tn_is_alive(dog) == 0


def test_with_statement_gives_back_one_reference_only():
    dog, h = deletable_dog()
    h.add_ref()
    with h:
        pass
    assert h.reference_count == 1
    assert h.disposed is False
    assert lib.rc_tn_is_alive(dog) == 1
    h.release()
    assert lib.rc_tn_is_alive(dog) == 0


def test_with_statement_disposes_on_exception_and_propagates_it():
    dog, h = deletable_dog()
    with pytest.raises(KeyError):
        with h:
            raise KeyError("inside")
    assert h.disposed is True
    assert lib.rc_tn_is_alive(dog) == 0


# ---------------------------------------------------------------------------
# str, repr, counters, set_handle
# ---------------------------------------------------------------------------


def test_str_and_repr_contain_the_type_id():
    dog = new_dog()
    h = Refcount.DeletableNativeHandle(dog, lib.rc_tn_release, type_id="DOG_PTR")
    assert "DOG_PTR" in str(h)
    assert "DOG_PTR" in repr(h)
    h.release()
    assert "DOG_PTR" in str(h)


def test_str_without_type_id_is_a_description():
    h = Refcount.OwningNativeHandle(0x1234)
    assert isinstance(str(h), str) and str(h)
    assert isinstance(repr(h), str) and repr(h)
    h.release()


def test_live_and_unreleased_counters():
    gc.collect()
    live = Refcount.NativeHandle.get_live_count()
    unreleased = Refcount.NativeHandle.get_unreleased_count()
    dog, h = deletable_dog()
    assert Refcount.NativeHandle.get_live_count() == live + 1
    assert Refcount.NativeHandle.get_unreleased_count() == unreleased + 1
    h.release()
    assert Refcount.NativeHandle.get_unreleased_count() == unreleased
    assert Refcount.NativeHandle.get_live_count() == live + 1
    del h
    gc.collect()
    assert Refcount.NativeHandle.get_live_count() == live


def test_set_handle_on_a_handle_built_without_one():
    h = DogHandle(None)
    assert h.disposed is True
    assert h.get_handle() is None
    assert h.address is None
    dog = new_dog()
    h.set_handle(dog)
    assert h.disposed is False
    assert h.get_handle() is dog
    assert h.address == address_of(dog)
    assert h.reference_count == 1
    h.release()
    assert h.releases == [address_of(dog)]
    assert lib.rc_tn_is_alive(dog) == 0


def test_set_handle_with_prior_ref_count():
    h = DogHandle(None)
    dog = new_dog()
    h.set_handle(dog, prior_ref_count=2)
    assert h.reference_count == 3
    h.release()
    h.release()
    assert lib.rc_tn_is_alive(dog) == 1
    h.release()
    assert lib.rc_tn_is_alive(dog) == 0


def test_set_handle_twice_raises_already_set():
    dog = new_dog()
    h = DogHandle(dog)
    other = new_dog(b"Other")
    with pytest.raises(GLib.Error) as excinfo:
        h.set_handle(other)
    assert_rc_error(excinfo, Refcount.Error.HANDLE_ALREADY_SET)
    assert h.get_handle() is dog
    lib.rc_tn_release(other)
    h.release()
    assert lib.rc_tn_is_alive(dog) == 0


def test_set_handle_after_release_raises_disposed():
    dog = new_dog()
    h = DogHandle(dog)
    h.release()
    other = new_dog(b"Other")
    with pytest.raises(GLib.Error) as excinfo:
        h.set_handle(other)
    assert_rc_error(excinfo, Refcount.Error.DISPOSED)
    lib.rc_tn_release(other)
    assert h.releases == [address_of(dog)]


def test_set_handle_errors_for_invalid_values():
    h = DogHandle(None)
    with pytest.raises(GLib.Error) as excinfo:
        h.set_handle(None)
    assert_rc_error(excinfo, Refcount.Error.INVALID_HANDLE)
    dog = new_dog()
    with pytest.raises(GLib.Error) as excinfo:
        h.set_handle(dog, prior_ref_count=-1)
    assert_rc_error(excinfo, Refcount.Error.INVALID_ARGUMENT)
    with pytest.raises(TypeError):
        h.set_handle("not a pointer")
    assert h.disposed is True
    lib.rc_tn_release(dog)


def test_c_helpers_accept_gi_handles():
    dog, h = deletable_dog()
    assert Refcount.is_native_handle(h, "dog") is True
    assert Refcount.is_native_handle(h, "cat") is False
    assert Refcount.is_native_handle(h, None) is True
    assert Refcount.unwrap_native_handle(h) == address_of(dog)
    h.release()


# ---------------------------------------------------------------------------
# ReferenceCounter
# ---------------------------------------------------------------------------


def test_reference_counter_counts():
    counter = Refcount.ReferenceCounter()
    assert counter.reference_count == 1
    counter.add_ref()
    counter.add_ref()
    assert counter.reference_count == 3
    counter.decrement_ref()
    assert counter.reference_count == 2


@pytest.mark.parametrize("prior", [0, 1, 5])
def test_reference_counter_prior_ref_count(prior):
    assert Refcount.ReferenceCounter(prior).reference_count == prior + 1
    assert Refcount.ReferenceCounter(prior_ref_count=prior).reference_count == prior + 1


# ---------------------------------------------------------------------------
# DeletableNativeHandle: kinds of release function
# ---------------------------------------------------------------------------


def python_calls_during_raw_release(handle):
    """Python functions entered while the C rc_native_handle_release() runs."""
    calls = []

    def tracer(frame, event, arg):
        if event == "call":
            calls.append("%s:%s" % (frame.f_code.co_filename, frame.f_code.co_name))
        return None

    raw_release = RawRefcount.NativeHandle.release
    gc.collect()
    gc.disable()
    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        raw_release(handle)
    finally:
        sys.settrace(previous)
        gc.enable()
    return calls


def native_release_kinds(ctypes_lib):
    return {
        "cffi function": lib.rc_tn_release,
        "ctypes function": ctypes_lib.rc_tn_release,
        "cffi address": address_of(ffi.cast("void *", lib.rc_tn_release)),
        "ctypes address": ctypes.cast(ctypes_lib.rc_tn_release, ctypes.c_void_p).value,
    }


@pytest.mark.parametrize("kind", ["cffi function", "ctypes function", "cffi address", "ctypes address"])
def test_native_release_functions_release_natively(kind, ctypes_lib, freed_log):
    release = native_release_kinds(ctypes_lib)[kind]
    dog = new_dog()
    h = Refcount.DeletableNativeHandle(dog, release, type_id="dog")
    assert lib.rc_tn_is_alive(dog) == 1
    h.release()
    assert lib.rc_tn_is_alive(dog) == 0
    assert freed_log.count(address_of(dog)) == 1
    assert h.disposed is True


@pytest.mark.traces
@pytest.mark.parametrize("kind", ["cffi function", "ctypes function", "cffi address", "ctypes address"])
def test_native_release_functions_never_enter_python(kind, ctypes_lib):
    release = native_release_kinds(ctypes_lib)[kind]
    dog = new_dog()
    h = Refcount.DeletableNativeHandle(dog, release, type_id="dog")
    calls = python_calls_during_raw_release(h)
    assert lib.rc_tn_is_alive(dog) == 0
    assert calls == []


def test_handle_made_by_gobject_new_gets_its_release_function_later(freed_log):
    # As bindings build objects: g_object_new(), then the release function.
    raw = get_introspection_module("Refcount").DeletableNativeHandle
    dog = new_dog()
    h = GObject.new(Refcount.DeletableNativeHandle, type_id="dog")
    assert raw.set_release_native(h, address_of(lib.rc_tn_release)) is True
    h.set_handle(dog)
    assert h.reference_count == 1
    h.release()
    assert lib.rc_tn_is_alive(dog) == 0
    assert freed_log.count(address_of(dog)) == 1
    assert h.disposed is True


def test_handle_made_by_gobject_new_without_release_function_is_reported():
    dog = new_dog()
    h = GObject.new(Refcount.DeletableNativeHandle, type_id="dog")
    h.set_handle(dog)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        h.release()  # a critical from C, not a crash
    assert h.disposed is True
    assert lib.rc_tn_is_alive(dog) == 1
    lib.rc_tn_release(dog)


@pytest.mark.traces
def test_python_release_callable_enters_python_as_the_tracer_sees():
    # Shows that the tracer of the previous test does see a Python release.
    calls = []

    def python_release(obj):
        calls.append(obj)
        lib.rc_tn_release(obj)

    dog = new_dog()
    h = Refcount.DeletableNativeHandle(dog, python_release, type_id="dog")
    traced = python_calls_during_raw_release(h)
    assert calls == [dog]
    assert any(t.endswith(":python_release") for t in traced), traced
    assert lib.rc_tn_is_alive(dog) == 0


def test_python_release_callable_is_called_once_with_the_handle_object():
    calls = []

    def python_release(obj):
        calls.append(obj)
        lib.rc_tn_release(obj)

    dog = new_dog()
    h = Refcount.DeletableNativeHandle(dog, python_release, type_id="dog")
    h.add_ref()
    h.release()
    assert calls == []
    h.release()
    assert len(calls) == 1 and calls[0] is dog
    h.release()
    h.dispose()
    del h
    gc.collect()
    assert len(calls) == 1
    assert lib.rc_tn_is_alive(dog) == 0


def test_python_release_callable_gets_an_int_handle_as_given():
    calls = []
    dog = new_dog()
    address = address_of(dog)

    def python_release(obj):
        calls.append(obj)
        lib.rc_tn_release(ffi.cast("void *", obj))

    h = Refcount.DeletableNativeHandle(address, python_release)
    h.release()
    assert len(calls) == 1 and calls[0] is address
    assert lib.rc_tn_is_alive(dog) == 0


@pytest.mark.parametrize("bad", ["rc_tn_release", 1.5, object(), None], ids=["str", "float", "object", "None"])
def test_non_callable_release_raises_type_error(bad):
    dog = new_dog()
    with pytest.raises(TypeError):
        Refcount.DeletableNativeHandle(dog, bad, type_id="dog")
    gc.collect()
    # A rejected handle must not release what it was given.
    assert lib.rc_tn_get_ref_count(dog) == 1
    lib.rc_tn_release(dog)


def _raising_release(calls):
    def release(obj):
        calls.append(obj)
        lib.rc_tn_release(obj)
        raise RuntimeError("release failed: boom")

    return release


def test_raising_python_release_is_reported_and_never_called_again(capfd):
    calls = []
    dog = new_dog()
    h = Refcount.DeletableNativeHandle(dog, _raising_release(calls), type_id="dog")
    reports = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            try:
                h.release()
            except RuntimeError as error:
                reports.append(str(error))
        try:
            h.dispose()
        except RuntimeError as error:
            reports.append(str(error))
    out, err = capfd.readouterr()
    reports += [str(w.message) for w in caught]
    assert any("boom" in r for r in reports) or "boom" in err, (reports, err)
    assert len(calls) == 1 and calls[0] is dog
    assert lib.rc_tn_is_alive(dog) == 0
    assert lib.rc_tn_misuse_count() == 0
    assert h.reference_count == 0
    del h
    gc.collect()
    assert len(calls) == 1
    assert lib.rc_tn_misuse_count() == 0


def test_raising_python_release_on_garbage_collection_is_reported(capfd):
    calls = []
    dog = new_dog()
    h = Refcount.DeletableNativeHandle(dog, _raising_release(calls), type_id="dog")
    unraisable = []
    previous_hook = sys.unraisablehook
    sys.unraisablehook = lambda info: unraisable.append(str(info.exc_value))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            del h
            gc.collect()
    finally:
        sys.unraisablehook = previous_hook
    out, err = capfd.readouterr()
    reports = unraisable + [str(w.message) for w in caught]
    assert any("boom" in r for r in reports) or "boom" in err, (reports, err)
    assert len(calls) == 1
    assert lib.rc_tn_is_alive(dog) == 0
    assert lib.rc_tn_misuse_count() == 0


# ---------------------------------------------------------------------------
# OwningNativeHandle
# ---------------------------------------------------------------------------


def test_owning_handle_release_leaves_the_memory_alone():
    dog = new_dog()
    h = Refcount.OwningNativeHandle(dog, type_id="dog")
    assert h.get_handle() is dog
    h.release()
    assert h.disposed is True
    assert h.reference_count == 0
    assert lib.rc_tn_get_ref_count(dog) == 1
    del h
    gc.collect()
    assert lib.rc_tn_get_ref_count(dog) == 1
    lib.rc_tn_release(dog)


def test_owning_handle_prior_ref_count():
    h = Refcount.OwningNativeHandle(ffi.new("int *", 3), type_id="int", prior_ref_count=1)
    assert h.reference_count == 2
    assert h.type_id == "int"
    h.release()
    assert h.disposed is False
    h.release()
    assert h.disposed is True


# ---------------------------------------------------------------------------
# WrapperFactory
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("strict", [False, True])
def test_factory_constructors(strict):
    assert Refcount.WrapperFactory(strict=strict).get_strict() is strict
    assert Refcount.WrapperFactory.new(strict).get_strict() is strict
    assert Refcount.WrapperFactory().get_strict() is False


def test_factory_lenient_unknown_id_with_release_is_deletable(freed_log):
    factory = Refcount.WrapperFactory(strict=False)
    dog = new_dog()
    w = factory.create_wrapper(dog, "unknown_dog", lib.rc_tn_release)
    assert isinstance(w, Refcount.DeletableNativeHandle)
    assert w.type_id == "unknown_dog"
    assert w.address == address_of(dog)
    assert w.reference_count == 1
    w.release()
    assert freed_log.count(address_of(dog)) == 1


def test_factory_lenient_unknown_id_without_release_releases_nothing():
    factory = Refcount.WrapperFactory(strict=False)
    dog = new_dog()
    w = factory.create_wrapper(dog, "unknown_dog")
    assert isinstance(w, Refcount.NativeHandle)
    assert w.address == address_of(dog)
    w.release()
    del w
    gc.collect()
    assert lib.rc_tn_get_ref_count(dog) == 1
    lib.rc_tn_release(dog)


def test_factory_strict_unknown_id_raises():
    factory = Refcount.WrapperFactory(strict=True)
    dog = new_dog()
    with pytest.raises(GLib.Error) as excinfo:
        factory.create_wrapper(dog, "unknown_dog", lib.rc_tn_release)
    assert_rc_error(excinfo, Refcount.Error.UNKNOWN_TYPE_ID)
    assert lib.rc_tn_get_ref_count(dog) == 1
    lib.rc_tn_release(dog)


def test_factory_known_id_without_wrapper():
    dog = new_dog()
    strict = Refcount.WrapperFactory(strict=True)
    strict.register("dog", None)
    with pytest.raises(GLib.Error) as excinfo:
        strict.create_wrapper(dog, "dog", lib.rc_tn_release)
    assert_rc_error(excinfo, Refcount.Error.NOT_IMPLEMENTED)
    lenient = Refcount.WrapperFactory(strict=False)
    lenient.register("dog", None)
    w = lenient.create_wrapper(dog, "dog", lib.rc_tn_release)
    assert isinstance(w, Refcount.DeletableNativeHandle)
    w.release()
    assert lib.rc_tn_is_alive(dog) == 0


def test_factory_none_type_id_raises_invalid_argument():
    factory = Refcount.WrapperFactory(strict=False)
    dog = new_dog()
    with pytest.raises(GLib.Error) as excinfo:
        factory.create_wrapper(dog, None, lib.rc_tn_release)
    assert_rc_error(excinfo, Refcount.Error.INVALID_ARGUMENT)
    lib.rc_tn_release(dog)


@pytest.mark.parametrize("wrong", [GObject.Object, Refcount.WrapperFactory, Refcount.NativeHandle],
                         ids=["GObject", "WrapperFactory", "abstract NativeHandle"])
def test_factory_registered_type_that_is_not_a_handle_raises_wrong_type(wrong):
    factory = Refcount.WrapperFactory(strict=True)
    factory.register("dog", wrong)
    dog = new_dog()
    with pytest.raises(GLib.Error) as excinfo:
        factory.create_wrapper(dog, "dog", lib.rc_tn_release)
    assert_rc_error(excinfo, Refcount.Error.WRONG_TYPE)
    lib.rc_tn_release(dog)


@pytest.mark.parametrize("as_gtype", [False, True], ids=["class", "gtype"])
def test_factory_registered_gi_class_or_gtype(as_gtype):
    factory = Refcount.WrapperFactory(strict=True)
    cls = Refcount.DeletableNativeHandle
    factory.register("dog", cls.__gtype__ if as_gtype else cls)
    dog = new_dog()
    w = factory.create_wrapper(dog, "dog", lib.rc_tn_release)
    assert isinstance(w, Refcount.DeletableNativeHandle)
    assert w.type_id == "dog"
    with pytest.raises(GLib.Error) as excinfo:
        factory.create_wrapper(dog, "dog")
    assert_rc_error(excinfo, Refcount.Error.INVALID_ARGUMENT)
    w.release()
    assert lib.rc_tn_is_alive(dog) == 0


def test_factory_registered_python_subclass():
    factory = Refcount.WrapperFactory(strict=True)
    factory.register("dog", DogHandle)
    dog = new_dog()
    w = factory.create_wrapper(dog, "dog")
    assert type(w) is DogHandle
    assert w.type_id == "dog"
    assert w.address == address_of(dog)
    assert w.reference_count == 1
    assert w.releases == []
    w.release()
    assert w.releases == [address_of(dog)]
    assert lib.rc_tn_is_alive(dog) == 0


def test_factory_error_codes_are_distinct():
    codes = {
        int(Refcount.Error.UNKNOWN_TYPE_ID),
        int(Refcount.Error.NOT_IMPLEMENTED),
        int(Refcount.Error.WRONG_TYPE),
        int(Refcount.Error.INVALID_ARGUMENT),
    }
    assert len(codes) == 4


# ---------------------------------------------------------------------------
# Construction: NativeHandle.__init__ takes the common arguments in C
# (_refcount_fast.handle_init) and leaves the others to the Python __init__
# ---------------------------------------------------------------------------


# Arguments of each kind; those with prior references take the Python path.
CONSTRUCTIONS = [
    ("cffi pointer", lambda dog: dog, {}),
    ("int address", lambda dog: address_of(dog), {}),
    ("cffi pointer, keywords", lambda dog: dog, {"type_id": "dog", "prior_ref_count": 0}),
    ("cffi pointer, prior 2 (Python)", lambda dog: dog, {"prior_ref_count": 2}),
    ("c_void_p", lambda dog: ctypes.c_void_p(address_of(dog)), {}),
    ("c_void_p, prior 1 (Python)", lambda dog: ctypes.c_void_p(address_of(dog)), {"prior_ref_count": 1}),
]


@pytest.mark.parametrize("make, kwargs", [c[1:] for c in CONSTRUCTIONS], ids=[c[0] for c in CONSTRUCTIONS])
def test_both_construction_paths_make_the_same_handle(make, kwargs):
    dog = new_dog()
    handle_object = make(dog)
    h = DogHandle(handle_object, **kwargs)
    prior = kwargs.get("prior_ref_count", 0)
    assert h.get_handle() is handle_object
    assert h.address == address_of(dog)
    assert h.type_id == "dog"
    assert h.reference_count == prior + 1
    assert RawRefcount.NativeHandle.get_handle(h) == address_of(dog)
    for _ in range(prior):
        h.release()
    assert lib.rc_tn_is_alive(dog) == 1
    h.release()
    assert h.releases == [address_of(dog)]
    assert lib.rc_tn_is_alive(dog) == 0
    assert h.get_handle() is None


def test_constructed_without_a_handle_on_both_paths():
    for kwargs in ({}, {"prior_ref_count": 1}):
        h = DogHandle(None, **kwargs)
        assert h.get_handle() is None and h.disposed is True and h.type_id == "dog"
        dog = new_dog()
        h.set_handle(dog)
        assert h.get_handle() is dog
        h.release()
        assert lib.rc_tn_is_alive(dog) == 0


def _outcome(function, obj):
    try:
        return function(obj)
    except (TypeError, ValueError) as exc:
        return type(exc), str(exc)


def test_the_c_address_readers_answer_as_the_python_ones(ctypes_lib):
    """The overrides' C readers (rc-py-address.h), which read ints and the
    cffi types they have learned from the Python readers' answers, give
    those answers, values and errors, for every kind: the first time and
    once the cffi types are learned."""
    import gi.overrides.Refcount as overrides

    fast = overrides._fast
    local = cffi.FFI()
    local.cdef("struct rc_reader_probe { int x; }; typedef void (*rc_reader_fn) (void *);")
    probe = local.new("struct rc_reader_probe *")
    handles = [
        None, 0, 1234, -1, 2 ** 64, True, "x",
        probe, local.cast("struct rc_reader_probe *", 0), local.new("int[3]"),
        lib.rc_tn_release, local.cast("int", 5), probe[0],
        ctypes.c_void_p(4321), ctypes.c_void_p(None), make_capsule(5678, CAPSULE_NAME),
    ]
    releases = [
        lib.rc_tn_release, local.cast("rc_reader_fn", 0), local.cast("rc_reader_fn", lib.rc_tn_release),
        1234, 0, -1, True, "x", probe, ctypes_lib.rc_tn_release, print,
    ]
    for _ in range(2):
        for obj in handles:
            assert _outcome(fast.address_of, obj) == _outcome(overrides.address_of, obj), obj
        for obj in releases:
            assert _outcome(fast.release_address_of, obj) == _outcome(overrides.release_address_of, obj), obj
    assert fast.address_of(probe) == int(local.cast("uintptr_t", probe)) != 0
    assert fast.release_address_of(print) is None


@pytest.mark.parametrize("bad", [-1, -(2 ** 63), 2 ** 64], ids=["-1", "-2**63", "2**64"])
@pytest.mark.parametrize("kind", ["deletable", "owning", "subclass", "subclass, prior 1"])
def test_negative_or_too_large_int_address_raises_value_error(bad, kind):
    with pytest.raises(ValueError, match="out of range for a pointer"):
        if kind == "deletable":
            Refcount.DeletableNativeHandle(bad, lib.rc_tn_release, type_id="dog")
        elif kind == "owning":
            Refcount.OwningNativeHandle(bad)
        elif kind == "subclass":
            DogHandle(bad)
        else:
            DogHandle(bad, prior_ref_count=1)


@pytest.mark.parametrize("prior", [0, 1])
def test_a_handle_the_class_refuses_is_an_error_on_both_paths(prior):
    class Picky(Refcount.NativeHandle):
        def do_is_valid_handle(self, pointer):
            return False

        def do_release_handle(self):
            return True

    dog = new_dog()
    with pytest.raises(GLib.Error) as excinfo:
        Picky(dog, prior_ref_count=prior)
    assert_rc_error(excinfo, Refcount.Error.INVALID_HANDLE)
    assert lib.rc_tn_is_alive(dog) == 1
    lib.rc_tn_release(dog)


@pytest.mark.parametrize("prior", [0, 1])
def test_a_python_is_valid_handle_gets_the_address(prior):
    """A Python do_is_valid_handle is given the pointer as its int address
    (a gpointer would reach Python as None), on both construction paths and
    for set_handle(), and its answer decides."""
    seen = []

    class OnlyFido(Refcount.NativeHandle):
        accepted = None

        def do_is_valid_handle(self, pointer):
            seen.append(pointer)
            return pointer == OnlyFido.accepted

        def do_release_handle(self):
            release_by_address(self)
            return True

    fido, rex = new_dog(b"Fido"), new_dog(b"Rex")
    OnlyFido.accepted = address_of(fido)
    with pytest.raises(GLib.Error) as excinfo:
        OnlyFido(rex, prior_ref_count=prior)
    assert_rc_error(excinfo, Refcount.Error.INVALID_HANDLE)
    assert seen == [address_of(rex)]

    h = OnlyFido(fido, prior_ref_count=prior)
    assert seen[1:] == [address_of(fido)]
    assert h.address == address_of(fido)
    for _ in range(prior + 1):
        h.release()
    assert lib.rc_tn_is_alive(fido) == 0
    assert lib.rc_tn_is_alive(rex) == 1

    later = OnlyFido()
    with pytest.raises(GLib.Error):
        later.set_handle(rex)
    assert seen[2:] == [address_of(rex)]
    lib.rc_tn_release(rex)


def test_gobject_properties_go_to_the_python_init():
    class Named(Refcount.NativeHandle):
        name = GObject.Property(type=str, default="")

        def do_release_handle(self):
            release_by_address(self)
            return True

    dog = new_dog()
    # Keywords the C __init__ does not take (a GObject property, the same
    # argument twice, an unknown one) go to the Python one, which decides.
    h = Named(dog, prior_ref_count=0, name="Rex")
    assert h.name == "Rex"
    assert h.get_handle() is dog and h.reference_count == 1
    with pytest.raises(TypeError):
        Named(dog, handle=dog)
    with pytest.raises(TypeError):
        Named(dog, no_such_property=1)
    h.release()
    assert lib.rc_tn_is_alive(dog) == 0


def test_init_signature_is_the_python_one():
    import inspect

    class Inherits(Refcount.NativeHandle):
        def do_release_handle(self):
            return True

    def names(cls):
        return list(inspect.signature(cls).parameters)

    expected = ["handle", "type_id", "prior_ref_count", "properties"]
    assert names(Refcount.NativeHandle) == expected
    assert names(Inherits) == expected
    # A subclass with its own __init__ has its own signature.
    assert names(DogHandle) == ["handle", "type_id", "prior_ref_count"]
    assert names(Refcount.OwningNativeHandle) == ["handle", "type_id", "prior_ref_count"]
    assert names(Refcount.DeletableNativeHandle) == ["handle", "release", "type_id", "prior_ref_count"]


def test_python_release_code_runs_the_most_derived_method():
    # Subclasses of a Python-released class, made by the C __init__ after
    # it: those that define their own do_release_handle run theirs, the
    # others the inherited one; every one on its own object, attributes
    # and all.
    calls = []

    class Base(Refcount.NativeHandle):
        def do_release_handle(self):
            calls.append(("base", self.label))
            release_by_address(self)
            return True

    class Own(Base):
        def do_release_handle(self):
            calls.append(("own", self.label))
            release_by_address(self)
            return True

    class Inherits(Base):
        pass

    dogs = []
    for cls, label in ((Base, "b"), (Own, "o"), (Inherits, "i"), (Base, "b2")):
        dog = new_dog()
        dogs.append(dog)
        h = cls(dog)
        h.label = label
        del h
    gc.collect()
    assert calls == [("base", "b"), ("own", "o"), ("base", "i"), ("base", "b2")]
    assert [lib.rc_tn_is_alive(dog) for dog in dogs] == [0, 0, 0, 0]


def test_python_release_code_runs_for_a_handle_made_by_gobject_new():
    # The release is the class's, however the object was made: by the C
    # __init__ or by GObject.new() (PyGObject's own construction).
    calls = []

    class Traced(Refcount.NativeHandle):
        def do_release_handle(self):
            calls.append(self.get_handle())
            release_by_address(self)
            return True

    first, second = new_dog(), new_dog()
    Traced(first).release()  # made by the C __init__
    h = GObject.new(Traced)
    h.set_handle(second)
    h.release()
    assert calls == [first, second]
    assert lib.rc_tn_is_alive(first) == 0 and lib.rc_tn_is_alive(second) == 0
