/* rc-reference-counter-private.h
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include "rc-reference-counter.h"
#include "rc-counter-private.h"

G_BEGIN_DECLS

RcCounter *_rc_reference_counter_get_counter (RcReferenceCounter *self);

G_END_DECLS
