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

guint _rc_get_debug_flags (void);

void  _rc_native_handle_init_handle (RcNativeHandle *self,
                                     gpointer        handle,
                                     const char     *type_id);

G_END_DECLS
