"""Every path that ends a handle's life, for Python subclasses of the GI
classes: do_release_handle runs exactly once, with `self` the very Python
object (attributes set in __init__ intact), and the native object is freed
exactly once.

Paths: explicit release()/dispose(), `with`, `del` of the last Python
reference, gc.collect() breaking a reference cycle, C dropping the last
GObject reference (a wrapper made by WrapperFactory, a handle kept in a
C-side container), and the cases where the release must *not* happen yet.
"""

import gc
import threading
import warnings
import weakref

import gi

gi.require_version("Refcount", "1.0")
gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib, Refcount  # noqa: E402

import pytest  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from rcnative import address_of, ffi, lib, new_dog  # noqa: E402


class Record:
    def __init__(self, handle):
        # Every attribute read here was set in __init__: on a fresh wrapper
        # with an empty __dict__ this raises AttributeError.
        self.tag = handle.tag
        self.token = handle.token
        self.handle_obj = handle.get_handle()
        self.address = handle.address
        self.python_id = id(handle)
        self.thread = threading.get_ident()


class TrackedDog(Refcount.NativeHandle):
    """Releases a native dog and records each release in `log`."""

    def __init__(self, handle=None, type_id="tracked-dog", prior_ref_count=0, log=None, tag="tracked"):
        super().__init__(handle, type_id=type_id, prior_ref_count=prior_ref_count)
        self.log = log if log is not None else []
        self.tag = tag
        self.token = object()

    def do_release_handle(self):
        self.log.append(Record(self))
        lib.rc_tn_release(ffi.cast("void *", self.address))
        return True


# Wrappers built by C (WrapperFactory) get __init__() without arguments, so
# they log to this module-level list.
FACTORY_LOG = []


class FactoryDog(Refcount.NativeHandle):
    def __init__(self, handle=None, type_id=None, prior_ref_count=0):
        super().__init__(handle, type_id=type_id, prior_ref_count=prior_ref_count)
        self.tag = "made by the factory"
        self.token = object()

    def do_release_handle(self):
        FACTORY_LOG.append(Record(self))
        lib.rc_tn_release(ffi.cast("void *", self.address))
        return True


def tracked(tag="tracked", **kwargs):
    dog = new_dog()
    log = []
    h = TrackedDog(dog, log=log, tag=tag, **kwargs)
    return dog, log, h


def assert_released_once(log, dog, tag, token, freed_log):
    assert len(log) == 1, [r.tag for r in log]
    record = log[0]
    assert record.tag == tag
    assert record.token is token
    assert record.address == address_of(dog)
    assert record.handle_obj is dog
    assert lib.rc_tn_is_alive(dog) == 0
    assert freed_log.count(address_of(dog)) == 1


# ---------------------------------------------------------------------------
# Paths that release
# ---------------------------------------------------------------------------


def test_explicit_release(freed_log):
    dog, log, h = tracked("explicit")
    token = h.token
    h.release()
    assert h.disposed is True
    assert log[0].python_id == id(h)
    del h
    gc.collect()
    assert_released_once(log, dog, "explicit", token, freed_log)


def test_explicit_dispose(freed_log):
    dog, log, h = tracked("dispose")
    token = h.token
    h.dispose()
    h.dispose()
    assert log[0].python_id == id(h)
    del h
    gc.collect()
    assert_released_once(log, dog, "dispose", token, freed_log)


def test_with_statement(freed_log):
    dog, log, h = tracked("with")
    token = h.token
    with h:
        assert log == []
    assert h.disposed is True
    del h
    gc.collect()
    assert_released_once(log, dog, "with", token, freed_log)


def test_del_of_the_last_python_reference(freed_log):
    dog, log, h = tracked("del")
    token = h.token
    python_id = id(h)
    alive = weakref.ref(h)
    assert lib.rc_tn_is_alive(dog) == 1
    del h
    gc.collect()
    assert alive() is None
    assert_released_once(log, dog, "del", token, freed_log)
    assert log[0].python_id == python_id


def test_del_without_gc_collect_releases_at_once(freed_log):
    dog, log, h = tracked("refcount zero")
    token = h.token
    gc.disable()
    try:
        del h
        # No cycle: reference counting alone ends the object.
        assert_released_once(log, dog, "refcount zero", token, freed_log)
    finally:
        gc.enable()


