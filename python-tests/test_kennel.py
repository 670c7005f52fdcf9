"""A GObject library built on refcount, from Python: Kennel (tests/gilib).

Kennel's classes, Dog and DogOwner, derive from Refcount.NativeHandle and
wrap the test native library's dogs and owners; the owner declares its dog
as a dependency. These tests play the dog and owner scenario through
Kennel's own typelib (Kennel-1.0, which includes Refcount-1.0), with the
native counts and the freed log as ground truth (the autouse
native_balance fixture checks that everything is freed, once).
"""

import gc

import gi

gi.require_version("Refcount", "1.0")
gi.require_version("Kennel", "1.0")
from gi.repository import GLib, Kennel, Refcount  # noqa: E402

import pytest  # noqa: E402

from rcnative import KIND_DOG, KIND_OWNER, assert_rc_error, lib  # noqa: E402


def test_kennel_classes_are_native_handles():
    dog = Kennel.Dog.new("Rex")
    assert isinstance(dog, Refcount.NativeHandle)
    assert dog.type_id == "DOG_PTR"
    assert dog.reference_count == 1
    assert dog.dup_name() == "Rex"


def test_census_is_the_native_count():
    before = lib.rc_tn_dog_live_count()
    dog = Kennel.Dog.new("Rex")
    assert Kennel.get_live_dog_count() == lib.rc_tn_dog_live_count() == before + 1
    del dog
    assert Kennel.get_live_dog_count() == before


def test_dropped_dog_and_owner_are_released(freed_log):
    dogs, owners = lib.rc_tn_dog_live_count(), lib.rc_tn_owner_live_count()
    dog = Kennel.Dog.new("Rex")
    owner = Kennel.DogOwner.new(dog)
    assert owner.walk() == 1
    assert dog.reference_count == 2
    del dog, owner
    gc.collect()
    assert lib.rc_tn_dog_live_count() == dogs
    assert lib.rc_tn_owner_live_count() == owners
    # The owner is freed first, then the dog it kept.
    assert [kind for _, kind in freed_log] == [KIND_OWNER, KIND_DOG]


def test_owner_keeps_its_dog(freed_log):
    dogs = lib.rc_tn_dog_live_count()
    dog = Kennel.Dog.new("Rex")
    owner = Kennel.DogOwner.new(dog)
    # The creator's reference given back; the owner's dependency remains.
    dog.release()
    assert not dog.disposed
    assert dog.reference_count == 1
    del dog
    gc.collect()
    assert lib.rc_tn_dog_live_count() == dogs + 1
    assert owner.get_dog().dup_name() == "Rex"
    assert owner.walk() == 1
    assert freed_log == []

    kept = owner.get_dog()
    owner.release()
    assert owner.disposed
    assert kept.disposed
    assert [kind for _, kind in freed_log] == [KIND_OWNER, KIND_DOG]
    assert lib.rc_tn_dog_live_count() == dogs


def test_dependency_declared_from_python(freed_log):
    owner = Kennel.DogOwner.new(Kennel.Dog.new("Rex"))
    friend = Kennel.Dog.new("Fido")
    owner.add_dependency(friend)
    assert friend.reference_count == 2
    friend.release()
    assert not friend.disposed
    assert friend.dup_name() == "Fido"
    del owner
    gc.collect()
    assert friend.disposed
    # The owner first, then its dependencies, the last declared first.
    assert [kind for _, kind in freed_log] == [KIND_OWNER, KIND_DOG, KIND_DOG]


def test_released_dog_cannot_be_owned():
    owners = lib.rc_tn_owner_live_count()
    dog = Kennel.Dog.new("Rex")
    dog.release()
    with pytest.raises(GLib.Error) as excinfo:
        Kennel.DogOwner.new(dog)
    assert_rc_error(excinfo, Refcount.Error.DISPOSED)
    assert lib.rc_tn_owner_live_count() == owners
