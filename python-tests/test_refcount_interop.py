"""refcount.interop, as in pyrefcount 1.2.x (see PYREFCOUNT_API.md): the
CFFI handle classes and the helper functions, with their exact messages.
CffiWrapperFactory is in test_refcount_factory.py."""

import datetime
import gc

import cffi
import threading
import typing
import warnings

import gi

gi.require_version("Refcount", "1.0")
from gi.repository import Refcount  # noqa: E402

import pytest  # noqa: E402

import refcount.interop as interop  # noqa: E402
from refcount.base import NativeHandle  # noqa: E402
from refcount.interop import (  # noqa: E402
    CffiData,
    CffiNativeHandle,
    DeletableCffiNativeHandle,
    GenericWrapper,
    OwningCffiNativeHandle,
    WrapperCreationFunction,
    cffi_arg_error_external_obj_type,
    is_cffi_native_handle,
    type_error_cffi,
    unwrap_cffi_native_handle,
    wrap_as_pointer_handle,
    wrap_cffi_native_handle,
)

from rcnative import address_of, ffi, lib, new_dog, timeout  # noqa: E402

INVALID_HANDLE_MESSAGE = "The specified handle argument is not a valid handle"


class DogCffiHandle(CffiNativeHandle):
    """pyrefcount style: releases through the native library."""

    def __init__(self, pointer, type_id="dog", prior_ref_count=0):
        super().__init__(pointer, type_id=type_id, prior_ref_count=prior_ref_count)
        self.released = []

    def _release_handle(self) -> bool:
        self.released.append(self.get_handle())
        lib.rc_tn_release(self.get_handle())
        return True


def deletable_dog(type_id="dog"):
    dog = new_dog()
    return dog, DeletableCffiNativeHandle(dog, lib.rc_tn_release, type_id=type_id)


# ---------------------------------------------------------------------------
# Aliases
# ---------------------------------------------------------------------------


def test_cffi_data_is_any():
    assert CffiData == typing.Any


def test_wrapper_creation_function_alias():
    assert WrapperCreationFunction == typing.Callable[[typing.Any, str, typing.Callable], DeletableCffiNativeHandle]


def test_class_hierarchy():
    assert issubclass(CffiNativeHandle, NativeHandle)
    assert issubclass(DeletableCffiNativeHandle, CffiNativeHandle)
    assert issubclass(OwningCffiNativeHandle, CffiNativeHandle)
    assert not issubclass(CffiNativeHandle, Refcount.NativeHandle)


# ---------------------------------------------------------------------------
# CffiNativeHandle
# ---------------------------------------------------------------------------


def test_get_handle_and_ptr_are_the_cdata_given():
    buffer = ffi.new("char[10]")
    h = OwningCffiNativeHandle(buffer)
    assert h.get_handle() is buffer
    assert h.ptr is buffer
    assert str(h.ptr) == "<cdata 'char[10]' owning 10 bytes>"


def test_obj_is_the_pointee():
    h = OwningCffiNativeHandle(ffi.new("int *", 42))
    assert h.obj == 42
    h.ptr[0] = 43
    assert h.obj == 43


@pytest.mark.parametrize("type_id", [None, "", "DOG_PTR"])
def test_type_id_as_given(type_id):
    dog, h = deletable_dog(type_id=type_id)
    assert h.type_id == type_id
    h.release()


def test_disposed_and_is_invalid():
    dog, h = deletable_dog()
    assert h.disposed is False
    assert h.is_invalid is False
    h.release()
    assert h.disposed is True
    assert h.is_invalid is True
    assert h.get_handle() is None
    assert h.ptr is None


def test_handle_not_set_is_disposed():
    class Deferred(CffiNativeHandle):
        def __init__(self):
            super().__init__(None, type_id="deferred")

        def _release_handle(self) -> bool:
            raise AssertionError("nothing to release")

    h = Deferred()
    assert h.disposed is True
    assert h.is_invalid is True
    assert h.get_handle() is None
    h.release()
    h.dispose()


def test_release_counts_down_then_releases_once():
    dog = new_dog()
    h = DogCffiHandle(dog, prior_ref_count=1)
    assert h.reference_count == 2
    h.add_ref()
    h.release()
    h.release()
    assert h.released == []
    assert lib.rc_tn_is_alive(dog) == 1
    h.release()
    assert len(h.released) == 1 and h.released[0] is dog
    assert h.reference_count == 0
    assert lib.rc_tn_is_alive(dog) == 0
    h.release()
    h.dispose()
    h.dispose()
    assert len(h.released) == 1


