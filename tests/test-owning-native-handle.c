/* test-owning-native-handle.c: RcOwningNativeHandle
 *
 * SPDX-License-Identifier: MIT
 *
 * A handle to memory owned elsewhere: releasing it runs the counter and the
 * disposal protocol but never touches the memory.  The native test library
 * shows that the pointed-to objects are neither freed nor released.
 */

#include <refcount/refcount.h>

#include <string.h>

#include "rc-test-native.h"
#include "test-common.h"

#define DOG_TYPE_ID "DOG_PTR"
#define BUFFER_SIZE 64


static RcNativeHandle *
as_handle (gpointer handle)
{
  return RC_NATIVE_HANDLE (handle);
}

static guint8 *
buffer_new (void)
{
  guint8 *buffer = g_malloc (BUFFER_SIZE);
  int i;

  for (i = 0; i < BUFFER_SIZE; i++)
    buffer[i] = (guint8) (i * 7 + 3);
  return buffer;
}

static gboolean
buffer_untouched (const guint8 *buffer)
{
  int i;

  for (i = 0; i < BUFFER_SIZE; i++)
    if (buffer[i] != (guint8) (i * 7 + 3))
      return FALSE;
  return TRUE;
}

static void
test_type (void)
{
  GType type = RC_TYPE_OWNING_NATIVE_HANDLE;

  g_assert_true (g_type_parent (type) == RC_TYPE_NATIVE_HANDLE);
  g_assert_true (g_type_is_a (type, RC_TYPE_REFERENCE_COUNTER));
  g_assert_true (G_TYPE_IS_FINAL (type));
  g_assert_false (G_TYPE_IS_ABSTRACT (type));
  g_assert_cmpstr (g_type_name (type), ==, "RcOwningNativeHandle");
}

static void
test_new (void)
{
  State state;
  RcOwningNativeHandle *h;
  gpointer dog;

  state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  h = rc_owning_native_handle_new (dog, DOG_TYPE_ID);

  g_assert_true (RC_IS_OWNING_NATIVE_HANDLE (h));
  g_assert_true (RC_IS_NATIVE_HANDLE (h));
  g_assert_false (g_object_is_floating (h));
  g_assert_cmpint (count_of (h), ==, 1);
  g_assert_true (rc_native_handle_get_handle (as_handle (h)) == dog);
  g_assert_cmpstr (rc_native_handle_get_type_id (as_handle (h)), ==, DOG_TYPE_ID);
  g_assert_false (rc_native_handle_is_disposed (as_handle (h)));
  g_assert_false (rc_native_handle_is_invalid (as_handle (h)));
  g_assert_cmpuint (rc_native_handle_get_live_count (), ==, state.handles + 1);
  g_assert_cmpuint (rc_native_handle_get_unreleased_count (), ==, state.unreleased + 1);
  g_assert_cmpint (rc_tn_get_ref_count (dog), ==, 1);

  g_object_unref (h);
  g_assert_cmpuint (rc_native_handle_get_live_count (), ==, state.handles);

  /* The wrapper was dropped, the dog is untouched. */
  g_assert_true (rc_tn_is_alive (dog));
  g_assert_cmpint (rc_tn_get_ref_count (dog), ==, 1);
  g_assert_cmpint (rc_tn_misuse_count (), ==, 0);
  rc_tn_release (dog);
  state_assert_clean (&state);
}

static void
test_release (void)
{
  State state;
  RcOwningNativeHandle *h;
  gpointer dog;
  long freed;

  state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  h = rc_owning_native_handle_new (dog, DOG_TYPE_ID);
  freed = rc_tn_freed_count ();

  rc_native_handle_release (as_handle (h));
  g_assert_cmpint (count_of (h), ==, 0);
  g_assert_true (rc_native_handle_is_disposed (as_handle (h)));
  g_assert_true (rc_native_handle_is_invalid (as_handle (h)));
  g_assert_null (rc_native_handle_get_handle (as_handle (h)));
  g_assert_cmpuint (rc_native_handle_get_unreleased_count (), ==, state.unreleased);

  g_assert_true (rc_tn_is_alive (dog));
  g_assert_cmpint (rc_tn_get_ref_count (dog), ==, 1);
  g_assert_cmpint (rc_tn_freed_count (), ==, freed);
  g_assert_cmpstr (rc_tn_dog_get_name (dog), ==, "Rex");
  g_assert_cmpint (rc_tn_misuse_count (), ==, 0);

  /* Later calls are no-ops. */
  rc_native_handle_release (as_handle (h));
  rc_native_handle_dispose (as_handle (h));
  g_object_run_dispose (G_OBJECT (h));
  g_assert_cmpint (count_of (h), ==, 0);
  g_assert_true (rc_native_handle_is_disposed (as_handle (h)));
  g_object_unref (h);

  g_assert_true (rc_tn_is_alive (dog));
  g_assert_cmpint (rc_tn_get_ref_count (dog), ==, 1);
  g_assert_cmpint (rc_tn_misuse_count (), ==, 0);
  rc_tn_release (dog);
  state_assert_clean (&state);
}

