"""Handles to native pointers obtained through cffi (pyrefcount's interop).

The three handle classes are types of the native core (`refcount/_core.c`):

- `CffiNativeHandle(handle, type_id=None, prior_ref_count=0)`: subclasses
  release in `_release_handle`, which runs exactly once, with `self` intact;
- `DeletableCffiNativeHandle(handle, release_native, type_id=None,
  prior_ref_count=0)`: with a cffi or ctypes function (or an address) as
  `release_native`, the handle is released by the C library without entering
  Python, and the library of that function stays loaded until then;
- `OwningCffiNativeHandle(handle, type_id=None, prior_ref_count=0)`: memory
  owned by its cffi object (such as `ffi.new`), which the handle keeps.

Any cffi `CData` is a valid handle, as in pyrefcount (`ffi.NULL`, a struct
value reached through a pointer...).
"""

import inspect
from typing import Any, Callable, Dict, Optional

from cffi import FFI

from refcount.base import _cffi_init, _deletable_init  # (and configures the native core)
from refcount._core import CffiNativeHandle, DeletableCffiNativeHandle, OwningCffiNativeHandle
import gi.overrides.Refcount as _overrides  # loaded by refcount.base

__all__ = [
    "CffiData",
    "CffiNativeHandle",
    "DeletableCffiNativeHandle",
    "OwningCffiNativeHandle",
    "GenericWrapper",
    "wrap_cffi_native_handle",
    "is_cffi_native_handle",
    "unwrap_cffi_native_handle",
    "wrap_as_pointer_handle",
    "cffi_arg_error_external_obj_type",
    "type_error_cffi",
    "CffiWrapperFactory",
    "WrapperCreationFunction",
]

CffiData = Any
"""A cffi CData object (a type alias, for annotations)."""


# The signatures of pyrefcount's __init__s (with their annotations, which
# CffiWrapperFactory reads), for the classes and the subclasses that keep
# the C __init__.
CffiNativeHandle.__signature__ = _overrides._InitSignature(CffiNativeHandle, _cffi_init)
OwningCffiNativeHandle.__signature__ = _overrides._InitSignature(OwningCffiNativeHandle, _cffi_init)
DeletableCffiNativeHandle.__signature__ = _overrides._InitSignature(DeletableCffiNativeHandle, _deletable_init)


class GenericWrapper:
    """A pass-through wrapper for objects already fit for C (e.g. bytes)."""

    def __init__(self, handle: Any):
        self._handle = handle

    @property
    def ptr(self) -> Any:
        return self._handle


def wrap_cffi_native_handle(obj: Any, type_id: str = "", release_native: Optional[Callable] = None) -> Any:
    """A cffi pointer wrapped in a DeletableCffiNativeHandle; anything else as is."""
    if not isinstance(obj, FFI.CData):
        return obj
    return DeletableCffiNativeHandle(obj, release_native=release_native, type_id=type_id)


def is_cffi_native_handle(x: Any, type_id: str = "") -> bool:
    """Whether x is a CffiNativeHandle, with type id type_id when given."""
    if x is None or not isinstance(x, CffiNativeHandle):
        return False
    if type_id is None or type_id == "":
        return True
    return x.type_id == type_id


def unwrap_cffi_native_handle(obj_wrapper: Any, stringent: bool = False) -> Any:
    """The cffi pointer of a handle; a pointer or anything else as is."""
    if obj_wrapper is None:
        return None
    if isinstance(obj_wrapper, CffiNativeHandle):
        return obj_wrapper.get_handle()
    if isinstance(obj_wrapper, FFI.CData):
        return obj_wrapper
    if stringent:
        raise TypeError("Argument is neither a CffiNativeHandle nor a CFFI external pointer")
    return obj_wrapper