def test_dispose_is_release():
    dog = new_dog()
    h = DogCffiHandle(dog)
    h.add_ref()
    h.dispose()
    assert h.disposed is False
    assert lib.rc_tn_is_alive(dog) == 1
    h.dispose()
    assert h.disposed is True
    assert lib.rc_tn_is_alive(dog) == 0


def test_release_handle_is_abstract():
    buffer = ffi.new("char[4]")
    h = CffiNativeHandle(buffer, type_id="abstract")
    with pytest.raises(NotImplementedError):
        h._release_handle()
    with pytest.raises(NotImplementedError):
        h.release()
    assert h.disposed is False
    assert h.get_handle() is buffer
    # Let it go cleanly.
    h._release_handle = lambda: True
    h.dispose()
    assert h.disposed is True


def test_release_handle_returning_false_keeps_the_handle():
    class Failing(CffiNativeHandle):
        def __init__(self, pointer):
            super().__init__(pointer, type_id="failing")
            self.answer = False

        def _release_handle(self) -> bool:
            return self.answer

    buffer = ffi.new("char[4]")
    h = Failing(buffer)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        h.release()
    assert h.disposed is False
    assert h.get_handle() is buffer
    h.answer = True
    h.dispose()
    assert h.disposed is True
    assert h.get_handle() is None


def test_garbage_collection_releases_once():
    dog = new_dog()
    released = []

    class Tracked(DogCffiHandle):
        def _release_handle(self) -> bool:
            released.append(self.type_id)
            return super()._release_handle()

    h = Tracked(dog)
    del h
    gc.collect()
    assert released == ["dog"]
    assert lib.rc_tn_is_alive(dog) == 0


def test_garbage_collection_of_a_cycle_releases_once():
    dog = new_dog()
    h = DogCffiHandle(dog)
    released = h.released
    h.myself = h
    del h
    gc.collect()
    assert len(released) == 1 and released[0] is dog
    assert lib.rc_tn_is_alive(dog) == 0


def test_garbage_collection_after_release_does_not_release_again():
    dog = new_dog()
    h = DogCffiHandle(dog)
    released = h.released
    h.release()
    del h
    gc.collect()
    assert len(released) == 1
    assert lib.rc_tn_misuse_count() == 0


def test_str_with_type_id():
    dog, h = deletable_dog(type_id="DOG_PTR")
    expected = 'CFFI pointer handle to a native pointer of type id "DOG_PTR"'
    assert str(h) == expected
    assert repr(h) == expected
    h.release()


@pytest.mark.parametrize("type_id", [None, ""])
def test_str_without_type_id(type_id):
    dog, h = deletable_dog(type_id=type_id)
    expected = "CFFI pointer handle to a native pointer " + str(dog)
    assert str(h) == expected
    assert repr(h) == expected
    h.release()


def test_subclass_sets_its_handle_later():
    class Late(CffiNativeHandle):
        def __init__(self):
            super().__init__(None, type_id="late")
            self._set_handle(new_dog(b"Late"))

        def _release_handle(self) -> bool:
            lib.rc_tn_release(self.get_handle())
            return True

    h = Late()
    dog = h.get_handle()
    assert h.reference_count == 1
    assert ffi.string(lib.rc_tn_dog_get_name(dog)) == b"Late"
    assert h.type_id == "late"
    h.release()
    assert lib.rc_tn_is_alive(dog) == 0


@pytest.mark.parametrize("bad", [42, "x", datetime.datetime(2024, 1, 1)], ids=["int", "str", "datetime"])
def test_non_cdata_handle_raises_runtime_error(bad):
    with pytest.raises(RuntimeError) as excinfo:
        DogCffiHandle(bad)
    assert str(excinfo.value) == INVALID_HANDLE_MESSAGE


