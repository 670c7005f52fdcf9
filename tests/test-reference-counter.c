/* test-reference-counter.c: RcReferenceCounter, the counter alone
 *
 * SPDX-License-Identifier: MIT
 */

#include <refcount/refcount.h>

#define THREADS 8
#define ITERATIONS 20000

/* A subclass defined here proves the class is derivable and that the
 * construct property reaches the count of a subclass too. */
#define TEST_TYPE_COUNTER (test_counter_get_type ())
G_DECLARE_FINAL_TYPE (TestCounter, test_counter, TEST, COUNTER, RcReferenceCounter)

struct _TestCounter
{
  RcReferenceCounter parent_instance;
};

G_DEFINE_FINAL_TYPE (TestCounter, test_counter, RC_TYPE_REFERENCE_COUNTER)

static void
test_counter_class_init (TestCounterClass *klass)
{
}

static void
test_counter_init (TestCounter *self)
{
}

static int
count_of (gpointer counter)
{
  return rc_reference_counter_get_reference_count (RC_REFERENCE_COUNTER (counter));
}

static void
expect_assertion (void)
{
  g_test_expect_message ("Refcount", G_LOG_LEVEL_CRITICAL, "*assertion*failed*");
}

static void
test_type (void)
{
  GType type = RC_TYPE_REFERENCE_COUNTER;

  g_assert_true (G_TYPE_IS_OBJECT (type));
  g_assert_true (g_type_is_a (type, G_TYPE_OBJECT));
  g_assert_true (g_type_parent (type) == G_TYPE_OBJECT);
  g_assert_true (G_TYPE_IS_DERIVABLE (type));
  g_assert_false (G_TYPE_IS_ABSTRACT (type));
  g_assert_false (G_TYPE_IS_FINAL (type));
  g_assert_false (g_type_is_a (type, G_TYPE_INITIALLY_UNOWNED));
  g_assert_cmpstr (g_type_name (type), ==, "RcReferenceCounter");
}

static void
test_new (void)
{
  RcReferenceCounter *counter = rc_reference_counter_new (0);

  g_assert_nonnull (counter);
  g_assert_true (RC_IS_REFERENCE_COUNTER (counter));
  g_assert_false (g_object_is_floating (counter));
  g_assert_cmpint (count_of (counter), ==, 1);
  g_object_unref (counter);
}

static void
test_new_prior (void)
{
  /* The count shares an int with the handle's phase (2 bits), so the
   * largest count is G_MAXINT / 4 and the largest prior one less. */
  static const int priors[] = { 1, 2, 5, 1000, G_MAXINT / 4 - 1 };
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (priors); i++)
    {
      RcReferenceCounter *counter = rc_reference_counter_new (priors[i]);
      int prior = -1;

      g_assert_nonnull (counter);
      g_assert_cmpint (count_of (counter), ==, priors[i] + 1);
      g_object_get (counter, "prior-ref-count", &prior, NULL);
      g_assert_cmpint (prior, ==, priors[i]);
      g_object_unref (counter);
    }
}

static void
test_new_prior_too_large (void)
{
  RcReferenceCounter *counter;

  expect_assertion ();
  counter = rc_reference_counter_new (G_MAXINT / 4);
  g_test_assert_expected_messages ();
  g_assert_null (counter);
}

static void
test_add_ref_overflow (void)
{
  RcReferenceCounter *counter = rc_reference_counter_new (G_MAXINT / 4 - 1);

  g_assert_cmpint (count_of (counter), ==, G_MAXINT / 4);
  g_test_expect_message ("Refcount", G_LOG_LEVEL_CRITICAL, "*would overflow*");
  rc_reference_counter_add_ref (counter);
  g_test_assert_expected_messages ();
  g_assert_cmpint (count_of (counter), ==, G_MAXINT / 4);

  rc_reference_counter_decrement_ref (counter);
  g_assert_cmpint (count_of (counter), ==, G_MAXINT / 4 - 1);
  g_object_unref (counter);
}

static void
test_new_negative_prior (void)
{
  RcReferenceCounter *counter;

  expect_assertion ();
  counter = rc_reference_counter_new (-1);
  g_test_assert_expected_messages ();
  g_assert_null (counter);

  expect_assertion ();
  counter = rc_reference_counter_new (G_MININT);
  g_test_assert_expected_messages ();
  g_assert_null (counter);
}

static void
test_g_object_new (void)
{
  RcReferenceCounter *counter;

  counter = g_object_new (RC_TYPE_REFERENCE_COUNTER, NULL);
  g_assert_cmpint (count_of (counter), ==, 1);
  g_object_unref (counter);

  counter = g_object_new (RC_TYPE_REFERENCE_COUNTER, "prior-ref-count", 3, NULL);
  g_assert_cmpint (count_of (counter), ==, 4);
  g_object_unref (counter);
}

