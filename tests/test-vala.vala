/* test-vala.vala: refcount from Vala, through refcount-1.vapi
 *
 * SPDX-License-Identifier: MIT
 *
 * The VAPI is generated from the GIR; these tests use what a Vala author
 * needs of it: a subclass of Rc.NativeHandle overriding release_handle, an
 * Rc.DeletableNativeHandle whose release is a lambda (a closure with its
 * destroy notify), a declared dependency, and errors thrown as GLib.Error.
 * The test native library's counts are the ground truth.
 */

using RcTestNative;

/* A dog handle written in Vala: the release is a method override. */
class DogHandle : Rc.NativeHandle {
	public static int releases = 0;

	public DogHandle (string name) {
		Object (handle: RcTestNative.dog_new (name), type_id: "DOG_PTR");
	}

	public override bool release_handle () {
		releases++;
		RcTestNative.release (get_handle ());
		return true;
	}
}

/* A handle that overrides GObject's dispose and chains up: the chain must
 * reach RcNativeHandle's GObject dispose (which gives back the wrapper's
 * reference), not the method rc_native_handle_dispose(). */
class DisposingDog : Rc.NativeHandle {
	public static int releases = 0;
	public static bool wrapper_given_back_by_chain = false;

	public DisposingDog (string name) {
		Object (handle: RcTestNative.dog_new (name), type_id: "DOG_PTR");
	}

	public override void dispose () {
		base.dispose ();
		wrapper_given_back_by_chain = !drop_wrapper_reference ();
	}

	public override bool release_handle () {
		releases++;
		RcTestNative.release (get_handle ());
		return true;
	}
}

/* The native counts at the start of a test. */
struct Census {
	int dogs;
	int owners;
	uint handles;

	public Census () {
		RcTestNative.reset_misuse_count ();
		dogs = RcTestNative.dog_live_count ();
		owners = RcTestNative.owner_live_count ();
		handles = Rc.NativeHandle.get_live_count ();
	}

	/* Everything made since is freed, once. */
	public void assert_balanced () {
		assert_true (RcTestNative.misuse_count () == 0);
		assert_cmpint (RcTestNative.dog_live_count (), CompareOperator.EQ, dogs);
		assert_cmpint (RcTestNative.owner_live_count (), CompareOperator.EQ, owners);
		assert_cmpuint (Rc.NativeHandle.get_live_count (), CompareOperator.EQ, handles);
	}
}

void test_subclass_release () {
	var census = Census ();
	var before = DogHandle.releases;

	var dog = new DogHandle ("Rex");
	assert_cmpint (dog.get_reference_count (), CompareOperator.EQ, 1);
	assert_cmpstr (dog.get_type_id (), CompareOperator.EQ, "DOG_PTR");
	assert_cmpstr (RcTestNative.dog_get_name (dog.get_handle ()), CompareOperator.EQ, "Rex");

	/* A second owner: giving its reference back releases nothing. */
	dog.add_ref ();
	dog.release ();
	assert_false (dog.is_disposed ());
	assert_cmpint (DogHandle.releases, CompareOperator.EQ, before);

	/* Dropping the object gives back the wrapper's reference: released. */
	dog = null;
	assert_cmpint (DogHandle.releases, CompareOperator.EQ, before + 1);
	census.assert_balanced ();
}

void test_dispose_override () {
	var census = Census ();
	var dog = new DisposingDog ("Rex");

	dog = null;
	assert_true (DisposingDog.wrapper_given_back_by_chain);
	assert_cmpint (DisposingDog.releases, CompareOperator.EQ, 1);
	census.assert_balanced ();
}

void test_borrow_throws () {
	var census = Census ();
	var dog = new DogHandle ("Rex");

	try {
		void* pointer = dog.acquire ();
		assert_cmpint (RcTestNative.get_ref_count (pointer), CompareOperator.EQ, 1);
		assert_cmpint (dog.get_reference_count (), CompareOperator.EQ, 2);
		dog.release ();
	} catch (GLib.Error e) {
		assert_no_error (e);
	}

	dog.release ();
	assert_true (dog.is_disposed ());
	try {
		dog.acquire ();
		assert_not_reached ();
	} catch (GLib.Error e) {
		assert_error (e, Rc.Error.quark (), Rc.Error.DISPOSED);
	}
	dog = null;
	census.assert_balanced ();
}

