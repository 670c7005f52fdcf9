/* rc-test-native.vapi: the test native library (rc-test-native.h) for Vala
 *
 * SPDX-License-Identifier: MIT
 *
 * Written by hand: the library is plain C, with no GIR to generate it from.
 * Only what the Vala test uses.
 */

[CCode (cheader_filename = "rc-test-native.h", lower_case_cprefix = "rc_tn_")]
namespace RcTestNative {
	public const int KIND_DOG;
	public const int KIND_OWNER;

	public void* dog_new (string? name);
	public void* owner_new (void* dog);
	public void release (void* obj);
	public int get_ref_count (void* obj);
	public unowned string? dog_get_name (void* dog);
	public int owner_walk (void* owner);

	public int dog_live_count ();
	public int owner_live_count ();
	public long misuse_count ();
	public void reset_misuse_count ();

	[CCode (cname = "RcTnFreedCallback")]
	public delegate void FreedCallback (void* obj, int kind);
	public void set_freed_callback (FreedCallback? callback);
}
