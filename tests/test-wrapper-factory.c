/* test-wrapper-factory.c: RcWrapperFactory, strict and lenient
 *
 * SPDX-License-Identifier: MIT
 */

#include <refcount/refcount.h>

#include "rc-test-native.h"

/* A wrapper written in C for the "DOG_PTR" type id: it knows how to release a
 * dog of the test native library. */
#define RC_TEST_TYPE_DOG_HANDLE (rc_test_dog_handle_get_type ())
G_DECLARE_FINAL_TYPE (RcTestDogHandle, rc_test_dog_handle, RC_TEST, DOG_HANDLE, RcNativeHandle)

struct _RcTestDogHandle
{
  RcNativeHandle parent_instance;

  int release_calls;
  gpointer released_pointer;
};

G_DEFINE_FINAL_TYPE (RcTestDogHandle, rc_test_dog_handle, RC_TYPE_NATIVE_HANDLE)

static gboolean
rc_test_dog_handle_release_handle (RcNativeHandle *handle)
{
  RcTestDogHandle *self = RC_TEST_DOG_HANDLE (handle);
  gpointer dog = rc_native_handle_get_handle (handle);

  g_atomic_int_inc (&self->release_calls);
  self->released_pointer = dog;
  rc_tn_release (dog);

  return TRUE;
}

static void
rc_test_dog_handle_class_init (RcTestDogHandleClass *klass)
{
  RcNativeHandleClass *handle_class = RC_NATIVE_HANDLE_CLASS (klass);

  handle_class->release_handle = rc_test_dog_handle_release_handle;
}

static void
rc_test_dog_handle_init (RcTestDogHandle *self)
{
}

/* An abstract subclass of RcNativeHandle: registering it is as wrong as
 * registering RcNativeHandle itself. */
#define RC_TEST_TYPE_ABSTRACT_HANDLE (rc_test_abstract_handle_get_type ())
G_DECLARE_DERIVABLE_TYPE (RcTestAbstractHandle, rc_test_abstract_handle, RC_TEST, ABSTRACT_HANDLE, RcNativeHandle)

struct _RcTestAbstractHandleClass
{
  RcNativeHandleClass parent_class;
};

G_DEFINE_ABSTRACT_TYPE (RcTestAbstractHandle, rc_test_abstract_handle, RC_TYPE_NATIVE_HANDLE)

static void
rc_test_abstract_handle_class_init (RcTestAbstractHandleClass *klass)
{
}

static void
rc_test_abstract_handle_init (RcTestAbstractHandle *self)
{
}

/* Ground truth at the start of a test, compared at its end: every dog freed,
 * every wrapper finalized, no misuse of the native library. */
typedef struct
{
  int dogs;
  int native_objects;
  guint handles;
  guint unreleased;
} Baseline;

static void
baseline_begin (Baseline *baseline)
{
  rc_tn_reset_misuse_count ();
  baseline->dogs = rc_tn_dog_live_count ();
  baseline->native_objects = rc_tn_live_count ();
  baseline->handles = rc_native_handle_get_live_count ();
  baseline->unreleased = rc_native_handle_get_unreleased_count ();
}

static void
baseline_end (const Baseline *baseline)
{
  g_assert_cmpint (rc_tn_dog_live_count (), ==, baseline->dogs);
  g_assert_cmpint (rc_tn_live_count (), ==, baseline->native_objects);
  g_assert_cmpuint (rc_native_handle_get_live_count (), ==, baseline->handles);
  g_assert_cmpuint (rc_native_handle_get_unreleased_count (), ==, baseline->unreleased);
  g_assert_cmpint (rc_tn_misuse_count (), ==, 0);
}

/* A failed create_wrapper must leave the native object alone. */
static void
assert_dog_untouched (void *dog)
{
  g_assert_true (rc_tn_is_alive (dog));
  g_assert_cmpint (rc_tn_get_ref_count (dog), ==, 1);
}

static gpointer
release_address (void)
{
  return (gpointer) rc_tn_release;
}

/* create_wrapper must fail with @code, return NULL, create no wrapper and
 * leave @dog untouched. */
static void
assert_create_fails (RcWrapperFactory *factory,
                     void             *dog,
                     const char       *type_id,
                     gpointer          release,
                     int               code)
{
  g_autoptr(GError) error = NULL;
  RcNativeHandle *wrapper;
  guint handles = rc_native_handle_get_live_count ();

  wrapper = rc_wrapper_factory_create_wrapper (factory, dog, type_id, release, &error);
  g_assert_null (wrapper);
  g_assert_error (error, RC_ERROR, code);
  g_assert_nonnull (error->message);
  g_assert_cmpstr (error->message, !=, "");
  g_assert_cmpuint (rc_native_handle_get_live_count (), ==, handles);
  if (dog != NULL)
    assert_dog_untouched (dog);
}

