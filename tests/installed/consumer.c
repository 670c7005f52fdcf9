/* A program built against the installed library only, through pkg-config:
 * proves the headers, the pkg-config file and the shared library install
 * into a usable whole. */

#include <refcount/refcount.h>

static int released;

static void
count_release (gpointer handle,
               gpointer user_data)
{
  g_assert_true (handle == user_data);
  released++;
}

int
main (void)
{
  static int resource;
  RcDeletableNativeHandle *handle;

  g_assert_true (RC_CHECK_VERSION (RC_MAJOR_VERSION, RC_MINOR_VERSION, RC_MICRO_VERSION));
  g_assert_cmpuint (rc_get_major_version (), ==, RC_MAJOR_VERSION);

  handle = rc_deletable_native_handle_new (&resource, count_release, &resource, NULL, "INT_PTR");
  rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (handle));
  rc_native_handle_release (RC_NATIVE_HANDLE (handle));
  g_assert_cmpint (released, ==, 0);
  g_object_unref (handle);
  g_assert_cmpint (released, ==, 1);

  g_print ("installed consumer: version %s, released %d time(s)\n", RC_VERSION_S, released);
  return 0;
}
