"""Dependencies between handles (`owner.add_dependency(dog)`), from Python:
the GI classes and their Python subclasses, and the pyrefcount-compatible
`refcount` package.

The contract (see the reference manual, "Dependencies"): the owner holds one
counted reference on the dependency and the dependency object itself; right
after the owner's own release ran, its dependencies are released once each,
in reverse order of declaration.  So a dependency's native release never
precedes the release of a handle depending on it, in any drop order, from
any thread.  Refused: the owner itself or a cycle (Refcount.Error.CYCLE),
a released or never set handle on either side (Refcount.Error.DISPOSED),
anything that is not a handle (TypeError).

Ground truth is the native test library: owners are "borrowing owners"
(rc_tn_owner_new_borrowing), which hold no native reference to their dog
but touch it when they are freed, so a dog released before its owner is a
misuse the library counts; the freed callback (`freed_log`) gives the order
of the native releases; Python release code logs its calls in RELEASES.
"""

import ctypes
import gc
import os
import re
import threading
import traceback
import weakref

import gi

gi.require_version("Refcount", "1.0")
from gi.repository import GLib, Refcount  # noqa: E402

import pytest  # noqa: E402

import refcount.debug  # noqa: E402
from refcount.interop import (  # noqa: E402
    CffiNativeHandle,
    DeletableCffiNativeHandle,
    GenericWrapper,
    OwningCffiNativeHandle,
)

import rcnative  # noqa: E402
from rcnative import (  # noqa: E402
    address_of,
    assert_clean_exit,
    assert_rc_error,
    ctypes_lib,
    describe_run,
    ffi,
    lib,
    new_dog,
    run_python,
    timeout,
)

QUICK = os.environ.get("RC_TEST_QUICK") == "1"

# (tag, address) of every run of Python release code, in order.
RELEASES = []


@pytest.fixture(autouse=True)
def clear_releases():
    RELEASES.clear()
    yield
    RELEASES.clear()


def new_owner(dog_ptr):
    """A native owner that borrows `dog_ptr` (no native reference): freeing
    it after its dog is a misuse counted by the library."""
    owner = lib.rc_tn_owner_new_borrowing(dog_ptr)
    assert owner != ffi.NULL
    return owner


# ---------------------------------------------------------------------------
# Handle kinds
# ---------------------------------------------------------------------------


class LoggedHandle(Refcount.NativeHandle):
    """A GI subclass: do_release_handle logs and releases natively; it reads
    attributes set in __init__, so a fresh wrapper would fail."""

    def __init__(self, ptr, type_id, tag):
        super().__init__(ptr, type_id=type_id)
        self.tag = tag

    def do_release_handle(self):
        RELEASES.append((self.tag, self.address))
        lib.rc_tn_release(ffi.cast("void *", self.address))
        return True


class PkgHandle(CffiNativeHandle):
    """pyrefcount style: a CffiNativeHandle subclass with _release_handle."""

    def __init__(self, ptr, type_id, tag):
        super().__init__(ptr, type_id=type_id)
        self.tag = tag

    def _release_handle(self) -> bool:
        RELEASES.append((self.tag, address_of(self.get_handle())))
        lib.rc_tn_release(self.get_handle())
        return True


def logging_release(tag):
    """A Python release callable that logs (holds no handle)."""

    def release(obj):
        address = obj if isinstance(obj, int) else address_of(ffi.cast("void *", obj))
        RELEASES.append((tag, address))
        lib.rc_tn_release(ffi.cast("void *", address))

    return release


def _gi_native(ptr, type_id, tag):
    return Refcount.DeletableNativeHandle(ptr, lib.rc_tn_release, type_id=type_id)


def _gi_ctypes(ptr, type_id, tag):
    return Refcount.DeletableNativeHandle(ctypes.c_void_p(address_of(ptr)), ctypes_lib.rc_tn_release, type_id)


def _gi_address(ptr, type_id, tag):
    return Refcount.DeletableNativeHandle(address_of(ptr), address_of(ffi.cast("void *", lib.rc_tn_release)), type_id)


def _gi_python_callable(ptr, type_id, tag):
    return Refcount.DeletableNativeHandle(ptr, logging_release(tag), type_id=type_id)


def _gi_subclass(ptr, type_id, tag):
    return LoggedHandle(ptr, type_id, tag)


def _pkg_subclass(ptr, type_id, tag):
    return PkgHandle(ptr, type_id, tag)


def _pkg_deletable(ptr, type_id, tag):
    return DeletableCffiNativeHandle(ptr, lib.rc_tn_release, type_id)


def _pkg_deletable_python(ptr, type_id, tag):
    return DeletableCffiNativeHandle(ptr, logging_release(tag), type_id)


# name -> (factory, whether its release is Python code that logs)
KINDS = {
    "gi_native": (_gi_native, False),
    "gi_ctypes": (_gi_ctypes, False),
    "gi_address": (_gi_address, False),
    "gi_python_callable": (_gi_python_callable, True),
    "gi_subclass": (_gi_subclass, True),
    "pkg_subclass": (_pkg_subclass, True),
    "pkg_deletable": (_pkg_deletable, False),
    "pkg_deletable_python": (_pkg_deletable_python, True),
}


def make(kind, ptr, type_id, tag):
    return KINDS[kind][0](ptr, type_id, tag)


# ---------------------------------------------------------------------------
# Release order, in every drop order, for every pair of kinds
# ---------------------------------------------------------------------------

# Each scenario: steps (action, name) on a dict {"owner": h, "dog": h},
# with the native objects freed after each step ("owner", "dog"), in order,
# counted from the start.
SCENARIOS = {
    "del owner, del dog": [("del", "owner", ["owner"]), ("del", "dog", ["owner", "dog"])],
    "del dog, del owner": [("del", "dog", []), ("del", "owner", ["owner", "dog"])],
    "release owner, release dog": [("release", "owner", ["owner"]), ("release", "dog", ["owner", "dog"])],
    "release dog, release owner": [("release", "dog", []), ("release", "owner", ["owner", "dog"])],
    "del dog, release owner": [("del", "dog", []), ("release", "owner", ["owner", "dog"])],
    "release dog, del owner": [("release", "dog", []), ("del", "owner", ["owner", "dog"])],
    "release dog, del dog, dispose owner, del owner": [
        ("release", "dog", []), ("del", "dog", []), ("dispose", "owner", ["owner", "dog"]),
        ("del", "owner", ["owner", "dog"])],
    "with owner, del dog": [("with", "owner", ["owner"]), ("del", "dog", ["owner", "dog"])],
    "both in cycles, collected": [("cycle", "both", ["owner", "dog"])],
    "owner in a cycle, del dog, collected": [
        ("selfcycle", "owner", []), ("del", "dog", []), ("collect", None, ["owner", "dog"])],
}