static RcNativeHandle *
create_ok (RcWrapperFactory *factory,
           void             *dog,
           const char       *type_id,
           gpointer          release)
{
  g_autoptr(GError) error = NULL;
  RcNativeHandle *wrapper;

  wrapper = rc_wrapper_factory_create_wrapper (factory, dog, type_id, release, &error);
  g_assert_no_error (error);
  g_assert_nonnull (wrapper);
  g_assert_true (RC_IS_NATIVE_HANDLE (wrapper));
  /* transfer full: the caller holds the only GObject reference */
  g_assert_cmpuint (G_OBJECT (wrapper)->ref_count, ==, 1);
  g_assert_true (rc_native_handle_get_handle (wrapper) == dog);
  g_assert_cmpstr (rc_native_handle_get_type_id (wrapper), ==, type_id);
  g_assert_cmpint (rc_reference_counter_get_reference_count (RC_REFERENCE_COUNTER (wrapper)), ==, 1);
  g_assert_false (rc_native_handle_is_disposed (wrapper));
  g_assert_false (rc_native_handle_is_invalid (wrapper));
  /* the wrapper takes no native reference of its own */
  assert_dog_untouched (dog);

  return wrapper;
}

/* The generic wrapper with a release address: a RcDeletableNativeHandle whose
 * release really frees the dog. */
static void
check_generic_deletable (RcWrapperFactory *factory,
                         const char       *type_id)
{
  void *dog = rc_tn_dog_new ("rex");
  int dogs = rc_tn_dog_live_count ();
  RcNativeHandle *wrapper = create_ok (factory, dog, type_id, release_address ());

  g_assert_true (RC_IS_DELETABLE_NATIVE_HANDLE (wrapper));
  rc_native_handle_release (wrapper);
  g_assert_false (rc_tn_is_alive (dog));
  g_assert_cmpint (rc_tn_dog_live_count (), ==, dogs - 1);
  g_assert_true (rc_native_handle_is_disposed (wrapper));
  g_assert_null (rc_native_handle_get_handle (wrapper));
  g_assert_cmpint (rc_reference_counter_get_reference_count (RC_REFERENCE_COUNTER (wrapper)), ==, 0);
  g_object_unref (wrapper);
  g_assert_cmpint (rc_tn_dog_live_count (), ==, dogs - 1);

  /* the same, released by the GObject lifetime only */
  dog = rc_tn_dog_new ("rex");
  wrapper = create_ok (factory, dog, type_id, release_address ());
  g_assert_true (RC_IS_DELETABLE_NATIVE_HANDLE (wrapper));
  g_object_unref (wrapper);
  g_assert_false (rc_tn_is_alive (dog));
  g_assert_cmpint (rc_tn_dog_live_count (), ==, dogs - 1);
}

/* The generic wrapper without a release address: a RcOwningNativeHandle that
 * disposes without touching the memory. */
static void
check_generic_owning (RcWrapperFactory *factory,
                      const char       *type_id)
{
  void *dog = rc_tn_dog_new ("rex");
  RcNativeHandle *wrapper = create_ok (factory, dog, type_id, NULL);

  g_assert_true (RC_IS_OWNING_NATIVE_HANDLE (wrapper));
  rc_native_handle_release (wrapper);
  g_assert_true (rc_native_handle_is_disposed (wrapper));
  g_assert_null (rc_native_handle_get_handle (wrapper));
  assert_dog_untouched (dog);
  g_object_unref (wrapper);
  assert_dog_untouched (dog);

  wrapper = create_ok (factory, dog, type_id, NULL);
  g_assert_true (RC_IS_OWNING_NATIVE_HANDLE (wrapper));
  g_object_unref (wrapper);
  assert_dog_untouched (dog);

  rc_tn_release (dog);
  g_assert_false (rc_tn_is_alive (dog));
}

/* The registered C subclass: built by the factory, it releases the dog with
 * its own release_handle, exactly once. */
