"""refcount.interop.CffiWrapperFactory, as in pyrefcount 1.2.x: the wrapper
class is built according to how many parameters its constructor takes."""

import gc

import pytest

from refcount.interop import (
    CffiNativeHandle,
    CffiWrapperFactory,
    DeletableCffiNativeHandle,
    OwningCffiNativeHandle,
)

from rcnative import ffi, lib, new_dog


class NoArgs(CffiNativeHandle):
    def __init__(self):
        super().__init__(None)


class OneArg(DeletableCffiNativeHandle):
    def __init__(self, handle):
        super().__init__(handle, lib.rc_tn_release, type_id="one-arg")


class TwoArgs(DeletableCffiNativeHandle):
    def __init__(self, handle, release_native):
        super().__init__(handle, release_native, type_id="two-args")


class ThreeArgs(DeletableCffiNativeHandle):
    def __init__(self, handle, release_native, type_id):
        super().__init__(handle, release_native, type_id)


class FourArgs(DeletableCffiNativeHandle):
    def __init__(self, handle, release_native, type_id, prior_ref_count: int = 0):
        super().__init__(handle, release_native, type_id, prior_ref_count)


class FourArgsNotInt(DeletableCffiNativeHandle):
    def __init__(self, handle, release_native, type_id, prior_ref_count=0):
        super().__init__(handle, release_native, type_id, prior_ref_count)


class FourArgsNoDefault(DeletableCffiNativeHandle):
    def __init__(self, handle, release_native, type_id, prior_ref_count: int):
        super().__init__(handle, release_native, type_id, prior_ref_count)


class FiveArgs(DeletableCffiNativeHandle):
    def __init__(self, handle, release_native, type_id, prior_ref_count: int = 0, extra=None):
        super().__init__(handle, release_native, type_id, prior_ref_count)


API_TYPES = {
    "NO_ARGS": NoArgs,
    "ONE_ARG": OneArg,
    "TWO_ARGS": TwoArgs,
    "THREE_ARGS": ThreeArgs,
    "FOUR_ARGS": FourArgs,
    "FOUR_ARGS_NOT_INT": FourArgsNotInt,
    "FOUR_ARGS_NO_DEFAULT": FourArgsNoDefault,
    "FIVE_ARGS": FiveArgs,
    "DELETABLE": DeletableCffiNativeHandle,
    "KNOWN_NOT_WRAPPED": None,
}


@pytest.fixture
def dog():
    """A native dog; released here if the test did not hand it over."""
    dog = new_dog()
    yield dog
    gc.collect()
    if lib.rc_tn_is_alive(dog):
        lib.rc_tn_release(dog)


def factories():
    return CffiWrapperFactory(API_TYPES, strict_wrapping=True), CffiWrapperFactory(API_TYPES, False)


def test_strict_wrapping_defaults_to_false(dog):
    factory = CffiWrapperFactory(API_TYPES)
    h = factory.create_wrapper(dog, "UNKNOWN", lib.rc_tn_release)
    assert isinstance(h, DeletableCffiNativeHandle)
    h.release()
    assert lib.rc_tn_is_alive(dog) == 0


@pytest.mark.parametrize("strict", [True, False])
def test_none_type_id_raises_value_error(strict, dog):
    factory = CffiWrapperFactory(API_TYPES, strict)
    with pytest.raises(ValueError):
        factory.create_wrapper(dog, None, lib.rc_tn_release)
    assert lib.rc_tn_get_ref_count(dog) == 1


def test_unknown_type_id_strict_raises_value_error(dog):
    strict, _ = factories()
    with pytest.raises(ValueError):
        strict.create_wrapper(dog, "UNKNOWN", lib.rc_tn_release)
    assert lib.rc_tn_get_ref_count(dog) == 1


def test_unknown_type_id_lenient_wraps_generically(dog):
    _, lenient = factories()
    h = lenient.create_wrapper(dog, "UNKNOWN", lib.rc_tn_release)
    assert type(h) is DeletableCffiNativeHandle
    assert h.type_id == "UNKNOWN"
    assert h.get_handle() is dog
    h.release()
    assert lib.rc_tn_is_alive(dog) == 0


def test_unknown_type_id_lenient_returns_non_cdata_as_is():
    _, lenient = factories()
    value = object()
    assert lenient.create_wrapper(value, "UNKNOWN", lib.rc_tn_release) is value


def test_known_id_without_wrapper_strict_raises_not_implemented(dog):
    strict, _ = factories()
    with pytest.raises(NotImplementedError):
        strict.create_wrapper(dog, "KNOWN_NOT_WRAPPED", lib.rc_tn_release)
    assert lib.rc_tn_get_ref_count(dog) == 1


