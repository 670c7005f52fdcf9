#!/usr/bin/python3
"""The dog and its owner, from Python, through a GObject library built on refcount.

Kennel (tests/gilib) is the kind of library a C library author writes on
refcount: Kennel.Dog and Kennel.DogOwner derive from Refcount.NativeHandle,
wrap the test native library's dogs and owners (a stand-in for a C API with
opaque pointers), and come with their own typelib, Kennel-1.0, so Python
needs no binding code of its own. The same story as examples/kennel-walk.js:
the owner declares its dog as a dependency, so the dog we drop first lives
on until the owner is released, and then goes right after it.

Exits non-zero if an object is freed too early, left alive, or misused.
"""

import gc
import sys

import gi

gi.require_version("Refcount", "1.0")
gi.require_version("Kennel", "1.0")
from gi.repository import Kennel, Refcount  # noqa: E402

failures = 0


def expect(condition, message):
    global failures
    if not condition:
        failures += 1
        print("  FAIL: " + message, file=sys.stderr)


def print_counts():
    print(
        "  live: %d native dog(s), %d native owner(s), %d handle(s)"
        % (Kennel.get_live_dog_count(), Kennel.get_live_owner_count(), Refcount.NativeHandle.get_live_count())
    )


print("1. A dog is born (natively) and wrapped in a Kennel.Dog")
dog = Kennel.Dog.new("Rex")
print("  %s: reference count %d" % (dog.to_string(), dog.reference_count))
print_counts()
expect(Kennel.get_live_dog_count() == 1, "one native dog")

print("\n2. An owner adopts the dog, and declares it as a dependency")
owner = Kennel.DogOwner.new(dog)
print("  %s: reference count %d" % (owner.to_string(), owner.reference_count))
print("  the dog's reference count: %d (ours and the owner's)" % dog.reference_count)
print_counts()
expect(dog.reference_count == 2, "the dog's handle counts our reference and the owner's")

print("\n3. The owner walks the dog")
walks = owner.walk()
print("  walks so far: %d" % walks)
expect(walks == 1, "the first walk should return 1, got %d" % walks)

print("\n4. We give our dog back and drop it")
dog.release()
del dog
gc.collect()
print(
    "  the owner's dog: %s, reference count %d (the owner's)"
    % (owner.get_dog().dup_name(), owner.get_dog().reference_count)
)
print_counts()
expect(Kennel.get_live_dog_count() == 1, "the dog was freed too early: its owner still holds it")

print("\n5. The owner walks the dog again")
walks = owner.walk()
print("  walks so far: %d" % walks)
expect(walks == 2, "the second walk should return 2, got %d" % walks)

print("\n6. The owner is dropped too")
del owner
gc.collect()
print_counts()
expect(Kennel.get_live_owner_count() == 0, "the owner is still alive after it was dropped")
expect(Kennel.get_live_dog_count() == 0, "the dog is still alive after its owner was released")
expect(Refcount.NativeHandle.get_live_count() == 0, "handles are still alive")
print("\nmisuses of the native API: %d" % Kennel.get_misuse_count())
expect(Kennel.get_misuse_count() == 0, "the native API was misused (double release, use after free...)")

if failures:
    print("kennel_walk: %d check(s) failed" % failures, file=sys.stderr)
    sys.exit(1)
print("Every native object was freed exactly once, and none too early.")
