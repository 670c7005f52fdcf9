"""refcount: reference-counted handles to native resources.

A drop-in replacement for the pyrefcount package (1.2.x API): the same
modules (`refcount.base`, `refcount.interop`, `refcount.putils`,
`refcount.debug`), classes, signatures, results and messages. The handles
are types of a small native core (`refcount._core`, see _core.c) over the
thread-safe refcount C library: the counter, the release, the
dependencies are the C library's. `h.as_gobject()` gives C and GI code
(`from gi.repository import Refcount`) the same handle as a
`Refcount.NativeHandle`.
"""

import pkgutil

# In a build tree the native core is built apart from these sources.
__path__ = pkgutil.extend_path(__path__, __name__)

__version__ = "0.2.0"
