// test-kennel.js: the dog and owner scenario through Kennel, from GJS
//
// SPDX-License-Identifier: MIT
//
// Kennel's classes derive from Refcount.NativeHandle. Objects created and
// dropped from JavaScript are released when the garbage collector runs; the
// test native library's counts (read through Kennel's census functions) are
// the ground truth. Prints TAP.

imports.gi.versions.GLib = '2.0';
imports.gi.versions.Refcount = '1.0';
imports.gi.versions.Kennel = '1.0';

const System = imports.system;
const {GLib, Kennel, Refcount} = imports.gi;

// A collection that leaves nothing pending: GJS finalizes a wrapper in the
// collector and may hand the GObject side to the main context (toggle
// references), so the context is drained and the collector run again,
// until a round changes nothing. No timing is involved.
function collect() {
    const context = GLib.MainContext.default();
    for (let round = 0; round < 10; round++) {
        const before = census();
        System.gc();
        while (context.pending())
            context.iteration(false);
        if (census() === before)
            return;
    }
    throw new Error('the collector still frees objects after 10 rounds');
}

function census() {
    return [
        Kennel.get_live_dog_count(),
        Kennel.get_live_owner_count(),
        Refcount.NativeHandle.get_live_count(),
    ].join(' ');
}

function assertEqual(actual, expected, what) {
    if (actual !== expected)
        throw new Error(`${what}: expected ${expected}, got ${actual}`);
}

function assertTrue(value, what) {
    assertEqual(value, true, what);
}

function assertFalse(value, what) {
    assertEqual(value, false, what);
}

// Everything a test made is gone after collection, and nothing misused.
function assertBalanced(baseline) {
    collect();
    assertEqual(Kennel.get_live_dog_count(), baseline.dogs, 'live native dogs');
    assertEqual(Kennel.get_live_owner_count(), baseline.owners, 'live native owners');
    assertEqual(Refcount.NativeHandle.get_live_count(), baseline.handles, 'live handles');
    assertEqual(Kennel.get_misuse_count(), 0, 'native misuse (double release, use after free)');
}

function snapshot() {
    collect();
    return {
        dogs: Kennel.get_live_dog_count(),
        owners: Kennel.get_live_owner_count(),
        handles: Refcount.NativeHandle.get_live_count(),
    };
}

// Each test makes its objects in a function of its own, so that nothing
// keeps them once it returns.
const tests = [];
function test(name, body) {
    tests.push({name, body});
}

test('a dog dropped from JavaScript is released by the collector', baseline => {
    (() => {
        const dog = Kennel.Dog.new('Rex');
        assertTrue(dog instanceof Refcount.NativeHandle, 'a Kennel.Dog is a Refcount.NativeHandle');
        assertEqual(dog.type_id, 'DOG_PTR', 'type id');
        assertEqual(dog.dup_name(), 'Rex', 'name');
        assertEqual(Kennel.get_live_dog_count(), baseline.dogs + 1, 'live native dogs');
    })();
    collect();
    assertEqual(Kennel.get_live_dog_count(), baseline.dogs, 'live native dogs after collection');
});

test('a dog and its owner dropped from JavaScript are both released', baseline => {
    (() => {
        const dog = Kennel.Dog.new('Rex');
        const owner = Kennel.DogOwner.new(dog);
        assertEqual(owner.walk(), 1, 'first walk');
        assertEqual(dog.reference_count, 2, "the dog's count (its creator and its owner)");
        assertEqual(Kennel.get_live_owner_count(), baseline.owners + 1, 'live native owners');
    })();
    collect();
    assertEqual(Kennel.get_live_owner_count(), baseline.owners, 'live native owners after collection');
    assertEqual(Kennel.get_live_dog_count(), baseline.dogs, 'live native dogs after collection');
});

test('the owner keeps its dog alive through its dependency', baseline => {
    let owner = (() => {
        const dog = Kennel.Dog.new('Rex');
        const newOwner = Kennel.DogOwner.new(dog);
        // The creator's reference given back: the owner's one remains.
        dog.release();
        assertFalse(dog.disposed, 'the dog is not released while its owner holds it');
        assertEqual(dog.reference_count, 1, "the dog's count (its owner)");
        return newOwner;
    })();
    collect();
    assertEqual(Kennel.get_live_dog_count(), baseline.dogs + 1, 'the dog lives on');
    assertEqual(owner.get_dog().dup_name(), 'Rex', "the owner's dog");
    assertEqual(owner.walk(), 1, 'a walk with the dog');

    // When the dog is released, its owner has been released already.
    let ownersWhenDogReleased = -1;
    const dog = owner.get_dog();
    dog.connect('notify::disposed', () => {
        ownersWhenDogReleased = Kennel.get_live_owner_count();
    });
    owner.release();
    assertTrue(owner.disposed, 'the owner is released');
    assertTrue(dog.disposed, 'the dog is released right after its owner');
    assertEqual(ownersWhenDogReleased, baseline.owners, 'live native owners when the dog was released');
    assertEqual(Kennel.get_live_dog_count(), baseline.dogs, 'live native dogs');
    owner = null;
});

test('a dependency declared from JavaScript', baseline => {
    const owner = Kennel.DogOwner.new(Kennel.Dog.new('Rex'));
    const friend = Kennel.Dog.new('Fido');
    owner.add_dependency(friend);
    assertEqual(friend.reference_count, 2, "the friend's count (its creator and the owner)");
    friend.release();
    assertFalse(friend.disposed, 'the friend is kept by the owner');
    assertEqual(friend.dup_name(), 'Fido', "the friend's name");
    owner.release();
    assertTrue(friend.disposed, 'the friend is released with the owner');
    // The owner's own dog is still held by its wrapper, until collection.
    assertEqual(Kennel.get_live_dog_count(), baseline.dogs + 1, 'live native dogs');
});

test('a released dog cannot be owned', baseline => {
    const dog = Kennel.Dog.new('Rex');
    dog.release();
    let error = null;
    try {
        Kennel.DogOwner.new(dog);
    } catch (e) {
        error = e;
    }
    assertTrue(error !== null, 'an error is thrown');
    assertTrue(error.matches(Refcount.Error, Refcount.Error.DISPOSED), `RC_ERROR_DISPOSED (${error})`);
    assertEqual(Kennel.get_live_owner_count(), baseline.owners, 'no native owner was made');
});

test('a cycle of dependencies is refused', baseline => {
    const dog = Kennel.Dog.new('Rex');
    const owner = Kennel.DogOwner.new(dog);
    let error = null;
    try {
        dog.add_dependency(owner);
    } catch (e) {
        error = e;
    }
    assertTrue(error !== null, 'an error is thrown');
    assertTrue(error.matches(Refcount.Error, Refcount.Error.CYCLE), `RC_ERROR_CYCLE (${error})`);
    assertEqual(owner.reference_count, 1, "the owner's count is unchanged");
    assertEqual(Kennel.get_live_owner_count(), baseline.owners + 1, 'live native owners');
});

print(`1..${tests.length}`);
let failures = 0;
tests.forEach(({name, body}, i) => {
    try {
        const baseline = snapshot();
        body(baseline);
        assertBalanced(baseline);
        print(`ok ${i + 1} - ${name}`);
    } catch (e) {
        failures++;
        print(`not ok ${i + 1} - ${name}`);
        for (const line of `${e}\n${e.stack ?? ''}`.split('\n'))
            print(`# ${line}`);
    }
});
System.exit(failures === 0 ? 0 : 1);