static void
test_memory_untouched (void)
{
  State state;
  RcOwningNativeHandle *h;
  guint8 *buffer;

  state_begin (&state);
  buffer = buffer_new ();
  h = rc_owning_native_handle_new (buffer, NULL);
  g_assert_true (rc_native_handle_get_handle (as_handle (h)) == buffer);

  rc_native_handle_dispose (as_handle (h));
  g_assert_true (rc_native_handle_is_disposed (as_handle (h)));
  g_assert_null (rc_native_handle_get_handle (as_handle (h)));
  g_assert_true (buffer_untouched (buffer));
  g_object_unref (h);
  g_assert_true (buffer_untouched (buffer));

  /* Dropping the wrapper without a release: still untouched. */
  h = rc_owning_native_handle_new (buffer, "BUFFER");
  g_object_unref (h);
  g_assert_true (buffer_untouched (buffer));

  /* Stack memory is fine too: nothing is ever freed. */
  {
    int on_stack = 42;

    h = rc_owning_native_handle_new (&on_stack, NULL);
    g_object_unref (h);
    g_assert_cmpint (on_stack, ==, 42);
  }

  g_free (buffer);
  g_assert_cmpuint (rc_native_handle_get_unreleased_count (), ==, state.unreleased);
  state_assert_clean (&state);
}

static void
test_prior_and_add_ref (void)
{
  State state;
  RcOwningNativeHandle *h;
  gpointer dog;

  state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  h = rc_owning_native_handle_new (dog, DOG_TYPE_ID);
  rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (h));
  rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (h));
  g_assert_cmpint (count_of (h), ==, 3);

  rc_native_handle_release (as_handle (h));
  rc_native_handle_release (as_handle (h));
  g_assert_cmpint (count_of (h), ==, 1);
  g_assert_false (rc_native_handle_is_disposed (as_handle (h)));
  g_assert_true (rc_native_handle_get_handle (as_handle (h)) == dog);

  rc_reference_counter_decrement_ref (RC_REFERENCE_COUNTER (h));
  g_assert_cmpint (count_of (h), ==, 0);
  /* decrement_ref is raw: no release. */
  g_assert_false (rc_native_handle_is_disposed (as_handle (h)));
  rc_reference_counter_decrement_ref (RC_REFERENCE_COUNTER (h));
  g_assert_cmpint (count_of (h), ==, 0);

  rc_native_handle_release (as_handle (h));
  g_assert_true (rc_native_handle_is_disposed (as_handle (h)));

  /* No resurrection. */
  rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (h));
  g_assert_cmpint (count_of (h), ==, 0);
  g_assert_null (rc_native_handle_get_handle (as_handle (h)));

  g_object_unref (h);
  g_assert_cmpint (rc_tn_get_ref_count (dog), ==, 1);
  rc_tn_release (dog);
  state_assert_clean (&state);
}

