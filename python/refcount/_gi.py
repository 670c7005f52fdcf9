"""The GI namespace, loaded once for the package (with its overrides)."""

import gi

gi.require_version("Refcount", "1.0")

from gi.repository import GLib, GObject, Refcount  # noqa: E402

__all__ = ["GLib", "GObject", "Refcount"]
