"""Base classes: a reference counter, and a handle to a native resource."""

from typing import Any

from refcount._gi import GLib, Refcount

import gi.overrides.Refcount as _overrides  # noqa: E402 - loaded by refcount._gi

__all__ = ["ReferenceCounter", "NativeHandle"]

# The C accelerator of the overrides, or None (RC_PYTHON_NO_FAST=1).
_fast = _overrides._fast

# The GI class itself (with its Python overrides), so that every handle of
# this package is an instance of it, as with pyrefcount's class hierarchy.
ReferenceCounter = Refcount.ReferenceCounter


class NativeHandle(Refcount.NativeHandle):
    """A reference-counted handle to a native resource (abstract).

    Subclasses say which handles are valid (`_is_valid_handle`) and how to
    release one (`_release_handle`). The counting, and the guarantee that the
    release runs exactly once even with threads, are the native core's.
    """

    # How handles of this class get their GObject: 2, through PyGObject, an
    # instance of the class's own GType whose release_handle is the Python
    # do_release_handle (for classes that override do_release_handle, or
    # without the C accelerator); 1, made by the C accelerator, an
    # RcPythonNativeHandle whose release calls `_release_handle` directly,
    # much cheaper to build and release; 0, as 1, with the whole __init__ in
    # C (CffiNativeHandle and the classes that keep its checks).
    _rc_attach_kind = 2

    def __init_subclass__(cls, **kwargs):
        if "_rc_attach_kind" not in cls.__dict__:
            cls._rc_attach_kind = cls._rc_compute_attach_kind()
        super().__init_subclass__(**kwargs)
        if cls._rc_attach_kind != 2 and cls._rc_released_by_python():
            # The release of an RcPythonNativeHandle needs the live wrapper
            # (toggle-referenced while C holds the GObject): release it when
            # the wrapper dies with the GObject.
            _overrides._ensure_release_on_del(cls)

    @classmethod
    def _rc_released_by_python(cls) -> bool:
        return True

    @classmethod
    def _rc_compute_attach_kind(cls) -> int:
        if _fast is None or getattr(cls, "do_release_handle") is not NativeHandle.__dict__["do_release_handle"]:
            return 2
        return 1

    def __init__(self, handle: Any = None, prior_ref_count: int = 0, **kwargs):
        # Built without a pointer, then given one through _set_handle, so the
        # subclass's validity check applies as in pyrefcount.
        if type(self)._rc_attach_kind != 2:
            type_id = kwargs.pop("type_id", None)
            if kwargs:
                raise TypeError(
                    f"{type(self).__name__}() got unexpected keyword arguments: {', '.join(sorted(kwargs))}"
                )
            _overrides._check_arguments(prior_ref_count, type_id)
            # (Does nothing if the GObject exists: made by g_object_new() in
            # C code, which then calls __init__ without arguments.)
            _fast.attach_python(self, type_id, prior_ref_count if handle is None else 0)
        else:
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

    # Abstract: it needs no intact self, so a class that does not override
    # it gets no __del__ bridge (see gi/overrides/Refcount.py).
    _release_handle._rc_no_del = True

    def do_release_handle(self):
        return self._release_handle()

    # The release is _release_handle's: self must be intact as it needs.
    do_release_handle._rc_delegate = "_release_handle"

    @property
    def _handle(self) -> Any:
        """pyrefcount's attribute: the handle object, None once released."""
        return self.get_handle()


NativeHandle._rc_attach_kind = NativeHandle._rc_compute_attach_kind()