static void
check_dog_subclass (RcWrapperFactory *factory,
                    gpointer          release)
{
  void *dog = rc_tn_dog_new ("rex");
  int dogs = rc_tn_dog_live_count ();
  RcNativeHandle *wrapper = create_ok (factory, dog, "DOG_PTR", release);
  RcTestDogHandle *dog_handle;

  g_assert_true (G_OBJECT_TYPE (wrapper) == RC_TEST_TYPE_DOG_HANDLE);
  dog_handle = RC_TEST_DOG_HANDLE (wrapper);
  g_assert_cmpint (dog_handle->release_calls, ==, 0);

  rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (wrapper));
  rc_native_handle_release (wrapper);
  g_assert_cmpint (dog_handle->release_calls, ==, 0);
  assert_dog_untouched (dog);

  rc_native_handle_release (wrapper);
  g_assert_cmpint (dog_handle->release_calls, ==, 1);
  g_assert_true (dog_handle->released_pointer == dog);
  g_assert_false (rc_tn_is_alive (dog));
  g_assert_cmpint (rc_tn_dog_live_count (), ==, dogs - 1);
  g_assert_true (rc_native_handle_is_disposed (wrapper));
  g_assert_null (rc_native_handle_get_handle (wrapper));

  rc_native_handle_release (wrapper);
  g_assert_cmpint (dog_handle->release_calls, ==, 1);
  g_object_unref (wrapper);
  g_assert_cmpint (rc_tn_misuse_count (), ==, 0);

  /* released by the GObject lifetime */
  dog = rc_tn_dog_new ("fido");
  wrapper = create_ok (factory, dog, "DOG_PTR", release);
  g_assert_true (RC_TEST_IS_DOG_HANDLE (wrapper));
  g_object_unref (wrapper);
  g_assert_false (rc_tn_is_alive (dog));
  g_assert_cmpint (rc_tn_dog_live_count (), ==, dogs - 1);
  g_assert_cmpint (rc_tn_misuse_count (), ==, 0);
}

static void
test_new (void)
{
  RcWrapperFactory *strict = rc_wrapper_factory_new (TRUE);
  RcWrapperFactory *lenient = rc_wrapper_factory_new (FALSE);

  g_assert_true (RC_IS_WRAPPER_FACTORY (strict));
  g_assert_true (RC_IS_WRAPPER_FACTORY (lenient));
  g_assert_true (G_IS_OBJECT (strict));
  g_assert_true (rc_wrapper_factory_get_strict (strict));
  g_assert_false (rc_wrapper_factory_get_strict (lenient));
  g_assert_true (strict != lenient);

  g_object_unref (strict);
  g_object_unref (lenient);
}

static void
test_lookup (void)
{
  g_autoptr(RcWrapperFactory) factory = rc_wrapper_factory_new (TRUE);
  GType gtype = G_TYPE_INVALID;

  g_assert_false (rc_wrapper_factory_lookup (factory, "DOG_PTR", &gtype));
  g_assert_false (rc_wrapper_factory_lookup (factory, "", &gtype));

  rc_wrapper_factory_register (factory, "DOG_PTR", RC_TEST_TYPE_DOG_HANDLE);
  rc_wrapper_factory_register (factory, "OWNER_PTR", G_TYPE_NONE);

  gtype = G_TYPE_INVALID;
  g_assert_true (rc_wrapper_factory_lookup (factory, "DOG_PTR", &gtype));
  g_assert_true (gtype == RC_TEST_TYPE_DOG_HANDLE);

  gtype = G_TYPE_INVALID;
  g_assert_true (rc_wrapper_factory_lookup (factory, "OWNER_PTR", &gtype));
  g_assert_true (gtype == G_TYPE_NONE);

  /* the out argument is optional */
  g_assert_true (rc_wrapper_factory_lookup (factory, "DOG_PTR", NULL));
  g_assert_true (rc_wrapper_factory_lookup (factory, "OWNER_PTR", NULL));
  g_assert_false (rc_wrapper_factory_lookup (factory, "CAT_PTR", NULL));

  /* type ids are exact strings */
  g_assert_false (rc_wrapper_factory_lookup (factory, "dog_ptr", &gtype));
  g_assert_false (rc_wrapper_factory_lookup (factory, "DOG_PTR ", &gtype));
  g_assert_false (rc_wrapper_factory_lookup (factory, "CROC_PTR", &gtype));
}

static void
test_lookup_copies_type_id (void)
{
  g_autoptr(RcWrapperFactory) factory = rc_wrapper_factory_new (TRUE);
  char *type_id = g_strdup ("DOG_PTR");
  GType gtype = G_TYPE_INVALID;

  /* the factory keeps its own copy of the key */
  rc_wrapper_factory_register (factory, type_id, RC_TEST_TYPE_DOG_HANDLE);
  type_id[0] = 'X';
  g_free (type_id);

  g_assert_true (rc_wrapper_factory_lookup (factory, "DOG_PTR", &gtype));
  g_assert_true (gtype == RC_TEST_TYPE_DOG_HANDLE);
}

