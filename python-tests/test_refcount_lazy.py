"""The package's handles count by themselves (an RcCounter in the Python
object) and get their GObject only when C code needs it: as_gobject(), a
dependency, Refcount.is_native_handle()... From then on the GObject holds
the same count, phase and pointer, and the resource is still released once.
Native counts of the test library say whether it was."""

import gc
import warnings

import gi

gi.require_version("Refcount", "1.0")
from gi.repository import GLib, Refcount  # noqa: E402

import pytest  # noqa: E402

from refcount.base import ReferenceCounter, _core  # noqa: E402
from refcount.interop import (  # noqa: E402
    CffiNativeHandle,
    DeletableCffiNativeHandle,
    OwningCffiNativeHandle,
)

from rcnative import ffi, lib, new_dog  # noqa: E402


class Dog(CffiNativeHandle):
    def __init__(self, pointer, type_id="dog"):
        super().__init__(pointer, type_id=type_id)
        self.releases = 0

    def _release_handle(self) -> bool:
        self.releases += 1
        lib.rc_tn_release(self.get_handle())
        return True


@pytest.fixture(autouse=True)
def no_misuse():
    lib.rc_tn_reset_misuse_count()
    yield
    assert lib.rc_tn_misuse_count() == 0


def live_gobjects():
    gc.collect()
    return Refcount.NativeHandle.get_live_count()


def test_no_gobject_until_c_code_needs_one():
    before = live_gobjects()
    dog = Dog(new_dog())
    owning = OwningCffiNativeHandle(ffi.new("double[4]"))
    counter = ReferenceCounter(2)
    later = Dog(None)
    assert live_gobjects() == before
    assert dog.get_dependencies() == []
    dog.as_gobject()
    assert live_gobjects() == before + 1
    deletable = DeletableCffiNativeHandle(new_dog(), lib.rc_tn_release)
    assert live_gobjects() == before + 1
    for h in (dog, owning, later, deletable):
        h.release()
    assert counter.reference_count == 3


def test_the_gobject_takes_the_count_and_the_one_release():
    pointer = new_dog()
    dog = Dog(pointer)
    dog.add_ref()
    dog.add_ref()
    gobject = dog.as_gobject()
    assert gobject.get_reference_count() == 3 == dog.reference_count
    dog.release()
    gobject.release()
    assert dog.reference_count == 1
    del gobject
    gc.collect()
    assert dog.reference_count == 1 and lib.rc_tn_is_alive(pointer) == 1
    del dog  # the creator's reference: released, once (misuse counts twice)
    gc.collect()
    assert lib.rc_tn_is_alive(pointer) == 0


def test_the_finalizer_releases_a_handle_handed_over_and_let_go():
    pointer = new_dog()
    dog = Dog(pointer)
    dog.as_gobject()
    del dog
    gc.collect()
    assert lib.rc_tn_is_alive(pointer) == 0


def test_a_released_handle_hands_over_a_released_gobject():
    pointer = new_dog()
    dog = Dog(pointer)
    dog.release()
    assert lib.rc_tn_is_alive(pointer) == 0
    gobject = dog.as_gobject()
    assert gobject.is_disposed()
    assert gobject.get_reference_count() == 0
    gobject.release()
    dog.release()
    assert dog.releases == 1
    with pytest.raises(GLib.Error):
        dog.acquire()


def test_the_creators_reference_given_back_stays_given_back():
    pointer = new_dog()
    dog = Dog(pointer)
    dog.add_ref()
    assert _core._drop_at_exit(dog) is True  # what the atexit pass does
    assert _core._drop_at_exit(dog) is False
    assert dog.reference_count == 1
    gobject = dog.as_gobject()
    assert gobject.get_reference_count() == 1
    del gobject
    dog.release()
    assert dog.releases == 1 and lib.rc_tn_is_alive(pointer) == 0
    del dog
    gc.collect()


def test_handing_over_during_the_release_is_refused():
    errors = []

    class Curious(Dog):
        def _release_handle(self) -> bool:
            try:
                self.as_gobject()
            except RuntimeError as error:
                errors.append(str(error))
            return super()._release_handle()

    pointer = new_dog()
    dog = Curious(pointer)
    dog.release()
    assert errors == ["This handle is being released: it cannot be handed to C code"]
    assert dog.releases == 1 and lib.rc_tn_is_alive(pointer) == 0


def test_a_failed_release_is_retried_by_the_gobject():
    class Failing(Dog):
        answer = False

        def _release_handle(self) -> bool:
            return self.answer and super()._release_handle()

    pointer = new_dog()
    dog = Failing(pointer)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dog.release()
    assert not dog.disposed and dog.reference_count == 0
    gobject = dog.as_gobject()
    assert not gobject.is_disposed() and gobject.get_reference_count() == 0
    dog.answer = True
    gobject.add_ref()
    gobject.release()
    assert dog.disposed and dog.releases == 1
    assert lib.rc_tn_is_alive(pointer) == 0


def test_an_unset_handle_hands_over_an_unset_gobject():
    dog = Dog(None)
    gobject = dog.as_gobject()
    assert gobject.is_disposed() and gobject.get_handle() is None
    assert gobject.get_reference_count() == 1


def test_acquire_without_a_gobject():
    pointer = new_dog()
    dog = Dog(pointer)
    assert dog.acquire() is dog.get_handle()
    assert dog.reference_count == 2
    dog.release()
    dog.release()
    with pytest.raises(GLib.Error) as raised:
        dog.acquire()
    assert raised.value.matches(Refcount.error_quark(), Refcount.Error.DISPOSED)
    assert 'type id "dog"' in raised.value.message


def test_address_without_a_gobject():
    buffer = ffi.new("double[2]")
    owning = OwningCffiNativeHandle(buffer)
    assert owning.address == int(ffi.cast("uintptr_t", buffer))
    assert CffiNativeHandle.__new__(Dog).address is None  # never initialized
    owning.release()
    assert owning.address is None and owning.get_handle() is None


def test_a_deletable_handle_hands_over_its_native_release():
    pointer = new_dog()
    deletable = DeletableCffiNativeHandle(pointer, lib.rc_tn_release, "dog")
    gobject = deletable.as_gobject()
    assert type(gobject).__name__ == "DeletableNativeHandle"
    assert gobject.get_type_id() == "dog"
    del deletable
    gc.collect()
    assert lib.rc_tn_is_alive(pointer) == 1  # C holds it
    gobject.release()
    assert lib.rc_tn_is_alive(pointer) == 0


def test_a_dependency_hands_both_over():
    dog_pointer, owner_pointer = new_dog(), new_dog(b"Owner")
    dog, owner = Dog(dog_pointer), Dog(owner_pointer, type_id="owner")
    before = live_gobjects()
    owner.add_dependency(dog)
    assert live_gobjects() == before + 2
    assert owner.get_dependencies() == [dog]
    dog.release()
    assert lib.rc_tn_is_alive(dog_pointer) == 1
    owner.release()
    assert lib.rc_tn_is_alive(owner_pointer) == 0
    assert lib.rc_tn_is_alive(dog_pointer) == 0
    assert dog.releases == owner.releases == 1