static void
test_property_specs (void)
{
  GObjectClass *klass = g_type_class_ref (RC_TYPE_REFERENCE_COUNTER);
  GParamSpec *pspec;
  GParamSpecInt *ispec;

  pspec = g_object_class_find_property (klass, "reference-count");
  g_assert_nonnull (pspec);
  g_assert_true (G_IS_PARAM_SPEC_INT (pspec));
  g_assert_true (pspec->flags & G_PARAM_READABLE);
  g_assert_false (pspec->flags & G_PARAM_WRITABLE);

  pspec = g_object_class_find_property (klass, "prior-ref-count");
  g_assert_nonnull (pspec);
  g_assert_true (G_IS_PARAM_SPEC_INT (pspec));
  g_assert_true (pspec->flags & G_PARAM_WRITABLE);
  g_assert_true (pspec->flags & G_PARAM_READABLE);
  g_assert_true (pspec->flags & G_PARAM_CONSTRUCT_ONLY);
  ispec = G_PARAM_SPEC_INT (pspec);
  g_assert_cmpint (ispec->minimum, ==, 0);
  g_assert_cmpint (ispec->maximum, ==, G_MAXINT / 4 - 1);
  g_assert_cmpint (ispec->default_value, ==, 0);

  g_type_class_unref (klass);
}

static void
test_properties (void)
{
  RcReferenceCounter *counter = rc_reference_counter_new (2);
  int count = -1;
  int prior = -1;

  g_object_get (counter, "reference-count", &count, "prior-ref-count", &prior, NULL);
  g_assert_cmpint (count, ==, 3);
  g_assert_cmpint (prior, ==, 2);

  rc_reference_counter_add_ref (counter);
  g_object_get (counter, "reference-count", &count, NULL);
  g_assert_cmpint (count, ==, 4);

  rc_reference_counter_decrement_ref (counter);
  rc_reference_counter_decrement_ref (counter);
  g_object_get (counter, "reference-count", &count, "prior-ref-count", &prior, NULL);
  g_assert_cmpint (count, ==, 2);
  /* The prior count is the construction argument, not the current count. */
  g_assert_cmpint (prior, ==, 2);

  g_object_unref (counter);
}

static void
test_add_ref (void)
{
  RcReferenceCounter *counter = rc_reference_counter_new (0);
  int i;

  rc_reference_counter_add_ref (counter);
  g_assert_cmpint (count_of (counter), ==, 2);
  rc_reference_counter_add_ref (counter);
  g_assert_cmpint (count_of (counter), ==, 3);
  for (i = 0; i < 100; i++)
    rc_reference_counter_add_ref (counter);
  g_assert_cmpint (count_of (counter), ==, 103);
  g_object_unref (counter);
}

static void
test_decrement_ref (void)
{
  RcReferenceCounter *counter = rc_reference_counter_new (1);

  g_assert_cmpint (count_of (counter), ==, 2);
  rc_reference_counter_decrement_ref (counter);
  g_assert_cmpint (count_of (counter), ==, 1);
  rc_reference_counter_decrement_ref (counter);
  g_assert_cmpint (count_of (counter), ==, 0);

  /* Never below zero, and no critical (criticals are fatal here). */
  rc_reference_counter_decrement_ref (counter);
  g_assert_cmpint (count_of (counter), ==, 0);
  rc_reference_counter_decrement_ref (counter);
  rc_reference_counter_decrement_ref (counter);
  g_assert_cmpint (count_of (counter), ==, 0);

  /* The bare counter is a raw counter: add_ref is +1 from zero too. */
  rc_reference_counter_add_ref (counter);
  g_assert_cmpint (count_of (counter), ==, 1);

  g_object_unref (counter);
}

static void
test_subclass (void)
{
  TestCounter *counter;

  counter = g_object_new (TEST_TYPE_COUNTER, "prior-ref-count", 2, NULL);
  g_assert_true (RC_IS_REFERENCE_COUNTER (counter));
  g_assert_cmpint (count_of (counter), ==, 3);
  rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (counter));
  g_assert_cmpint (count_of (counter), ==, 4);
  rc_reference_counter_decrement_ref (RC_REFERENCE_COUNTER (counter));
  g_assert_cmpint (count_of (counter), ==, 3);
  g_object_unref (counter);

  counter = g_object_new (TEST_TYPE_COUNTER, NULL);
  g_assert_cmpint (count_of (counter), ==, 1);
  g_object_unref (counter);
}

