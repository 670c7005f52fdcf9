/* rc-reference-counter.h: a thread-safe reference counter
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#if !defined (REFCOUNT_INSIDE) && !defined (REFCOUNT_COMPILATION)
# error "Only <refcount/refcount.h> can be included directly."
#endif

#include <glib-object.h>

#include "rc-version.h"

G_BEGIN_DECLS

#define RC_TYPE_REFERENCE_COUNTER (rc_reference_counter_get_type ())

RC_AVAILABLE_IN_ALL
G_DECLARE_DERIVABLE_TYPE (RcReferenceCounter, rc_reference_counter, RC, REFERENCE_COUNTER, GObject)

/**
 * RcReferenceCounterClass:
 * @parent_class: the parent class.
 *
 * The class of #RcReferenceCounter. It has no virtual functions of its own.
 */
struct _RcReferenceCounterClass
{
  GObjectClass parent_class;

  /*< private >*/
  gpointer padding[8];
};

RC_AVAILABLE_IN_ALL
RcReferenceCounter *rc_reference_counter_new                 (int                 prior_ref_count);
RC_AVAILABLE_IN_ALL
int                 rc_reference_counter_get_reference_count (RcReferenceCounter *self);
RC_AVAILABLE_IN_ALL
void                rc_reference_counter_add_ref             (RcReferenceCounter *self);
RC_AVAILABLE_IN_ALL
void                rc_reference_counter_decrement_ref       (RcReferenceCounter *self);

G_END_DECLS
