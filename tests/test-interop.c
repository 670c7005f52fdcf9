/* test-interop.c: helpers for code that takes handles as arguments, and the
 * error domain
 *
 * SPDX-License-Identifier: MIT
 */

#include <refcount/refcount.h>

#include "rc-test-native.h"

static RcNativeHandle *
new_dog_handle (const char *type_id,
                void      **dog_out)
{
  void *dog = rc_tn_dog_new ("rex");
  RcDeletableNativeHandle *handle;

  handle = rc_deletable_native_handle_new_native (dog, (gpointer) rc_tn_release, type_id);
  g_assert_nonnull (handle);
  if (dog_out != NULL)
    *dog_out = dog;

  return RC_NATIVE_HANDLE (handle);
}

static void
release_dog (gpointer handle,
             gpointer user_data)
{
  rc_tn_release (handle);
}

static void
check_no_leak (int dogs)
{
  g_assert_cmpint (rc_tn_dog_live_count (), ==, dogs);
  g_assert_cmpint (rc_tn_misuse_count (), ==, 0);
}

/* rc_is_native_handle */

static void
test_is_native_handle_null (void)
{
  g_assert_false (rc_is_native_handle (NULL, NULL));
  g_assert_false (rc_is_native_handle (NULL, ""));
  g_assert_false (rc_is_native_handle (NULL, "dog"));
}

static void
test_is_native_handle_not_a_handle (void)
{
  GObject *object = g_object_new (G_TYPE_OBJECT, NULL);
  RcReferenceCounter *counter = rc_reference_counter_new (0);
  RcWrapperFactory *factory = rc_wrapper_factory_new (TRUE);

  g_assert_false (rc_is_native_handle (object, NULL));
  g_assert_false (rc_is_native_handle (object, ""));
  g_assert_false (rc_is_native_handle (object, "dog"));

  /* the parent class of handles is not a handle */
  g_assert_false (rc_is_native_handle (G_OBJECT (counter), NULL));
  g_assert_false (rc_is_native_handle (G_OBJECT (counter), ""));
  g_assert_false (rc_is_native_handle (G_OBJECT (counter), "dog"));

  g_assert_false (rc_is_native_handle (G_OBJECT (factory), NULL));
  g_assert_false (rc_is_native_handle (G_OBJECT (factory), "dog"));

  g_object_unref (object);
  g_object_unref (counter);
  g_object_unref (factory);
}

static void
test_is_native_handle_with_type_id (void)
{
  int dogs = rc_tn_dog_live_count ();
  RcNativeHandle *handle = new_dog_handle ("dog", NULL);
  GObject *object = G_OBJECT (handle);

  g_assert_true (rc_is_native_handle (object, NULL));
  g_assert_true (rc_is_native_handle (object, ""));
  g_assert_true (rc_is_native_handle (object, "dog"));
  g_assert_false (rc_is_native_handle (object, "cat"));
  g_assert_false (rc_is_native_handle (object, "DOG"));
  g_assert_false (rc_is_native_handle (object, "dog "));
  g_assert_false (rc_is_native_handle (object, "do"));

  /* still a handle, with the same type id, once released */
  rc_native_handle_release (handle);
  g_assert_true (rc_native_handle_is_disposed (handle));
  g_assert_true (rc_is_native_handle (object, NULL));
  g_assert_true (rc_is_native_handle (object, ""));
  g_assert_true (rc_is_native_handle (object, "dog"));
  g_assert_false (rc_is_native_handle (object, "cat"));

  g_object_unref (handle);
  check_no_leak (dogs);
}

static void
test_is_native_handle_without_type_id (void)
{
  int dogs = rc_tn_dog_live_count ();
  RcNativeHandle *handle = new_dog_handle (NULL, NULL);
  GObject *object = G_OBJECT (handle);

  g_assert_null (rc_native_handle_get_type_id (handle));
  g_assert_true (rc_is_native_handle (object, NULL));
  g_assert_true (rc_is_native_handle (object, ""));
  g_assert_false (rc_is_native_handle (object, "dog"));

  g_object_unref (handle);
  check_no_leak (dogs);
}

