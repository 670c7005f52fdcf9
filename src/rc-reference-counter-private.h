/* rc-reference-counter-private.h
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include "rc-reference-counter.h"

G_BEGIN_DECLS

/*
 * The counter and the life phase of a handle share one atomic int, so that
 * every transition (count change, the decision to release, the refusal to
 * count on a released handle) is a single compare-and-swap: there is no
 * window in which a count can be taken on a handle whose release has been
 * decided.  The low bits hold the phase, the others the count.
 */
typedef enum {
  RC_PHASE_OPEN      = 0,  /* holds a pointer, counting */
  RC_PHASE_UNSET     = 1,  /* no pointer yet (deferred set_handle) */
  RC_PHASE_RELEASING = 2,  /* release_handle is running */
  RC_PHASE_RELEASED  = 3,  /* released: final */
} RcPhase;

#define RC_STATE_PHASE_BITS 2
#define RC_STATE_PHASE_MASK 3
#define RC_STATE_COUNT_MAX  (G_MAXINT >> RC_STATE_PHASE_BITS)

/* Set, in the same compare-and-swap that finds the phase OPEN, by the first
 * rc_native_handle_add_dependency(): a release then looks for dependencies
 * (a handle without any pays nothing). Kept by every count change and by a
 * failed release. It is the sign bit, which the count never reaches. */
#define RC_STATE_DEPENDENCIES G_MININT

#define RC_STATE_COUNT(s)   (((s) & G_MAXINT) >> RC_STATE_PHASE_BITS)
#define RC_STATE_PHASE(s)   ((RcPhase) ((s) & RC_STATE_PHASE_MASK))
#define RC_STATE_MAKE(c,p)  (((c) << RC_STATE_PHASE_BITS) | (int) (p))

int *_rc_reference_counter_get_state (RcReferenceCounter *self);

G_END_DECLS
