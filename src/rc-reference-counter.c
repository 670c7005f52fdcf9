/* rc-reference-counter.c
 *
 * SPDX-License-Identifier: MIT
 */

#include "config.h"

#include "rc-reference-counter.h"
#include "rc-reference-counter-private.h"

/**
 * SECTION:rc-reference-counter
 * @Title: RcReferenceCounter
 * @Short_description: a thread-safe reference counter
 *
 * #RcReferenceCounter is the counter alone, the base of #RcNativeHandle.
 * A new counter holds `prior_ref_count + 1` references: the creating owner is
 * one. rc_reference_counter_add_ref() adds one;
 * rc_reference_counter_decrement_ref() removes one and does nothing else (it
 * never goes below zero). Every change is atomic, so a counter may be shared
 * between threads.
 *
 * |[<!-- language="C" -->
 * g_autoptr(RcReferenceCounter) counter = rc_reference_counter_new (0);
 *
 * rc_reference_counter_add_ref (counter);                  // 2
 * rc_reference_counter_decrement_ref (counter);            // 1
 * g_assert_cmpint (rc_reference_counter_get_reference_count (counter), ==, 1);
 * ]|
 *
 * In Python: `Refcount.ReferenceCounter(prior_ref_count=0)`.
 */

typedef struct
{
  /* count and phase, see rc-counter-private.h */
  RcCounter counter;
  int prior_ref_count;
} RcReferenceCounterPrivate;

G_DEFINE_TYPE_WITH_PRIVATE (RcReferenceCounter, rc_reference_counter, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_PRIOR_REF_COUNT,
  PROP_REFERENCE_COUNT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

RcCounter *
_rc_reference_counter_get_counter (RcReferenceCounter *self)
{
  RcReferenceCounterPrivate *priv = rc_reference_counter_get_instance_private (self);

  return &priv->counter;
}

static void
rc_reference_counter_get_property (GObject    *object,
                                   guint       prop_id,
                                   GValue     *value,
                                   GParamSpec *pspec)
{
  RcReferenceCounter *self = RC_REFERENCE_COUNTER (object);
  RcReferenceCounterPrivate *priv = rc_reference_counter_get_instance_private (self);

  switch (prop_id)
    {
    case PROP_REFERENCE_COUNT:
      g_value_set_int (value, rc_reference_counter_get_reference_count (self));
      break;

    case PROP_PRIOR_REF_COUNT:
      g_value_set_int (value, priv->prior_ref_count);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
rc_reference_counter_set_property (GObject      *object,
                                   guint         prop_id,
                                   const GValue *value,
                                   GParamSpec   *pspec)
{
  RcReferenceCounter *self = RC_REFERENCE_COUNTER (object);
  RcReferenceCounterPrivate *priv = rc_reference_counter_get_instance_private (self);

  switch (prop_id)
    {
    case PROP_PRIOR_REF_COUNT:
      /* Construct-only: nobody else can see the object yet. */
      priv->prior_ref_count = g_value_get_int (value);
      _rc_counter_init (&priv->counter, g_value_get_int (value), TRUE);
      break;

    case PROP_REFERENCE_COUNT:
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
rc_reference_counter_class_init (RcReferenceCounterClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = rc_reference_counter_get_property;
  object_class->set_property = rc_reference_counter_set_property;

  /**
   * RcReferenceCounter:prior-ref-count:
   *
   * References held before this object was created: the new object starts
   * with `prior-ref-count + 1`. Reads give the value set at construction
   * (rc_native_handle_set_handle() does not change it).
   */
  properties[PROP_PRIOR_REF_COUNT] =
    g_param_spec_int ("prior-ref-count", NULL, NULL,
                      0, RC_STATE_COUNT_MAX - 1, 0,
                      G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * RcReferenceCounter:reference-count:
   *
   * The current number of references.
   */
  properties[PROP_REFERENCE_COUNT] =
    g_param_spec_int ("reference-count", NULL, NULL,
                      0, G_MAXINT, 1,
                      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
rc_reference_counter_init (RcReferenceCounter *self)
{
  RcReferenceCounterPrivate *priv = rc_reference_counter_get_instance_private (self);

  _rc_counter_init (&priv->counter, 0, TRUE);
}

/**
 * rc_reference_counter_new:
 * @prior_ref_count: references held before this one, at least 0
 *
 * Creates a counter holding `prior_ref_count + 1` references.
 *
 * Returns: (transfer full): a new #RcReferenceCounter
 */
RcReferenceCounter *
rc_reference_counter_new (int prior_ref_count)
{
  g_return_val_if_fail (prior_ref_count >= 0, NULL);
  g_return_val_if_fail (prior_ref_count < RC_STATE_COUNT_MAX, NULL);

  return g_object_new (RC_TYPE_REFERENCE_COUNTER,
                       "prior-ref-count", prior_ref_count,
                       NULL);
}

/**
 * rc_reference_counter_get_reference_count:
 * @self: a #RcReferenceCounter
 *
 * Gets the current number of references. With other threads counting at the
 * same time, the value may be stale as soon as it is returned.
 *
 * Returns: the reference count
 */
int
rc_reference_counter_get_reference_count (RcReferenceCounter *self)
{
  g_return_val_if_fail (RC_IS_REFERENCE_COUNTER (self), 0);

  return _rc_counter_get_count (_rc_reference_counter_get_counter (self));
}

/**
 * rc_reference_counter_add_ref:
 * @self: a #RcReferenceCounter
 *
 * Adds a reference. On an #RcNativeHandle that is disposed (released, or
 * with no pointer yet) this does nothing: a released handle is never
 * resurrected.
 */
void
rc_reference_counter_add_ref (RcReferenceCounter *self)
{
  RcCounter *counter;

  g_return_if_fail (RC_IS_REFERENCE_COUNTER (self));

  counter = _rc_reference_counter_get_counter (self);
  if (!_rc_counter_add_ref (counter) && _rc_counter_phase (counter) == RC_PHASE_OPEN)
    g_critical ("Reference count of %s %p would overflow", G_OBJECT_TYPE_NAME (self), self);
}

/**
 * rc_reference_counter_decrement_ref:
 * @self: a #RcReferenceCounter
 *
 * Removes a reference and does nothing else: unlike
 * rc_native_handle_release(), reaching zero does not release anything. The
 * count never goes below zero, and a disposed handle is left alone.
 */
void
rc_reference_counter_decrement_ref (RcReferenceCounter *self)
{
  g_return_if_fail (RC_IS_REFERENCE_COUNTER (self));

  (void) _rc_counter_decrement_ref (_rc_reference_counter_get_counter (self));
}
