/* rc-native-handle-private.h
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include "rc-native-handle.h"

G_BEGIN_DECLS

typedef enum {
  RC_DEBUG_LEAKS = 1 << 0,
} RcDebugFlags;

/* RC_DEBUG's flags, parsed once; -1 until then. */
G_GNUC_INTERNAL extern int _rc_debug_flags;

guint _rc_parse_debug_flags (void);

static inline guint
_rc_get_debug_flags (void)
{
  int flags = __atomic_load_n (&_rc_debug_flags, __ATOMIC_RELAXED);

  return G_LIKELY (flags >= 0) ? (guint) flags : _rc_parse_debug_flags ();
}

void  _rc_native_handle_init_handle (RcNativeHandle *self,
                                     gpointer        handle,
                                     const char     *type_id);

G_END_DECLS