def test_cffi_handle_is_a_gi_handle_that_c_code_takes():
    dog, h = deletable_dog(type_id="dog")
    assert isinstance(h.as_gobject(), Refcount.NativeHandle)
    assert h.as_gobject() is h.as_gobject()
    assert Refcount.is_native_handle(h, "dog") is True
    assert Refcount.is_native_handle(h, "cat") is False
    assert Refcount.unwrap_native_handle(h) == address_of(dog)
    h.release()
    assert not Refcount.unwrap_native_handle(h)  # NULL


# ---------------------------------------------------------------------------
# DeletableCffiNativeHandle, OwningCffiNativeHandle, GenericWrapper
# ---------------------------------------------------------------------------


def test_deletable_calls_release_native_once_with_the_handle():
    calls = []

    def release_native(obj):
        calls.append(obj)
        lib.rc_tn_release(obj)

    dog = new_dog()
    h = DeletableCffiNativeHandle(dog, release_native, type_id="dog")
    h.add_ref()
    h.release()
    assert calls == []
    h.release()
    assert len(calls) == 1 and calls[0] is dog
    h.release()
    del h
    gc.collect()
    assert len(calls) == 1
    assert lib.rc_tn_is_alive(dog) == 0


def test_deletable_with_cffi_lib_function():
    dog, h = deletable_dog()
    h.release()
    assert lib.rc_tn_is_alive(dog) == 0
    assert h.disposed is True


def test_deletable_released_by_garbage_collection():
    dog, h = deletable_dog()
    del h
    gc.collect()
    assert lib.rc_tn_is_alive(dog) == 0


def test_deletable_without_release_native_releases_nothing_and_keeps_the_handle():
    dog = new_dog()
    h = DeletableCffiNativeHandle(dog, None, type_id="dog")
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        h.release()
    assert h.disposed is False
    assert h.get_handle() is dog
    assert lib.rc_tn_get_ref_count(dog) == 1
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        del h
        gc.collect()
    assert lib.rc_tn_get_ref_count(dog) == 1
    lib.rc_tn_release(dog)


def test_deletable_rejects_a_datetime():
    with pytest.raises(RuntimeError) as excinfo:
        DeletableCffiNativeHandle(datetime.datetime.now(), lib.rc_tn_release)
    assert str(excinfo.value) == INVALID_HANDLE_MESSAGE


def test_owning_release_does_nothing_and_disposes():
    dog = new_dog()
    h = OwningCffiNativeHandle(dog, type_id="dog", prior_ref_count=1)
    assert h.reference_count == 2
    h.release()
    assert h.disposed is False
    h.release()
    assert h.reference_count == 0
    assert h.disposed is True
    assert h.get_handle() is None
    assert lib.rc_tn_get_ref_count(dog) == 1
    lib.rc_tn_release(dog)


def test_owning_keeps_its_buffer_alive():
    buffer = ffi.new("char[8]", b"owned")
    h = OwningCffiNativeHandle(buffer)
    address = address_of(buffer)
    del buffer
    gc.collect()
    assert ffi.string(ffi.cast("char *", address)) == b"owned"
    assert ffi.string(h.ptr) == b"owned"


@pytest.mark.parametrize("value", [None, b"bytes", 42, "text"])
def test_generic_wrapper_passes_through(value):
    assert GenericWrapper(value).ptr is value


# ---------------------------------------------------------------------------
# Helper functions
# ---------------------------------------------------------------------------


def test_wrap_cffi_native_handle_wraps_cdata():
    dog = new_dog()
    h = wrap_cffi_native_handle(dog, type_id="dog", release_native=lib.rc_tn_release)
    assert isinstance(h, DeletableCffiNativeHandle)
    assert h.get_handle() is dog
    assert h.type_id == "dog"
    h.release()
    assert lib.rc_tn_is_alive(dog) == 0


def test_wrap_cffi_native_handle_defaults():
    buffer = ffi.new("int *")
    h = wrap_cffi_native_handle(buffer)
    assert isinstance(h, DeletableCffiNativeHandle)
    assert h.type_id == ""
    assert h.get_handle() is buffer
    # No release function: releasing does nothing (see the test above).
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        del h
        gc.collect()


@pytest.mark.parametrize("value", [None, 42, "text", b"bytes"])
def test_wrap_cffi_native_handle_returns_other_objects_as_is(value):
    assert wrap_cffi_native_handle(value, "dog", lib.rc_tn_release) is value