def _check_dependency_kept(objs, dog_address, dog_tag, expected_count, scenario):
    """After the dog variable is gone: the owner still lists the dog, not
    released, with the owner's reference and, unless the dog was released
    explicitly, the wrapper's own (given back when the GObject dies, which
    the owner prevents); the native dog is alive."""
    owner = objs["owner"]
    deps = owner.get_dependencies()
    assert len(deps) == 1, (scenario, deps)
    dep = deps[0]
    # A handle of the refcount package is itself; C sees its as_gobject().
    gobject = dep if isinstance(dep, Refcount.NativeHandle) else dep.as_gobject()
    assert isinstance(gobject, Refcount.NativeHandle), scenario
    assert gobject.address == dog_address, scenario
    assert dep.disposed is False, scenario
    assert dep.reference_count == expected_count, (scenario, dep.reference_count)
    assert dep.type_id == "DOG_PTR", scenario
    if hasattr(dep, "tag") or isinstance(dep, (LoggedHandle, PkgHandle)):
        # A Python subclass: the very object, attributes intact.
        assert dep.tag == dog_tag, scenario
    assert lib.rc_tn_is_alive(ffi.cast("void *", dog_address)) == 1, scenario


def run_scenario(owner_kind, dog_kind, scenario, freed_log):
    steps = SCENARIOS[scenario]
    dog_ptr = new_dog(b"Dep")
    owner_ptr = new_owner(dog_ptr)
    names = {address_of(dog_ptr): "dog", address_of(owner_ptr): "owner"}
    dog_address = address_of(dog_ptr)
    objs = {
        "dog": make(dog_kind, dog_ptr, "DOG_PTR", "dog"),
        "owner": make(owner_kind, owner_ptr, "OWNER_PTR", "owner"),
    }
    del dog_ptr, owner_ptr
    freed_log.clear()
    objs["owner"].add_dependency(objs["dog"])
    assert objs["dog"].reference_count == 2, scenario
    assert objs["owner"].reference_count == 1, scenario
    deps = objs["owner"].get_dependencies()
    assert len(deps) == 1 and deps[0] is objs["dog"], (scenario, deps)
    del deps
    logged = {"owner": KINDS[owner_kind][1], "dog": KINDS[dog_kind][1]}
    dog_count = 2
    for action, name, expected in steps:
        if (action, name) == ("release", "dog"):
            dog_count -= 1
        if action == "del":
            del objs[name]
        elif action == "release":
            objs[name].release()
        elif action == "dispose":
            objs[name].dispose()
        elif action == "with":
            with objs[name]:
                pass
        elif action == "cycle":
            # Python references along the dependency only: one against it
            # would close a cycle through the C edge (see
            # test_cycle_through_a_dependency_edge_broken_by_hand).
            owner, dog = objs.pop("owner"), objs.pop("dog")
            owner.pal = dog
            owner.me, dog.me = owner, dog
            del owner, dog
            # The dog's cycle may become garbage only once the owner's
            # collection dropped it: a second collection.
            gc.collect()
            gc.collect()
        elif action == "selfcycle":
            objs[name].me = objs[name]
            objs.pop(name)
        elif action == "collect":
            gc.collect()
        else:  # pragma: no cover - a typo in SCENARIOS
            raise AssertionError(action)
        freed = [names.get(address, hex(address)) for address in freed_log.addresses()]
        where = "%s / %s: %s, after %s %s" % (owner_kind, dog_kind, scenario, action, name)
        assert freed == expected, where
        # Python release code ran in the same order, once each.
        assert [tag for tag, _ in RELEASES] == [n for n in expected if logged[n]], where
        assert lib.rc_tn_misuse_count() == 0, where + ": the dog was released before its owner"
        if "dog" not in objs and "owner" in objs and "owner" not in expected:
            _check_dependency_kept(objs, dog_address, "dog", dog_count, where)
        if "dog" in objs and "owner" in expected:
            # The owner's reference was given back with its release.
            assert objs["dog"].reference_count == (0 if "dog" in expected else 1), where
            assert objs["dog"].disposed is ("dog" in expected), where
        if "owner" in objs and "owner" in expected:
            assert objs["owner"].get_dependencies() == [], where
    objs.clear()
    assert sorted(names[address] for address in freed_log.addresses()) == ["dog", "owner"]
    RELEASES.clear()


@pytest.mark.parametrize("owner_kind", sorted(KINDS))
def test_owner_is_released_before_its_dependency_in_every_drop_order(owner_kind, freed_log, frozen_gc):
    """For an owner of this kind, a dog of every kind (of three with
    RC_TEST_QUICK=1, under valgrind), in every scenario."""
    kinds = sorted(KINDS)
    if QUICK:
        i = kinds.index(owner_kind)
        kinds = sorted({owner_kind, kinds[(i + 1) % len(kinds)], "pkg_subclass"})
    for dog_kind in kinds:
        for scenario in SCENARIOS:
            run_scenario(owner_kind, dog_kind, scenario, freed_log)
            freed_log.clear()


def test_the_owner_keeps_the_dependency_object_alive(freed_log):
    """The dependency's Python object (a subclass, attributes intact) comes
    back from get_dependencies() after the caller dropped it, and its release
    runs on it, after the owner's."""
    dog_ptr = new_dog(b"Kept")
    owner_ptr = new_owner(dog_ptr)
    dog = LoggedHandle(dog_ptr, "DOG_PTR", "kept dog")
    dog.token = token = object()
    alive = weakref.ref(dog)
    owner = Refcount.DeletableNativeHandle(owner_ptr, lib.rc_tn_release, type_id="OWNER_PTR")
    owner.add_dependency(dog)
    live_handles = Refcount.NativeHandle.get_live_count()
    del dog
    gc.collect()
    assert Refcount.NativeHandle.get_live_count() == live_handles
    assert lib.rc_tn_get_ref_count(dog_ptr) == 1
    (dep,) = owner.get_dependencies()
    assert dep.token is token
    assert dep.get_handle() is dog_ptr
    assert alive() is dep
    del dep
    del owner
    gc.collect()
    assert alive() is None
    assert RELEASES == [("kept dog", address_of(dog_ptr))]
    assert freed_log.addresses() == [address_of(owner_ptr), address_of(dog_ptr)]
    assert lib.rc_tn_misuse_count() == 0


