/* rc-library-pin-private.h: keeping a release function's library loaded
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* One live handle's claim on the shared object that contains a function it
 * will call. NULL means no claim is needed: the function lives in an object
 * that cannot be unloaded (the main program, what it was linked with,
 * refcount's own dependencies, NODELETE objects) or in no object at all (a
 * closure built at run time). */
typedef struct _RcLibraryPin RcLibraryPin;

RcLibraryPin *_rc_library_pin_acquire (gconstpointer  function);
void          _rc_library_pin_release (RcLibraryPin  *pin);

G_END_DECLS
