"""refcount: reference-counted handles to native resources.

A drop-in replacement for the pyrefcount package (1.2.x API): the same
modules (`refcount.base`, `refcount.interop`, `refcount.putils`,
`refcount.debug`), classes, signatures, results and messages, built on the
thread-safe native core of the refcount C library through GObject
introspection. A `CffiNativeHandle` is also a `Refcount.NativeHandle`
(`from gi.repository import Refcount`) that C code can take.
"""

__version__ = "0.1.0"