static void
test_never_set (void)
{
  State state;
  RcOwningNativeHandle *h;
  gpointer dog;
  GError *error = NULL;
  char *str;

  state_begin (&state);
  h = rc_owning_native_handle_new (NULL, NULL);
  g_assert_nonnull (h);
  g_assert_null (rc_native_handle_get_handle (as_handle (h)));
  g_assert_true (rc_native_handle_is_disposed (as_handle (h)));
  g_assert_true (rc_native_handle_is_invalid (as_handle (h)));
  g_assert_cmpuint (rc_native_handle_get_unreleased_count (), ==, state.unreleased);
  str = rc_native_handle_to_string (as_handle (h));
  g_assert_true (g_str_has_prefix (str, "RcOwningNativeHandle to a native pointer "));
  g_assert_true (g_str_has_suffix (str, " (disposed)"));
  g_free (str);

  g_assert_null (rc_native_handle_acquire (as_handle (h), &error));
  g_assert_error (error, RC_ERROR, RC_ERROR_DISPOSED);
  g_clear_error (&error);

  /* Default is_valid_handle: NULL rejected, anything else accepted. */
  g_assert_false (rc_native_handle_is_valid_handle (as_handle (h), NULL));
  g_assert_true (rc_native_handle_is_valid_handle (as_handle (h), &state));
  g_assert_false (rc_native_handle_set_handle (as_handle (h), NULL, 0, &error));
  g_assert_error (error, RC_ERROR, RC_ERROR_INVALID_HANDLE);
  g_clear_error (&error);
  g_assert_false (rc_native_handle_set_handle (as_handle (h), &state, -2, &error));
  g_assert_error (error, RC_ERROR, RC_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  dog = rc_tn_dog_new ("Rex");
  g_assert_true (rc_native_handle_set_handle (as_handle (h), dog, 1, &error));
  g_assert_no_error (error);
  g_assert_cmpint (count_of (h), ==, 2);
  g_assert_true (rc_native_handle_get_handle (as_handle (h)) == dog);
  g_assert_false (rc_native_handle_is_disposed (as_handle (h)));
  g_assert_cmpuint (rc_native_handle_get_unreleased_count (), ==, state.unreleased + 1);

  g_assert_false (rc_native_handle_set_handle (as_handle (h), &state, 0, &error));
  g_assert_error (error, RC_ERROR, RC_ERROR_HANDLE_ALREADY_SET);
  g_clear_error (&error);

  rc_native_handle_release (as_handle (h));
  g_assert_false (rc_native_handle_is_disposed (as_handle (h)));
  rc_native_handle_release (as_handle (h));
  g_assert_true (rc_native_handle_is_disposed (as_handle (h)));
  g_assert_cmpuint (rc_native_handle_get_unreleased_count (), ==, state.unreleased);

  g_assert_false (rc_native_handle_set_handle (as_handle (h), dog, 0, &error));
  g_assert_error (error, RC_ERROR, RC_ERROR_DISPOSED);
  g_clear_error (&error);

  g_object_unref (h);
  g_assert_true (rc_tn_is_alive (dog));
  g_assert_cmpint (rc_tn_get_ref_count (dog), ==, 1);
  rc_tn_release (dog);
  state_assert_clean (&state);
}

static void
test_acquire (void)
{
  State state;
  RcOwningNativeHandle *h;
  gpointer dog;
  gpointer ptr;
  GError *error = NULL;

  state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  h = rc_owning_native_handle_new (dog, DOG_TYPE_ID);

  ptr = rc_native_handle_acquire (as_handle (h), &error);
  g_assert_no_error (error);
  g_assert_true (ptr == dog);
  g_assert_cmpint (count_of (h), ==, 2);

  rc_native_handle_release (as_handle (h));
  g_assert_false (rc_native_handle_is_disposed (as_handle (h)));
  g_assert_true (rc_native_handle_get_handle (as_handle (h)) == dog);
  rc_native_handle_release (as_handle (h));
  g_assert_true (rc_native_handle_is_disposed (as_handle (h)));

  g_assert_null (rc_native_handle_acquire (as_handle (h), &error));
  g_assert_error (error, RC_ERROR, RC_ERROR_DISPOSED);
  g_clear_error (&error);
  g_assert_cmpint (count_of (h), ==, 0);

  g_object_unref (h);
  g_assert_cmpint (rc_tn_get_ref_count (dog), ==, 1);
  rc_tn_release (dog);
  state_assert_clean (&state);
}

static void
test_gobject_dispose (void)
{
  State state;
  RcOwningNativeHandle *h;
  gpointer dog;
  guint unreleased;

  state_begin (&state);
  dog = rc_tn_dog_new ("Rex");

  /* Dropping the wrapper is a release: the unreleased count goes down. */
  h = rc_owning_native_handle_new (dog, DOG_TYPE_ID);
  unreleased = rc_native_handle_get_unreleased_count ();
  g_object_run_dispose (G_OBJECT (h));
  g_assert_true (rc_native_handle_is_disposed (as_handle (h)));
  g_assert_cmpint (count_of (h), ==, 0);
  g_assert_cmpuint (rc_native_handle_get_unreleased_count (), ==, unreleased - 1);
  g_object_run_dispose (G_OBJECT (h));
  g_assert_cmpuint (rc_native_handle_get_unreleased_count (), ==, unreleased - 1);
  g_object_unref (h);

  /* With an extra reference: one release for the wrapper, once. */
  h = rc_owning_native_handle_new (dog, DOG_TYPE_ID);
  rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (h));
  g_object_run_dispose (G_OBJECT (h));
  g_object_run_dispose (G_OBJECT (h));
  g_assert_cmpint (count_of (h), ==, 1);
  g_assert_false (rc_native_handle_is_disposed (as_handle (h)));
  rc_native_handle_release (as_handle (h));
  g_assert_true (rc_native_handle_is_disposed (as_handle (h)));
  g_object_unref (h);

  g_assert_true (rc_tn_is_alive (dog));
  g_assert_cmpint (rc_tn_get_ref_count (dog), ==, 1);
  rc_tn_release (dog);
  g_assert_cmpuint (rc_native_handle_get_unreleased_count (), ==, state.unreleased);
  state_assert_clean (&state);
}

