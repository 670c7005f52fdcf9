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

G_END_DECLS
