/* rc-library-pin-private.h: keeping a release function's library loaded
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include <glib.h>

#include "rc-library-pin.h"

G_BEGIN_DECLS

/* One live handle's claim on the shared object that contains a function it
 * will call. NULL means no claim is needed: the function lives in an object
 * that cannot be unloaded (the main program, what it was linked with,
 * refcount's own dependencies, NODELETE objects) or in no object at all (a
 * closure built at run time). */
/* The last function found to need no pin, for every thread: that is final,
 * so a stale value is still right. Most programs release with one or two
 * such functions (free(), a function of their own): checked inline. */
G_GNUC_INTERNAL extern gconstpointer _rc_library_pin_last_permanent;

RcLibraryPin *_rc_library_pin_acquire_slow (gconstpointer  function);
void          _rc_library_pin_release      (RcLibraryPin  *pin);

/*
 * _rc_library_pin_acquire:
 * @function: (nullable): a function that a handle will call
 *
 * Keeps the shared object that contains @function loaded until the pin is
 * given back with _rc_library_pin_release().
 *
 * Returns: the pin, or %NULL when none is needed
 */
static inline RcLibraryPin *
_rc_library_pin_acquire (gconstpointer function)
{
  if (function == NULL ||
      function == __atomic_load_n (&_rc_library_pin_last_permanent, __ATOMIC_RELAXED))
    return NULL;
  return _rc_library_pin_acquire_slow (function);
}

G_END_DECLS
