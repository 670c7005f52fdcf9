"""Base classes: a reference counter, and a handle to a native resource.

Both are types of the native core (`refcount/_core.c`): a handle counts with
the refcount C library's state word (RcCounter) and gets a GObject of that
library when C code needs one (as_gobject(), add_dependency()); it is
released from its finalizer (PEP 442) with `self` intact. Subclasses say
which handles are valid (`_is_valid_handle`) and how to release one
(`_release_handle`); the release runs exactly once, even with threads.
"""

import atexit
import contextlib
import gc
from typing import Any, Callable, Optional, Tuple

import cffi

# The GI namespace first: as_gobject() and the addresses of handle objects
# use it.
from refcount._gi import Refcount  # noqa: F401
import gi.overrides.Refcount as _overrides  # noqa: E402 - loaded by refcount._gi

from refcount import _core  # noqa: E402
from refcount._core import NativeHandle, ReferenceCounter, handle_of  # noqa: E402

__all__ = ["ReferenceCounter", "NativeHandle", "handle_of"]

_ffi = cffi.FFI()


def _address_info(handle: Any) -> Tuple[int, bool]:
    """The address of a handle object, and whether it is a function: what
    the native core cannot read itself. Raises TypeError for an object
    without an address."""
    if isinstance(handle, _ffi.CData):
        kind = _ffi.typeof(handle).kind
        if kind in ("struct", "union"):
            return int(_ffi.cast("uintptr_t", _ffi.addressof(handle))), False
        if kind not in ("pointer", "array", "function"):
            raise TypeError(f"a cffi {kind} value has no address")
        return int(_ffi.cast("uintptr_t", handle)), kind == "function"
    return _overrides.address_of(handle), False


def _signature(name: str):
    """Marks a function as the signature of a handle class's __init__: it
    is called only with arguments that the native core cannot take, for
    the error that Python gives."""
    def mark(function):
        function.__name__ = "__init__"
        function.__qualname__ = name + ".__init__"
        return function
    return mark


@_signature("NativeHandle")
def _native_handle_init(self, handle: Any = None, prior_ref_count: int = 0) -> None:
    pass


@_signature("CffiNativeHandle")
def _cffi_init(self, handle: Any, type_id: Optional[str] = None, prior_ref_count: int = 0) -> None:
    pass


@_signature("DeletableCffiNativeHandle")
def _deletable_init(
    self,
    handle: Any,
    release_native: Optional[Callable[[Any], None]],
    type_id: Optional[str] = None,
    prior_ref_count: int = 0,
) -> None:
    pass


_core._configure(_ffi.CData, _address_info, _overrides.release_address_of,
                 _native_handle_init, _cffi_init, _deletable_init)


@contextlib.contextmanager
def _borrow(self):
    """`with handle.borrow() as ptr:` holds a reference for the block (see
    acquire())."""
    ptr = self.acquire()
    try:
        yield ptr
    finally:
        self.release()


NativeHandle.borrow = _borrow


def _release_at_exit() -> None:
    """Releases the handles that Python alone still holds when the
    interpreter exits: CPython does not promise to finalize them, and while
    atexit handlers run, Python release code can still run. Releasing an
    owner lets go of its dependencies, which Python may then hold alone:
    again, until a pass releases nothing. Handles that C code holds are
    C's."""
    dropped = True
    while dropped:
        dropped = False
        for obj in gc.get_objects():
            if isinstance(obj, NativeHandle):
                try:
                    dropped = _core._drop_at_exit(obj) or dropped
                except Exception:  # noqa: BLE001 - one failure must not stop the rest
                    pass


atexit.register(_release_at_exit)
