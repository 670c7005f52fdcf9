# Refcount.py: PyGObject overrides for the Refcount namespace
#
# SPDX-License-Identifier: MIT
"""Pythonic handles on top of the GI classes of refcount.

Handles take any of the pointer kinds Python code meets (an int address, a
cffi pointer, a ctypes pointer, a PyCapsule), keep that object alive as long
as they need it and give it back from get_handle(). Release functions may be
native (a cffi or ctypes function, or an address: the release never enters
Python) or any Python callable.

The lifecycle bridge: a Python subclass overriding do_release_handle must see
`self` intact when it runs. PyGObject 3.42 would call a vfunc reached from
GObject dispose, after the Python wrapper died, on a *new* wrapper with an
empty __dict__. So the wrapper's own reference is given back from the Python
side, in __del__, while the wrapper is still whole, and only when the GObject
is about to die with it (no other GObject reference is held).
"""

import atexit
import contextlib
import ctypes
import gc
import inspect
import sys
import threading

from gi.repository import GObject

from ..module import get_introspection_module
from ..overrides import override

Refcount = get_introspection_module("Refcount")

# The C side of the hot calls (see _refcount_fast.c), built and installed
# with these overrides.
from . import _refcount_fast as _fast

__all__ = []

try:
    import cffi as _cffi

    _ffi = _cffi.FFI()
    _CData = _ffi.CData
except ImportError:  # cffi is optional: without it no CData can come in.
    _ffi = None
    _CData = ()

_ACCEPTED_HANDLES = (
    "None, an int address, a cffi pointer, a ctypes pointer or c_void_p, or a PyCapsule"
)
_ACCEPTED_RELEASES = (
    "a cffi or ctypes function, an int address, or a Python callable"
)
_MAX_ADDRESS = 2 ** (8 * ctypes.sizeof(ctypes.c_void_p)) - 1

_capsule_get_name = ctypes.pythonapi.PyCapsule_GetName
_capsule_get_name.restype = ctypes.c_char_p
_capsule_get_name.argtypes = [ctypes.py_object]
_capsule_get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_capsule_get_pointer.restype = ctypes.c_void_p
_capsule_get_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
# The capsule type has no public name; datetime always exports one.
import datetime as _datetime  # noqa: E402

_CapsuleType = type(_datetime.datetime_CAPI)


def _check_arguments(prior_ref_count, type_id=None):
    """The checks every constructor makes of its counting arguments."""
    if not isinstance(prior_ref_count, int) or isinstance(prior_ref_count, bool):
        raise TypeError("prior_ref_count must be an int")
    if prior_ref_count < 0:
        raise ValueError("prior_ref_count must be >= 0")
    if type_id is not None and not isinstance(type_id, str):
        raise TypeError("type_id must be a str or None")


def _checked_address(value):
    if value < 0 or value > _MAX_ADDRESS:
        raise ValueError(f"address {value:#x} is out of range for a pointer")
    return value


def address_of(handle):
    """The integer address of a handle object (0 for None).

    Raises TypeError naming the accepted kinds for anything else.
    """
    if handle is None:
        return 0
    if isinstance(handle, bool):
        pass  # an int subclass, but never an address
    elif isinstance(handle, int):
        return _checked_address(handle)
    elif _ffi is not None and isinstance(handle, _CData):
        ctype = _ffi.typeof(handle)
        if ctype.kind in ("pointer", "array", "function"):
            return int(_ffi.cast("uintptr_t", handle))
    elif isinstance(handle, ctypes.c_void_p):
        return handle.value or 0
    elif isinstance(handle, (ctypes._Pointer, ctypes._CFuncPtr, ctypes.c_char_p)):
        return ctypes.cast(handle, ctypes.c_void_p).value or 0
    elif isinstance(handle, ctypes.Array):
        return ctypes.addressof(handle)
    elif isinstance(handle, _CapsuleType):
        return _capsule_get_pointer(handle, _capsule_get_name(handle)) or 0
    raise TypeError(
        f"A native handle must be {_ACCEPTED_HANDLES}; got '{type(handle).__name__}'"
    )


