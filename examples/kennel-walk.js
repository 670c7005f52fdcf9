// kennel-walk.js: the dog and its owner, from JavaScript, through a GObject
// library built on refcount
//
// SPDX-License-Identifier: MIT
//
// Kennel (tests/gilib) is the kind of library a C library author writes on
// refcount: Kennel.Dog and Kennel.DogOwner derive from Refcount.NativeHandle,
// wrap the test native library's dogs and owners (a stand-in for a C API
// with opaque pointers), and come with their own typelib, Kennel-1.0. GJS
// needs nothing else: the JavaScript below never frees anything, the garbage
// collector and refcount do, in the right order (the reference manual's
// chapter "Writing a library on refcount" shows the library's code).
//
//   1. a dog is created and wrapped;
//   2. an owner adopts it, and declares it as a dependency;
//   3. the owner walks the dog;
//   4. we drop our dog: the owner keeps it alive;
//   5. the owner walks it again;
//   6. we drop the owner and the garbage collector runs: the owner is
//      released, then its dog.
//
// Exits with status 1 if an object is freed too early, left alive, or misused.

imports.gi.versions.Refcount = '1.0';
imports.gi.versions.Kennel = '1.0';

const System = imports.system;
const {GLib, Kennel, Refcount} = imports.gi;

let failures = 0;

function expect(condition, message) {
    if (!condition) {
        failures++;
        printerr(`  FAIL: ${message}`);
    }
}

function printCounts() {
    print(`  live: ${Kennel.get_live_dog_count()} native dog(s), ` +
          `${Kennel.get_live_owner_count()} native owner(s), ` +
          `${Refcount.NativeHandle.get_live_count()} handle(s)`);
}

// A full collection, then what it handed to the main context, until a round
// frees nothing more.
function collectGarbage() {
    const context = GLib.MainContext.default();
    let before;
    do {
        before = Refcount.NativeHandle.get_live_count();
        System.gc();
        while (context.pending())
            context.iteration(false);
    } while (Refcount.NativeHandle.get_live_count() !== before);
}

// The dog and the owner live in this function's variables only: once it
// returns, nothing in JavaScript refers to them.
function story() {
    print('1. A dog is born (natively) and wrapped in a Kennel.Dog');
    let dog = Kennel.Dog.new('Rex');
    print(`  ${dog.to_string()}: reference count ${dog.reference_count}`);
    printCounts();
    expect(Kennel.get_live_dog_count() === 1, 'one native dog');

    print('\n2. An owner adopts the dog, and declares it as a dependency');
    const owner = Kennel.DogOwner.new(dog);
    print(`  ${owner.to_string()}: reference count ${owner.reference_count}`);
    print(`  the dog's reference count: ${dog.reference_count} (ours and the owner's)`);
    printCounts();
    expect(dog.reference_count === 2, "the dog's handle counts our reference and the owner's");

    print('\n3. The owner walks the dog');
    let walks = owner.walk();
    print(`  walks so far: ${walks}`);
    expect(walks === 1, `the first walk should return 1, got ${walks}`);

    print('\n4. We give our dog back and drop it; the garbage collector runs');
    dog.release();
    dog = null;
    collectGarbage();
    print(`  the owner's dog: ${owner.get_dog().dup_name()}, ` +
          `reference count ${owner.get_dog().reference_count} (the owner's)`);
    printCounts();
    expect(Kennel.get_live_dog_count() === 1, 'the dog was freed too early: its owner still holds it');

    print('\n5. The owner walks the dog again');
    walks = owner.walk();
    print(`  walks so far: ${walks}`);
    expect(walks === 2, `the second walk should return 2, got ${walks}`);
}

story();
print('\n6. The owner is dropped too; the garbage collector runs');
collectGarbage();
printCounts();
expect(Kennel.get_live_owner_count() === 0, 'the owner is still alive after it was dropped');
expect(Kennel.get_live_dog_count() === 0, 'the dog is still alive after its owner was released');
expect(Refcount.NativeHandle.get_live_count() === 0, 'handles are still alive');
print(`\nmisuses of the native API: ${Kennel.get_misuse_count()}`);
expect(Kennel.get_misuse_count() === 0, 'the native API was misused (double release, use after free...)');

if (failures > 0) {
    printerr(`kennel-walk: ${failures} check(s) failed`);
    System.exit(1);
}
print('Every native object was freed exactly once, and none too early.');
