"""Base classes: a reference counter, and a handle to a native resource."""

from typing import Any

from refcount._gi import GLib, Refcount

__all__ = ["ReferenceCounter", "NativeHandle"]

# The GI class itself (with its Python overrides), so that every handle of
# this package is an instance of it, as with pyrefcount's class hierarchy.
ReferenceCounter = Refcount.ReferenceCounter


class NativeHandle(Refcount.NativeHandle):
    """A reference-counted handle to a native resource (abstract).

    Subclasses say which handles are valid (`_is_valid_handle`) and how to
    release one (`_release_handle`). The counting, and the guarantee that the
    release runs exactly once even with threads, are the native core's.
    """

    def __init__(self, handle: Any = None, prior_ref_count: int = 0, **kwargs):
        # Built without a pointer, then given one through _set_handle, so the
        # subclass's validity check applies as in pyrefcount.
        super().__init__(None, prior_ref_count=prior_ref_count, **kwargs)
        if handle is not None:
            self._set_handle(handle, prior_ref_count)

    def _is_valid_handle(self, handle: Any) -> bool:
        raise NotImplementedError()

    def _set_handle(self, handle: Any, prior_ref_count: int = 0) -> None:
        if not self._is_valid_handle(handle):
            raise RuntimeError("The specified handle argument is not a valid handle")
        try:
            self.set_handle(handle, prior_ref_count)
        except GLib.Error as error:
            raise RuntimeError(error.message) from None

    def _release_handle(self) -> bool:
        raise NotImplementedError()

    def do_release_handle(self):
        return self._release_handle()

    @property
    def _handle(self) -> Any:
        """pyrefcount's attribute: the handle object, None once released."""
        return self.get_handle()