static void
test_is_native_handle_kinds (void)
{
  int dogs = rc_tn_dog_live_count ();
  void *dog = rc_tn_dog_new ("rex");
  RcOwningNativeHandle *owning = rc_owning_native_handle_new (dog, "dog");
  RcWrapperFactory *factory = rc_wrapper_factory_new (FALSE);
  RcNativeHandle *generic;
  RcDeletableNativeHandle *unset;
  g_autoptr(GError) error = NULL;

  /* every kind of handle counts */
  g_assert_true (rc_is_native_handle (G_OBJECT (owning), NULL));
  g_assert_true (rc_is_native_handle (G_OBJECT (owning), "dog"));
  g_assert_false (rc_is_native_handle (G_OBJECT (owning), "cat"));

  generic = rc_wrapper_factory_create_wrapper (factory, dog, "cat", NULL, &error);
  g_assert_no_error (error);
  g_assert_true (rc_is_native_handle (G_OBJECT (generic), NULL));
  g_assert_true (rc_is_native_handle (G_OBJECT (generic), "cat"));
  g_assert_false (rc_is_native_handle (G_OBJECT (generic), "dog"));

  /* a handle whose pointer is not set yet is a handle all the same */
  unset = rc_deletable_native_handle_new (NULL, release_dog, NULL, NULL, "dog");
  g_assert_nonnull (unset);
  g_assert_true (rc_is_native_handle (G_OBJECT (unset), NULL));
  g_assert_true (rc_is_native_handle (G_OBJECT (unset), "dog"));
  g_assert_false (rc_is_native_handle (G_OBJECT (unset), "cat"));

  g_object_unref (unset);
  g_object_unref (generic);
  g_object_unref (owning);
  g_object_unref (factory);
  g_assert_true (rc_tn_is_alive (dog));
  rc_tn_release (dog);
  check_no_leak (dogs);
}

/* rc_unwrap_native_handle */

static void
test_unwrap_null (void)
{
  g_assert_null (rc_unwrap_native_handle (NULL));
}

static void
test_unwrap_handle (void)
{
  int dogs = rc_tn_dog_live_count ();
  void *dog = NULL;
  RcNativeHandle *handle = new_dog_handle ("dog", &dog);
  int count;

  g_assert_true (rc_unwrap_native_handle (G_OBJECT (handle)) == dog);
  /* unwrapping borrows nothing: neither the count nor the native object move */
  count = rc_reference_counter_get_reference_count (RC_REFERENCE_COUNTER (handle));
  g_assert_cmpint (count, ==, 1);
  g_assert_cmpint (rc_tn_get_ref_count (dog), ==, 1);
  g_assert_true (rc_unwrap_native_handle (G_OBJECT (handle)) == rc_native_handle_get_handle (handle));

  rc_native_handle_release (handle);
  g_assert_false (rc_tn_is_alive (dog));
  g_assert_null (rc_unwrap_native_handle (G_OBJECT (handle)));

  g_object_unref (handle);
  check_no_leak (dogs);
}

static void
test_unwrap_owning (void)
{
  int dogs = rc_tn_dog_live_count ();
  void *dog = rc_tn_dog_new ("rex");
  RcOwningNativeHandle *owning = rc_owning_native_handle_new (dog, NULL);

  g_assert_true (rc_unwrap_native_handle (G_OBJECT (owning)) == dog);
  rc_native_handle_release (RC_NATIVE_HANDLE (owning));
  g_assert_null (rc_unwrap_native_handle (G_OBJECT (owning)));
  g_assert_true (rc_tn_is_alive (dog));

  g_object_unref (owning);
  rc_tn_release (dog);
  check_no_leak (dogs);
}

static void
test_unwrap_unset (void)
{
  RcDeletableNativeHandle *unset;

  unset = rc_deletable_native_handle_new (NULL, release_dog, NULL, NULL, "dog");
  g_assert_nonnull (unset);
  g_assert_null (rc_unwrap_native_handle (G_OBJECT (unset)));
  g_object_unref (unset);
}

