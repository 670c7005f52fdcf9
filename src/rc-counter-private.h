/* rc-counter-private.h: the one implementation of the state word
 *
 * SPDX-License-Identifier: MIT
 *
 * RcCounter's operations, inline for the library's own handles; rc-counter.c
 * exports the same functions to C code and language bindings.
 */

#pragma once

#include "rc-counter.h"

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

/* Nobody else sees the counter yet: a plain store. */
static inline void
_rc_counter_init (RcCounter *counter,
                  int        prior_ref_count,
                  gboolean   open)
{
  counter->state = RC_STATE_MAKE (prior_ref_count + 1, open ? RC_PHASE_OPEN : RC_PHASE_UNSET);
}

static inline RcPhase
_rc_counter_phase (RcCounter *counter)
{
  return RC_STATE_PHASE (g_atomic_int_get (&counter->state));
}

static inline int
_rc_counter_get_count (RcCounter *counter)
{
  return RC_STATE_COUNT (g_atomic_int_get (&counter->state));
}

/* UNSET to OPEN with prior_ref_count + 1 references; FALSE in any other
 * phase. */
static inline gboolean
_rc_counter_open (RcCounter *counter,
                  int        prior_ref_count)
{
  int old = g_atomic_int_get (&counter->state);

  return RC_STATE_PHASE (old) == RC_PHASE_UNSET &&
    g_atomic_int_compare_and_exchange (&counter->state, old,
                                       RC_STATE_MAKE (prior_ref_count + 1, RC_PHASE_OPEN));
}

/* One more reference, only while OPEN and below the maximum. */
static inline gboolean
_rc_counter_add_ref (RcCounter *counter)
{
  int old;

  do
    {
      old = g_atomic_int_get (&counter->state);
      if (RC_STATE_PHASE (old) != RC_PHASE_OPEN || RC_STATE_COUNT (old) >= RC_STATE_COUNT_MAX)
        return FALSE;
    }
  while (!g_atomic_int_compare_and_exchange (&counter->state, old, old + RC_STATE_MAKE (1, 0)));

  return TRUE;
}

/* One reference less and nothing else: never below zero, only while OPEN. */
static inline gboolean
_rc_counter_decrement_ref (RcCounter *counter)
{
  int old;

  do
    {
      old = g_atomic_int_get (&counter->state);
      if (RC_STATE_PHASE (old) != RC_PHASE_OPEN || RC_STATE_COUNT (old) == 0)
        return FALSE;
    }
  while (!g_atomic_int_compare_and_exchange (&counter->state, old, old - RC_STATE_MAKE (1, 0)));

  return TRUE;
}

/* One reference back; TRUE when it was the last one: the phase is now
 * RELEASING and the caller releases, then calls _rc_counter_finish_release().
 * Nothing on a counter that is not OPEN. */
static inline gboolean
_rc_counter_release (RcCounter *counter)
{
  int old;

  for (;;)
    {
      old = g_atomic_int_get (&counter->state);
      if (RC_STATE_PHASE (old) != RC_PHASE_OPEN)
        return FALSE;
      if (RC_STATE_COUNT (old) > 1)
        {
          if (g_atomic_int_compare_and_exchange (&counter->state, old, old - RC_STATE_MAKE (1, 0)))
            return FALSE;
        }
      else if (g_atomic_int_compare_and_exchange (&counter->state, old,
                                                  RC_STATE_MAKE (0, RC_PHASE_RELEASING) |
                                                  (old & RC_STATE_DEPENDENCIES)))
        {
          return TRUE;
        }
    }
}

/* Out of RELEASING, by the one caller that got TRUE from
 * _rc_counter_release(): RELEASED, or back to OPEN with no reference (a
 * later release may retry) keeping the dependencies mark. Release ordering
 * is all the store needs: the compare-and-swap decided. */
static inline void
_rc_counter_finish_release (RcCounter *counter,
                            gboolean   released)
{
  int dependencies = g_atomic_int_get (&counter->state) & RC_STATE_DEPENDENCIES;

  __atomic_store_n (&counter->state,
                    released ? RC_STATE_MAKE (0, RC_PHASE_RELEASED)
                             : RC_STATE_MAKE (0, RC_PHASE_OPEN) | dependencies,
                    __ATOMIC_RELEASE);
}

G_END_DECLS
