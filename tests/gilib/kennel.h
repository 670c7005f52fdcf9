/* kennel.h: dogs and their owners, as GObject handles built on refcount
 *
 * SPDX-License-Identifier: MIT
 *
 * Kennel is the small GObject library that a C library author writes on top
 * of refcount: one class per kind of native object of a C API (here the test
 * native library's dogs and owners, tests/testlib), each deriving from
 * #RcNativeHandle and releasing its pointer with the C API's own function.
 * It has its own GIR and typelib (Kennel-1.0, which includes Refcount-1.0),
 * so the same classes are used from C, Python and JavaScript (GJS).
 */

#pragma once

#include <refcount/refcount.h>

G_BEGIN_DECLS

#define KENNEL_TYPE_DOG (kennel_dog_get_type ())
G_DECLARE_FINAL_TYPE (KennelDog, kennel_dog, KENNEL, DOG, RcNativeHandle)

#define KENNEL_TYPE_DOG_OWNER (kennel_dog_owner_get_type ())
G_DECLARE_FINAL_TYPE (KennelDogOwner, kennel_dog_owner, KENNEL, DOG_OWNER, RcNativeHandle)

KennelDog      *kennel_dog_new              (const char      *name);
char           *kennel_dog_dup_name         (KennelDog       *self,
                                             GError         **error);

KennelDogOwner *kennel_dog_owner_new        (KennelDog       *dog,
                                             GError         **error);
KennelDog      *kennel_dog_owner_get_dog    (KennelDogOwner  *self);
int             kennel_dog_owner_walk       (KennelDogOwner  *self,
                                             GError         **error);

int             kennel_get_live_dog_count   (void);
int             kennel_get_live_owner_count (void);
long            kennel_get_misuse_count     (void);

G_END_DECLS