def test_the_dependency_object_is_given_back_with_the_owners_release(freed_log):
    """The owner holds its dependency's Python object only as long as the C
    edge: released while Python still holds the owner, it lets go of it at
    once, and the dependency nobody else holds is released right after."""
    dog_ptr = new_dog(b"Handed back")
    owner_ptr = new_owner(dog_ptr)
    dog = LoggedHandle(dog_ptr, "DOG_PTR", "dog")
    alive = weakref.ref(dog)
    owner = LoggedHandle(owner_ptr, "OWNER_PTR", "owner")
    owner.add_dependency(dog)
    del dog
    gc.collect()
    assert alive() is not None
    owner.release()
    assert alive() is None
    assert owner.get_dependencies() == []
    assert [tag for tag, _ in RELEASES] == ["owner", "dog"]
    assert freed_log.addresses() == [address_of(owner_ptr), address_of(dog_ptr)]
    assert lib.rc_tn_misuse_count() == 0


def test_a_refused_dependency_object_is_not_kept(freed_log):
    """A dependency the owner refuses (here: a cycle) is not held by it."""
    a = LoggedHandle(new_dog(b"A"), "A_PTR", "a")
    b = LoggedHandle(new_dog(b"B"), "B_PTR", "b")
    a.add_dependency(b)
    alive = weakref.ref(a)
    with pytest.raises(GLib.Error) as info:
        b.add_dependency(a)
    assert_rc_error(info, Refcount.Error.CYCLE)
    del info
    del a
    gc.collect()
    assert alive() is None
    assert [tag for tag, _ in RELEASES] == ["a"]
    del b
    assert [tag for tag, _ in RELEASES] == ["a", "b"]


def test_release_code_of_the_owner_uses_its_dependency(freed_log):
    """The point of the feature: the owner's release code may still use what
    it depends on, whoever drops what first."""
    meals = []

    class Croc(Refcount.NativeHandle):
        def __init__(self, meal):
            super().__init__(lib.rc_tn_croc_new(), type_id="CROC_PTR")
            self.meal = meal  # a raw pointer: only the dependency keeps it valid

        def do_release_handle(self):
            meals.append(lib.rc_tn_croc_eat(self.get_handle(), self.meal))
            lib.rc_tn_release(self.get_handle())
            return True

    dog_ptr = new_dog(b"Lunch")
    dog = DeletableCffiNativeHandle(dog_ptr, lib.rc_tn_release, "DOG_PTR")
    croc = Croc(dog_ptr)
    croc.add_dependency(dog)
    del dog
    gc.collect()
    assert lib.rc_tn_is_alive(dog_ptr) == 1
    del croc
    gc.collect()
    assert meals == [1]
    assert lib.rc_tn_is_alive(dog_ptr) == 0
    assert lib.rc_tn_misuse_count() == 0


# ---------------------------------------------------------------------------
# pyrefcount's README sample, with add_dependency
# ---------------------------------------------------------------------------


class CustomCffiNativeHandle(CffiNativeHandle):
    def __init__(self, pointer, prior_ref_count=0):
        super(CustomCffiNativeHandle, self).__init__(pointer, type_id='', prior_ref_count=prior_ref_count)

    def _release_handle(self) -> bool:
        lib.rc_tn_release(self.get_handle())
        return True


class Dog(CustomCffiNativeHandle):
    def __init__(self, pointer=None):
        if pointer is None:
            pointer = lib.rc_tn_dog_new(b"Rex")
        super(Dog, self).__init__(pointer)

    @property
    def native_reference_count(self) -> int:
        return lib.rc_tn_get_ref_count(self.get_handle())


class DogOwner(CustomCffiNativeHandle):
    """The sample's DogOwner, with add_dependency instead of add_ref in
    __init__ and release in _release_handle (no override needed)."""

    def __init__(self, dog):
        super(DogOwner, self).__init__(None)
        self._set_handle(lib.rc_tn_owner_new(dog.get_handle()))
        self.add_dependency(dog)

    def say_walk(self):
        return lib.rc_tn_owner_walk(self.get_handle())


class BorrowingDogOwner(CustomCffiNativeHandle):
    """An owner whose native object takes no reference to the dog: only the
    dependency keeps the dog alive until the owner is freed."""

    def __init__(self, dog):
        super().__init__(None)
        self._set_handle(new_owner(dog.get_handle()))
        self.add_dependency(dog)

    def say_walk(self):
        return lib.rc_tn_owner_walk(self.get_handle())


@pytest.mark.parametrize("owner_class", [DogOwner, BorrowingDogOwner])
def test_sample_owner_outlives_the_dog_variable(owner_class, freed_log):
    dogs, owners = lib.rc_tn_dog_live_count(), lib.rc_tn_owner_live_count()
    native_refs = 2 if owner_class is DogOwner else 1
    dog = Dog()
    assert dog.reference_count == 1
    owner = owner_class(dog)
    assert owner.reference_count == 1
    assert dog.reference_count == 2
    assert dog.native_reference_count == native_refs
    assert owner.get_dependencies() == [dog]
    assert owner.say_walk() == 1
    dog_ptr, owner_ptr = dog.get_handle(), owner.get_handle()

    del dog
    gc.collect()
    assert lib.rc_tn_is_alive(dog_ptr) == 1
    assert lib.rc_tn_get_ref_count(dog_ptr) == native_refs
    (kept,) = owner.get_dependencies()
    assert type(kept) is Dog
    assert kept.get_handle() is dog_ptr
    assert kept.reference_count == 2  # the owner's and its wrapper's own
    assert kept.native_reference_count == native_refs
    del kept
    assert owner.say_walk() == 2

    del owner
    gc.collect()
    assert lib.rc_tn_is_alive(owner_ptr) == 0
    assert lib.rc_tn_is_alive(dog_ptr) == 0
    assert lib.rc_tn_dog_live_count() == dogs
    assert lib.rc_tn_owner_live_count() == owners
    assert freed_log.addresses() == [address_of(owner_ptr), address_of(dog_ptr)]
    assert lib.rc_tn_misuse_count() == 0


@pytest.mark.parametrize("owner_class", [DogOwner, BorrowingDogOwner])
def test_sample_release_owner_first_then_dog(owner_class, freed_log):
    dog = Dog()
    owner = owner_class(dog)
    dog_ptr, owner_ptr = dog.get_handle(), owner.get_handle()
    owner.release()
    assert owner.disposed
    assert owner.get_dependencies() == []
    assert lib.rc_tn_is_alive(owner_ptr) == 0
    assert dog.reference_count == 1
    assert lib.rc_tn_get_ref_count(dog_ptr) == 1
    dog.release()
    assert dog.disposed
    assert freed_log.addresses() == [address_of(owner_ptr), address_of(dog_ptr)]
    del owner, dog
    gc.collect()
    assert lib.rc_tn_misuse_count() == 0


@pytest.mark.parametrize("owner_class", [DogOwner, BorrowingDogOwner])
def test_sample_release_dog_first_then_owner(owner_class, freed_log):
    dog = Dog()
    owner = owner_class(dog)
    dog_ptr, owner_ptr = dog.get_handle(), owner.get_handle()
    dog.release()
    assert not dog.disposed
    assert dog.reference_count == 1
    assert owner.say_walk() == 1
    assert freed_log == []
    owner.release()
    assert dog.disposed
    assert freed_log.addresses() == [address_of(owner_ptr), address_of(dog_ptr)]
    del owner, dog
    gc.collect()
    assert lib.rc_tn_misuse_count() == 0