def release_address_of(release):
    """The address of a native release function, or None for a Python callable.

    Native: a cffi function pointer (from ffi.dlopen) or a cffi builtin
    function (from a compiled module), a ctypes function, an int address.
    """
    if isinstance(release, bool):
        pass
    elif isinstance(release, int):
        if release == 0:
            raise ValueError("the release function address is NULL")
        return _checked_address(release)
    elif _ffi is not None and isinstance(release, _CData):
        ctype = _ffi.typeof(release)
        if ctype.kind == "function":
            address = int(_ffi.cast("uintptr_t", release))
            if address == 0:
                raise ValueError("the release function pointer is NULL")
            return address
    elif isinstance(release, ctypes._CFuncPtr):
        return ctypes.cast(release, ctypes.c_void_p).value
    elif callable(release):
        return None
    raise TypeError(
        f"A release function must be {_ACCEPTED_RELEASES}; got '{type(release).__name__}'"
    )


def _address_info(handle):
    """address_of(handle), and whether it is a cffi function."""
    is_function = isinstance(handle, _CData) and _ffi.typeof(handle).kind == "function"
    return address_of(handle), is_function


# The same, in C (rc-py-address.h): ints and the cffi types it has learned,
# the functions above for the rest.
_fast.configure(_CData if _ffi is not None else None, _address_info, release_address_of)
_address = _fast.address_of
_release_address = _fast.release_address_of


# Exceptions raised by Python release code are kept per thread: the C core
# sees only "failed", and the Python call that led to it (release(),
# dispose(), ...) raises them again; a release that came from elsewhere (the
# garbage collector, C code) reports them through sys.unraisablehook.
_pending = threading.local()


def _stash_exception(exc, where):
    stack = getattr(_pending, "errors", None)
    if stack is not None:
        stack.append(exc)
    else:
        sys.unraisablehook(_UnraisableHookArgs((
            type(exc), exc, exc.__traceback__,
            "Exception ignored while releasing a native handle", where)))


def _unraisable_hook_args_type():
    """The type of the argument of sys.unraisablehook. CPython's own hook
    takes nothing else, and the type has no public name: it is read off an
    unraisable exception raised here on purpose, with a capturing hook."""
    captured = []
    hook = sys.unraisablehook
    sys.unraisablehook = captured.append
    try:
        class _Probe:
            def __del__(self):
                raise RuntimeError("probe")

        _Probe()
    finally:
        sys.unraisablehook = hook
    return type(captured[0])


_UnraisableHookArgs = _unraisable_hook_args_type()
# For release() of the classes whose release runs Python code.
_fast.configure_stash(_pending)


def _call_reraising(function, handle):
    """function(handle), then the first exception that Python release code
    raised meanwhile, raised again here."""
    outer = getattr(_pending, "errors", None)
    errors = _pending.errors = []
    try:
        result = function(handle)
    finally:
        _pending.errors = outer
    if errors:
        raise errors[0]
    return result


def _guard_release_handle(function):
    """Wraps a Python do_release_handle so that an exception becomes FALSE
    for the C core, and is raised again where the release was asked for."""

    def do_release_handle(self):
        try:
            return bool(function(self))
        except BaseException as exc:  # noqa: B902 - handed back to the caller
            _stash_exception(exc, function)
            return False

    do_release_handle.__wrapped__ = function
    do_release_handle.__name__ = function.__name__
    do_release_handle.__doc__ = function.__doc__
    return do_release_handle


_raw = Refcount.NativeHandle  # the GI classes, for unbound calls of C methods
_raw_counter = Refcount.ReferenceCounter


# The wrapper is dying. If the GObject dies with it (our reference is its
# last), the wrapper's own reference is given back now, while self is
# intact, rather than from GObject dispose on a fresh wrapper. If C still
# holds the GObject, its dispose will do it. (In C: see release_on_del.)
_release_on_del = _fast.release_on_del


