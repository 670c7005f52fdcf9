"""Python release callables are let go once they cannot be called any more.

PyGObject wraps a Python callable given as a release function in a native
closure, freed by the destroy notify that refcount calls after the release,
or at finalization when the handle is never released. The valgrind run
suppresses PyGObject's per-class vfunc closures; these tests show that the
per-object closures are not among what it hides.
"""

import gc
import weakref

from gi.repository import Refcount


class Release:
    """A release callable that records its calls and can be watched by weakref."""

    def __init__(self, lib):
        self.lib = lib
        self.calls = 0

    def __call__(self, ptr):
        self.calls += 1
        self.lib.rc_tn_release(ptr)


def test_callable_is_let_go_after_the_release(lib):
    release = Release(lib)
    watch = weakref.ref(release)
    dog = lib.rc_tn_dog_new(b"Rex")
    handle = Refcount.DeletableNativeHandle(dog, release, "DOG")
    del release
    assert watch() is not None  # the closure holds it while it may be called

    handle.release()
    assert lib.rc_tn_is_alive(dog) == 0
    assert watch() is None or watch().calls == 1
    del handle
    gc.collect()
    assert watch() is None


def test_callable_is_let_go_when_the_handle_dies_unreleased(lib):
    release = Release(lib)
    watch = weakref.ref(release)
    dog = lib.rc_tn_dog_new(b"Rex")
    handle = Refcount.DeletableNativeHandle(dog, release, "DOG")
    handle.add_ref()  # an outstanding reference: dropping the wrapper will not release
    del release
    del handle
    gc.collect()
    assert watch() is None  # freed at finalization although never called
    assert lib.rc_tn_is_alive(dog) == 1
    lib.rc_tn_release(dog)


def test_many_callables_do_not_accumulate(lib):
    watches = []
    for _ in range(200):
        release = Release(lib)
        watches.append(weakref.ref(release))
        handle = Refcount.DeletableNativeHandle(lib.rc_tn_dog_new(b"x"), release)
        del release
        del handle
    gc.collect()
    assert [w for w in watches if w() is not None] == []
    assert lib.rc_tn_dog_live_count() == 0