def test_is_cffi_native_handle():
    dog, h = deletable_dog(type_id="dog")
    assert is_cffi_native_handle(None) is False
    assert is_cffi_native_handle(42) is False
    assert is_cffi_native_handle(dog) is False
    assert is_cffi_native_handle(h) is True
    assert is_cffi_native_handle(h, "") is True
    assert is_cffi_native_handle(h, None) is True
    assert is_cffi_native_handle(h, "dog") is True
    assert is_cffi_native_handle(h, "cat") is False
    h.release()


def test_unwrap_cffi_native_handle():
    dog, h = deletable_dog()
    assert unwrap_cffi_native_handle(None) is None
    assert unwrap_cffi_native_handle(h) is dog
    assert unwrap_cffi_native_handle(dog) is dog
    other = object()
    assert unwrap_cffi_native_handle(other) is other
    assert unwrap_cffi_native_handle(42) == 42
    h.release()


def test_unwrap_cffi_native_handle_stringent():
    dog, h = deletable_dog()
    assert unwrap_cffi_native_handle(None, stringent=True) is None
    assert unwrap_cffi_native_handle(h, stringent=True) is dog
    assert unwrap_cffi_native_handle(dog, True) is dog
    with pytest.raises(TypeError) as excinfo:
        unwrap_cffi_native_handle(42, stringent=True)
    assert str(excinfo.value) == "Argument is neither a CffiNativeHandle nor a CFFI external pointer"
    h.release()


def test_wrap_as_pointer_handle():
    none_wrapper = wrap_as_pointer_handle(None)
    assert isinstance(none_wrapper, GenericWrapper)
    assert none_wrapper.ptr is None

    dog, h = deletable_dog()
    assert wrap_as_pointer_handle(h) is h

    buffer = ffi.new("int *", 5)
    owning = wrap_as_pointer_handle(buffer)
    assert isinstance(owning, OwningCffiNativeHandle)
    assert owning.ptr is buffer

    data = b"char star"
    bytes_wrapper = wrap_as_pointer_handle(data)
    assert isinstance(bytes_wrapper, GenericWrapper)
    assert bytes_wrapper.ptr is data

    other = object()
    assert wrap_as_pointer_handle(other) is other
    h.release()


def test_wrap_as_pointer_handle_stringent():
    assert isinstance(wrap_as_pointer_handle(None, stringent=True), GenericWrapper)
    assert isinstance(wrap_as_pointer_handle(b"x", stringent=True), GenericWrapper)
    with pytest.raises(TypeError) as excinfo:
        wrap_as_pointer_handle(42, stringent=True)
    assert str(excinfo.value) == "Argument is neither a CffiNativeHandle nor a CFFI external pointer, nor bytes"


def test_pointer_arguments_as_generated_bindings_pass_them():
    dog, h = deletable_dog()
    assert lib.rc_tn_get_ref_count(wrap_as_pointer_handle(h).ptr) == 1
    assert lib.rc_tn_get_ref_count(wrap_as_pointer_handle(dog).ptr) == 1
    h.release()


def test_cffi_arg_error_external_obj_type_messages():
    dog, h = deletable_dog(type_id="dog")
    assert cffi_arg_error_external_obj_type(None, "cat") == "Expected a 'CffiNativeHandle' but instead got 'None'"
    assert (
        cffi_arg_error_external_obj_type(1, "cat")
        == "Expected a 'CffiNativeHandle' but instead got object of type '<class 'int'>'"
    )
    assert (
        cffi_arg_error_external_obj_type(h, "cat")
        == "Expected a 'CffiNativeHandle' with underlying type id 'cat' but instead got one with type id 'dog'"
    )
    h.release()


def test_type_error_cffi_is_a_deprecated_alias():
    dog, h = deletable_dog(type_id="dog")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = [type_error_cffi(x, "cat") for x in (None, 1.5, h)]
    assert results == [cffi_arg_error_external_obj_type(x, "cat") for x in (None, 1.5, h)]
    assert results[1] == "Expected a 'CffiNativeHandle' but instead got object of type '<class 'float'>'"
    assert all(issubclass(w.category, DeprecationWarning) for w in caught), [str(w.message) for w in caught]
    h.release()