def test_gc_breaks_a_self_cycle(freed_log):
    dog, log, h = tracked("self cycle")
    token = h.token
    h.myself = h
    del h
    gc.collect()
    assert_released_once(log, dog, "self cycle", token, freed_log)


def test_gc_breaks_a_cycle_through_other_objects(freed_log):
    dog, log, h = tracked("cycle")
    token = h.token
    holder = {"handle": h}
    h.holder = [holder]
    del h, holder
    gc.collect()
    assert_released_once(log, dog, "cycle", token, freed_log)


def test_cycle_between_two_handles(freed_log):
    dog_a, log_a, a = tracked("a")
    dog_b, log_b, b = tracked("b")
    token_a, token_b = a.token, b.token
    a.partner = b
    b.partner = a
    del a, b
    gc.collect()
    assert_released_once(log_a, dog_a, "a", token_a, freed_log)
    assert_released_once(log_b, dog_b, "b", token_b, freed_log)


def test_wrapper_made_by_the_factory_and_dropped(freed_log):
    FACTORY_LOG.clear()
    factory = Refcount.WrapperFactory(strict=True)
    factory.register("factory-dog", FactoryDog)
    dog = new_dog()
    w = factory.create_wrapper(dog, "factory-dog")
    assert type(w) is FactoryDog
    assert w.tag == "made by the factory"
    assert w.type_id == "factory-dog"
    assert w.address == address_of(dog)
    assert w.reference_count == 1
    assert lib.rc_tn_get_ref_count(dog) == 1
    token = w.token
    del w
    gc.collect()
    assert len(FACTORY_LOG) == 1, FACTORY_LOG
    assert FACTORY_LOG[0].tag == "made by the factory"
    assert FACTORY_LOG[0].token is token
    assert FACTORY_LOG[0].address == address_of(dog)
    assert lib.rc_tn_is_alive(dog) == 0
    assert freed_log.count(address_of(dog)) == 1
    FACTORY_LOG.clear()


def test_factory_wrapper_in_a_cycle(freed_log):
    FACTORY_LOG.clear()
    factory = Refcount.WrapperFactory(strict=True)
    factory.register("factory-dog", FactoryDog)
    dog = new_dog()
    w = factory.create_wrapper(dog, "factory-dog")
    w.myself = w
    del w
    gc.collect()
    assert [r.tag for r in FACTORY_LOG] == ["made by the factory"]
    assert lib.rc_tn_is_alive(dog) == 0
    assert freed_log.count(address_of(dog)) == 1
    FACTORY_LOG.clear()


def test_handle_kept_by_a_c_container_is_released_when_c_drops_it(freed_log):
    store = Gio.ListStore.new(Refcount.NativeHandle)
    dog, log, h = tracked("in a store")
    token = h.token
    store.append(h)
    del h
    gc.collect()
    # C still holds the handle: nothing is released.
    assert log == []
    assert lib.rc_tn_get_ref_count(dog) == 1
    item = store.get_item(0)
    assert item.token is token
    assert item.reference_count == 1
    del item
    store.remove(0)
    gc.collect()
    assert_released_once(log, dog, "in a store", token, freed_log)


def test_handle_kept_by_a_c_container_that_dies(freed_log):
    store = Gio.ListStore.new(Refcount.NativeHandle)
    dog, log, h = tracked("store dies")
    token = h.token
    store.append(h)
    del h
    gc.collect()
    assert log == []
    del store
    gc.collect()
    assert_released_once(log, dog, "store dies", token, freed_log)


def test_python_drops_before_c_without_gc_collect(freed_log):
    store = Gio.ListStore.new(Refcount.NativeHandle)
    dog, log, h = tracked("no gc")
    token = h.token
    store.append(h)
    gc.disable()
    try:
        del h
        assert log == []
        store.remove_all()
        del store
    finally:
        gc.enable()
    gc.collect()
    assert_released_once(log, dog, "no gc", token, freed_log)


def test_deletable_handle_with_python_release_on_del(freed_log):
    calls = []

    def release(obj):
        calls.append(obj)
        lib.rc_tn_release(obj)

    dog = new_dog()
    h = Refcount.DeletableNativeHandle(dog, release, type_id="dog")
    del h
    gc.collect()
    assert len(calls) == 1 and calls[0] is dog
    assert lib.rc_tn_is_alive(dog) == 0
    assert freed_log.count(address_of(dog)) == 1


