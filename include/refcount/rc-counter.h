/* rc-counter.h: the state word of a handle, for C code and language bindings
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#if !defined (REFCOUNT_INSIDE) && !defined (REFCOUNT_COMPILATION)
# error "Only <refcount/refcount.h> can be included directly."
#endif

#include <glib.h>

#include "rc-version.h"

G_BEGIN_DECLS

/**
 * RcCounter: (skip)
 *
 * The state of one native resource: its reference count and its phase
 * (no resource yet, open, being released, released) in one int, so that
 * every change is one atomic compare-and-swap. It is the counter of
 * #RcReferenceCounter and #RcNativeHandle, given to C code and language
 * bindings that keep a resource in an object of their own (the refcount
 * Python package's handles do): they get the same contract without a
 * GObject per resource. Initialize it with rc_counter_init(); it needs no
 * clean-up.
 */
typedef struct _RcCounter RcCounter;

struct _RcCounter
{
  /*< private >*/
  int state;
};

RC_AVAILABLE_IN_ALL
void     rc_counter_init           (RcCounter *counter,
                                    int        prior_ref_count,
                                    gboolean   open);
RC_AVAILABLE_IN_ALL
gboolean rc_counter_open           (RcCounter *counter,
                                    int        prior_ref_count);
RC_AVAILABLE_IN_ALL
int      rc_counter_get_count      (RcCounter *counter);
RC_AVAILABLE_IN_ALL
gboolean rc_counter_is_open        (RcCounter *counter);
RC_AVAILABLE_IN_ALL
gboolean rc_counter_is_released    (RcCounter *counter);
RC_AVAILABLE_IN_ALL
gboolean rc_counter_is_disposed    (RcCounter *counter);
RC_AVAILABLE_IN_ALL
gboolean rc_counter_add_ref        (RcCounter *counter);
RC_AVAILABLE_IN_ALL
gboolean rc_counter_decrement_ref  (RcCounter *counter);
RC_AVAILABLE_IN_ALL
gboolean rc_counter_release        (RcCounter *counter);
RC_AVAILABLE_IN_ALL
void     rc_counter_finish_release (RcCounter *counter,
                                    gboolean   released);

G_END_DECLS
