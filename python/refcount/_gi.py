"""The GI namespace, loaded once for the package (with its overrides)."""

try:
    # An install outside GI's own directory knows where its typelib is.
    from refcount import _typelib_dir  # noqa: F401
except ImportError:
    # The source tree: GI_TYPELIB_PATH names the build's typelib.
    pass

import gi  # noqa: E402

gi.require_version("Refcount", "1.0")

from gi.repository import GLib, GObject, Refcount  # noqa: E402

__all__ = ["GLib", "GObject", "Refcount"]