static void
test_properties (void)
{
  State state;
  RcOwningNativeHandle *h;
  gpointer dog;
  gpointer handle = NULL;
  char *type_id = NULL;
  int count = -1;
  gboolean disposed = TRUE;

  state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  h = rc_owning_native_handle_new (dog, DOG_TYPE_ID);
  assert_handle_properties (h, dog, DOG_TYPE_ID, 1, 0, FALSE);

  rc_native_handle_release (as_handle (h));
  g_object_get (h,
                "handle", &handle,
                "type-id", &type_id,
                "reference-count", &count,
                "disposed", &disposed,
                NULL);
  g_assert_null (handle);
  g_assert_cmpstr (type_id, ==, DOG_TYPE_ID);
  g_assert_cmpint (count, ==, 0);
  g_assert_true (disposed);
  g_clear_pointer (&type_id, g_free);
  g_object_unref (h);

  rc_tn_release (dog);
  state_assert_clean (&state);
}

static void
test_to_string (void)
{
  State state;
  RcOwningNativeHandle *h;
  gpointer dog;
  char *str;
  char *expected;

  state_begin (&state);
  dog = rc_tn_dog_new ("Rex");

  h = rc_owning_native_handle_new (dog, DOG_TYPE_ID);
  str = rc_native_handle_to_string (as_handle (h));
  g_assert_cmpstr (str, ==, "RcOwningNativeHandle to a native pointer of type id \"DOG_PTR\"");
  g_free (str);
  rc_native_handle_release (as_handle (h));
  str = rc_native_handle_to_string (as_handle (h));
  g_assert_cmpstr (str, ==, "RcOwningNativeHandle to a native pointer of type id \"DOG_PTR\" (disposed)");
  g_free (str);
  g_object_unref (h);

  h = rc_owning_native_handle_new (dog, NULL);
  str = rc_native_handle_to_string (as_handle (h));
  expected = g_strdup_printf ("RcOwningNativeHandle to a native pointer %p", dog);
  g_assert_cmpstr (str, ==, expected);
  g_free (str);
  g_free (expected);
  g_object_unref (h);

  g_assert_cmpint (rc_tn_get_ref_count (dog), ==, 1);
  rc_tn_release (dog);
  state_assert_clean (&state);
}

static void
test_leak_warning (void)
{
  if (g_test_subprocess ())
    {
      RcOwningNativeHandle *h;
      int target = 0;

      g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
      h = rc_owning_native_handle_new (&target, "BUFFER");
      rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (h));
      g_object_unref (h);
      g_assert_cmpint (target, ==, 0);
      return;
    }

  g_setenv ("RC_DEBUG", "leaks", TRUE);
  g_test_trap_subprocess (NULL, 60 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
  g_setenv ("RC_DEBUG", "", TRUE);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr ("*Native handle of type id \"BUFFER\" leaked with 1 outstanding reference*");
}

static void
test_autoptr (void)
{
  State state;
  gpointer dog;

  state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  {
    g_autoptr(RcOwningNativeHandle) h = rc_owning_native_handle_new (dog, NULL);

    g_assert_true (rc_native_handle_get_handle (as_handle (h)) == dog);
  }
  g_assert_cmpuint (rc_native_handle_get_live_count (), ==, state.handles);
  g_assert_cmpint (rc_tn_get_ref_count (dog), ==, 1);
  rc_tn_release (dog);
  state_assert_clean (&state);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/owning-native-handle/type", test_type);
  g_test_add_func ("/owning-native-handle/new", test_new);
  g_test_add_func ("/owning-native-handle/release", test_release);
  g_test_add_func ("/owning-native-handle/memory-untouched", test_memory_untouched);
  g_test_add_func ("/owning-native-handle/prior-and-add-ref", test_prior_and_add_ref);
  g_test_add_func ("/owning-native-handle/never-set", test_never_set);
  g_test_add_func ("/owning-native-handle/acquire", test_acquire);
  g_test_add_func ("/owning-native-handle/gobject-dispose", test_gobject_dispose);
  g_test_add_func ("/owning-native-handle/properties", test_properties);
  g_test_add_func ("/owning-native-handle/to-string", test_to_string);
  g_test_add_func ("/owning-native-handle/leak-warning", test_leak_warning);
  g_test_add_func ("/owning-native-handle/autoptr", test_autoptr);

  return g_test_run ();
}