static void
test_independent (void)
{
  g_autoptr(RcWrapperFactory) first = rc_wrapper_factory_new (TRUE);
  g_autoptr(RcWrapperFactory) second = rc_wrapper_factory_new (TRUE);
  GType gtype = G_TYPE_INVALID;

  rc_wrapper_factory_register (first, "DOG_PTR", RC_TEST_TYPE_DOG_HANDLE);
  g_assert_true (rc_wrapper_factory_lookup (first, "DOG_PTR", &gtype));
  g_assert_false (rc_wrapper_factory_lookup (second, "DOG_PTR", &gtype));
}

static void
test_reregister (void)
{
  Baseline baseline;
  g_autoptr(RcWrapperFactory) factory = rc_wrapper_factory_new (TRUE);
  GType gtype = G_TYPE_INVALID;
  void *dog;

  baseline_begin (&baseline);
  dog = rc_tn_dog_new ("rex");

  rc_wrapper_factory_register (factory, "DOG_PTR", RC_TEST_TYPE_DOG_HANDLE);
  rc_wrapper_factory_register (factory, "DOG_PTR", G_TYPE_NONE);
  g_assert_true (rc_wrapper_factory_lookup (factory, "DOG_PTR", &gtype));
  g_assert_true (gtype == G_TYPE_NONE);
  assert_create_fails (factory, dog, "DOG_PTR", release_address (), RC_ERROR_NOT_IMPLEMENTED);

  rc_wrapper_factory_register (factory, "DOG_PTR", G_TYPE_OBJECT);
  g_assert_true (rc_wrapper_factory_lookup (factory, "DOG_PTR", &gtype));
  g_assert_true (gtype == G_TYPE_OBJECT);
  assert_create_fails (factory, dog, "DOG_PTR", release_address (), RC_ERROR_WRONG_TYPE);

  rc_wrapper_factory_register (factory, "DOG_PTR", RC_TEST_TYPE_DOG_HANDLE);
  g_assert_true (rc_wrapper_factory_lookup (factory, "DOG_PTR", &gtype));
  g_assert_true (gtype == RC_TEST_TYPE_DOG_HANDLE);

  rc_tn_release (dog);
  check_dog_subclass (factory, NULL);

  /* re-registering the same pair is harmless */
  rc_wrapper_factory_register (factory, "DOG_PTR", RC_TEST_TYPE_DOG_HANDLE);
  g_assert_true (rc_wrapper_factory_lookup (factory, "DOG_PTR", &gtype));
  g_assert_true (gtype == RC_TEST_TYPE_DOG_HANDLE);

  baseline_end (&baseline);
}

static void
test_register_null_type_id (void)
{
  g_autoptr(RcWrapperFactory) factory = rc_wrapper_factory_new (TRUE);
  GType gtype = G_TYPE_INVALID;

  g_test_expect_message ("Refcount", G_LOG_LEVEL_CRITICAL, "*assertion*failed*");
  rc_wrapper_factory_register (factory, NULL, RC_TEST_TYPE_DOG_HANDLE);
  g_test_assert_expected_messages ();

  g_assert_false (rc_wrapper_factory_lookup (factory, "", &gtype));
  g_assert_false (rc_wrapper_factory_lookup (factory, "(null)", &gtype));
}

static void
test_null_self (void)
{
  GType gtype = G_TYPE_INVALID;
  g_autoptr(GError) error = NULL;
  RcNativeHandle *wrapper;
  void *dog = rc_tn_dog_new ("rex");

  g_test_expect_message ("Refcount", G_LOG_LEVEL_CRITICAL, "*assertion*failed*");
  g_assert_false (rc_wrapper_factory_get_strict (NULL));
  g_test_assert_expected_messages ();

  g_test_expect_message ("Refcount", G_LOG_LEVEL_CRITICAL, "*assertion*failed*");
  rc_wrapper_factory_register (NULL, "DOG_PTR", RC_TEST_TYPE_DOG_HANDLE);
  g_test_assert_expected_messages ();

  g_test_expect_message ("Refcount", G_LOG_LEVEL_CRITICAL, "*assertion*failed*");
  g_assert_false (rc_wrapper_factory_lookup (NULL, "DOG_PTR", &gtype));
  g_test_assert_expected_messages ();

  g_test_expect_message ("Refcount", G_LOG_LEVEL_CRITICAL, "*assertion*failed*");
  wrapper = rc_wrapper_factory_create_wrapper (NULL, dog, "DOG_PTR", release_address (), &error);
  g_test_assert_expected_messages ();
  g_assert_null (wrapper);
  assert_dog_untouched (dog);

  rc_tn_release (dog);
}

