#!/usr/bin/python3
"""The dog and its owner, in Python, as pyrefcount users write it.

The classes below are pyrefcount's sample code, unchanged but for the import
line: `CffiNativeHandle` subclasses wrapping the test native library (a
stand-in for a C API with opaque pointers) through cffi. The same scenario as
examples/dog-walk.c: the dog's handle is dropped first and the native dog
survives because the owner holds it; dropping the owner frees both.

Exits non-zero if a native object is freed too early or left alive.
"""

import gc
import os
import sys

import cffi

from refcount.interop import CffiNativeHandle

ffi = cffi.FFI()
ffi.cdef(
    """
    void *rc_tn_dog_new (const char *name);
    void *rc_tn_owner_new (void *dog);
    void rc_tn_release (void *obj);
    int rc_tn_get_ref_count (void *obj);
    int rc_tn_is_alive (void *obj);
    int rc_tn_owner_walk (void *owner);
    int rc_tn_dog_live_count (void);
    int rc_tn_owner_live_count (void);
    long rc_tn_misuse_count (void);
    """
)
ut_dll = ffi.dlopen(os.environ.get("RC_TEST_NATIVE_LIB", "librc-test-native.so"))


class CustomCffiNativeHandle(CffiNativeHandle):
    def __init__(self, pointer, prior_ref_count=0):
        super(CustomCffiNativeHandle, self).__init__(pointer, type_id="", prior_ref_count=prior_ref_count)

    def _release_handle(self) -> bool:
        ut_dll.rc_tn_release(self.get_handle())
        return True


class Dog(CustomCffiNativeHandle):
    def __init__(self, pointer=None):
        if pointer is None:
            pointer = ut_dll.rc_tn_dog_new(b"Rex")
        super(Dog, self).__init__(pointer)

    @property
    def native_reference_count(self) -> int:
        return ut_dll.rc_tn_get_ref_count(self.get_handle())


class DogOwner(CustomCffiNativeHandle):
    def __init__(self, dog):
        super(DogOwner, self).__init__(None)
        self._set_handle(ut_dll.rc_tn_owner_new(dog.get_handle()))
        self.dog = dog
        self.dog.add_ref()

    def say_walk(self):
        return ut_dll.rc_tn_owner_walk(self.get_handle())

    def _release_handle(self) -> bool:
        super(DogOwner, self)._release_handle()
        self.dog.release()
        return True


failures = []


def expect(condition, message):
    if not condition:
        failures.append(message)
        print("  FAIL:", message, file=sys.stderr)


def native(what, ptr):
    if ut_dll.rc_tn_is_alive(ptr):
        print(f"  native {what:<5} alive, native ref count {ut_dll.rc_tn_get_ref_count(ptr)}")
    else:
        print(f"  native {what:<5} freed")


print("1. A dog is born and wrapped in a Dog handle")
dog = Dog()
dog_ptr = dog.get_handle()
print(f"  {dog}: reference count {dog.reference_count}")
native("dog", dog_ptr)
expect(dog.reference_count == 1 and dog.native_reference_count == 1, "a new dog has one reference")

print("\n2. An owner adopts the dog (a native reference, and add_ref on the handle)")
owner = DogOwner(dog)
owner_ptr = owner.get_handle()
print(f"  dog handle reference count {dog.reference_count}")
native("dog", dog_ptr)
native("owner", owner_ptr)
expect(dog.reference_count == 2 and dog.native_reference_count == 2, "the owner holds the dog")

print("\n3. The owner walks the dog")
print(f"  walks so far: {owner.say_walk()}")

print("\n4. The dog variable is dropped first (the owner still holds the Dog)")
del dog
gc.collect()
native("dog", dog_ptr)
expect(ut_dll.rc_tn_is_alive(dog_ptr) == 1, "the dog must survive: its owner holds it")

print("\n5. The owner walks the dog again")
walks = owner.say_walk()
print(f"  walks so far: {walks}")
expect(walks == 2, "the second walk finds the dog alive")

print("\n6. The owner's handle is dropped")
del owner
gc.collect()
native("dog", dog_ptr)
native("owner", owner_ptr)
expect(ut_dll.rc_tn_dog_live_count() == 0 and ut_dll.rc_tn_owner_live_count() == 0,
       "both native objects are freed")

print(f"\nmisuses of the native API: {ut_dll.rc_tn_misuse_count()}")
expect(ut_dll.rc_tn_misuse_count() == 0, "no double release, no use after free")
if failures:
    sys.exit(1)
print("Every native object was freed exactly once, and none too early.")