def test_module_exports_every_public_name():
    for name in (
        "CffiData", "CffiNativeHandle", "DeletableCffiNativeHandle", "OwningCffiNativeHandle",
        "GenericWrapper", "wrap_cffi_native_handle", "is_cffi_native_handle",
        "unwrap_cffi_native_handle", "wrap_as_pointer_handle", "cffi_arg_error_external_obj_type",
        "type_error_cffi", "CffiWrapperFactory", "WrapperCreationFunction",
    ):
        assert hasattr(interop, name), name


# ---------------------------------------------------------------------------
# Safer than pyrefcount: threads
# ---------------------------------------------------------------------------


def test_cffi_handle_shared_by_threads_is_released_once(fast_switching):
    n_threads = 8
    dog = new_dog(b"Shared")
    h = DogCffiHandle(dog)
    for _ in range(n_threads - 1):
        h.add_ref()
    start = threading.Barrier(n_threads, timeout=timeout(60))
    final = threading.Barrier(n_threads, timeout=timeout(60))
    errors = []

    def work():
        try:
            start.wait()
            for _ in range(300):
                h.add_ref()
                assert lib.rc_tn_get_ref_count(h.get_handle()) == 1
                h.release()
            final.wait()
            h.release()
        except BaseException as error:  # noqa: B902
            errors.append(repr(error))

    threads = [threading.Thread(target=work) for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert len(h.released) == 1 and h.released[0] is dog
    assert lib.rc_tn_is_alive(dog) == 0
    assert lib.rc_tn_misuse_count() == 0


# ---------------------------------------------------------------------------
# Any cffi CData is a handle, as in pyrefcount
# ---------------------------------------------------------------------------

_shapes = cffi.FFI()
_shapes.cdef("typedef struct { int x, y; } point; typedef struct { int id; point geometry; } shape;")


def test_a_struct_value_reached_through_a_pointer_is_a_handle():
    shape = _shapes.new("shape *", {"id": 7, "geometry": {"x": 3, "y": 4}})
    geometry = shape.geometry  # a struct value, inside the shape
    h = OwningCffiNativeHandle(geometry, type_id="POINT")
    assert h.get_handle() is geometry and h.ptr is geometry
    assert h.ptr.x == 3 and h.ptr.y == 4
    # C code sees the struct's address.
    address = int(_shapes.cast("uintptr_t", _shapes.addressof(shape[0], "geometry")))
    assert h.address == address
    assert h.as_gobject().address == address
    assert str(h) == 'CFFI pointer handle to a native pointer of type id "POINT"'
    h.release()
    assert h.disposed is True and h.get_handle() is None
    assert shape.geometry.x == 3  # owning: nothing was freed


def test_a_union_and_a_number_are_handles_too():
    u = _shapes.new("union { int i; float f; } *")[0]
    number = _shapes.cast("int", 42)
    released = []

    class Recorded(CffiNativeHandle):
        def _release_handle(self):
            released.append(self.get_handle())
            return True

    for value in (u, number):
        h = Recorded(value)
        assert h.get_handle() is value and h.disposed is False
        h.release()
    assert released[0] is u and released[1] is number
    # A number has no address: C sees a placeholder, Python says None.
    assert Recorded(number).address is None


def test_ffi_null_is_a_handle_released_as_in_pyrefcount():
    released = []

    class Recorded(CffiNativeHandle):
        def _release_handle(self):
            released.append(self.get_handle())
            return True

    h = Recorded(ffi.NULL, type_id="NULL_PTR")
    assert h.get_handle() is ffi.NULL
    assert h.disposed is False and h.is_invalid is False
    assert h.reference_count == 1
    assert h.address is None
    h.release()
    assert released == [ffi.NULL] and released[0] is ffi.NULL
    assert h.disposed is True and h.get_handle() is None
    # And through the garbage collector.
    h = Recorded(ffi.NULL)
    del h
    gc.collect()
    assert len(released) == 2 and released[1] is ffi.NULL


def test_ffi_null_with_a_native_release_calls_it_with_null():
    calls = []

    def release(pointer):
        calls.append(pointer)

    h = DeletableCffiNativeHandle(ffi.NULL, release, "NULL_PTR")
    assert h.disposed is False
    h.release()
    assert calls == [ffi.NULL]
    # A native function is called with NULL too (from Python: the C library
    # counts only handles with a pointer); the test library counts the call.
    misuse_before = lib.rc_tn_misuse_count()
    freed = DeletableCffiNativeHandle(ffi.NULL, lib.rc_tn_release, "NULL_PTR")
    freed.release()
    assert freed.disposed is True
    assert lib.rc_tn_misuse_count() == misuse_before + 1
    lib.rc_tn_reset_misuse_count()


def test_set_handle_again_takes_the_new_handle_and_forgets_the_first():
    released = []

    class Twice(CffiNativeHandle):
        def _release_handle(self):
            released.append(self.get_handle())
            lib.rc_tn_release(self.get_handle())
            return True

    first, second = new_dog(b"First"), new_dog(b"Second")
    h = Twice(first, type_id="dog", prior_ref_count=2)
    assert h.reference_count == 3
    h._set_handle(second)
    assert h.get_handle() is second and h.reference_count == 1
    h._set_handle(second, prior_ref_count=1)  # the same handle again
    assert h.reference_count == 2
    h.release()
    h.release()
    assert released == [second]
    assert lib.rc_tn_is_alive(second) == 0
    assert lib.rc_tn_is_alive(first) == 1  # forgotten, as pyrefcount does
    lib.rc_tn_release(first)
    assert lib.rc_tn_misuse_count() == 0


def test_set_handle_again_is_refused_once_c_holds_the_handle():
    dog, other = new_dog(), new_dog()
    h = DeletableCffiNativeHandle(dog, lib.rc_tn_release, "dog")
    gobject = h.as_gobject()
    with pytest.raises(RuntimeError, match="held by C code"):
        h._set_handle(other)
    assert h.get_handle() is dog and gobject.address == address_of(dog)
    del gobject
    h.release()
    assert lib.rc_tn_is_alive(dog) == 0
    lib.rc_tn_release(other)


def test_keyword_arguments_are_pyrefcounts():
    dog = new_dog()
    h = DeletableCffiNativeHandle(handle=dog, release_native=lib.rc_tn_release, type_id="dog", prior_ref_count=1)
    assert h.reference_count == 2 and h.type_id == "dog"
    h.release()
    h.release()
    assert lib.rc_tn_is_alive(dog) == 0
    with pytest.raises(TypeError, match=r"CffiNativeHandle.__init__\(\) got an unexpected keyword argument 'typeid'"):
        CffiNativeHandle(ffi.NULL, typeid="x")
    with pytest.raises(TypeError, match=r"__init__\(\) missing 1 required positional argument: 'handle'"):
        OwningCffiNativeHandle()


def test_set_handle_again_after_release_while_c_holds_the_first():
    import weakref

    dog, other = new_dog(), new_dog()
    h = DeletableCffiNativeHandle(dog, lib.rc_tn_release, "dog")
    first = h.as_gobject()  # C holds the first GObject: it keeps h alive
    h.release()
    assert lib.rc_tn_is_alive(dog) == 0
    h._set_handle(other)  # the first is released: a new one may be set
    assert first.disposed is True and h.get_handle() is other
    alive = weakref.ref(h)
    del h
    gc.collect()
    # The first GObject no longer keeps the handle: it died, and released.
    assert alive() is None
    assert lib.rc_tn_is_alive(other) == 0
    del first
    assert lib.rc_tn_misuse_count() == 0


def test_a_class_changed_after_its_first_handle_is_seen_as_changed():
    # The core reads what a class overrides once, and again when it changes.
    class Flip(DeletableCffiNativeHandle):
        pass

    dog = new_dog()
    h = Flip(dog, lib.rc_tn_release, "dog")
    assert h.as_gobject().__gtype__.name == "RcDeletableNativeHandle"
    h.release()
    released = []

    def _release_handle(self):
        released.append(self.get_handle())
        lib.rc_tn_release(self.get_handle())
        return True

    Flip._release_handle = _release_handle
    dog = new_dog()
    h = Flip(dog, lib.rc_tn_release, "dog")
    assert h.as_gobject().__gtype__.name == "PyReleasedHandle"
    h.release()
    assert released == [dog] and lib.rc_tn_is_alive(dog) == 0
    del Flip._release_handle
    dog = new_dog()
    h = Flip(dog, lib.rc_tn_release, "dog")
    assert h.as_gobject().__gtype__.name == "RcDeletableNativeHandle"
    h.release()
    assert released == [released[0]] and lib.rc_tn_is_alive(dog) == 0