static void
test_unwrap_not_a_handle (void)
{
  GObject *object = g_object_new (G_TYPE_OBJECT, NULL);
  RcReferenceCounter *counter = rc_reference_counter_new (0);
  gpointer result;

  g_test_expect_message ("Refcount", G_LOG_LEVEL_CRITICAL, "*assertion*failed*");
  result = rc_unwrap_native_handle (object);
  g_test_assert_expected_messages ();
  g_assert_null (result);

  g_test_expect_message ("Refcount", G_LOG_LEVEL_CRITICAL, "*assertion*failed*");
  result = rc_unwrap_native_handle (G_OBJECT (counter));
  g_test_assert_expected_messages ();
  g_assert_null (result);

  g_object_unref (object);
  g_object_unref (counter);
}

/* rc_arg_error_message */

static void
check_message (GObject    *object,
               const char *expected_type_id,
               const char *expected)
{
  char *message = rc_arg_error_message (object, expected_type_id);

  g_assert_cmpstr (message, ==, expected);
  g_free (message);
}

static void
test_arg_error_message_null (void)
{
  check_message (NULL, NULL, "Expected a 'RcNativeHandle' but instead got 'NULL'");
  check_message (NULL, "", "Expected a 'RcNativeHandle' but instead got 'NULL'");
  check_message (NULL, "cat", "Expected a 'RcNativeHandle' but instead got 'NULL'");
}

static void
test_arg_error_message_not_a_handle (void)
{
  GObject *object = g_object_new (G_TYPE_OBJECT, NULL);
  RcReferenceCounter *counter = rc_reference_counter_new (0);
  RcWrapperFactory *factory = rc_wrapper_factory_new (TRUE);

  check_message (object, NULL,
                 "Expected a 'RcNativeHandle' but instead got object of type 'GObject'");
  check_message (object, "cat",
                 "Expected a 'RcNativeHandle' but instead got object of type 'GObject'");
  check_message (G_OBJECT (counter), "cat",
                 "Expected a 'RcNativeHandle' but instead got object of type 'RcReferenceCounter'");
  check_message (G_OBJECT (factory), NULL,
                 "Expected a 'RcNativeHandle' but instead got object of type 'RcWrapperFactory'");

  g_object_unref (object);
  g_object_unref (counter);
  g_object_unref (factory);
}

static void
test_arg_error_message_handle (void)
{
  int dogs = rc_tn_dog_live_count ();
  RcNativeHandle *dog = new_dog_handle ("dog", NULL);
  RcNativeHandle *anonymous = new_dog_handle (NULL, NULL);

  check_message (G_OBJECT (dog), "cat",
                 "Expected a 'RcNativeHandle' with underlying type id 'cat' but instead got one with type id 'dog'");
  check_message (G_OBJECT (dog), NULL,
                 "Expected a 'RcNativeHandle' with underlying type id '(none)' but instead got one with type id 'dog'");
  check_message (G_OBJECT (anonymous), "cat",
                 "Expected a 'RcNativeHandle' with underlying type id 'cat' but instead got one with type id '(none)'");
  check_message (G_OBJECT (anonymous), NULL,
                 "Expected a 'RcNativeHandle' with underlying type id '(none)' but instead got one with type id '(none)'");
  /* the message is the same whatever the types: the caller decides when to use it */
  check_message (G_OBJECT (dog), "dog",
                 "Expected a 'RcNativeHandle' with underlying type id 'dog' but instead got one with type id 'dog'");

  /* a released handle keeps its type id */
  rc_native_handle_release (dog);
  check_message (G_OBJECT (dog), "cat",
                 "Expected a 'RcNativeHandle' with underlying type id 'cat' but instead got one with type id 'dog'");

  g_object_unref (dog);
  g_object_unref (anonymous);
  check_no_leak (dogs);
}