static void
test_null_type_id (gconstpointer data)
{
  gboolean strict = GPOINTER_TO_INT (data);
  Baseline baseline;
  RcWrapperFactory *factory;
  void *dog;

  baseline_begin (&baseline);
  factory = rc_wrapper_factory_new (strict);
  dog = rc_tn_dog_new ("rex");

  assert_create_fails (factory, dog, NULL, release_address (), RC_ERROR_INVALID_ARGUMENT);
  assert_create_fails (factory, dog, NULL, NULL, RC_ERROR_INVALID_ARGUMENT);

  /* also once a wrapper type is registered for other ids */
  rc_wrapper_factory_register (factory, "DOG_PTR", RC_TEST_TYPE_DOG_HANDLE);
  assert_create_fails (factory, dog, NULL, release_address (), RC_ERROR_INVALID_ARGUMENT);

  rc_tn_release (dog);
  g_object_unref (factory);
  baseline_end (&baseline);
}

static void
test_strict_unknown_id (void)
{
  Baseline baseline;
  RcWrapperFactory *factory;
  void *dog;

  baseline_begin (&baseline);
  factory = rc_wrapper_factory_new (TRUE);
  dog = rc_tn_dog_new ("rex");

  assert_create_fails (factory, dog, "CAT_PTR", release_address (), RC_ERROR_UNKNOWN_TYPE_ID);
  assert_create_fails (factory, dog, "CAT_PTR", NULL, RC_ERROR_UNKNOWN_TYPE_ID);
  assert_create_fails (factory, dog, "", release_address (), RC_ERROR_UNKNOWN_TYPE_ID);

  rc_wrapper_factory_register (factory, "DOG_PTR", RC_TEST_TYPE_DOG_HANDLE);
  assert_create_fails (factory, dog, "CAT_PTR", release_address (), RC_ERROR_UNKNOWN_TYPE_ID);
  assert_create_fails (factory, dog, "dog_ptr", release_address (), RC_ERROR_UNKNOWN_TYPE_ID);

  rc_tn_release (dog);
  g_object_unref (factory);
  baseline_end (&baseline);
}

static void
test_strict_unknown_id_no_gerror (void)
{
  Baseline baseline;
  RcWrapperFactory *factory;
  RcNativeHandle *wrapper;
  void *dog;

  baseline_begin (&baseline);
  factory = rc_wrapper_factory_new (TRUE);
  dog = rc_tn_dog_new ("rex");

  /* a NULL GError location is allowed, as everywhere in GLib */
  wrapper = rc_wrapper_factory_create_wrapper (factory, dog, "CAT_PTR", release_address (), NULL);
  g_assert_null (wrapper);
  wrapper = rc_wrapper_factory_create_wrapper (factory, dog, NULL, release_address (), NULL);
  g_assert_null (wrapper);
  assert_dog_untouched (dog);

  rc_tn_release (dog);
  g_object_unref (factory);
  baseline_end (&baseline);
}

static void
test_lenient_unknown_id_release_address (void)
{
  Baseline baseline;
  RcWrapperFactory *factory;

  baseline_begin (&baseline);
  factory = rc_wrapper_factory_new (FALSE);

  check_generic_deletable (factory, "CAT_PTR");
  /* a registered id does not change the others */
  rc_wrapper_factory_register (factory, "DOG_PTR", RC_TEST_TYPE_DOG_HANDLE);
  check_generic_deletable (factory, "CAT_PTR");

  g_object_unref (factory);
  baseline_end (&baseline);
}

static void
test_lenient_unknown_id_no_release_address (void)
{
  Baseline baseline;
  RcWrapperFactory *factory;

  baseline_begin (&baseline);
  factory = rc_wrapper_factory_new (FALSE);

  check_generic_owning (factory, "CAT_PTR");
  rc_wrapper_factory_register (factory, "DOG_PTR", RC_TEST_TYPE_DOG_HANDLE);
  check_generic_owning (factory, "CAT_PTR");

  g_object_unref (factory);
  baseline_end (&baseline);
}

static void
test_lenient_unknown_id_to_string (void)
{
  Baseline baseline;
  RcWrapperFactory *factory;
  RcNativeHandle *wrapper;
  char *str;
  void *dog;

  baseline_begin (&baseline);
  factory = rc_wrapper_factory_new (FALSE);
  dog = rc_tn_dog_new ("rex");

  /* the generic wrapper keeps the type id it was built for */
  wrapper = create_ok (factory, dog, "CAT_PTR", release_address ());
  str = rc_native_handle_to_string (wrapper);
  g_assert_cmpstr (str, ==, "RcDeletableNativeHandle to a native pointer of type id \"CAT_PTR\"");
  g_free (str);
  g_object_unref (wrapper);
  g_assert_false (rc_tn_is_alive (dog));

  g_object_unref (factory);
  baseline_end (&baseline);
}