def _release_needs_self(cls):
    """Whether the release of cls's handles runs Python code on self: a
    Python do_release_handle (a C release is the GI vfunc's)."""
    function = getattr(cls, "do_release_handle", None)
    return getattr(function, "__wrapped__", None) is not None


def _ensure_release_on_del(cls):
    """Gives cls the __del__ that releases while the wrapper is intact."""
    own_del = cls.__dict__.get("__del__")
    if own_del is None:
        inherited = getattr(cls, "__del__", None)
        if inherited is not _release_on_del and not hasattr(inherited, "_rc_chained"):
            cls.__del__ = _release_on_del
    elif own_del is not _release_on_del and not hasattr(own_del, "_rc_chained"):
        # A subclass's own __del__ runs first; the wrapper reference is
        # given back after it (giving it back twice is harmless).
        def __del__(self, _own=own_del):
            try:
                _own(self)
            finally:
                _release_on_del(self)

        __del__._rc_chained = True
        cls.__del__ = __del__


class ReferenceCounter(Refcount.ReferenceCounter):
    """A thread-safe reference counter."""

    def __init__(self, prior_ref_count=0, **kwargs):
        _check_arguments(prior_ref_count)
        # Construct properties cost per name through PyGObject: give only
        # those that differ from their defaults.
        if prior_ref_count:
            kwargs["prior_ref_count"] = prior_ref_count
        super().__init__(**kwargs)

    @property
    def reference_count(self):
        return _raw_counter.get_reference_count(self)


ReferenceCounter = override(ReferenceCounter)
__all__.append("ReferenceCounter")


# release() and dispose() of the classes whose release runs Python code:
# they raise the exceptions of that code again (see python_release).
_python_release = _fast.python_release

# Put on NativeHandle in C by install(): direct calls into librefcount, no
# GI marshalling. get_handle() and ptr give the object given as handle (None
# once released or never set), address the native address as an int (or
# None), release() gives back one reference (at zero the native resource is
# released) and lets go of that object once released, dispose() is
# release().
_FAST_HANDLE_CALLS = frozenset({
    "get_handle", "ptr", "address", "reference_count", "disposed", "is_invalid",
    "add_ref", "decrement_ref", "release", "dispose",
})