static void
test_arg_error_message_other_handles (void)
{
  void *raw = rc_tn_croc_new ();
  RcOwningNativeHandle *owning = rc_owning_native_handle_new (raw, "CROC_PTR");

  check_message (G_OBJECT (owning), "DOG_PTR",
                 "Expected a 'RcNativeHandle' with underlying type id 'DOG_PTR' but instead got one with type id 'CROC_PTR'");

  g_object_unref (owning);
  rc_tn_release (raw);
  g_assert_false (rc_tn_is_alive (raw));
}

/* The error domain and its enum type */

static void
test_error_quark (void)
{
  GQuark quark = rc_error_quark ();
  GError *error = NULL;

  g_assert_cmpuint (quark, !=, 0);
  g_assert_cmpuint (RC_ERROR, ==, quark);
  g_assert_cmpuint (rc_error_quark (), ==, quark);
  g_assert_nonnull (g_quark_to_string (quark));
  g_assert_cmpstr (g_quark_to_string (quark), !=, "");
  /* a domain of its own */
  g_assert_cmpuint (quark, !=, G_FILE_ERROR);

  g_set_error (&error, RC_ERROR, RC_ERROR_DISPOSED, "disposed");
  g_assert_error (error, RC_ERROR, RC_ERROR_DISPOSED);
  g_assert_true (g_error_matches (error, RC_ERROR, RC_ERROR_DISPOSED));
  g_assert_false (g_error_matches (error, RC_ERROR, RC_ERROR_FAILED));
  g_clear_error (&error);
}

static void
test_error_from_library (void)
{
  int dogs = rc_tn_dog_live_count ();
  RcNativeHandle *handle = new_dog_handle ("dog", NULL);
  GError *error = NULL;
  gpointer pointer;

  rc_native_handle_release (handle);
  pointer = rc_native_handle_acquire (handle, &error);
  g_assert_null (pointer);
  g_assert_error (error, RC_ERROR, RC_ERROR_DISPOSED);
  g_assert_true (error->domain == rc_error_quark ());
  g_clear_error (&error);

  g_object_unref (handle);
  check_no_leak (dogs);
}

static void
test_error_values (void)
{
  /* the codes are part of the ABI */
  g_assert_cmpint (RC_ERROR_FAILED, ==, 0);
  g_assert_cmpint (RC_ERROR_INVALID_ARGUMENT, ==, 1);
  g_assert_cmpint (RC_ERROR_INVALID_HANDLE, ==, 2);
  g_assert_cmpint (RC_ERROR_DISPOSED, ==, 3);
  g_assert_cmpint (RC_ERROR_HANDLE_ALREADY_SET, ==, 4);
  g_assert_cmpint (RC_ERROR_UNKNOWN_TYPE_ID, ==, 5);
  g_assert_cmpint (RC_ERROR_NOT_IMPLEMENTED, ==, 6);
  g_assert_cmpint (RC_ERROR_WRONG_TYPE, ==, 7);
}

