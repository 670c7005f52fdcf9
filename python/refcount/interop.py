"""Handles to native pointers obtained through cffi (pyrefcount's interop)."""

import ctypes
import inspect
import os
from typing import Any, Callable, Dict, Optional

import _ctypes
from cffi import FFI

from refcount._gi import Refcount
from refcount.base import NativeHandle

import gi.overrides.Refcount as _overrides  # noqa: E402 - loaded by refcount._gi

# The C accelerator of the overrides, or None (RC_PYTHON_NO_FAST=1).
_fast = _overrides._fast

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


class CffiNativeHandle(NativeHandle):
    """A reference-counted handle to a pointer obtained through cffi.

    Subclasses override `_release_handle`: it runs exactly once, when the
    count reaches zero or when the object is garbage collected.
    """

    def __init__(self, handle: CffiData, type_id: Optional[str] = None, prior_ref_count: int = 0):
        super().__init__(handle, prior_ref_count, type_id=type_id)

    _rc_attach_kind = 2  # computed below, once the class exists

    @classmethod
    def _rc_compute_attach_kind(cls) -> int:
        kind = super()._rc_compute_attach_kind()
        if kind == 1 and all(getattr(cls, name) is getattr(CffiNativeHandle, name)
                             for name in ("_is_valid_handle", "_set_handle", "set_handle")):
            return 0  # the C __init__ checks and sets as these do
        return kind

    def _is_valid_handle(self, handle: Any) -> bool:
        return isinstance(handle, FFI.CData)

    @property
    def ptr(self) -> CffiData:
        """The cffi pointer given to this handle (None once released)."""
        return self.get_handle()

    @property
    def obj(self) -> Any:
        """The pointed-to object, `ptr[0]`."""
        return self.ptr[0]

    def __str__(self) -> str:
        type_id = self.type_id
        if type_id:
            return f'CFFI pointer handle to a native pointer of type id "{type_id}"'
        return "CFFI pointer handle to a native pointer " + str(self.get_handle())

    __repr__ = __str__


def _init_kind(cls) -> int:
    """How DeletableCffiNativeHandle builds handles of class cls.

    0: the C __init__ (a plain RcDeletableNativeHandle, released natively by
    a cffi function, without entering Python), falling back to 1 for
    arguments it does not take; 1: the Python __init__, an
    RcDeletableNativeHandle released by the native function, or for a
    Python callable (or None) an RcPythonNativeHandle released by
    `_release_handle`; 2: for subclasses that change the release (or without
    the C accelerator), CffiNativeHandle's way (see
    NativeHandle._rc_attach_kind in refcount.base).

    Apart from `_release_handle`, the tests are CffiNativeHandle's: the
    accelerator, do_release_handle, then the checks.
    """
    if getattr(cls, "_release_handle") is not DeletableCffiNativeHandle._release_handle:
        return 2
    return cls._rc_compute_attach_kind()


class _InitSignature:
    """`__signature__` of a class whose __init__ is a C one: that of the
    Python __init__ it stands for (CffiWrapperFactory reads it). Subclasses
    with their own __init__ get theirs as usual."""

    def __init__(self, python_init, c_init):
        signature = inspect.signature(python_init)
        self._signature = signature.replace(parameters=list(signature.parameters.values())[1:])
        self._c_init = c_init

    def __get__(self, instance, owner):
        if instance is None and owner.__init__ is self._c_init:
            return self._signature
        return None  # inspect then looks at __init__ as usual


def _install_c_init(cls, install):
    python_init = cls.__init__
    install(cls)
    cls.__signature__ = _InitSignature(python_init, cls.__dict__["__init__"])


CffiNativeHandle._rc_attach_kind = CffiNativeHandle._rc_compute_attach_kind()
if _fast is not None:
    _fast.configure_cffi_handle(CffiNativeHandle.__init__)
    _install_c_init(CffiNativeHandle, _fast.install_cffi_handle)


class _DlInfo(ctypes.Structure):
    _fields_ = [
        ("dli_fname", ctypes.c_char_p),
        ("dli_fbase", ctypes.c_void_p),
        ("dli_sname", ctypes.c_char_p),
        ("dli_saddr", ctypes.c_void_p),
    ]


_dladdr = ctypes.CDLL(None).dladdr
_dladdr.argtypes = [ctypes.c_void_p, ctypes.POINTER(_DlInfo)]
_dladdr.restype = ctypes.c_int