def wrap_as_pointer_handle(obj_wrapper: Any, stringent: bool = False) -> Any:
    """An object with a `.ptr` to pass to C, for each pointer argument."""
    if obj_wrapper is None:
        return GenericWrapper(None)
    if isinstance(obj_wrapper, CffiNativeHandle):
        return obj_wrapper
    if isinstance(obj_wrapper, FFI.CData):
        return OwningCffiNativeHandle(obj_wrapper)
    if isinstance(obj_wrapper, bytes):
        return GenericWrapper(obj_wrapper)
    if stringent:
        raise TypeError("Argument is neither a CffiNativeHandle nor a CFFI external pointer, nor bytes")
    return obj_wrapper


def cffi_arg_error_external_obj_type(x: Any, expected_type_id: str) -> str:
    """The message for an argument that is not the expected handle."""
    if x is None:
        return "Expected a 'CffiNativeHandle' but instead got 'None'"
    if not is_cffi_native_handle(x):
        return "Expected a 'CffiNativeHandle' but instead got object of type '" + str(type(x)) + "'"
    return (
        "Expected a 'CffiNativeHandle' with underlying type id '" + str(expected_type_id)
        + "' but instead got one with type id '" + str(x.type_id) + "'"
    )


def type_error_cffi(x: Any, expected_type: str) -> str:
    """Deprecated: use cffi_arg_error_external_obj_type."""
    return cffi_arg_error_external_obj_type(x, expected_type)


WrapperCreationFunction = Callable[[Any, str, Callable], DeletableCffiNativeHandle]


class CffiWrapperFactory:
    """Builds the wrapper registered for a type id, from a cffi pointer."""

    def __init__(self, api_type_wrapper: Dict[str, Any], strict_wrapping: bool = False):
        self._strict_wrapping = strict_wrapping
        self._api_type_wrapper = api_type_wrapper

    def create_wrapper(self, obj: Any, type_id: str, release_native: Optional[Callable]) -> Any:
        if type_id is None:
            raise ValueError("Type ID provided cannot be None")
        if type_id not in self._api_type_wrapper:
            if self._strict_wrapping:
                raise ValueError(f"Type ID {type_id} is unknown")
            return wrap_cffi_native_handle(obj, type_id, release_native)
        wrapper_type = self._api_type_wrapper[type_id]
        if wrapper_type is None:
            if self._strict_wrapping:
                raise NotImplementedError(
                    f"Python object wrapper for foreign type ID {type_id} is not yet implemented"
                )
            return wrap_cffi_native_handle(obj, type_id, release_native)
        return self._build(wrapper_type, obj, type_id, release_native)

    @staticmethod
    def _build(wrapper_type: Any, obj: Any, type_id: str, release_native: Optional[Callable]) -> Any:
        name = wrapper_type.__name__
        parameters = list(inspect.signature(wrapper_type).parameters.values())
        n = len(parameters)
        if n == 0:
            raise TypeError(f"Wrapper class '{name}' has no constructor arguments; at least one is required")
        if n == 1:
            return wrapper_type(obj)
        if n == 2:
            if release_native is None:
                raise ValueError(
                    f"Wrapper class '{name}' has two constructor arguments; "
                    "the argument 'release_native' cannot be None"
                )
            return wrapper_type(obj, release_native)
        if n == 3:
            if release_native is None:
                raise ValueError(
                    f"Wrapper class '{name}' has three constructor arguments; "
                    "the argument 'release_native' cannot be None"
                )
            return wrapper_type(obj, release_native, type_id)
        if n == 4:
            fourth = parameters[3]
            if fourth.annotation is not int:
                raise TypeError(
                    f"Wrapper class '{name}' has four constructor arguments; "
                    "the last argument 'prior_ref_count' must be annotated as an int"
                )
            if fourth.default is inspect.Parameter.empty:
                raise ValueError(
                    f"Wrapper class '{name}' has four constructor arguments; "
                    "the last argument 'prior_ref_count' must have a default value"
                )
            if release_native is None:
                raise ValueError(
                    f"Wrapper class '{name}' has four constructor arguments; "
                    "the argument 'release_native' cannot be None"
                )
            return wrapper_type(obj, release_native, type_id)
        raise NotImplementedError(
            f"Wrapper class '{name}' has more than 4 arguments; this is not supported"
        )