static void
test_error_enum_type (void)
{
  static const struct
  {
    int value;
    const char *name;
    const char *nick;
  } expected[] = {
    { RC_ERROR_FAILED, "RC_ERROR_FAILED", "failed" },
    { RC_ERROR_INVALID_ARGUMENT, "RC_ERROR_INVALID_ARGUMENT", "invalid-argument" },
    { RC_ERROR_INVALID_HANDLE, "RC_ERROR_INVALID_HANDLE", "invalid-handle" },
    { RC_ERROR_DISPOSED, "RC_ERROR_DISPOSED", "disposed" },
    { RC_ERROR_HANDLE_ALREADY_SET, "RC_ERROR_HANDLE_ALREADY_SET", "handle-already-set" },
    { RC_ERROR_UNKNOWN_TYPE_ID, "RC_ERROR_UNKNOWN_TYPE_ID", "unknown-type-id" },
    { RC_ERROR_NOT_IMPLEMENTED, "RC_ERROR_NOT_IMPLEMENTED", "not-implemented" },
    { RC_ERROR_WRONG_TYPE, "RC_ERROR_WRONG_TYPE", "wrong-type" },
    { RC_ERROR_CYCLE, "RC_ERROR_CYCLE", "cycle" },
  };
  GType type = rc_error_get_type ();
  GEnumClass *klass;
  gsize i;

  g_assert_true (type != G_TYPE_INVALID);
  g_assert_true (RC_TYPE_ERROR == type);
  g_assert_true (G_TYPE_IS_ENUM (type));
  g_assert_cmpstr (g_type_name (type), ==, "RcError");
  g_assert_true (g_type_from_name ("RcError") == type);

  klass = g_type_class_ref (type);
  g_assert_cmpuint (klass->n_values, ==, G_N_ELEMENTS (expected));
  g_assert_cmpint (klass->minimum, ==, RC_ERROR_FAILED);
  g_assert_cmpint (klass->maximum, ==, RC_ERROR_CYCLE);

  for (i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      GEnumValue *value = g_enum_get_value (klass, expected[i].value);

      g_assert_nonnull (value);
      g_assert_cmpint (value->value, ==, expected[i].value);
      g_assert_cmpstr (value->value_name, ==, expected[i].name);
      g_assert_cmpstr (value->value_nick, ==, expected[i].nick);
      g_assert_true (g_enum_get_value_by_name (klass, expected[i].name) == value);
      g_assert_true (g_enum_get_value_by_nick (klass, expected[i].nick) == value);
    }
  g_assert_null (g_enum_get_value (klass, RC_ERROR_CYCLE + 1));
  g_assert_null (g_enum_get_value (klass, -1));

  g_type_class_unref (klass);
}

static void
test_error_enum_gvalue (void)
{
  GValue value = G_VALUE_INIT;
  char *contents;

  g_value_init (&value, RC_TYPE_ERROR);
  g_value_set_enum (&value, RC_ERROR_WRONG_TYPE);
  g_assert_cmpint (g_value_get_enum (&value), ==, RC_ERROR_WRONG_TYPE);
  contents = g_strdup_value_contents (&value);
  g_assert_cmpstr (contents, ==, "((RcError) RC_ERROR_WRONG_TYPE)");
  g_free (contents);
  g_value_unset (&value);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/interop/is-native-handle/null", test_is_native_handle_null);
  g_test_add_func ("/interop/is-native-handle/not-a-handle", test_is_native_handle_not_a_handle);
  g_test_add_func ("/interop/is-native-handle/with-type-id", test_is_native_handle_with_type_id);
  g_test_add_func ("/interop/is-native-handle/without-type-id", test_is_native_handle_without_type_id);
  g_test_add_func ("/interop/is-native-handle/kinds", test_is_native_handle_kinds);

  g_test_add_func ("/interop/unwrap/null", test_unwrap_null);
  g_test_add_func ("/interop/unwrap/handle", test_unwrap_handle);
  g_test_add_func ("/interop/unwrap/owning", test_unwrap_owning);
  g_test_add_func ("/interop/unwrap/unset", test_unwrap_unset);
  g_test_add_func ("/interop/unwrap/not-a-handle", test_unwrap_not_a_handle);

  g_test_add_func ("/interop/arg-error-message/null", test_arg_error_message_null);
  g_test_add_func ("/interop/arg-error-message/not-a-handle", test_arg_error_message_not_a_handle);
  g_test_add_func ("/interop/arg-error-message/handle", test_arg_error_message_handle);
  g_test_add_func ("/interop/arg-error-message/other-handles", test_arg_error_message_other_handles);

  g_test_add_func ("/interop/error/quark", test_error_quark);
  g_test_add_func ("/interop/error/from-library", test_error_from_library);
  g_test_add_func ("/interop/error/values", test_error_values);
  g_test_add_func ("/interop/error/enum-type", test_error_enum_type);
  g_test_add_func ("/interop/error/enum-gvalue", test_error_enum_gvalue);

  return g_test_run ();
}
