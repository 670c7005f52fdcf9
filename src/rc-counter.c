/* rc-counter.c
 *
 * SPDX-License-Identifier: MIT
 */

#include "config.h"

#include "rc-counter-private.h"

/**
 * SECTION:rc-counter
 * @Title: RcCounter
 * @Short_description: the state word of a handle, without a GObject
 *
 * An #RcCounter is what #RcReferenceCounter and #RcNativeHandle count with:
 * a reference count and a phase in one int. A resource is either not set
 * yet, open (counting), being released, or released; a released counter
 * never counts again. Every function is one atomic compare-and-swap, so a
 * counter may be shared between threads.
 *
 * It is for code that keeps a native resource in an object of its own,
 * such as a language binding's handle type: the same contract as
 * #RcNativeHandle without a GObject per resource. The caller runs the
 * release itself, exactly once:
 *
 * |[<!-- language="C" -->
 * RcCounter counter;
 *
 * rc_counter_init (&counter, 0, TRUE);        // 1 reference, open
 * rc_counter_add_ref (&counter);              // 2
 * rc_counter_release (&counter);              // 1: FALSE, nothing to do
 * if (rc_counter_release (&counter))          // 0: TRUE, release it now
 *   rc_counter_finish_release (&counter, free_the_resource (resource));
 * ]|
 *
 * The refcount Python package's handles count this way until C code needs
 * a GObject for them.
 */

/**
 * rc_counter_init:
 * @counter: an #RcCounter nobody else uses yet
 * @prior_ref_count: references held before this one, at least 0
 * @open: %TRUE if the resource is there (open), %FALSE if it is set later
 *   with rc_counter_open()
 *
 * Gives @counter `prior_ref_count + 1` references.
 */
void
rc_counter_init (RcCounter *counter,
                 int        prior_ref_count,
                 gboolean   open)
{
  g_return_if_fail (counter != NULL);
  g_return_if_fail (prior_ref_count >= 0 && prior_ref_count < RC_STATE_COUNT_MAX);

  _rc_counter_init (counter, prior_ref_count, open);
}

/**
 * rc_counter_open:
 * @counter: an #RcCounter
 * @prior_ref_count: references held before this one, at least 0
 *
 * Marks the resource of a counter initialized without one as there, with
 * `prior_ref_count + 1` references.
 *
 * Returns: %TRUE; %FALSE if @counter was already open or released
 */
gboolean
rc_counter_open (RcCounter *counter,
                 int        prior_ref_count)
{
  g_return_val_if_fail (counter != NULL, FALSE);
  g_return_val_if_fail (prior_ref_count >= 0 && prior_ref_count < RC_STATE_COUNT_MAX, FALSE);

  return _rc_counter_open (counter, prior_ref_count);
}

/**
 * rc_counter_get_count:
 * @counter: an #RcCounter
 *
 * The number of references; 0 once released. With other threads counting,
 * it may be stale as soon as it is returned.
 *
 * Returns: the reference count
 */
int
rc_counter_get_count (RcCounter *counter)
{
  g_return_val_if_fail (counter != NULL, 0);

  return _rc_counter_get_count (counter);
}

/**
 * rc_counter_is_open:
 * @counter: an #RcCounter
 *
 * Whether the resource is there and counted: not unset, not being released
 * and not released.
 *
 * Returns: %TRUE if open
 */
gboolean
rc_counter_is_open (RcCounter *counter)
{
  g_return_val_if_fail (counter != NULL, FALSE);

  return _rc_counter_phase (counter) == RC_PHASE_OPEN;
}

/**
 * rc_counter_is_released:
 * @counter: an #RcCounter
 *
 * Whether the resource was released (final).
 *
 * Returns: %TRUE if released
 */
gboolean
rc_counter_is_released (RcCounter *counter)
{
  g_return_val_if_fail (counter != NULL, FALSE);

  return _rc_counter_phase (counter) == RC_PHASE_RELEASED;
}

/**
 * rc_counter_is_disposed:
 * @counter: an #RcCounter
 *
 * Whether there is no usable resource: not set yet, or released (as
 * rc_native_handle_is_disposed()). A counter being released is not
 * disposed yet.
 *
 * Returns: %TRUE if disposed
 */
gboolean
rc_counter_is_disposed (RcCounter *counter)
{
  RcPhase phase;

  g_return_val_if_fail (counter != NULL, TRUE);

  phase = _rc_counter_phase (counter);
  return phase == RC_PHASE_UNSET || phase == RC_PHASE_RELEASED;
}

/**
 * rc_counter_add_ref:
 * @counter: an #RcCounter
 *
 * Adds a reference, only to an open counter: a released resource is never
 * counted again.
 *
 * Returns: %TRUE if a reference was added; %FALSE if @counter is not open,
 *   or its count is at the maximum
 */
gboolean
rc_counter_add_ref (RcCounter *counter)
{
  g_return_val_if_fail (counter != NULL, FALSE);

  return _rc_counter_add_ref (counter);
}

/**
 * rc_counter_decrement_ref:
 * @counter: an #RcCounter
 *
 * Removes a reference and does nothing else: reaching zero does not
 * release, the count never goes below zero, and a counter that is not open
 * is left alone.
 *
 * Returns: %TRUE if a reference was removed
 */
gboolean
rc_counter_decrement_ref (RcCounter *counter)
{
  g_return_val_if_fail (counter != NULL, FALSE);

  return _rc_counter_decrement_ref (counter);
}

/**
 * rc_counter_release:
 * @counter: an #RcCounter
 *
 * Gives back one reference. When it was the last, the counter is now
 * being released and this returns %TRUE, to this one caller: it releases
 * the resource, then calls rc_counter_finish_release(). Does nothing on a
 * counter that is not open.
 *
 * Returns: %TRUE if the caller must release the resource now
 */
gboolean
rc_counter_release (RcCounter *counter)
{
  g_return_val_if_fail (counter != NULL, FALSE);

  return _rc_counter_release (counter);
}

/**
 * rc_counter_finish_release:
 * @counter: an #RcCounter for which rc_counter_release() returned %TRUE
 * @released: whether the resource was released
 *
 * Ends a release: the counter is released for good, or, when the release
 * failed, open again with no reference (a later rc_counter_release() after
 * rc_counter_add_ref() may retry).
 */
void
rc_counter_finish_release (RcCounter *counter,
                           gboolean   released)
{
  g_return_if_fail (counter != NULL);
  g_return_if_fail (_rc_counter_phase (counter) == RC_PHASE_RELEASING);

  _rc_counter_finish_release (counter, released);
}