static void
test_strict_none_registered (void)
{
  Baseline baseline;
  RcWrapperFactory *factory;
  void *dog;

  baseline_begin (&baseline);
  factory = rc_wrapper_factory_new (TRUE);
  dog = rc_tn_dog_new ("rex");

  rc_wrapper_factory_register (factory, "DOG_PTR", G_TYPE_NONE);
  assert_create_fails (factory, dog, "DOG_PTR", release_address (), RC_ERROR_NOT_IMPLEMENTED);
  assert_create_fails (factory, dog, "DOG_PTR", NULL, RC_ERROR_NOT_IMPLEMENTED);
  /* another id is still unknown, not "not implemented" */
  assert_create_fails (factory, dog, "CAT_PTR", release_address (), RC_ERROR_UNKNOWN_TYPE_ID);

  rc_tn_release (dog);
  g_object_unref (factory);
  baseline_end (&baseline);
}

static void
test_lenient_none_registered (void)
{
  Baseline baseline;
  RcWrapperFactory *factory;

  baseline_begin (&baseline);
  factory = rc_wrapper_factory_new (FALSE);

  rc_wrapper_factory_register (factory, "DOG_PTR", G_TYPE_NONE);
  check_generic_deletable (factory, "DOG_PTR");
  check_generic_owning (factory, "DOG_PTR");

  g_object_unref (factory);
  baseline_end (&baseline);
}

static void
test_subclass (gconstpointer data)
{
  gboolean strict = GPOINTER_TO_INT (data);
  Baseline baseline;
  RcWrapperFactory *factory;

  baseline_begin (&baseline);
  factory = rc_wrapper_factory_new (strict);
  rc_wrapper_factory_register (factory, "DOG_PTR", RC_TEST_TYPE_DOG_HANDLE);

  /* the subclass knows how to release: the release address is not used */
  check_dog_subclass (factory, NULL);
  check_dog_subclass (factory, release_address ());

  g_object_unref (factory);
  baseline_end (&baseline);
}

static void
test_subclass_after_factory_unref (void)
{
  Baseline baseline;
  RcWrapperFactory *factory;
  RcNativeHandle *wrapper;
  void *dog;

  baseline_begin (&baseline);
  factory = rc_wrapper_factory_new (TRUE);
  rc_wrapper_factory_register (factory, "DOG_PTR", RC_TEST_TYPE_DOG_HANDLE);
  dog = rc_tn_dog_new ("rex");
  wrapper = create_ok (factory, dog, "DOG_PTR", NULL);

  /* a wrapper does not depend on the factory that built it */
  g_object_unref (factory);
  assert_dog_untouched (dog);
  rc_native_handle_release (wrapper);
  g_assert_false (rc_tn_is_alive (dog));
  g_assert_cmpint (RC_TEST_DOG_HANDLE (wrapper)->release_calls, ==, 1);
  g_object_unref (wrapper);

  baseline_end (&baseline);
}

static void
test_owning_registered (gconstpointer data)
{
  gboolean strict = GPOINTER_TO_INT (data);
  Baseline baseline;
  RcWrapperFactory *factory;
  RcNativeHandle *wrapper;
  void *dog;

  baseline_begin (&baseline);
  factory = rc_wrapper_factory_new (strict);
  dog = rc_tn_dog_new ("rex");

  /* a registered concrete handle type other than the deletable one is built
   * with g_object_new, even when a release address is given */
  rc_wrapper_factory_register (factory, "DOG_PTR", RC_TYPE_OWNING_NATIVE_HANDLE);
  wrapper = create_ok (factory, dog, "DOG_PTR", release_address ());
  g_assert_true (G_OBJECT_TYPE (wrapper) == RC_TYPE_OWNING_NATIVE_HANDLE);
  rc_native_handle_release (wrapper);
  g_assert_true (rc_native_handle_is_disposed (wrapper));
  assert_dog_untouched (dog);
  g_object_unref (wrapper);
  assert_dog_untouched (dog);

  rc_tn_release (dog);
  g_object_unref (factory);
  baseline_end (&baseline);
}