static void
test_unref_finalizes (void)
{
  RcReferenceCounter *counter = rc_reference_counter_new (5);
  gpointer weak = counter;

  /* The counter is independent of the GObject reference count: a
   * non-zero counter does not keep the object alive. */
  g_object_add_weak_pointer (G_OBJECT (counter), &weak);
  g_object_unref (counter);
  g_assert_null (weak);
}

static void
test_autoptr (void)
{
  g_autoptr(RcReferenceCounter) counter = rc_reference_counter_new (0);

  g_assert_cmpint (count_of (counter), ==, 1);
}

static void
test_null_self (void)
{
  expect_assertion ();
  (void) rc_reference_counter_get_reference_count (NULL);
  g_test_assert_expected_messages ();

  expect_assertion ();
  rc_reference_counter_add_ref (NULL);
  g_test_assert_expected_messages ();

  expect_assertion ();
  rc_reference_counter_decrement_ref (NULL);
  g_test_assert_expected_messages ();
}

static void
test_wrong_type (void)
{
  GObject *object = g_object_new (G_TYPE_OBJECT, NULL);

  expect_assertion ();
  (void) rc_reference_counter_get_reference_count ((RcReferenceCounter *) object);
  g_test_assert_expected_messages ();

  expect_assertion ();
  rc_reference_counter_add_ref ((RcReferenceCounter *) object);
  g_test_assert_expected_messages ();

  expect_assertion ();
  rc_reference_counter_decrement_ref ((RcReferenceCounter *) object);
  g_test_assert_expected_messages ();

  g_object_unref (object);
}

typedef struct
{
  RcReferenceCounter *counter;
  int *start;
  gboolean add;
} ThreadData;

static gpointer
hammer_thread (gpointer user_data)
{
  ThreadData *data = user_data;
  int i;

  while (!g_atomic_int_get (data->start))
    g_thread_yield ();

  for (i = 0; i < ITERATIONS; i++)
    {
      if (data->add)
        rc_reference_counter_add_ref (data->counter);
      else
        rc_reference_counter_decrement_ref (data->counter);
    }

  return NULL;
}

static void
run_threads (RcReferenceCounter *counter,
             gboolean            add)
{
  GThread *threads[THREADS];
  ThreadData data[THREADS];
  int start = 0;
  int i;

  for (i = 0; i < THREADS; i++)
    {
      data[i].counter = counter;
      data[i].start = &start;
      data[i].add = add;
      threads[i] = g_thread_new ("hammer", hammer_thread, &data[i]);
    }
  g_atomic_int_set (&start, 1);
  for (i = 0; i < THREADS; i++)
    g_thread_join (threads[i]);
}

static void
test_threads (void)
{
  RcReferenceCounter *counter = rc_reference_counter_new (0);

  run_threads (counter, TRUE);
  g_assert_cmpint (count_of (counter), ==, 1 + THREADS * ITERATIONS);

  run_threads (counter, FALSE);
  g_assert_cmpint (count_of (counter), ==, 1);

  /* Concurrent decrements past zero must clamp at zero, never go below. */
  run_threads (counter, FALSE);
  g_assert_cmpint (count_of (counter), ==, 0);

  g_object_unref (counter);
}

/* RcCounter, the state word alone: the transitions of the contract. */
static void
test_counter_contract (void)
{
  RcCounter counter;

  rc_counter_init (&counter, 1, TRUE);
  g_assert_cmpint (rc_counter_get_count (&counter), ==, 2);
  g_assert_true (rc_counter_is_open (&counter));
  g_assert_true (rc_counter_add_ref (&counter));
  g_assert_true (rc_counter_decrement_ref (&counter));
  g_assert_false (rc_counter_release (&counter));
  g_assert_cmpint (rc_counter_get_count (&counter), ==, 1);

  /* The last reference: this caller releases; a failed release leaves it
   * open with no reference, and it may be retried. */
  g_assert_true (rc_counter_release (&counter));
  g_assert_false (rc_counter_is_open (&counter));
  g_assert_false (rc_counter_is_disposed (&counter));  /* being released */
  g_assert_false (rc_counter_add_ref (&counter));
  g_assert_false (rc_counter_release (&counter));
  rc_counter_finish_release (&counter, FALSE);
  g_assert_true (rc_counter_is_open (&counter));
  g_assert_cmpint (rc_counter_get_count (&counter), ==, 0);
  g_assert_false (rc_counter_decrement_ref (&counter));
  g_assert_true (rc_counter_add_ref (&counter));
  g_assert_true (rc_counter_release (&counter));
  rc_counter_finish_release (&counter, TRUE);

  /* Released is final. */
  g_assert_true (rc_counter_is_released (&counter));
  g_assert_true (rc_counter_is_disposed (&counter));
  g_assert_false (rc_counter_add_ref (&counter));
  g_assert_false (rc_counter_decrement_ref (&counter));
  g_assert_false (rc_counter_release (&counter));
  g_assert_false (rc_counter_open (&counter, 0));
  g_assert_cmpint (rc_counter_get_count (&counter), ==, 0);
}

