/* refcount.h: the umbrella header
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include <glib-object.h>

#define REFCOUNT_INSIDE

#include "rc-version.h"
#include "rc-error.h"
#include "rc-counter.h"
#include "rc-reference-counter.h"
#include "rc-native-handle.h"
#include "rc-deletable-native-handle.h"
#include "rc-owning-native-handle.h"
#include "rc-wrapper-factory.h"
#include "rc-interop.h"
#include "rc-library-pin.h"
#include "rc-path-utils.h"
#include "rc-debug.h"
#include "rc-enum-types.h"

#undef REFCOUNT_INSIDE