def test_sample_two_owners_share_a_dog(freed_log):
    dog = Dog()
    first, second = BorrowingDogOwner(dog), BorrowingDogOwner(dog)
    dog_ptr = dog.get_handle()
    first_ptr, second_ptr = first.get_handle(), second.get_handle()
    assert dog.reference_count == 3
    del dog
    first.release()
    gc.collect()
    assert lib.rc_tn_is_alive(dog_ptr) == 1
    assert second.say_walk() == 1
    del first, second
    gc.collect()
    assert freed_log.addresses() == [address_of(first_ptr), address_of(second_ptr), address_of(dog_ptr)]
    assert lib.rc_tn_misuse_count() == 0


def test_sample_manual_owner_and_dependency_owner_together(freed_log):
    """The sample's manual way (add_ref in __init__, release in
    _release_handle) still works next to add_dependency, on one dog."""

    class ManualOwner(CustomCffiNativeHandle):
        def __init__(self, dog):
            super().__init__(None)
            self._set_handle(lib.rc_tn_owner_new(dog.get_handle()))
            self.dog = dog
            self.dog.add_ref()

        def _release_handle(self) -> bool:
            super()._release_handle()
            self.dog.release()
            return True

    dog = Dog()
    dog_ptr = dog.get_handle()
    manual, declared = ManualOwner(dog), DogOwner(dog)
    assert dog.reference_count == 3
    assert dog.native_reference_count == 3
    del dog
    manual.release()
    assert lib.rc_tn_get_ref_count(dog_ptr) == 2
    assert declared.say_walk() == 1
    del manual, declared
    gc.collect()
    assert lib.rc_tn_is_alive(dog_ptr) == 0
    assert freed_log.count(address_of(dog_ptr)) == 1
    assert lib.rc_tn_misuse_count() == 0


def test_deletable_cffi_handles_with_a_dependency(freed_log):
    dog_ptr = new_dog(b"Deletable")
    owner_ptr = new_owner(dog_ptr)
    owner = DeletableCffiNativeHandle(owner_ptr, lib.rc_tn_release, "OWNER_PTR")
    # The dependency's only Python reference is given to add_dependency.
    owner.add_dependency(DeletableCffiNativeHandle(dog_ptr, lib.rc_tn_release, "DOG_PTR"))
    gc.collect()
    assert lib.rc_tn_is_alive(dog_ptr) == 1
    (dep,) = owner.get_dependencies()
    assert dep.reference_count == 2
    assert dep.type_id == "DOG_PTR"
    assert address_of(dep.get_handle()) == address_of(dog_ptr)
    del dep
    assert lib.rc_tn_owner_walk(owner.get_handle()) == 1
    del owner
    gc.collect()
    assert freed_log.addresses() == [address_of(owner_ptr), address_of(dog_ptr)]
    assert lib.rc_tn_misuse_count() == 0


def test_owning_cffi_handle_as_a_dependency():
    """A dependency released by doing nothing (the cffi object owns the
    memory) is still counted and released after its owner."""
    buf = ffi.new("char[8]", b"owned")
    view = OwningCffiNativeHandle(buf, "BUFFER")
    dog_ptr = new_dog(b"Reader")
    owner = DeletableCffiNativeHandle(dog_ptr, lib.rc_tn_release, "DOG_PTR")
    owner.add_dependency(view)
    assert view.reference_count == 2
    owner.release()
    assert view.reference_count == 1
    assert not view.disposed
    view.release()
    assert view.disposed
    assert lib.rc_tn_is_alive(dog_ptr) == 0


# ---------------------------------------------------------------------------
# get_dependencies, duplicates, order, failures
# ---------------------------------------------------------------------------


def test_get_dependencies_in_order_of_addition_duplicates_count_twice(freed_log):
    ptrs = [new_dog(b"D%d" % i) for i in range(3)]
    deps = [Refcount.DeletableNativeHandle(p, lib.rc_tn_release, type_id="DOG_PTR") for p in ptrs]
    owner_ptr = new_dog(b"Owner")
    owner = LoggedHandle(owner_ptr, "OWNER_PTR", "owner")
    assert owner.get_dependencies() == []
    for d in deps:
        owner.add_dependency(d)
    owner.add_dependency(deps[1])
    assert owner.get_dependencies() == [deps[0], deps[1], deps[2], deps[1]]
    assert [d.reference_count for d in deps] == [2, 3, 2]
    assert owner.reference_count == 1
    # The list is a copy: changing it changes nothing.
    listed = owner.get_dependencies()
    listed.clear()
    assert len(owner.get_dependencies()) == 4
    for d in deps:
        d.release()  # the caller's reference: only the owner's remain
    assert [d.reference_count for d in deps] == [1, 2, 1]
    assert freed_log == []
    owner.release()
    # Owner first, then its dependencies in reverse order of addition
    # (deps[1] twice: released by its first occurrence's count).
    assert freed_log.addresses() == [address_of(owner_ptr), address_of(ptrs[2]), address_of(ptrs[1]),
                                     address_of(ptrs[0])]
    assert [d.disposed for d in deps] == [True, True, True]
    assert owner.get_dependencies() == []
    assert RELEASES == [("owner", address_of(owner_ptr))]


def test_dependencies_released_in_reverse_order_by_python_code(freed_log):
    """Python release code of dependencies the caller dropped, run by the
    owner's release on the very objects (attributes intact), in reverse
    order of addition."""
    ptrs = [new_dog(b"P%d" % i) for i in range(4)]
    owner = PkgHandle(new_dog(b"Owner"), "OWNER_PTR", "owner")
    deps = [PkgHandle(p, "DOG_PTR", "dep%d" % i) for i, p in enumerate(ptrs)]
    for d in deps:
        owner.add_dependency(d)
    for d in deps:
        d.release()  # the caller's reference: the owner's alone is left
    assert [d.reference_count for d in deps] == [1, 1, 1, 1]
    del deps, d
    gc.collect()
    assert RELEASES == []
    del owner
    gc.collect()
    assert [tag for tag, _ in RELEASES] == ["owner", "dep3", "dep2", "dep1", "dep0"]
    assert all(lib.rc_tn_is_alive(p) == 0 for p in ptrs)


