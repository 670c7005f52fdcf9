/* rc-interop.c
 *
 * SPDX-License-Identifier: MIT
 */

#include "config.h"

#include "rc-interop.h"
#include "rc-native-handle.h"

/**
 * SECTION:rc-interop
 * @Title: Argument helpers
 * @Short_description: checking and unwrapping handles given as arguments
 *
 * Bindings of a C API take handles as arguments and pass their pointers on.
 * These helpers check that an object is a handle of the expected type id,
 * unwrap it, and word the error when it is not, like pyrefcount's
 * `is_cffi_native_handle`, `unwrap_cffi_native_handle` and
 * `cffi_arg_error_external_obj_type`.
 *
 * |[<!-- language="C" -->
 * if (!rc_is_native_handle (object, "DOG_PTR"))
 *   {
 *     g_autofree char *message = rc_arg_error_message (object, "DOG_PTR");
 *     g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, message);
 *     return FALSE;
 *   }
 * dog_walk (rc_unwrap_native_handle (object));
 * ]|
 */

/**
 * rc_is_native_handle:
 * @object: (nullable): any object
 * @type_id: (nullable): the expected type id; %NULL or "" accepts any
 *
 * Checks whether @object is an #RcNativeHandle with the type id @type_id.
 *
 * Returns: %TRUE if @object is such a handle
 */
gboolean
rc_is_native_handle (GObject    *object,
                     const char *type_id)
{
  if (object == NULL || !RC_IS_NATIVE_HANDLE (object))
    return FALSE;

  if (type_id == NULL || type_id[0] == '\0')
    return TRUE;

  return g_strcmp0 (rc_native_handle_get_type_id (RC_NATIVE_HANDLE (object)), type_id) == 0;
}

/**
 * rc_unwrap_native_handle:
 * @object: (nullable): an #RcNativeHandle, or %NULL
 *
 * Gets the native pointer of a handle.
 *
 * Returns: (nullable) (transfer none): the pointer, or %NULL for %NULL
 */
gpointer
rc_unwrap_native_handle (GObject *object)
{
  if (object == NULL)
    return NULL;

  g_return_val_if_fail (RC_IS_NATIVE_HANDLE (object), NULL);

  return rc_native_handle_get_handle (RC_NATIVE_HANDLE (object));
}

/**
 * rc_arg_error_message:
 * @object: (nullable): the object received
 * @expected_type_id: (nullable): the type id expected
 *
 * Words the error for an argument that is not the expected handle, as
 * pyrefcount does: "Expected a 'RcNativeHandle' but instead got 'NULL'",
 * "... but instead got object of type 'GObject'", or
 * "Expected a 'RcNativeHandle' with underlying type id 'cat' but instead got
 * one with type id 'dog'".
 *
 * Returns: (transfer full): the message
 */
char *
rc_arg_error_message (GObject    *object,
                      const char *expected_type_id)
{
  const char *got_type_id;

  if (object == NULL)
    return g_strdup ("Expected a 'RcNativeHandle' but instead got 'NULL'");

  if (!RC_IS_NATIVE_HANDLE (object))
    return g_strdup_printf ("Expected a 'RcNativeHandle' but instead got object of type '%s'",
                            G_OBJECT_TYPE_NAME (object));

  got_type_id = rc_native_handle_get_type_id (RC_NATIVE_HANDLE (object));
  return g_strdup_printf ("Expected a 'RcNativeHandle' with underlying type id '%s' "
                          "but instead got one with type id '%s'",
                          expected_type_id != NULL ? expected_type_id : "(none)",
                          got_type_id != NULL ? got_type_id : "(none)");
}