def test_deletable_handle_with_native_release_on_del_and_cycle(freed_log):
    dog_a, dog_b = new_dog(b"A"), new_dog(b"B")
    a = Refcount.DeletableNativeHandle(dog_a, lib.rc_tn_release, type_id="dog")
    b = Refcount.DeletableNativeHandle(dog_b, lib.rc_tn_release, type_id="dog")
    b.myself = b
    del a
    assert lib.rc_tn_is_alive(dog_a) == 0
    del b
    gc.collect()
    assert lib.rc_tn_is_alive(dog_b) == 0
    assert freed_log.count(address_of(dog_a)) == 1
    assert freed_log.count(address_of(dog_b)) == 1


def test_set_handle_later_then_dropped(freed_log):
    log = []
    h = TrackedDog(None, log=log, tag="set later")
    token = h.token
    dog = new_dog()
    h.set_handle(dog)
    del h
    gc.collect()
    assert_released_once(log, dog, "set later", token, freed_log)


# ---------------------------------------------------------------------------
# Paths that must not release (yet)
# ---------------------------------------------------------------------------


def test_handle_never_set_is_never_released():
    log = []
    h = TrackedDog(None, log=log, tag="never set")
    del h
    gc.collect()
    assert log == []


def test_dropping_a_handle_with_outstanding_references_keeps_the_native_object():
    gc.collect()
    unreleased = Refcount.NativeHandle.get_unreleased_count()
    dog, log, h = tracked("outstanding")
    h.add_ref()
    del h
    gc.collect()
    # The wrapper gave back its own reference only: the add_ref owner still
    # holds the native object.
    assert log == []
    assert lib.rc_tn_get_ref_count(dog) == 1
    assert Refcount.NativeHandle.get_unreleased_count() == unreleased + 1
    lib.rc_tn_release(dog)  # the leak is on purpose: clean up


def test_prior_ref_count_survives_the_wrapper():
    dog, log, h = tracked("prior", prior_ref_count=1)
    del h
    gc.collect()
    assert log == []
    assert lib.rc_tn_is_alive(dog) == 1
    lib.rc_tn_release(dog)


def test_release_then_drop_does_not_release_twice(freed_log):
    dog, log, h = tracked("twice?")
    token = h.token
    h.add_ref()
    h.release()
    assert log == []
    h.release()
    h.release()
    del h
    gc.collect()
    assert_released_once(log, dog, "twice?", token, freed_log)


def test_explicit_release_while_a_c_container_holds_the_handle(freed_log):
    store = Gio.ListStore.new(Refcount.NativeHandle)
    dog, log, h = tracked("released in store")
    token = h.token
    store.append(h)
    h.release()
    assert len(log) == 1
    del h
    store.remove_all()
    gc.collect()
    assert_released_once(log, dog, "released in store", token, freed_log)


# ---------------------------------------------------------------------------
# Random sequences against a model
# ---------------------------------------------------------------------------

OPERATIONS = ["add_ref", "release", "dispose", "decrement_ref", "acquire", "borrow"]


@given(prior=st.integers(min_value=0, max_value=3), ops=st.lists(st.sampled_from(OPERATIONS), max_size=25))
def test_counting_matches_the_model(prior, ops):
    dog, log, h = tracked("model", prior_ref_count=prior)
    count, released = prior + 1, False
    for op in ops:
        if op == "add_ref":
            h.add_ref()
            if not released:
                count += 1
        elif op in ("release", "dispose"):
            getattr(h, op)()
            if not released:
                count -= 1
                released = count <= 0
                count = max(count, 0)
        elif op == "decrement_ref":
            # Only where pyrefcount and the C contract agree (no count <= 0
            # without a release).
            if released or count < 2:
                continue
            h.decrement_ref()
            count -= 1
        elif op == "acquire":
            if released:
                with pytest.raises(GLib.Error):
                    h.acquire()
            else:
                assert h.acquire() is dog
                count += 1
        elif op == "borrow" and not released:
            with h.borrow() as ptr:
                assert ptr is dog
                assert h.reference_count == count + 1
                assert lib.rc_tn_is_alive(dog) == 1
        assert h.reference_count == count
        assert h.disposed is released
        assert lib.rc_tn_is_alive(dog) == (0 if released else 1)
        assert len(log) == (1 if released else 0)
    while not h.disposed:
        h.release()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        del h
        gc.collect()
    assert len(log) == 1
    assert lib.rc_tn_is_alive(dog) == 0