def test_dependency_with_outstanding_references_outlives_the_owner(freed_log):
    dog_ptr = new_dog(b"Shared")
    dog = Refcount.DeletableNativeHandle(dog_ptr, lib.rc_tn_release, type_id="DOG_PTR")
    dog.add_ref()
    owner = Refcount.DeletableNativeHandle(new_owner(dog_ptr), lib.rc_tn_release, type_id="OWNER_PTR")
    owner.add_dependency(dog)
    assert dog.reference_count == 3
    del owner
    assert dog.reference_count == 2
    dog.release()
    assert lib.rc_tn_is_alive(dog_ptr) == 1
    dog.release()
    assert lib.rc_tn_is_alive(dog_ptr) == 0
    assert freed_log.count(address_of(dog_ptr)) == 1


class FlakyOwner(Refcount.NativeHandle):
    """Its first release fails (returns False)."""

    def __init__(self, ptr):
        super().__init__(ptr, type_id="OWNER_PTR")
        self.attempts = 0

    def do_release_handle(self):
        self.attempts += 1
        if self.attempts == 1:
            return False
        lib.rc_tn_release(self.get_handle())
        return True


def test_failed_release_keeps_the_dependencies(freed_log):
    dog_ptr = new_dog(b"Patient")
    owner_ptr = new_owner(dog_ptr)
    dog = Refcount.DeletableNativeHandle(dog_ptr, lib.rc_tn_release, type_id="DOG_PTR")
    owner = FlakyOwner(owner_ptr)
    owner.add_dependency(dog)
    dog.release()
    owner.release()
    assert owner.attempts == 1
    assert owner.disposed is False
    # The resource still uses its dependency: kept, counted, listed.
    assert owner.get_dependencies() == [dog]
    assert dog.reference_count == 1
    assert lib.rc_tn_is_alive(dog_ptr) == 1
    owner.dispose()  # the retry succeeds
    assert owner.attempts == 2
    assert dog.disposed is True
    assert freed_log.addresses() == [address_of(owner_ptr), address_of(dog_ptr)]
    assert lib.rc_tn_misuse_count() == 0


def test_owner_finalized_with_outstanding_references_keeps_its_dependencies_counted():
    """Leaked on purpose: the owner's native resource still uses the dog, so
    the dog's counted reference is never given back (the dog leaks too)."""
    dog_ptr = new_dog(b"Leaked")
    owner_ptr = new_owner(dog_ptr)
    dog = Refcount.DeletableNativeHandle(dog_ptr, lib.rc_tn_release, type_id="DOG_PTR")
    owner = Refcount.DeletableNativeHandle(owner_ptr, lib.rc_tn_release, type_id="OWNER_PTR")
    owner.add_dependency(dog)
    owner.add_ref()
    del owner
    gc.collect()
    # The wrapper's own and the leaked owner's.
    assert dog.reference_count == 2
    del dog
    gc.collect()
    # The wrapper's given back, the owner's never.
    assert lib.rc_tn_is_alive(dog_ptr) == 1
    # Clean up the leak natively, owner first.
    lib.rc_tn_release(owner_ptr)
    lib.rc_tn_release(dog_ptr)
    assert lib.rc_tn_misuse_count() == 0


def test_cycle_through_a_dependency_edge_broken_by_hand(freed_log):
    """The documented limit: a Python reference from the dependency back to
    its owner closes a cycle through the C edge, which the garbage
    collector may not see.  Breaking it by hand frees both, in order."""
    dog_ptr = new_dog(b"Loop")
    owner_ptr = new_owner(dog_ptr)
    dog = LoggedHandle(dog_ptr, "DOG_PTR", "dog")
    owner = LoggedHandle(owner_ptr, "OWNER_PTR", "owner")
    owner.add_dependency(dog)
    dog.pal = owner
    alive = weakref.ref(dog)
    del dog, owner
    gc.collect()
    if alive() is not None:
        assert freed_log == []
        del alive().pal
        gc.collect()
    assert alive() is None
    assert freed_log.addresses() == [address_of(owner_ptr), address_of(dog_ptr)]
    assert [tag for tag, _ in RELEASES] == ["owner", "dog"]
    assert lib.rc_tn_misuse_count() == 0


def test_long_chain_released_from_its_head_in_a_subprocess():
    """h[i] depends on h[i-1], each dropped by Python as the chain grows;
    dropping the last releases the whole chain, last to first, without
    overflowing the stack (a crash is the child's exit status)."""
    n = 10000 if QUICK else 30000
    script = CHAIN_SCRIPT
    for layer in ("gi", "pkg"):
        process = run_python(script, layer, n, rcnative.CDEF, seconds=300)
        assert_clean_exit(process)
        assert process.stdout.strip() == "chain %s %d released in order" % (layer, n), describe_run(process)


CHAIN_SCRIPT = r'''
import gc
import sys

import cffi
import gi

gi.require_version("Refcount", "1.0")
from gi.repository import Refcount
from refcount.interop import DeletableCffiNativeHandle

import os

layer, n = sys.argv[1], int(sys.argv[2])
ffi = cffi.FFI()
ffi.cdef(sys.argv[3])
lib = ffi.dlopen(os.environ["RC_TEST_NATIVE_LIB"])
order = []


@ffi.callback("void(void *, int, void *)")
def on_freed(obj, kind, user_data):
    order.append(int(ffi.cast("uintptr_t", obj)))


lib.rc_tn_set_freed_callback(on_freed, ffi.NULL)
addresses = []
head = None
for i in range(n):
    ptr = lib.rc_tn_dog_new(b"link")
    addresses.append(int(ffi.cast("uintptr_t", ptr)))
    if layer == "gi":
        h = Refcount.DeletableNativeHandle(ptr, lib.rc_tn_release, type_id="LINK")
    else:
        h = DeletableCffiNativeHandle(ptr, lib.rc_tn_release, "LINK")
    if head is not None:
        h.add_dependency(head)
    head = h
del h, ptr
gc.collect()
assert lib.rc_tn_live_count() == n, lib.rc_tn_live_count()
assert order == []
del head
gc.collect()
assert lib.rc_tn_live_count() == 0, lib.rc_tn_live_count()
assert order == addresses[::-1], "released out of order"
assert lib.rc_tn_misuse_count() == 0
assert Refcount.NativeHandle.get_live_count() == 0, Refcount.NativeHandle.get_live_count()
lib.rc_tn_set_freed_callback(ffi.NULL, ffi.NULL)
print("chain %s %d released in order" % (layer, n))
'''


# ---------------------------------------------------------------------------
# Refusals
# ---------------------------------------------------------------------------


def _dog_handle(kind="gi_native", type_id="DOG_PTR"):
    return make(kind, new_dog(b"R"), type_id, type_id)


def _assert_refused(excinfo, code, *type_ids):
    assert_rc_error(excinfo, code)
    for type_id in type_ids:
        assert type_id in excinfo.value.message, (type_id, excinfo.value.message)


def test_error_enum_has_cycle():
    assert Refcount.Error.CYCLE != Refcount.Error.DISPOSED
    assert int(Refcount.Error.CYCLE) == int(Refcount.Error.WRONG_TYPE) + 1