def test_known_id_without_wrapper_lenient_wraps_generically(dog):
    _, lenient = factories()
    h = lenient.create_wrapper(dog, "KNOWN_NOT_WRAPPED", lib.rc_tn_release)
    assert type(h) is DeletableCffiNativeHandle
    assert h.type_id == "KNOWN_NOT_WRAPPED"
    h.release()
    assert lib.rc_tn_is_alive(dog) == 0


@pytest.mark.parametrize("strict", [True, False])
def test_constructor_without_arguments_raises_type_error(strict, dog):
    factory = CffiWrapperFactory(API_TYPES, strict)
    with pytest.raises(TypeError) as excinfo:
        factory.create_wrapper(dog, "NO_ARGS", lib.rc_tn_release)
    assert str(excinfo.value) == "Wrapper class 'NoArgs' has no constructor arguments; at least one is required"


@pytest.mark.parametrize("release_native", [None, "lib"])
def test_one_argument_constructor_gets_the_object_only(release_native, dog):
    strict, _ = factories()
    h = strict.create_wrapper(dog, "ONE_ARG", lib.rc_tn_release if release_native else None)
    assert type(h) is OneArg
    assert h.get_handle() is dog
    assert h.type_id == "one-arg"
    h.release()
    assert lib.rc_tn_is_alive(dog) == 0


def test_two_argument_constructor_gets_the_release_function(dog):
    calls = []

    def release_native(obj):
        calls.append(obj)
        lib.rc_tn_release(obj)

    strict, _ = factories()
    h = strict.create_wrapper(dog, "TWO_ARGS", release_native)
    assert type(h) is TwoArgs
    assert h.type_id == "two-args"
    h.release()
    assert len(calls) == 1 and calls[0] is dog
    assert lib.rc_tn_is_alive(dog) == 0


def test_two_argument_constructor_needs_a_release_function(dog):
    strict, _ = factories()
    with pytest.raises(ValueError) as excinfo:
        strict.create_wrapper(dog, "TWO_ARGS", None)
    assert str(excinfo.value) == (
        "Wrapper class 'TwoArgs' has two constructor arguments; the argument 'release_native' cannot be None"
    )


def test_three_argument_constructor_gets_the_type_id(dog):
    strict, _ = factories()
    h = strict.create_wrapper(dog, "THREE_ARGS", lib.rc_tn_release)
    assert type(h) is ThreeArgs
    assert h.type_id == "THREE_ARGS"
    assert h.get_handle() is dog
    h.release()
    assert lib.rc_tn_is_alive(dog) == 0


def test_three_argument_constructor_needs_a_release_function(dog):
    strict, _ = factories()
    with pytest.raises(ValueError):
        strict.create_wrapper(dog, "THREE_ARGS", None)
    assert lib.rc_tn_get_ref_count(dog) == 1


@pytest.mark.parametrize("type_id, cls", [("FOUR_ARGS", FourArgs), ("DELETABLE", DeletableCffiNativeHandle)])
def test_four_argument_constructor_with_int_default(type_id, cls, dog):
    strict, _ = factories()
    h = strict.create_wrapper(dog, type_id, lib.rc_tn_release)
    assert type(h) is cls
    assert h.type_id == type_id
    assert h.reference_count == 1
    h.release()
    assert lib.rc_tn_is_alive(dog) == 0


def test_four_argument_constructor_needs_an_int_annotation(dog):
    strict, _ = factories()
    with pytest.raises(TypeError):
        strict.create_wrapper(dog, "FOUR_ARGS_NOT_INT", lib.rc_tn_release)
    assert lib.rc_tn_get_ref_count(dog) == 1


def test_four_argument_constructor_needs_a_default(dog):
    strict, _ = factories()
    with pytest.raises(ValueError):
        strict.create_wrapper(dog, "FOUR_ARGS_NO_DEFAULT", lib.rc_tn_release)
    assert lib.rc_tn_get_ref_count(dog) == 1


def test_five_argument_constructor_is_not_implemented(dog):
    strict, _ = factories()
    with pytest.raises(NotImplementedError):
        strict.create_wrapper(dog, "FIVE_ARGS", lib.rc_tn_release)
    assert lib.rc_tn_get_ref_count(dog) == 1


def test_wrappers_made_by_the_factory_are_released_by_garbage_collection(dog):
    strict, _ = factories()
    h = strict.create_wrapper(dog, "THREE_ARGS", lib.rc_tn_release)
    del h
    gc.collect()
    assert lib.rc_tn_is_alive(dog) == 0


def test_owning_wrapper_class_counts_as_three_arguments():
    factory = CffiWrapperFactory({"BUFFER": OwningCffiNativeHandle})
    # OwningCffiNativeHandle(handle, type_id=None, prior_ref_count=0) has
    # three parameters: pyrefcount builds it as cls(obj, release_native,
    # type_id), so release_native may not be None.
    buffer = ffi.new("int *", 9)
    with pytest.raises(ValueError):
        factory.create_wrapper(buffer, "BUFFER", None)
