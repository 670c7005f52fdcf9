"""The seed's sample, written for pyrefcount, unchanged but for its import
line, against the native test library through cffi: a Dog and a DogOwner
that holds a native reference to its dog."""

import gc

from refcount.interop import CffiData, CffiNativeHandle

from rcnative import address_of, lib


# ---- the sample, as written for pyrefcount --------------------------------

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
    def __init__(self, dog):
        super(DogOwner, self).__init__(None)
        self._set_handle(lib.rc_tn_owner_new(dog.get_handle()))
        self.dog = dog
        self.dog.add_ref()

    def say_walk(self):
        return lib.rc_tn_owner_walk(self.get_handle())

    def _release_handle(self) -> bool:
        super(DogOwner, self)._release_handle()
        self.dog.release()
        return True

# ---- end of the sample -----------------------------------------------------


def test_cffi_data_is_importable_for_annotations():
    def takes(pointer: CffiData) -> CffiData:
        return pointer

    assert takes(None) is None


def test_dog_starts_with_one_reference_each_side():
    dog = Dog()
    assert dog.reference_count == 1
    assert dog.native_reference_count == 1
    assert lib.rc_tn_dog_live_count() >= 1
    ptr = dog.get_handle()
    del dog
    gc.collect()
    assert lib.rc_tn_is_alive(ptr) == 0


def test_scenario_owner_outlives_the_dog_variable():
    dogs, owners = lib.rc_tn_dog_live_count(), lib.rc_tn_owner_live_count()
    dog = Dog()
    assert dog.reference_count == 1
    assert dog.native_reference_count == 1

    owner = DogOwner(dog)
    assert owner.reference_count == 1
    assert dog.reference_count == 2
    assert dog.native_reference_count == 2
    assert lib.rc_tn_dog_live_count() == dogs + 1
    assert lib.rc_tn_owner_live_count() == owners + 1

    assert owner.say_walk() == 1
    dog_ptr, owner_ptr = dog.get_handle(), owner.get_handle()
    assert lib.rc_tn_owner_get_dog(owner_ptr) == dog_ptr

    del dog
    gc.collect()
    # The owner still holds the dog, in Python and natively.
    assert lib.rc_tn_is_alive(dog_ptr) == 1
    assert lib.rc_tn_get_ref_count(dog_ptr) == 2
    assert owner.dog.reference_count == 2
    assert owner.say_walk() == 2

    del owner
    gc.collect()
    assert lib.rc_tn_is_alive(owner_ptr) == 0
    assert lib.rc_tn_is_alive(dog_ptr) == 0
    assert lib.rc_tn_dog_live_count() == dogs
    assert lib.rc_tn_owner_live_count() == owners
    assert lib.rc_tn_misuse_count() == 0


def test_release_owner_first_then_dog():
    dog = Dog()
    owner = DogOwner(dog)
    dog_ptr, owner_ptr = dog.get_handle(), owner.get_handle()
    owner.release()
    assert owner.disposed
    assert lib.rc_tn_is_alive(owner_ptr) == 0
    assert dog.reference_count == 1
    assert lib.rc_tn_get_ref_count(dog_ptr) == 1
    dog.release()
    assert dog.disposed
    assert lib.rc_tn_is_alive(dog_ptr) == 0
    del owner, dog
    gc.collect()
    assert lib.rc_tn_misuse_count() == 0


def test_release_dog_first_then_owner():
    dog = Dog()
    owner = DogOwner(dog)
    dog_ptr, owner_ptr = dog.get_handle(), owner.get_handle()
    dog.release()
    # The owner's reference keeps the dog, in Python and natively.
    assert not dog.disposed
    assert dog.reference_count == 1
    assert lib.rc_tn_get_ref_count(dog_ptr) == 2
    assert owner.say_walk() == 1
    owner.release()
    assert lib.rc_tn_is_alive(owner_ptr) == 0
    assert lib.rc_tn_is_alive(dog_ptr) == 0
    assert dog.disposed
    del owner, dog
    gc.collect()
    assert lib.rc_tn_misuse_count() == 0


def test_releasing_twice_is_harmless():
    dog = Dog()
    owner = DogOwner(dog)
    dog_ptr = dog.get_handle()
    owner.release()
    owner.release()
    owner.dispose()
    assert dog.reference_count == 1
    assert lib.rc_tn_get_ref_count(dog_ptr) == 1
    dog.release()
    dog.release()
    assert lib.rc_tn_is_alive(dog_ptr) == 0
    assert lib.rc_tn_misuse_count() == 0


def test_dog_from_an_existing_pointer():
    pointer = lib.rc_tn_dog_new(b"Fido")
    dog = Dog(pointer)
    assert dog.get_handle() is pointer
    assert dog.native_reference_count == 1
    owner = DogOwner(dog)
    assert owner.say_walk() == 1
    del dog, owner
    gc.collect()
    assert lib.rc_tn_is_alive(pointer) == 0


def test_two_owners_share_a_dog():
    dog = Dog()
    first, second = DogOwner(dog), DogOwner(dog)
    dog_ptr = dog.get_handle()
    assert dog.reference_count == 3
    assert dog.native_reference_count == 3
    del dog
    first.release()
    gc.collect()
    assert lib.rc_tn_get_ref_count(dog_ptr) == 2
    assert second.say_walk() == 1
    del first, second
    gc.collect()
    assert lib.rc_tn_is_alive(dog_ptr) == 0


def test_str_of_sample_handles_shows_the_pointer():
    dog = Dog()
    assert str(dog) == "CFFI pointer handle to a native pointer " + str(dog.get_handle())
    assert address_of(dog.get_handle()) != 0
    dog.release()