def test_self_dependency_is_a_cycle():
    for kind in sorted(KINDS):
        a = _dog_handle(kind, "SELF_PTR")
        with pytest.raises(GLib.Error) as excinfo:
            a.add_dependency(a)
        _assert_refused(excinfo, Refcount.Error.CYCLE, "SELF_PTR")
        del excinfo
        assert a.reference_count == 1, kind
        assert a.get_dependencies() == [], kind
        del a


def test_two_cycle_is_refused():
    for kinds in [("gi_native", "gi_native"), ("gi_subclass", "pkg_subclass"),
                  ("pkg_deletable", "gi_python_callable")]:
        a, b = _dog_handle(kinds[0], "A_PTR"), _dog_handle(kinds[1], "B_PTR")
        a.add_dependency(b)
        with pytest.raises(GLib.Error) as excinfo:
            b.add_dependency(a)
        _assert_refused(excinfo, Refcount.Error.CYCLE, "A_PTR", "B_PTR")
        del excinfo
        assert a.reference_count == 1, kinds
        assert b.reference_count == 2, kinds
        assert b.get_dependencies() == [], kinds
        assert a.get_dependencies() == [b], kinds
        del a, b


def test_longer_cycles_are_refused_and_nothing_changes(freed_log):
    ids = ["H%d_PTR" % i for i in range(5)]
    h = [_dog_handle("gi_native", type_id) for type_id in ids]
    for i in range(1, 5):
        h[i].add_dependency(h[i - 1])  # h4 -> h3 -> h2 -> h1 -> h0
    counts = [x.reference_count for x in h]
    for i in range(4):
        for j in range(i + 1, 5):
            with pytest.raises(GLib.Error) as excinfo:
                h[i].add_dependency(h[j])
            _assert_refused(excinfo, Refcount.Error.CYCLE, ids[i], ids[j])
    del excinfo
    assert [x.reference_count for x in h] == counts
    assert [len(x.get_dependencies()) for x in h] == [0, 1, 1, 1, 1]
    # Not cycles: a diamond and a shortcut down the chain.
    h[4].add_dependency(h[0])
    h[3].add_dependency(h[1])
    assert h[0].reference_count == counts[0] + 1
    addresses = [x.address for x in h]
    del h
    gc.collect()
    freed = freed_log.addresses()
    assert sorted(freed) == sorted(addresses)
    # Each handle's native release before that of everything it depends on.
    position = {address: i for i, address in enumerate(freed)}
    for i in range(1, 5):
        assert position[addresses[i]] < position[addresses[i - 1]]
    assert position[addresses[4]] < position[addresses[0]]
    assert position[addresses[3]] < position[addresses[1]]


def test_cycle_through_a_released_handle_is_disposed_not_cycle():
    a, b = _dog_handle("gi_native", "A_PTR"), _dog_handle("gi_native", "B_PTR")
    a.add_dependency(b)
    a.release()  # releases b's counted reference too, and drops b
    assert a.get_dependencies() == []
    assert b.reference_count == 1
    with pytest.raises(GLib.Error) as excinfo:
        b.add_dependency(a)
    _assert_refused(excinfo, Refcount.Error.DISPOSED, "A_PTR", "B_PTR")


REFUSAL_KINDS = ["gi_native", "gi_subclass", "pkg_subclass", "pkg_deletable"]


def test_released_dependency_is_refused():
    for owner_kind in REFUSAL_KINDS:
        for dep_kind in REFUSAL_KINDS:
            owner, dep = _dog_handle(owner_kind, "OWNER_PTR"), _dog_handle(dep_kind, "DOG_PTR")
            dep.release()
            with pytest.raises(GLib.Error) as excinfo:
                owner.add_dependency(dep)
            _assert_refused(excinfo, Refcount.Error.DISPOSED, "OWNER_PTR", "DOG_PTR")
            del excinfo
            assert dep.reference_count == 0, (owner_kind, dep_kind)
            assert owner.get_dependencies() == [], (owner_kind, dep_kind)
            del owner, dep


def test_released_owner_is_refused():
    for owner_kind in REFUSAL_KINDS:
        owner, dep = _dog_handle(owner_kind, "OWNER_PTR"), _dog_handle("gi_native", "DOG_PTR")
        owner.release()
        with pytest.raises(GLib.Error) as excinfo:
            owner.add_dependency(dep)
        _assert_refused(excinfo, Refcount.Error.DISPOSED, "OWNER_PTR", "DOG_PTR")
        del excinfo
        assert dep.reference_count == 1, owner_kind
        dep.release()
        assert dep.disposed, owner_kind
        del owner, dep


class NeverSet(Refcount.NativeHandle):
    def do_release_handle(self):  # pragma: no cover - never set, never released
        raise AssertionError("released a handle that was never set")


class PkgNeverSet(CffiNativeHandle):
    def __init__(self):
        super().__init__(None, type_id="UNSET_PTR")

    def _release_handle(self) -> bool:  # pragma: no cover
        raise AssertionError("released a handle that was never set")


def test_handle_without_a_pointer_is_refused_on_either_side():
    for unset in (NeverSet(None, type_id="UNSET_PTR"), PkgNeverSet()):
        dog = _dog_handle("gi_native", "DOG_PTR")
        with pytest.raises(GLib.Error) as excinfo:
            unset.add_dependency(dog)
        _assert_refused(excinfo, Refcount.Error.DISPOSED, "UNSET_PTR", "DOG_PTR")
        with pytest.raises(GLib.Error) as excinfo:
            dog.add_dependency(unset)
        _assert_refused(excinfo, Refcount.Error.DISPOSED, "UNSET_PTR", "DOG_PTR")
        del excinfo
        assert dog.reference_count == 1, type(unset)
        assert dog.get_dependencies() == [], type(unset)
        assert unset.get_dependencies() == [], type(unset)
        del unset, dog


def test_non_handle_dependency_is_a_type_error():
    counter = Refcount.ReferenceCounter()
    for owner_kind in REFUSAL_KINDS:
        owner = _dog_handle(owner_kind, "OWNER_PTR")
        for not_a_handle in (None, 5, object(), "DOG_PTR", counter, new_dog(b"raw"), GenericWrapper(None)):
            with pytest.raises(TypeError):
                owner.add_dependency(not_a_handle)
            if isinstance(not_a_handle, ffi.CData):
                lib.rc_tn_release(not_a_handle)
        assert counter.reference_count == 1, owner_kind
        assert owner.get_dependencies() == [], owner_kind
        assert owner.reference_count == 1, owner_kind
        del owner


