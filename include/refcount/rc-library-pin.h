/* rc-library-pin.h: keeping the library of a native function loaded
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
 * RcLibraryPin: (skip)
 *
 * One claim on the shared object that contains a native function: while
 * any claim on it is held, the object stays loaded, even if the program
 * (or cffi, or ctypes) closes it. Opaque; see rc_library_pin_acquire().
 */
typedef struct _RcLibraryPin RcLibraryPin;

RC_AVAILABLE_IN_ALL
RcLibraryPin *rc_library_pin_acquire (gconstpointer  function);
RC_AVAILABLE_IN_ALL
void          rc_library_pin_release (RcLibraryPin  *pin);

G_END_DECLS
