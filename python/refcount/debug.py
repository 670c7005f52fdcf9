"""Information for bug reports."""

import os
import platform
import sys

from refcount._gi import GLib, Refcount

__all__ = ["get_debug_info", "print_debug_info", "live_report"]


def _version_of(module_name: str) -> str:
    try:
        module = __import__(module_name)
    except ImportError:
        return "not installed"
    return str(getattr(module, "__version__", "unknown"))


def get_debug_info() -> str:
    """Interpreter, platform, package versions, REFCOUNT* variables and the
    native library's own report, as text."""
    import refcount

    lines = [
        f"python: {sys.version.split()[0]} ({sys.executable})",
        f"platform: {platform.platform()} ({sys.platform})",
        f"refcount (python): {refcount.__version__}",
        f"pygobject: {_version_of('gi')}",
        f"cffi: {_version_of('cffi')}",
        f"glib: {GLib.MAJOR_VERSION}.{GLib.MINOR_VERSION}.{GLib.MICRO_VERSION}",
    ]
    variables = sorted(k for k in os.environ if k.upper().startswith("REFCOUNT"))
    lines.append("environment: " + (", ".join(f"{k}={os.environ[k]}" for k in variables) or "none"))
    lines.append("native library:")
    lines.extend("  " + line for line in Refcount.get_debug_info().splitlines())
    return "\n".join(lines)


def print_debug_info() -> None:
    print(get_debug_info())


def live_report() -> str:
    """The handles never released, by type id, and the dependencies that
    keep them alive; tracked only when the environment variable RC_DEBUG
    contains `leaks` from the start of the process (see
    rc_debug_live_report() in the reference)."""
    return Refcount.debug_live_report()