def test_add_dependency_never_releases_an_owner_at_count_zero(freed_log):
    """decrement_ref is a raw adjustment: at 0 nothing is released and the
    handle stays open.  add_dependency may take such an owner as open or
    refuse it as released (DISPOSED); it must not release it."""
    owner_ptr, dog_ptr = new_dog(b"Zero"), new_dog(b"Dep")
    owner = Refcount.DeletableNativeHandle(owner_ptr, lib.rc_tn_release, type_id="OWNER_PTR")
    dog = Refcount.DeletableNativeHandle(dog_ptr, lib.rc_tn_release, type_id="DOG_PTR")
    owner.decrement_ref()
    assert owner.reference_count == 0 and owner.disposed is False
    try:
        owner.add_dependency(dog)
    except GLib.Error as error:
        accepted = False
        assert error.code == int(Refcount.Error.DISPOSED), error.message
    else:
        accepted = True
    assert owner.disposed is False, "add_dependency released the owner"
    assert freed_log == [], "add_dependency released the owner"
    assert dog.reference_count == (2 if accepted else 1)
    assert owner.get_dependencies() == ([dog] if accepted else [])
    owner.release()
    dog.release()
    assert freed_log.addresses() == [address_of(owner_ptr), address_of(dog_ptr)]


def test_refused_cycle_never_releases_a_dependency_at_count_zero(freed_log):
    a_ptr, b_ptr = new_dog(b"A"), new_dog(b"B")
    a = Refcount.DeletableNativeHandle(a_ptr, lib.rc_tn_release, type_id="A_PTR")
    b = Refcount.DeletableNativeHandle(b_ptr, lib.rc_tn_release, type_id="B_PTR")
    a.add_dependency(b)
    a.decrement_ref()
    assert a.reference_count == 0 and a.disposed is False
    with pytest.raises(GLib.Error) as excinfo:
        b.add_dependency(a)
    _assert_refused(excinfo, Refcount.Error.CYCLE, "A_PTR", "B_PTR")
    del excinfo
    assert a.disposed is False, "the refused add_dependency released the dependency"
    assert a.reference_count == 0
    assert b.reference_count == 2
    assert freed_log == []
    a.release()
    b.release()
    assert freed_log.addresses() == [address_of(a_ptr), address_of(b_ptr)]


# ---------------------------------------------------------------------------
# Threads
# ---------------------------------------------------------------------------

N_THREADS = 8
ROUNDS = 4 if QUICK else 25
OWNERS_PER_DOG = 3


class ThreadOwner(Refcount.NativeHandle):
    """A borrowing owner released by Python code that uses its dog."""

    def __init__(self, dog_ptr):
        super().__init__(new_owner(dog_ptr), type_id="OWNER_PTR")
        self.dog_ptr = dog_ptr

    def do_release_handle(self):
        name = lib.rc_tn_dog_get_name(self.dog_ptr)  # misuse if the dog was released
        RELEASES.append(("owner", self.address, name != ffi.NULL))
        lib.rc_tn_release(self.get_handle())
        return True


def _one_round(round_index, freed_log):
    """N_THREADS dogs, each with OWNERS_PER_DOG owners of mixed kinds that
    depend on it; every handle dropped or released by a random thread."""
    import random

    rng = random.Random(round_index)
    dog_ptrs = [new_dog(b"T%d" % i) for i in range(N_THREADS)]
    owners_of = {}
    items = []
    for i, dog_ptr in enumerate(dog_ptrs):
        if i % 2:
            dog = Refcount.DeletableNativeHandle(dog_ptr, lib.rc_tn_release, type_id="DOG_PTR")
        else:
            dog = DeletableCffiNativeHandle(dog_ptr, lib.rc_tn_release, "DOG_PTR")
        owners_of[address_of(dog_ptr)] = []
        for j in range(OWNERS_PER_DOG):
            if (i + j) % 2:
                owner = ThreadOwner(dog_ptr)
            else:
                owner = Refcount.DeletableNativeHandle(new_owner(dog_ptr), lib.rc_tn_release,
                                                       type_id="OWNER_PTR")
            owner.add_dependency(dog)
            owners_of[address_of(dog_ptr)].append(owner.address)
            items.append(owner)
        items.append(dog)
    del dog, owner
    rng.shuffle(items)
    work = [[] for _ in range(N_THREADS)]
    for k, item in enumerate(items):
        work[k % N_THREADS].append((item, rng.choice(["del", "release", "dispose"])))
    del items, item
    barrier = threading.Barrier(N_THREADS, timeout=timeout(60))
    errors = []

    def worker(i):
        try:
            mine = work[i]
            work[i] = None
            barrier.wait()
            while mine:
                handle, how = mine.pop()
                if how != "del":
                    getattr(handle, how)()
                del handle
        except BaseException:  # noqa: B902 - reported to the main thread
            errors.append(traceback.format_exc())

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(N_THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout(60))
    assert not any(t.is_alive() for t in threads), "a worker thread is stuck"
    assert errors == [], "\n".join(errors)
    gc.collect()
    assert lib.rc_tn_misuse_count() == 0, "a dog was released before one of its owners"
    position = {}
    for k, address in enumerate(freed_log.addresses()):
        assert address not in position, "freed twice"
        position[address] = k
    for dog_address, owner_addresses in owners_of.items():
        assert dog_address in position, "a dog was never released"
        for owner_address in owner_addresses:
            assert owner_address in position, "an owner was never released"
            assert position[owner_address] < position[dog_address], "a dog was freed before its owner"
    assert all(seen for _, _, seen in RELEASES), "an owner's release found its dog gone"
    assert len(RELEASES) == N_THREADS * OWNERS_PER_DOG // 2
    assert all(lib.rc_tn_is_alive(p) == 0 for p in dog_ptrs)


def test_threads_drop_owners_and_dogs_concurrently(fast_switching, freed_log, frozen_gc):
    for round_index in range(ROUNDS):
        freed_log.clear()
        RELEASES.clear()
        _one_round(round_index, freed_log)


def _add_dependency_at_barrier(owner, dog, barrier, outcome):
    barrier.wait()
    try:
        owner.add_dependency(dog)
        outcome.append("accepted")
    except GLib.Error as error:
        outcome.append((error.domain, error.code))


