/* rc-test-unload.c: release functions in a shared object that can be unloaded
 *
 * SPDX-License-Identifier: MIT
 *
 * A library that no test program links with: the tests dlopen() it, give
 * these functions to handles as release functions and dlclose() it while
 * the handles live, to check that each handle keeps the object that holds
 * its release function loaded until its release has run (library
 * lifetime, "pins"), and that the object unloads after the last one.
 *
 * Plain C, no GLib: it must not pull in anything that could keep it
 * loaded (an object with unique symbols, or one marked NODELETE, is never
 * unloaded).
 */

#include <stddef.h>

#include "rc-test-native.h"

#define RC_TU_API __attribute__((visibility ("default")))

RC_TU_API void rc_tu_dog_release (void *dog);
RC_TU_API void rc_tu_release_with_data (void *handle, void *user_data);
RC_TU_API void rc_tu_notify (void *data);
RC_TU_API void rc_tu_set_unload_hook (void (*hook) (void *data), void *data);

/* Called by the object's destructor, when it is unloaded. */
static void (*unload_hook) (void *data);
static void *unload_hook_data;

/* A native release function, `void f (void *)`: gives the dog back. */
void
rc_tu_dog_release (void *dog)
{
  rc_tn_release (dog);
}

/* An RcReleaseFunc: gives the native object back and, if @user_data is not
 * NULL, counts the call in the int it points to. */
void
rc_tu_release_with_data (void *handle, void *user_data)
{
  if (user_data != NULL)
    __atomic_add_fetch ((int *) user_data, 1, __ATOMIC_SEQ_CST);
  rc_tn_release (handle);
}

/* A GDestroyNotify: counts the call in the int @data points to. */
void
rc_tu_notify (void *data)
{
  if (data != NULL)
    __atomic_add_fetch ((int *) data, 1, __ATOMIC_SEQ_CST);
}

/* Sets a function that the object's destructor calls when it is unloaded
 * (NULL for none): a test makes and releases handles from there, in the
 * thread that unloads it. Forgotten with the object. */
void
rc_tu_set_unload_hook (void (*hook) (void *data),
                       void  *data)
{
  unload_hook = hook;
  unload_hook_data = data;
}

__attribute__((destructor)) static void
run_unload_hook (void)
{
  if (unload_hook != NULL)
    unload_hook (unload_hook_data);
}
