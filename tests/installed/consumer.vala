/* A Vala program built against the installed VAPI only (valac --pkg
 * refcount-1): proves refcount-1.vapi and refcount-1.deps (which brings in
 * gobject-2.0) install into a usable whole with the pkg-config file. */

int main () {
	int resource = 42;
	int released = 0;

	var handle = new Rc.DeletableNativeHandle (&resource, (pointer) => {
		assert (pointer == &resource);
		released++;
	}, "INT_PTR");
	handle.add_ref ();
	handle.release ();
	assert (released == 0);
	handle = null;
	assert (released == 1);
	print ("installed vala: released once through a lambda\n");
	return 0;
}