void test_deletable_lambda () {
	var census = Census ();
	int calls = 0;
	void* released = null;

	var dog = new Rc.DeletableNativeHandle (RcTestNative.dog_new ("Fido"), (handle) => {
		/* A closure: it updates the test's locals. */
		calls++;
		released = handle;
		RcTestNative.release (handle);
	}, "DOG_PTR");
	void* pointer = dog.get_handle ();

	dog.add_ref ();
	dog.release ();
	assert_cmpint (calls, CompareOperator.EQ, 0);
	dog.release ();
	assert_cmpint (calls, CompareOperator.EQ, 1);
	assert_true (released == pointer);
	assert_true (dog.is_disposed ());
	dog = null;
	assert_cmpint (calls, CompareOperator.EQ, 1);
	census.assert_balanced ();
}

/* An owner that keeps its dog through a declared dependency: the dog's
 * handle is released right after the owner's own release, not before. */
void test_dependency () {
	var census = Census ();
	int[] freed = {};
	RcTestNative.FreedCallback on_freed = (obj, kind) => { freed += kind; };

	var dog = new DogHandle ("Rex");
	var owner = new Rc.DeletableNativeHandle (RcTestNative.owner_new (dog.get_handle ()),
	                                          (handle) => RcTestNative.release (handle),
	                                          "DOG_OWNER_PTR");
	try {
		owner.add_dependency (dog);
	} catch (GLib.Error e) {
		assert_no_error (e);
	}
	assert_cmpint (dog.get_reference_count (), CompareOperator.EQ, 2);
	var dependencies = owner.get_dependencies ();
	assert_cmpuint (dependencies.length, CompareOperator.EQ, 1);
	assert_true (dependencies[0] == dog);
	dependencies = null;

	RcTestNative.set_freed_callback (on_freed);
	/* The creator gives its reference back: the owner's one keeps the dog. */
	dog.release ();
	assert_false (dog.is_disposed ());
	assert_cmpint (RcTestNative.owner_walk (owner.get_handle ()), CompareOperator.EQ, 1);
	assert_cmpint (freed.length, CompareOperator.EQ, 0);

	owner = null;
	RcTestNative.set_freed_callback (null);
	assert_true (dog.is_disposed ());
	assert_cmpint (freed.length, CompareOperator.EQ, 2);
	assert_cmpint (freed[0], CompareOperator.EQ, RcTestNative.KIND_OWNER);
	assert_cmpint (freed[1], CompareOperator.EQ, RcTestNative.KIND_DOG);
	dog = null;
	census.assert_balanced ();
}

void test_dependency_on_released_handle () {
	var census = Census ();
	var dog = new DogHandle ("Rex");
	var other = new DogHandle ("Fido");

	dog.release ();
	try {
		other.add_dependency (dog);
		assert_not_reached ();
	} catch (GLib.Error e) {
		assert_error (e, Rc.Error.quark (), Rc.Error.DISPOSED);
	}
	assert_cmpint (other.get_reference_count (), CompareOperator.EQ, 1);
	dog = null;
	other = null;
	census.assert_balanced ();
}

/* A cycle would keep both handles alive forever: refused. */
void test_dependency_cycle () {
	var census = Census ();
	var dog = new DogHandle ("Rex");
	var other = new DogHandle ("Fido");

	try {
		other.add_dependency (dog);
	} catch (GLib.Error e) {
		assert_no_error (e);
	}
	try {
		dog.add_dependency (other);
		assert_not_reached ();
	} catch (GLib.Error e) {
		assert_error (e, Rc.Error.quark (), Rc.Error.CYCLE);
	}
	assert_cmpint (other.get_reference_count (), CompareOperator.EQ, 1);
	dog = null;
	other = null;
	census.assert_balanced ();
}

int main (string[] args) {
	Test.init (ref args);

	Test.add_func ("/vala/native-handle/subclass-release", test_subclass_release);
	Test.add_func ("/vala/native-handle/dispose-override", test_dispose_override);
	Test.add_func ("/vala/native-handle/borrow-throws", test_borrow_throws);
	Test.add_func ("/vala/deletable-native-handle/lambda-release", test_deletable_lambda);
	Test.add_func ("/vala/native-handle/dependency", test_dependency);
	Test.add_func ("/vala/native-handle/dependency-on-released", test_dependency_on_released_handle);
	Test.add_func ("/vala/native-handle/dependency-cycle", test_dependency_cycle);

	return Test.run ();
}