static void
test_deletable_registered (gconstpointer data)
{
  gboolean strict = GPOINTER_TO_INT (data);
  Baseline baseline;
  RcWrapperFactory *factory;
  void *dog;

  baseline_begin (&baseline);
  factory = rc_wrapper_factory_new (strict);
  rc_wrapper_factory_register (factory, "DOG_PTR", RC_TYPE_DELETABLE_NATIVE_HANDLE);

  /* the generic wrapper path: it needs the release address */
  check_generic_deletable (factory, "DOG_PTR");

  dog = rc_tn_dog_new ("rex");
  assert_create_fails (factory, dog, "DOG_PTR", NULL, RC_ERROR_INVALID_ARGUMENT);
  rc_tn_release (dog);

  g_object_unref (factory);
  baseline_end (&baseline);
}

static void
test_wrong_type (gconstpointer data)
{
  gboolean strict = GPOINTER_TO_INT (data);
  const GType wrong_types[] = {
    G_TYPE_OBJECT,                  /* a GObject, not a handle */
    RC_TYPE_REFERENCE_COUNTER,      /* the parent class, not a handle */
    RC_TYPE_WRAPPER_FACTORY,        /* an unrelated final class */
    RC_TYPE_NATIVE_HANDLE,          /* a handle, but abstract */
    RC_TEST_TYPE_ABSTRACT_HANDLE,   /* an abstract subclass of a handle */
    G_TYPE_INT,                     /* not instantiatable at all */
    G_TYPE_STRING,
    G_TYPE_INITIALLY_UNOWNED,
  };
  Baseline baseline;
  RcWrapperFactory *factory;
  void *dog;
  gsize i;

  baseline_begin (&baseline);
  factory = rc_wrapper_factory_new (strict);
  dog = rc_tn_dog_new ("rex");

  for (i = 0; i < G_N_ELEMENTS (wrong_types); i++)
    {
      GType gtype = G_TYPE_INVALID;

      g_test_message ("registering %s", g_type_name (wrong_types[i]));
      /* registering is allowed: the type is checked when it is used */
      rc_wrapper_factory_register (factory, "DOG_PTR", wrong_types[i]);
      g_assert_true (rc_wrapper_factory_lookup (factory, "DOG_PTR", &gtype));
      g_assert_true (gtype == wrong_types[i]);

      assert_create_fails (factory, dog, "DOG_PTR", release_address (), RC_ERROR_WRONG_TYPE);
      assert_create_fails (factory, dog, "DOG_PTR", NULL, RC_ERROR_WRONG_TYPE);
    }

  rc_tn_release (dog);
  g_object_unref (factory);
  baseline_end (&baseline);
}

static void
test_null_handle (gconstpointer data)
{
  gboolean strict = GPOINTER_TO_INT (data);
  Baseline baseline;
  RcWrapperFactory *factory;

  baseline_begin (&baseline);
  factory = rc_wrapper_factory_new (strict);

  rc_wrapper_factory_register (factory, "DOG_PTR", RC_TEST_TYPE_DOG_HANDLE);
  assert_create_fails (factory, NULL, "DOG_PTR", NULL, RC_ERROR_INVALID_HANDLE);
  assert_create_fails (factory, NULL, "DOG_PTR", release_address (), RC_ERROR_INVALID_HANDLE);

  rc_wrapper_factory_register (factory, "OWNING", RC_TYPE_OWNING_NATIVE_HANDLE);
  assert_create_fails (factory, NULL, "OWNING", NULL, RC_ERROR_INVALID_HANDLE);

  rc_wrapper_factory_register (factory, "DELETABLE", RC_TYPE_DELETABLE_NATIVE_HANDLE);
  assert_create_fails (factory, NULL, "DELETABLE", release_address (), RC_ERROR_INVALID_HANDLE);

  if (!strict)
    {
      /* the generic wrappers refuse a NULL pointer too */
      assert_create_fails (factory, NULL, "CAT_PTR", release_address (), RC_ERROR_INVALID_HANDLE);
      assert_create_fails (factory, NULL, "CAT_PTR", NULL, RC_ERROR_INVALID_HANDLE);

      rc_wrapper_factory_register (factory, "NONE", G_TYPE_NONE);
      assert_create_fails (factory, NULL, "NONE", release_address (), RC_ERROR_INVALID_HANDLE);
      assert_create_fails (factory, NULL, "NONE", NULL, RC_ERROR_INVALID_HANDLE);
    }

  g_object_unref (factory);
  baseline_end (&baseline);
}