class NativeHandle(Refcount.NativeHandle, ReferenceCounter):
    """A reference-counted handle to a native pointer (abstract).

    Subclass it and override do_release_handle(self) -> bool to release the
    native resource; it runs exactly once, with this very object. A subclass
    may also override do_is_valid_handle(self, address) -> bool, which is
    given the pointer as an int.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        function = cls.__dict__.get("do_release_handle")
        if function is not None and not hasattr(function, "__wrapped__"):
            cls.do_release_handle = _guard_release_handle(function)
            # The C release cannot hand the release code's exceptions back.
            for name in ("release", "dispose"):
                if name not in cls.__dict__:
                    setattr(cls, name, _python_release)
        # Only Python release code needs self intact: handles released
        # natively, or by a callable that does not take self, are left to
        # GObject dispose, at no cost per object.
        if _release_needs_self(cls):
            _ensure_release_on_del(cls)

    def __init__(self, handle=None, type_id=None, prior_ref_count=0, **properties):
        _check_arguments(prior_ref_count, type_id)
        address = _address(handle)
        if type_id is not None:
            properties["type_id"] = type_id
        super().__init__(prior_ref_count, **properties)
        self._rc_handle = None
        if address:
            self._rc_set(handle, address, prior_ref_count)

    def _rc_set(self, handle, address, prior_ref_count):
        _raw.set_handle(self, address, prior_ref_count)
        # Kept alive as long as the handle: a cffi ffi.new() buffer is freed
        # when its Python object dies.
        self._rc_handle = handle
        holder = self.__dict__.get("_rc_release_holder")
        if holder is not None:
            holder[:] = [handle]

    def set_handle(self, handle, prior_ref_count=0):
        """Gives a handle created without a pointer its pointer (once)."""
        self._rc_set(handle, _address(handle), prior_ref_count)

    @property
    def type_id(self):
        return _raw.get_type_id(self)

    def drop_wrapper_reference(self):
        return _call_reraising(_raw.drop_wrapper_reference, self)

    def add_dependency(self, dependency):
        """Keeps `dependency` alive and unreleased until this handle is released.

        This handle holds one reference on `dependency` (and the object)
        and releases it right after its own release: the owner declares the
        dog it uses. A dependency of a Python subclass (its release is Python
        code) is kept as this very Python object, attributes and all, until
        then. Raises TypeError for anything but a handle, GLib.Error
        (Refcount.Error.CYCLE, Refcount.Error.DISPOSED) when refused.
        """
        dependency = _gobject_of(dependency)
        if not isinstance(dependency, _raw):
            raise TypeError(
                f"A dependency must be a Refcount.NativeHandle; got '{type(dependency).__name__}'"
            )
        kept = _keep_dependency(self, dependency)
        try:
            # Giving back the reference it held for the call may release this
            # handle, when another thread dropped the last one meanwhile.
            return _call_reraising(lambda handle: _raw.add_dependency(handle, dependency), self)
        except BaseException:
            if kept is not None:
                kept.remove(dependency)
            raise

    def get_dependencies(self):
        """The dependencies, in the order they were added (the refcount
        package's handles as themselves)."""
        core = sys.modules.get("refcount._core")
        dependencies = _raw.get_dependencies(self)
        return dependencies if core is None else [core.handle_of(d) for d in dependencies]

    def acquire(self):
        """Borrows the handle: +1 and the handle object, or GLib.Error if disposed."""
        _raw.acquire(self)
        return self.get_handle()

    @contextlib.contextmanager
    def borrow(self):
        """`with handle.borrow() as ptr:` holds a reference for the block."""
        ptr = self.acquire()
        try:
            yield ptr
        finally:
            self.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.dispose()
        return False

    def __str__(self):
        return _raw.to_string(self)

    __repr__ = __str__


# The Python objects of the dependencies a handle keeps (see
# _keep_dependency()), in its instance dict.
_KEPT_DEPENDENCIES = "_rc_kept_dependencies"
_kept_lock = threading.Lock()


def _keep_dependency(owner, dependency):
    """Makes `owner` hold the Python object of `dependency` until its release
    drops its dependencies; returns the list that holds it, or None.

    The C edge holds the GObject, not its Python object: PyGObject >= 3.55
    has no toggle references, and drops the wrapper of an object that C code
    holds as soon as Python does (it keeps the instance dict for the next
    wrapper), so a weak reference to the dependency would die and
    get_dependencies() would give another object. Only a dependency whose
    release is Python code on self needs to be this very object; others are
    left to PyGObject. The list is in the owner's instance dict, where the
    garbage collector sees it, and it goes with the owner's release (the
    notification of `disposed`, right before the dependencies are released)
    or, at the latest, with the owner's dict."""
    if not _release_needs_self(type(dependency)):
        return None
    with _kept_lock:
        kept = owner.__dict__.get(_KEPT_DEPENDENCIES)
        if kept is None:
            kept = []
            # An attribute set (not a dict item): PyGObject < 3.55 keeps the
            # wrapper of an object with attributes, and its dict, while C
            # holds the object.
            setattr(owner, _KEPT_DEPENDENCIES, kept)
            owner.connect("notify::disposed", _give_back_dependencies)
        kept.append(dependency)
    return kept


def _give_back_dependencies(owner, _pspec):
    """notify::disposed of a handle that keeps the Python objects of its
    dependencies: its release is about to release them and drop the C edges,
    so it lets go of them. (Under PyGObject >= 3.55, a dependency that
    nobody else holds then dies first, and its release runs on a new
    wrapper with the same attributes. When the owner's release comes from
    the dispose of its last reference, GObject holds the notification back,
    and the dependency dies with the owner's dict, after its edge: its
    release runs on it.)"""
    owner.__dict__.pop(_KEPT_DEPENDENCIES, None)


NativeHandle = override(NativeHandle)
__all__.append("NativeHandle")
_fast.install(NativeHandle, _FAST_HANDLE_CALLS)
# The common construction in C (handle_init: no prior references, no
# properties); the Python __init__ above for everything else.
_python_init = NativeHandle.__dict__["__init__"]
_fast.set_fallback("__init__", _python_init)
NativeHandle.__init__ = _fast.handle_init


class _InitSignature:
    """`__signature__` of a class whose __init__ is C: that of `example`, a
    Python function with the same parameters (self first), for the class
    and the subclasses that keep its __init__; None, so that inspect reads
    __init__ as usual, for a subclass with its own. (inspect.signature() of
    Python 3.13 cannot read a C __init__ of PyGObject's type.) The refcount
    package's handle classes use it too."""

    def __init__(self, cls, example):
        self._init = cls.__init__
        parameters = list(inspect.signature(example).parameters.values())[1:]
        self._signature = inspect.Signature(parameters)

    def __get__(self, instance, owner):
        if instance is None and owner.__init__ is self._init:
            return self._signature
        return None


NativeHandle.__signature__ = _InitSignature(NativeHandle, _python_init)
del _python_init


def _release_at_exit():
    """Gives back the wrapper reference of every handle Python still holds.

    CPython does not promise to run __del__ at exit, and does not when the
    objects are reachable from a class that GObject keeps registered (any
    Python subclass's methods keep their module alive). While atexit handlers
    run the interpreter is whole, so Python release code can still run
    safely; handles still held by C (other GObject references) are C's.
    """
    # Releasing an owner lets go of the dependencies it held, which Python
    # may then hold alone: again, until a pass releases nothing.
    dropped = True
    while dropped:
        dropped = False
        for obj in gc.get_objects():
            try:
                if isinstance(obj, _raw) and obj.__grefcount__ == 1:
                    dropped = _raw.drop_wrapper_reference(obj) or dropped
            except Exception:  # noqa: BLE001 - one failure must not stop the rest
                pass


atexit.register(_release_at_exit)


class DeletableNativeHandle(Refcount.DeletableNativeHandle, NativeHandle):
    """A handle released by a function: native (cffi, ctypes, an address:
    released without entering Python) or any Python callable, called as
    release(handle)."""

    # The whole construction is in __new__: the native path is one C call.
    def __new__(cls, handle=None, release=None, type_id=None, prior_ref_count=0):
        if release is None:
            raise TypeError(f"A release function is required: {_ACCEPTED_RELEASES}")
        release_address = _release_address(release)
        _check_arguments(prior_ref_count, type_id)
        address = _address(handle)
        if release_address is not None:
            if prior_ref_count == 0:
                # Arguments the C __new__ left to this one (a ctypes
                # pointer, a capsule, a cffi type seen for the first time).
                return _fast.new_native(cls, handle, address, release_address, type_id)
            self = Refcount.DeletableNativeHandle.new_native(None, release_address, type_id)
        else:
            self = _new_python_released(release, type_id)
        self._rc_handle = None
        if address:
            self._rc_set(handle, address, prior_ref_count)
        return self

    # (Its __init__ does nothing: C, from install() below.)

    @classmethod
    def new_native(cls, handle, release_address, type_id=None):
        return cls(handle, release_address_of(release_address), type_id)


def _new_python_released(release, type_id):
    holder = []

    def call_release(_address, _user_data):
        try:
            release(holder[0] if holder else _address)
        except BaseException as exc:  # noqa: B902 - handed back to the caller
            _stash_exception(exc, release)

    self = Refcount.DeletableNativeHandle.new(None, call_release, None, type_id)
    # The same GObject class; a Python class whose release() hands the
    # callable's exceptions back (the C one cannot).
    self.__class__ = _PythonReleasedDeletableNativeHandle
    self._rc_release_holder = holder
    return self


DeletableNativeHandle = override(DeletableNativeHandle)
__all__.append("DeletableNativeHandle")
_fast.install(DeletableNativeHandle, frozenset({"__init__"}))
# The C __new__ keeps the handle object in a plain instance dict, which
# would die with the wrapper even if C code still held the GObject: the C
# __del__ keeps such wrappers alive while C holds their GObject.
DeletableNativeHandle.__del__ = _fast.release_on_del
# The common case (a native release function, no prior references) in C;
# the Python __new__ above for everything else.
_python_new = DeletableNativeHandle.__dict__["__new__"].__func__
_fast.set_fallback("__new__", _python_new)
DeletableNativeHandle.__new__ = staticmethod(_fast.deletable_new)
# What inspect.signature() would have read from the Python __new__.
_signature = inspect.signature(_python_new)
DeletableNativeHandle.__signature__ = _signature.replace(
    parameters=list(_signature.parameters.values())[1:])
del _python_new, _signature


class _PythonReleasedDeletableNativeHandle(DeletableNativeHandle):
    """A DeletableNativeHandle released by a Python callable."""

    # No GType of its own: the explicit __gtype__ tells PyGObject so.
    __gtype__ = Refcount.DeletableNativeHandle.__gtype__
    release = dispose = _python_release


class OwningNativeHandle(Refcount.OwningNativeHandle, NativeHandle):
    """A handle to memory owned elsewhere: release does nothing to it."""

    def __init__(self, handle=None, type_id=None, prior_ref_count=0):
        NativeHandle.__init__(self, handle, type_id, prior_ref_count)


OwningNativeHandle = override(OwningNativeHandle)
__all__.append("OwningNativeHandle")


class WrapperFactory(Refcount.WrapperFactory):
    """Maps type ids to handle classes and builds the right wrapper."""

    def __init__(self, strict=False):
        super().__init__(strict=bool(strict))

    @staticmethod
    def _gtype(wrapper_type):
        if wrapper_type is None:
            return GObject.TYPE_NONE
        if isinstance(wrapper_type, GObject.GType):
            return wrapper_type
        gtype = getattr(wrapper_type, "__gtype__", None)
        if isinstance(gtype, GObject.GType):
            return gtype
        raise TypeError(
            f"A wrapper type must be a handle class, a GType or None; got '{type(wrapper_type).__name__}'"
        )

    def register(self, type_id, wrapper_type):
        if not isinstance(type_id, str):
            raise TypeError("type_id must be a str")
        Refcount.WrapperFactory.register(self, type_id, self._gtype(wrapper_type))

    def create_wrapper(self, handle, type_id, release=None):
        address = address_of(handle)
        release_address = None if release is None else release_address_of(release)
        if release is not None and release_address is None:
            raise TypeError("create_wrapper needs a native release function (a cffi or ctypes function, or an address)")
        wrapper = Refcount.WrapperFactory.create_wrapper(self, address, type_id, release_address)
        wrapper._rc_handle = handle
        return wrapper


WrapperFactory = override(WrapperFactory)
__all__.append("WrapperFactory")


def _gobject_of(obj):
    """The GObject of a handle of the refcount package (its as_gobject()),
    so that the interop functions take those handles too; anything else as
    is."""
    if not isinstance(obj, GObject.Object):
        as_gobject = getattr(type(obj), "as_gobject", None)
        if as_gobject is not None:
            return as_gobject(obj)
    return obj


def is_native_handle(obj, type_id=None):
    """rc_is_native_handle(), taking the refcount package's handles too."""
    return Refcount.is_native_handle(_gobject_of(obj), type_id)


def unwrap_native_handle(obj):
    """rc_unwrap_native_handle(), taking the refcount package's handles too."""
    return Refcount.unwrap_native_handle(_gobject_of(obj))


def arg_error_message(obj, expected_type_id):
    """rc_arg_error_message(), taking the refcount package's handles too."""
    return Refcount.arg_error_message(_gobject_of(obj), expected_type_id)


__all__ += ["is_native_handle", "unwrap_native_handle", "arg_error_message"]
