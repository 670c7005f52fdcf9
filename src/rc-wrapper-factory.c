/* rc-wrapper-factory.c
 *
 * SPDX-License-Identifier: MIT
 */

#include "config.h"

#include "rc-deletable-native-handle.h"
#include "rc-error.h"
#include "rc-owning-native-handle.h"
#include "rc-wrapper-factory.h"

/**
 * SECTION:rc-wrapper-factory
 * @Title: RcWrapperFactory
 * @Short_description: build the right wrapper for a type id
 *
 * Generated bindings of a C API get pointers together with a type id (such
 * as "DOG_PTR") and must wrap each in the right handle class.
 * #RcWrapperFactory maps type ids to #RcNativeHandle subclasses.
 *
 * A strict factory refuses type ids it does not know
 * (%RC_ERROR_UNKNOWN_TYPE_ID) and ids registered with %G_TYPE_NONE ("known,
 * but no wrapper written yet": %RC_ERROR_NOT_IMPLEMENTED). A lenient one
 * wraps those in a generic handle: an #RcDeletableNativeHandle releasing with
 * the given native function, or an #RcOwningNativeHandle when there is none.
 *
 * |[<!-- language="C" -->
 * g_autoptr(RcWrapperFactory) factory = rc_wrapper_factory_new (TRUE);
 * g_autoptr(GError) error = NULL;
 * g_autoptr(RcNativeHandle) dog = NULL;
 *
 * rc_wrapper_factory_register (factory, "DOG_PTR", DOG_TYPE_HANDLE);
 * dog = rc_wrapper_factory_create_wrapper (factory, dog_new ("Rex"), "DOG_PTR", NULL, &error);
 * ]|
 *
 * In Python: `factory = Refcount.WrapperFactory.new(True)`, then
 * `factory.register("DOG_PTR", DogHandle.__gtype__)`.
 */

struct _RcWrapperFactory
{
  GObject parent_instance;

  gboolean strict;
  GMutex mutex;
  /* type id (owned) -> GType */
  GHashTable *types;
};