static void
test_many_wrappers (void)
{
  Baseline baseline;
  RcWrapperFactory *strict;
  RcWrapperFactory *lenient;
  RcNativeHandle *wrappers[30];
  void *dogs[G_N_ELEMENTS (wrappers)];
  gsize i;

  baseline_begin (&baseline);
  strict = rc_wrapper_factory_new (TRUE);
  lenient = rc_wrapper_factory_new (FALSE);
  rc_wrapper_factory_register (strict, "DOG_PTR", RC_TEST_TYPE_DOG_HANDLE);

  for (i = 0; i < G_N_ELEMENTS (wrappers); i++)
    {
      dogs[i] = rc_tn_dog_new ("pack");
      if (i % 2 == 0)
        wrappers[i] = create_ok (strict, dogs[i], "DOG_PTR", NULL);
      else
        wrappers[i] = create_ok (lenient, dogs[i], "PACK_PTR", release_address ());
    }
  g_assert_cmpint (rc_tn_dog_live_count (), ==, baseline.dogs + (int) G_N_ELEMENTS (wrappers));
  g_assert_cmpuint (rc_native_handle_get_live_count (), ==, baseline.handles + G_N_ELEMENTS (wrappers));
  g_assert_cmpuint (rc_native_handle_get_unreleased_count (), ==, baseline.unreleased + G_N_ELEMENTS (wrappers));

  g_object_unref (strict);
  g_object_unref (lenient);

  for (i = 0; i < G_N_ELEMENTS (wrappers); i++)
    {
      g_assert_true (rc_tn_is_alive (dogs[i]));
      g_object_unref (wrappers[i]);
    }

  baseline_end (&baseline);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/wrapper-factory/new", test_new);
  g_test_add_func ("/wrapper-factory/lookup", test_lookup);
  g_test_add_func ("/wrapper-factory/lookup/copies-type-id", test_lookup_copies_type_id);
  g_test_add_func ("/wrapper-factory/independent", test_independent);
  g_test_add_func ("/wrapper-factory/re-register", test_reregister);
  g_test_add_func ("/wrapper-factory/register/null-type-id", test_register_null_type_id);
  g_test_add_func ("/wrapper-factory/null-self", test_null_self);

  g_test_add_data_func ("/wrapper-factory/strict/null-type-id", GINT_TO_POINTER (TRUE), test_null_type_id);
  g_test_add_data_func ("/wrapper-factory/lenient/null-type-id", GINT_TO_POINTER (FALSE), test_null_type_id);

  g_test_add_func ("/wrapper-factory/strict/unknown-id", test_strict_unknown_id);
  g_test_add_func ("/wrapper-factory/strict/unknown-id/no-gerror", test_strict_unknown_id_no_gerror);
  g_test_add_func ("/wrapper-factory/lenient/unknown-id/release-address", test_lenient_unknown_id_release_address);
  g_test_add_func ("/wrapper-factory/lenient/unknown-id/no-release-address", test_lenient_unknown_id_no_release_address);
  g_test_add_func ("/wrapper-factory/lenient/unknown-id/to-string", test_lenient_unknown_id_to_string);

  g_test_add_func ("/wrapper-factory/strict/none-registered", test_strict_none_registered);
  g_test_add_func ("/wrapper-factory/lenient/none-registered", test_lenient_none_registered);

  g_test_add_data_func ("/wrapper-factory/strict/subclass", GINT_TO_POINTER (TRUE), test_subclass);
  g_test_add_data_func ("/wrapper-factory/lenient/subclass", GINT_TO_POINTER (FALSE), test_subclass);
  g_test_add_func ("/wrapper-factory/strict/subclass/outlives-factory", test_subclass_after_factory_unref);

  g_test_add_data_func ("/wrapper-factory/strict/owning-registered", GINT_TO_POINTER (TRUE), test_owning_registered);
  g_test_add_data_func ("/wrapper-factory/lenient/owning-registered", GINT_TO_POINTER (FALSE), test_owning_registered);

  g_test_add_data_func ("/wrapper-factory/strict/deletable-registered", GINT_TO_POINTER (TRUE), test_deletable_registered);
  g_test_add_data_func ("/wrapper-factory/lenient/deletable-registered", GINT_TO_POINTER (FALSE), test_deletable_registered);

  g_test_add_data_func ("/wrapper-factory/strict/wrong-type", GINT_TO_POINTER (TRUE), test_wrong_type);
  g_test_add_data_func ("/wrapper-factory/lenient/wrong-type", GINT_TO_POINTER (FALSE), test_wrong_type);

  g_test_add_data_func ("/wrapper-factory/strict/null-handle", GINT_TO_POINTER (TRUE), test_null_handle);
  g_test_add_data_func ("/wrapper-factory/lenient/null-handle", GINT_TO_POINTER (FALSE), test_null_handle);

  g_test_add_func ("/wrapper-factory/many-wrappers", test_many_wrappers);

  return g_test_run ();
}