def test_dependency_added_while_another_thread_releases_the_owner(fast_switching, freed_log):
    """add_dependency racing the owner's last release: either refused
    (DISPOSED) with nothing taken, or accepted and released after the owner."""
    rounds = 20 if QUICK else 200
    accepted = refused = 0
    for r in range(rounds):
        owner_ptr = new_dog(b"O")
        dog_ptr = new_dog(b"D")
        owner = Refcount.DeletableNativeHandle(owner_ptr, lib.rc_tn_release, type_id="OWNER_PTR")
        dog = Refcount.DeletableNativeHandle(dog_ptr, lib.rc_tn_release, type_id="DOG_PTR")
        barrier = threading.Barrier(2, timeout=timeout(60))
        outcome = []
        t = threading.Thread(target=_add_dependency_at_barrier, args=(owner, dog, barrier, outcome))
        t.start()
        barrier.wait()
        owner.release()
        t.join(timeout(60))
        assert not t.is_alive()
        freed_log.clear()
        if outcome == ["accepted"]:
            accepted += 1
            # Released after the owner already: only the caller's reference left.
            assert dog.reference_count == 1
        else:
            refused += 1
            assert outcome == [(rcnative.RC_ERROR_DOMAIN, int(Refcount.Error.DISPOSED))], outcome
            assert dog.reference_count == 1
        assert lib.rc_tn_is_alive(owner_ptr) == 0
        assert lib.rc_tn_is_alive(dog_ptr) == 1
        dog.release()
        assert freed_log.addresses() == [address_of(dog_ptr)]
        del owner, dog, t
    assert accepted + refused == rounds


# ---------------------------------------------------------------------------
# Live report
# ---------------------------------------------------------------------------

NOT_TRACKED = "refcount live handles: not tracked (set RC_DEBUG=leaks)\n"


def test_live_report_not_tracked_by_default():
    assert os.environ.get("RC_DEBUG", "") == ""  # as meson sets it
    dog = _dog_handle("gi_native", "DOG_PTR")
    assert Refcount.debug_live_report() == NOT_TRACKED
    assert refcount.debug.live_report() == NOT_TRACKED
    dog.release()


REPORT_SCRIPT = r'''
import gc
import os
import sys

import cffi
import gi

gi.require_version("Refcount", "1.0")
from gi.repository import Refcount
import refcount.debug
from refcount.interop import CffiNativeHandle

ffi = cffi.FFI()
ffi.cdef(sys.argv[2])
lib = ffi.dlopen(os.environ["RC_TEST_NATIVE_LIB"])
mode = sys.argv[1]


class PkgDog(CffiNativeHandle):
    def _release_handle(self):
        lib.rc_tn_release(self.get_handle())
        return True


def report(label):
    text = Refcount.debug_live_report()
    assert refcount.debug.live_report() == text, (text, refcount.debug.live_report())
    sys.stdout.write("== %s\n%s" % (label, text))
    sys.stdout.flush()


report("empty")
dog = Refcount.DeletableNativeHandle(lib.rc_tn_dog_new(b"a"), lib.rc_tn_release, type_id="DOG_PTR")
owner = Refcount.DeletableNativeHandle(lib.rc_tn_croc_new(), lib.rc_tn_release, type_id="OWNER_PTR")
owner.add_dependency(dog)
leaked_ptr = lib.rc_tn_dog_new(b"b")
leaked = Refcount.DeletableNativeHandle(leaked_ptr, lib.rc_tn_release, type_id="DOG_PTR")
if mode == "leak":
    leaked.add_ref()
del leaked
gc.collect()
anonymous = Refcount.DeletableNativeHandle(lib.rc_tn_dog_new(b"c"), lib.rc_tn_release)
pkg = PkgDog(lib.rc_tn_dog_new(b"d"), type_id="PKG_PTR")
report("full")
del dog
owner.release()
anonymous.release()
pkg.release()
gc.collect()
report("leaked only")
'''


def _sections(stdout):
    sections, current = {}, None
    for line in stdout.splitlines(keepends=True):
        if line.startswith("== "):
            current = line[3:].strip()
            sections[current] = ""
        else:
            sections[current] += line
    return sections


def test_live_report_with_rc_debug_leaks():
    process = run_python(REPORT_SCRIPT, "leak", rcnative.CDEF, env={"RC_DEBUG": "leaks"})
    assert process.returncode == 0, describe_run(process)
    sections = _sections(process.stdout)
    assert sections["empty"] == "refcount live handles: 0 not released\n", describe_run(process)

    full = sections["full"].splitlines()
    assert full[0] == "refcount live handles: 5 not released", describe_run(process)
    type_lines = [line for line in full[1:] if line.startswith("  type id ")]
    assert sorted(type_lines) == sorted([
        '  type id (none): 1 not released (1 alive, 0 finalized with outstanding references)',
        '  type id "DOG_PTR": 2 not released (1 alive, 1 finalized with outstanding references)',
        '  type id "OWNER_PTR": 1 not released (1 alive, 0 finalized with outstanding references)',
        '  type id "PKG_PTR": 1 not released (1 alive, 0 finalized with outstanding references)',
    ]), describe_run(process)
    assert full[1:len(type_lines) + 1] == type_lines, "type lines first: " + describe_run(process)
    named = [line for line in type_lines if '"' in line]
    assert named == sorted(named), "type ids sorted: " + describe_run(process)
    rest = full[len(type_lines) + 1:]
    assert rest[0] == "dependencies keeping them alive:", describe_run(process)
    assert len(rest) == 2, describe_run(process)
    edge = re.fullmatch(
        r'  "OWNER_PTR" \(RcDeletableNativeHandle (0x[0-9a-f]+)\) -> "DOG_PTR" \(RcDeletableNativeHandle (0x[0-9a-f]+)\)',
        rest[1])
    assert edge is not None, describe_run(process)
    assert edge.group(1) != edge.group(2)

    assert sections["leaked only"] == (
        "refcount live handles: 1 not released\n"
        '  type id "DOG_PTR": 1 not released (0 alive, 1 finalized with outstanding references)\n'
    ), describe_run(process)
    # At exit, the same report on stderr.
    assert sections["leaked only"] in process.stderr, describe_run(process)
    for marker in rcnative.CRASH_MARKERS + ("Traceback",):
        assert marker not in process.stderr, describe_run(process)


def test_live_report_at_exit_only_when_handles_are_not_released():
    """Everything released: "0 not released", and no report at exit."""
    process = run_python(REPORT_SCRIPT, "clean", rcnative.CDEF, env={"RC_DEBUG": "leaks"})
    assert process.returncode == 0, describe_run(process)
    sections = _sections(process.stdout)
    assert sections["full"].startswith("refcount live handles: 4 not released\n"), describe_run(process)
    assert sections["leaked only"] == "refcount live handles: 0 not released\n", describe_run(process)
    assert "refcount live handles" not in process.stderr, describe_run(process)


@pytest.mark.parametrize("value", [None, "nothing"])
def test_live_report_not_tracked_without_leaks_in_rc_debug(value):
    process = run_python(REPORT_SCRIPT, "leak", rcnative.CDEF, env={"RC_DEBUG": value})
    assert process.returncode == 0, describe_run(process)
    sections = _sections(process.stdout)
    assert set(sections) == {"empty", "full", "leaked only"}, describe_run(process)
    assert all(text == NOT_TRACKED for text in sections.values()), describe_run(process)
    assert "refcount live handles" not in process.stderr, describe_run(process)