static void
test_counter_open_later (void)
{
  RcCounter counter;

  rc_counter_init (&counter, 0, FALSE);
  g_assert_false (rc_counter_is_open (&counter));
  g_assert_false (rc_counter_is_released (&counter));
  g_assert_true (rc_counter_is_disposed (&counter));
  g_assert_false (rc_counter_add_ref (&counter));
  g_assert_false (rc_counter_release (&counter));
  g_assert_true (rc_counter_open (&counter, 2));
  g_assert_false (rc_counter_open (&counter, 0));
  g_assert_cmpint (rc_counter_get_count (&counter), ==, 3);
}

static void
test_counter_bad_input (void)
{
  RcCounter counter;

  g_test_expect_message ("Refcount", G_LOG_LEVEL_CRITICAL, "*prior_ref_count >= 0*");
  rc_counter_init (&counter, -1, TRUE);
  g_test_assert_expected_messages ();
  g_test_expect_message ("Refcount", G_LOG_LEVEL_CRITICAL, "*counter != NULL*");
  g_assert_false (rc_counter_add_ref (NULL));
  g_test_assert_expected_messages ();
  rc_counter_init (&counter, 0, TRUE);
  g_test_expect_message ("Refcount", G_LOG_LEVEL_CRITICAL, "*RC_PHASE_RELEASING*");
  rc_counter_finish_release (&counter, TRUE);
  g_test_assert_expected_messages ();
  g_assert_true (rc_counter_is_open (&counter));
}

/* Threads racing on one counter: every reference taken is given back, and
 * exactly one release is handed the last one. */
static RcCounter shared_counter;
static gint releasers;

static gpointer
counter_thread (gpointer data)
{
  for (int i = 0; i < ITERATIONS; i++)
    {
      if (rc_counter_add_ref (&shared_counter) && rc_counter_release (&shared_counter))
        g_atomic_int_inc (&releasers);
    }
  return NULL;
}

static void
test_counter_threads (void)
{
  GThread *threads[THREADS];

  rc_counter_init (&shared_counter, 0, TRUE);
  for (int i = 0; i < THREADS; i++)
    threads[i] = g_thread_new ("counter", counter_thread, NULL);
  for (int i = 0; i < THREADS; i++)
    g_thread_join (threads[i]);
  g_assert_cmpint (releasers, ==, 0);
  g_assert_cmpint (rc_counter_get_count (&shared_counter), ==, 1);
  g_assert_true (rc_counter_release (&shared_counter));
  rc_counter_finish_release (&shared_counter, TRUE);
  g_assert_true (rc_counter_is_released (&shared_counter));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/reference-counter/type", test_type);
  g_test_add_func ("/reference-counter/new", test_new);
  g_test_add_func ("/reference-counter/new-prior", test_new_prior);
  g_test_add_func ("/reference-counter/new-prior-too-large", test_new_prior_too_large);
  g_test_add_func ("/reference-counter/add-ref-overflow", test_add_ref_overflow);
  g_test_add_func ("/reference-counter/new-negative-prior", test_new_negative_prior);
  g_test_add_func ("/reference-counter/g-object-new", test_g_object_new);
  g_test_add_func ("/reference-counter/property-specs", test_property_specs);
  g_test_add_func ("/reference-counter/properties", test_properties);
  g_test_add_func ("/reference-counter/add-ref", test_add_ref);
  g_test_add_func ("/reference-counter/decrement-ref", test_decrement_ref);
  g_test_add_func ("/reference-counter/subclass", test_subclass);
  g_test_add_func ("/reference-counter/unref-finalizes", test_unref_finalizes);
  g_test_add_func ("/reference-counter/autoptr", test_autoptr);
  g_test_add_func ("/reference-counter/null-self", test_null_self);
  g_test_add_func ("/reference-counter/wrong-type", test_wrong_type);
  g_test_add_func ("/reference-counter/threads", test_threads);
  g_test_add_func ("/counter/contract", test_counter_contract);
  g_test_add_func ("/counter/open-later", test_counter_open_later);
  g_test_add_func ("/counter/bad-input", test_counter_bad_input);
  g_test_add_func ("/counter/threads", test_counter_threads);

  return g_test_run ();
}