G_DEFINE_FINAL_TYPE (RcWrapperFactory, rc_wrapper_factory, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_STRICT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
rc_wrapper_factory_finalize (GObject *object)
{
  RcWrapperFactory *self = RC_WRAPPER_FACTORY (object);

  g_clear_pointer (&self->types, g_hash_table_unref);
  g_mutex_clear (&self->mutex);

  G_OBJECT_CLASS (rc_wrapper_factory_parent_class)->finalize (object);
}

static void
rc_wrapper_factory_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  RcWrapperFactory *self = RC_WRAPPER_FACTORY (object);

  switch (prop_id)
    {
    case PROP_STRICT:
      g_value_set_boolean (value, self->strict);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
rc_wrapper_factory_set_property (GObject      *object,
                                 guint         prop_id,
                                 const GValue *value,
                                 GParamSpec   *pspec)
{
  RcWrapperFactory *self = RC_WRAPPER_FACTORY (object);

  switch (prop_id)
    {
    case PROP_STRICT:
      self->strict = g_value_get_boolean (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
rc_wrapper_factory_class_init (RcWrapperFactoryClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = rc_wrapper_factory_finalize;
  object_class->get_property = rc_wrapper_factory_get_property;
  object_class->set_property = rc_wrapper_factory_set_property;

  /**
   * RcWrapperFactory:strict:
   *
   * Whether unknown type ids, and ids without a wrapper type, are errors
   * rather than wrapped generically.
   */
  properties[PROP_STRICT] =
    g_param_spec_boolean ("strict", NULL, NULL,
                          FALSE,
                          G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
rc_wrapper_factory_init (RcWrapperFactory *self)
{
  g_mutex_init (&self->mutex);
  self->types = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

/**
 * rc_wrapper_factory_new:
 * @strict: whether unknown type ids are errors
 *
 * Creates an empty factory.
 *
 * Returns: (transfer full): a new #RcWrapperFactory
 */
RcWrapperFactory *
rc_wrapper_factory_new (gboolean strict)
{
  return g_object_new (RC_TYPE_WRAPPER_FACTORY, "strict", strict, NULL);
}

/**
 * rc_wrapper_factory_get_strict:
 * @self: a #RcWrapperFactory
 *
 * Whether the factory is strict.
 *
 * Returns: %TRUE if strict
 */
gboolean
rc_wrapper_factory_get_strict (RcWrapperFactory *self)
{
  g_return_val_if_fail (RC_IS_WRAPPER_FACTORY (self), FALSE);

  return self->strict;
}

/**
 * rc_wrapper_factory_register:
 * @self: a #RcWrapperFactory
 * @type_id: the type id, such as "DOG_PTR"
 * @wrapper_type: the #RcNativeHandle subclass to build for @type_id, or
 *   %G_TYPE_NONE when the id is known but has no wrapper yet
 *
 * Maps @type_id to @wrapper_type, replacing any earlier mapping. The type
 * is checked when a wrapper is created.
 */
void
rc_wrapper_factory_register (RcWrapperFactory *self,
                             const char       *type_id,
                             GType             wrapper_type)
{
  g_return_if_fail (RC_IS_WRAPPER_FACTORY (self));
  g_return_if_fail (type_id != NULL);

  g_mutex_lock (&self->mutex);
  g_hash_table_insert (self->types, g_strdup (type_id), GSIZE_TO_POINTER (wrapper_type));
  g_mutex_unlock (&self->mutex);
}

/**
 * rc_wrapper_factory_lookup:
 * @self: a #RcWrapperFactory
 * @type_id: the type id
 * @wrapper_type: (out) (optional): the registered type
 *
 * Looks up the type registered for @type_id.
 *
 * Returns: %TRUE if @type_id is registered
 */
gboolean
rc_wrapper_factory_lookup (RcWrapperFactory *self,
                           const char       *type_id,
                           GType            *wrapper_type)
{
  gpointer value = NULL;
  gboolean found;

  g_return_val_if_fail (RC_IS_WRAPPER_FACTORY (self), FALSE);
  g_return_val_if_fail (type_id != NULL, FALSE);

  g_mutex_lock (&self->mutex);
  found = g_hash_table_lookup_extended (self->types, type_id, NULL, &value);
  g_mutex_unlock (&self->mutex);

  if (wrapper_type != NULL)
    *wrapper_type = found ? (GType) GPOINTER_TO_SIZE (value) : G_TYPE_INVALID;

  return found;
}

static RcNativeHandle *
create_generic_wrapper (gpointer    handle,
                        const char *type_id,
                        gpointer    release_address)
{
  if (release_address != NULL)
    return RC_NATIVE_HANDLE (rc_deletable_native_handle_new_native (handle, release_address, type_id));

  return RC_NATIVE_HANDLE (rc_owning_native_handle_new (handle, type_id));
}

/**
 * rc_wrapper_factory_create_wrapper:
 * @self: a #RcWrapperFactory
 * @handle: the native pointer
 * @type_id: (nullable): its type id
 * @release_address: (nullable): the address of a native `void f (void *)`
 *   that releases @handle, used by the generic wrapper
 * @error: return location for a #GError
 *
 * Wraps @handle in the handle class registered for @type_id. A registered
 * subclass is built with g_object_new() and the "handle" and "type-id"
 * properties (it knows how to release); a generic wrapper (an
 * #RcDeletableNativeHandle through @release_address, or an
 * #RcOwningNativeHandle when @release_address is %NULL) is built for an
 * unknown id or an id registered with %G_TYPE_NONE by a lenient factory, and
 * for an id registered with %RC_TYPE_DELETABLE_NATIVE_HANDLE.
 *
 * Returns: (transfer full) (nullable): the new handle, or %NULL with @error
 *   set: %RC_ERROR_INVALID_ARGUMENT (no type id, or no release function for
 *   an #RcDeletableNativeHandle), %RC_ERROR_INVALID_HANDLE,
 *   %RC_ERROR_UNKNOWN_TYPE_ID or %RC_ERROR_NOT_IMPLEMENTED (strict factory),
 *   %RC_ERROR_WRONG_TYPE (registered type not an instantiable handle class)
 */
RcNativeHandle *
rc_wrapper_factory_create_wrapper (RcWrapperFactory *self,
                                   gpointer          handle,
                                   const char       *type_id,
                                   gpointer          release_address,
                                   GError          **error)
{
  g_autoptr(RcNativeHandle) wrapper = NULL;
  GType wrapper_type = G_TYPE_INVALID;

  g_return_val_if_fail (RC_IS_WRAPPER_FACTORY (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (type_id == NULL)
    {
      g_set_error_literal (error, RC_ERROR, RC_ERROR_INVALID_ARGUMENT,
                           "A type id is required to create a wrapper");
      return NULL;
    }

  if (handle == NULL)
    {
      g_set_error (error, RC_ERROR, RC_ERROR_INVALID_HANDLE,
                   "Cannot wrap a NULL pointer of type id \"%s\"", type_id);
      return NULL;
    }

  if (!rc_wrapper_factory_lookup (self, type_id, &wrapper_type))
    {
      if (self->strict)
        {
          g_set_error (error, RC_ERROR, RC_ERROR_UNKNOWN_TYPE_ID,
                       "No wrapper is registered for the type id \"%s\"", type_id);
          return NULL;
        }
      return create_generic_wrapper (handle, type_id, release_address);
    }

  if (wrapper_type == G_TYPE_NONE)
    {
      if (self->strict)
        {
          g_set_error (error, RC_ERROR, RC_ERROR_NOT_IMPLEMENTED,
                       "The type id \"%s\" is known, but no wrapper is implemented for it",
                       type_id);
          return NULL;
        }
      return create_generic_wrapper (handle, type_id, release_address);
    }

  if (!g_type_is_a (wrapper_type, RC_TYPE_NATIVE_HANDLE) ||
      G_TYPE_IS_ABSTRACT (wrapper_type))
    {
      g_set_error (error, RC_ERROR, RC_ERROR_WRONG_TYPE,
                   "The type %s registered for the type id \"%s\" is not an instantiable RcNativeHandle",
                   g_type_name (wrapper_type), type_id);
      return NULL;
    }

  if (wrapper_type == RC_TYPE_DELETABLE_NATIVE_HANDLE)
    {
      if (release_address == NULL)
        {
          g_set_error (error, RC_ERROR, RC_ERROR_INVALID_ARGUMENT,
                       "The type id \"%s\" maps to RcDeletableNativeHandle, "
                       "which needs a release function", type_id);
          return NULL;
        }
      return create_generic_wrapper (handle, type_id, release_address);
    }

  /* Built empty, then given the pointer, so that a pointer the subclass
   * rejects is reported as an error rather than a critical. */
  wrapper = g_object_new (wrapper_type, "type-id", type_id, NULL);
  if (!rc_native_handle_set_handle (wrapper, handle, 0, error))
    return NULL;

  return g_steal_pointer (&wrapper);
}
