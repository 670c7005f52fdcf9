#!/usr/bin/python3
"""The dog and its owner, in Python, with the `refcount` package.

The same scenario as examples/dog-walk.c, on the test native library (a
stand-in for a C API with opaque pointers) through cffi. Its native owner
borrows its dog (rc_tn_owner_new_borrowing: no native reference, the dog must
outlive the owner), so the owner's handle declares the dog's as a dependency:
the dog's handle is dropped first and the dog survives, because the owner's
handle holds it; dropping the owner releases the owner, then the dog.

The same story is then played the pyrefcount way, with pyrefcount's sample
classes unchanged but for the import line: the owner takes a reference on
the dog by hand (`add_ref` in the constructor, `release` in
`_release_handle`), over a native owner that holds its own reference.

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
    void *rc_tn_owner_new_borrowing (void *dog);
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


class DeclaredDogOwner(CustomCffiNativeHandle):
    """An owner that declares the dog it uses: refcount keeps the dog alive
    and releases it right after the owner."""

    def __init__(self, dog):
        super().__init__(ut_dll.rc_tn_owner_new_borrowing(dog.get_handle()))
        self.add_dependency(dog)

    def say_walk(self):
        return ut_dll.rc_tn_owner_walk(self.get_handle())


class DogOwner(CustomCffiNativeHandle):
    """pyrefcount's sample owner: "do note this important reference increment"."""

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


def play(owner_class, native_dog_references):
    print("1. A dog is born and wrapped in a Dog handle")
    dog = Dog()
    dog_ptr = dog.get_handle()
    print(f"  {dog}: reference count {dog.reference_count}")
    native("dog", dog_ptr)
    expect(dog.reference_count == 1 and dog.native_reference_count == 1, "a new dog has one reference")

    print(f"\n2. A {owner_class.__name__} takes the dog")
    owner = owner_class(dog)
    owner_ptr = owner.get_handle()
    print(f"  dog handle reference count {dog.reference_count}")
    native("dog", dog_ptr)
    native("owner", owner_ptr)
    expect(dog.reference_count == 2, "the owner's handle holds a reference on the dog's")
    expect(dog.native_reference_count == native_dog_references,
           f"the dog has {native_dog_references} native reference(s)")

    print("\n3. The owner walks the dog")
    print(f"  walks so far: {owner.say_walk()}")

    print("\n4. The dog variable is dropped first")
    del dog
    gc.collect()
    native("dog", dog_ptr)
    expect(ut_dll.rc_tn_is_alive(dog_ptr) == 1, "the dog must survive: its owner uses it")

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


print("== The owner declares its dog as a dependency\n")
play(DeclaredDogOwner, native_dog_references=1)
print("\n== pyrefcount's way: the owner counts its dog by hand\n")
play(DogOwner, native_dog_references=2)

print(f"\nmisuses of the native API: {ut_dll.rc_tn_misuse_count()}")
expect(ut_dll.rc_tn_misuse_count() == 0, "no double release, no use after free")
if failures:
    sys.exit(1)
print("Every native object was freed exactly once, and none too early.")