class _NativeRelease:
    """A native release function (a cffi or ctypes function, an address)
    for the handles released from Python (without the C accelerator, and
    for classes that release through `_release_handle`): called through its
    address, as the native path does, with the library that contains it kept
    loaded until the call, so that a library closed meanwhile (cffi closes an
    `ffi.dlopen()` library when its object is collected) is not called into
    unmapped. The native path pins in C (see RcDeletableNativeHandle); this
    one holds a dlopen() reference of its own, per handle."""

    _signature = ctypes.CFUNCTYPE(None, ctypes.c_void_p)

    def __init__(self, address: int):
        self._call = self._signature(address)
        self._library = None
        info = _DlInfo()
        if _dladdr(address, ctypes.byref(info)) and info.dli_fname:
            try:  # one more reference to the object, if it can be named
                self._library = ctypes.CDLL(info.dli_fname.decode(), mode=os.RTLD_NOLOAD | os.RTLD_LAZY)
            except OSError:
                pass  # the main program: never unloaded

    @classmethod
    def of(cls, release_native: Any) -> "Optional[_NativeRelease]":
        """None for a Python callable (or anything not native)."""
        try:
            address = _overrides.release_address_of(release_native)
        except (TypeError, ValueError):
            return None  # pyrefcount's own error comes at the call
        return None if address is None else cls(address)

    def __call__(self, handle: Any) -> None:
        self._call(_overrides.address_of(handle))
        self._unpin()  # the library may go now

    def _unpin(self) -> None:
        library, self._library = self._library, None
        if library is not None:
            _ctypes.dlclose(library._handle)

    __del__ = _unpin  # never called: it has nothing to keep loaded


class DeletableCffiNativeHandle(CffiNativeHandle):
    """A handle released by calling `release_native(handle)`.

    With a cffi function as `release_native` (such as `lib.release` of an
    `ffi.dlopen` library), the handle is a plain `Refcount.DeletableNativeHandle`
    in C: built and released without entering Python.
    """

    _rc_init_kind = 0 if _fast is not None else 2

    def __init_subclass__(cls, **kwargs):
        if "_rc_init_kind" not in cls.__dict__:
            cls._rc_init_kind = _init_kind(cls)
        super().__init_subclass__(**kwargs)

    @classmethod
    def _rc_released_by_python(cls) -> bool:
        return cls._rc_init_kind == 2

    def __init__(
        self,
        handle: CffiData,
        release_native: Optional[Callable[[CffiData], None]],
        type_id: Optional[str] = None,
        prior_ref_count: int = 0,
    ):
        if type(self)._rc_init_kind == 2:
            self._release_native = release_native
            native = _NativeRelease.of(release_native)
            if native is not None:
                self._rc_native_release = native
            super().__init__(handle, type_id=type_id, prior_ref_count=prior_ref_count)
            return
        _overrides._check_arguments(prior_ref_count, type_id)
        release_address = None if release_native is None else _overrides.release_address_of(release_native)
        prior = prior_ref_count if handle is None else 0
        if release_address is not None:
            # An RcDeletableNativeHandle released by the native function.
            _fast.attach(self, release_address, type_id, prior)
        else:
            # A Python callable (or None): an RcPythonNativeHandle, whose
            # release is _release_handle below, on this very object. The
            # attribute also tells release() that Python code releases.
            self._release_native = release_native
            _fast.attach_python(self, type_id, prior)
        if handle is not None:
            self._set_handle(handle, prior_ref_count)

    def _release_handle(self) -> bool:
        # The release of handles released by a Python callable (or None),
        # and of subclasses that call it from their own.
        native = self.__dict__.get("_rc_native_release")
        if native is not None:
            native(self.get_handle())
            return True
        release_native = self.__dict__.get("_release_native")
        if release_native is not None:
            release_native(self.get_handle())
        # Without a release function there is nothing to release; this is
        # reached only when the object itself goes away (see release()).
        return True

    # With the C accelerator every DeletableCffiNativeHandle has the C
    # __del__ (set below), which releases with self intact.
    _release_handle._rc_no_del = _fast is not None

    def release(self) -> None:
        if "_release_native" in self.__dict__ and self.__dict__["_release_native"] is None:
            # pyrefcount: nothing is released and the handle is not cleared.
            if not self.disposed:
                self.decrement_ref()
            return
        _overrides._python_release(self)

    def dispose(self) -> None:
        self.release()


if _fast is not None:
    # Releases Python-released handles with self intact, and keeps alive the
    # wrappers whose handle object is in a plain instance dict while C code
    # holds their GObject.
    DeletableCffiNativeHandle.__del__ = _fast.release_on_del
    _fast.configure_cffi(DeletableCffiNativeHandle.__init__, DeletableCffiNativeHandle.release)
    _install_c_init(DeletableCffiNativeHandle, _fast.install_cffi)


class OwningCffiNativeHandle(CffiNativeHandle):
    """A handle to cffi-owned memory (such as `ffi.new`): releasing does
    nothing to the memory, which the cffi object frees when it dies."""

    def __init__(self, handle: CffiData, type_id: Optional[str] = None, prior_ref_count: int = 0):
        super().__init__(handle, type_id=type_id, prior_ref_count=prior_ref_count)

    def _release_handle(self) -> bool:
        return True

    _release_handle._rc_no_del = True  # it reads nothing of self


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
