/* rc-native-handle.c
 *
 * SPDX-License-Identifier: MIT
 */

#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "rc-debug.h"
#include "rc-error.h"
#include "rc-native-handle.h"
#include "rc-native-handle-private.h"
#include "rc-reference-counter-private.h"

/**
 * SECTION:rc-native-handle
 * @Title: RcNativeHandle
 * @Short_description: a reference-counted handle to a native pointer
 *
 * #RcNativeHandle wraps a native pointer (an opaque `void *` from a C or C++
 * API) and a reference count, and releases the native resource exactly once,
 * when the count reaches zero. It is abstract: subclasses say how to release
 * by overriding #RcNativeHandleClass.release_handle. #RcDeletableNativeHandle
 * (a release function) and #RcOwningNativeHandle (nothing to release) are the
 * ready-made ones.
 *
 * The counter contract:
 *
 * - A new handle holds `prior-ref-count + 1` references: its creator is one.
 * - rc_reference_counter_add_ref() adds one; rc_reference_counter_decrement_ref()
 *   removes one and nothing else.
 * - rc_native_handle_release() (and its synonym rc_native_handle_dispose())
 *   removes one; when the count reaches zero the native resource is released
 *   by #RcNativeHandleClass.release_handle. The decision is made by a single
 *   atomic compare-and-swap, so the release runs at most once even when many
 *   threads release at the same moment, and it runs outside any lock.
 * - After a successful release the pointer is %NULL, the handle is disposed,
 *   the count stays at zero and every later call is a harmless no-op: no
 *   double release, no negative count, no resurrection by add_ref.
 * - If #RcNativeHandleClass.release_handle returns %FALSE, a warning is logged
 *   and the handle keeps its pointer; a later release or dispose retries.
 * - The GObject wrapper is itself one owner: when it is disposed (its last
 *   GObject reference dropped) it releases once, unless already disposed.
 *   References still held through add_ref keep the native resource alive;
 *   with `RC_DEBUG=leaks` in the environment, finalizing such a handle logs a
 *   warning that names its type id.
 * - rc_native_handle_acquire() borrows: it returns the pointer and adds a
 *   reference only if the handle is not disposed (an atomic
 *   check-and-increment). Pair it with rc_native_handle_release(). While the
 *   borrow is held no other thread can release the resource.
 * - A handle created without a pointer can get one later, once, with
 *   rc_native_handle_set_handle().
 *
 * A subclass in C:
 *
 * |[<!-- language="C" -->
 * static gboolean
 * dog_handle_release_handle (RcNativeHandle *handle)
 * {
 *   dog_release (rc_native_handle_get_handle (handle));
 *   return TRUE;
 * }
 *
 * static void
 * dog_handle_class_init (DogHandleClass *klass)
 * {
 *   RC_NATIVE_HANDLE_CLASS (klass)->release_handle = dog_handle_release_handle;
 * }
 * ]|
 *
 * and in Python:
 *
 * |[<!-- language="Python" -->
 * class DogHandle(Refcount.NativeHandle):
 *     def do_release_handle(self):
 *         lib.dog_release(self.get_handle())
 *         return True
 * ]|
 */

typedef struct
{
  /* Written once (construction or rc_native_handle_set_handle()) before the
   * phase becomes OPEN, cleared after a successful release. */
  gpointer handle;
  /* Interned: a program has a handful of type ids and many handles. */
  const char *type_id;
  /* Set when the GObject wrapper has given back its own reference. */
  int wrapper_released;
  /* The dependencies, in the order they were added (one counted and one
   * GObject reference each), or NULL; changed under deps_lock. */
  GPtrArray *dependencies;
  /* How many dependency lists hold this handle; under deps_lock. */
  guint n_dependants;
} RcNativeHandlePrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (RcNativeHandle, rc_native_handle, RC_TYPE_REFERENCE_COUNTER)

enum {
  PROP_0,
  PROP_HANDLE,
  PROP_TYPE_ID,
  PROP_DISPOSED,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static int live_count;
static int unreleased_count;

/* Guards every handle's dependency list and dependant count. Adding a
 * dependency is rare and short; no callback ever runs under it. These locks
 * are POSIX mutexes rather than GMutex, whose futexes ThreadSanitizer
 * cannot see: it checks what they guard. */
static pthread_mutex_t deps_lock = PTHREAD_MUTEX_INITIALIZER;

/* With RC_DEBUG=leaks: the live handles, and what the handles finalized
 * while still holding references left behind (per type id, and their
 * dependency edges, as text). Lock order: registry_lock, then deps_lock. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static GHashTable *registry;
static GHashTable *finalized_unreleased;
static GPtrArray *finalized_edges;

static void registry_add    (RcNativeHandle *self);
static void registry_remove (RcNativeHandle *self,
                             GPtrArray      *dependencies);
static void release_dependencies (GPtrArray *dependencies);

int _rc_debug_flags = -1;

/* Two threads parsing the variable at once find the same flags. */
guint
_rc_parse_debug_flags (void)
{
  static const GDebugKey keys[] = {
    { "leaks", RC_DEBUG_LEAKS },
  };
  guint flags = g_parse_debug_string (g_getenv ("RC_DEBUG"), keys, G_N_ELEMENTS (keys));

  __atomic_store_n (&_rc_debug_flags, (int) flags, __ATOMIC_RELAXED);
  return flags;
}

/* g_intern_string() takes a global lock; a program creates many handles
 * of the same few type ids, so each thread remembers the last one. */
static const char *
intern_type_id (const char *type_id)
{
  static __thread const char *last;

  if (type_id == NULL)
    return NULL;
  if (last == NULL || strcmp (last, type_id) != 0)
    last = g_intern_string (type_id);
  return last;
}

static inline RcCounter *
get_counter (RcNativeHandle *self)
{
  return _rc_reference_counter_get_counter (RC_REFERENCE_COUNTER (self));
}

static inline int *
get_state (RcNativeHandle *self)
{
  return &get_counter (self)->state;
}

static const char *
type_id_or_none (RcNativeHandlePrivate *priv)
{
  return priv->type_id != NULL ? priv->type_id : "(none)";
}

static gboolean
rc_native_handle_real_is_valid_handle (RcNativeHandle *self,
                                       gpointer        handle)
{
  return handle != NULL;
}

static gboolean
rc_native_handle_real_release_handle (RcNativeHandle *self)
{
  g_critical ("%s does not implement RcNativeHandle.release_handle",
              G_OBJECT_TYPE_NAME (self));
  return FALSE;
}

/* Takes the dependency list of a handle that is released or finalized:
 * its dependencies stop counting it as a dependant. */
static GPtrArray *
steal_dependencies (RcNativeHandlePrivate *priv)
{
  GPtrArray *dependencies;

  pthread_mutex_lock (&deps_lock);
  dependencies = g_steal_pointer (&priv->dependencies);
  for (guint i = 0; dependencies != NULL && i < dependencies->len; i++)
    {
      RcNativeHandle *dependency = g_ptr_array_index (dependencies, i);
      RcNativeHandlePrivate *dependency_priv = rc_native_handle_get_instance_private (dependency);

      dependency_priv->n_dependants--;
    }
  pthread_mutex_unlock (&deps_lock);

  return dependencies;
}

/* Runs in the one thread whose compare-and-swap moved the phase to
 * RELEASING; nobody else can touch the pointer or the count until the
 * phase leaves RELEASING. */
static void
run_release_handle (RcNativeHandle *self)
{
  RcNativeHandlePrivate *priv = rc_native_handle_get_instance_private (self);
  int *state = get_state (self);
  /* Nobody can change the state while it is RELEASING, nor add a
   * dependency: whether there are any is known now. */
  int dependencies_flag = g_atomic_int_get (state) & RC_STATE_DEPENDENCIES;

  if (RC_NATIVE_HANDLE_GET_CLASS (self)->release_handle (self))
    {
      /* The compare-and-swap into RELEASING already decided the release;
       * release ordering is all these stores need. */
      __atomic_store_n (&priv->handle, NULL, __ATOMIC_RELEASE);
      _rc_counter_finish_release (get_counter (self), TRUE);
      (void) g_atomic_int_dec_and_test (&unreleased_count);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DISPOSED]);

      if (dependencies_flag != 0)
        {
          GPtrArray *dependencies = steal_dependencies (priv);

          /* (None when the only one asked for was refused.) */
          if (dependencies != NULL)
            release_dependencies (dependencies);
        }
    }
  else
    {
      g_warning ("Failed to release native handle of type id \"%s\" (%s %p): "
                 "it is kept, and a later release may retry",
                 type_id_or_none (priv), G_OBJECT_TYPE_NAME (self), self);
      /* Kept, with its dependencies: the resource still uses them. */
      _rc_counter_finish_release (get_counter (self), FALSE);
    }
}

/* Takes the pointer given at construction; nobody else sees the object
 * yet, so plain accesses are enough. */
static void
take_initial_handle (RcNativeHandle *self,
                     gpointer        handle)
{
  RcNativeHandlePrivate *priv = rc_native_handle_get_instance_private (self);
  RcCounter *counter = get_counter (self);

  if (handle != NULL &&
      !RC_NATIVE_HANDLE_GET_CLASS (self)->is_valid_handle (self, handle))
    {
      g_critical ("%p is not a valid handle for %s; the handle is left unset",
                  handle, G_OBJECT_TYPE_NAME (self));
      handle = NULL;
    }

  priv->handle = handle;
  _rc_counter_init (counter, RC_STATE_COUNT (counter->state) - 1, handle != NULL);
  if (handle != NULL)
    g_atomic_int_inc (&unreleased_count);
}

static void
rc_native_handle_constructed (GObject *object)
{
  RcNativeHandle *self = (RcNativeHandle *) object;
  RcNativeHandlePrivate *priv = rc_native_handle_get_instance_private (self);

  G_OBJECT_CLASS (rc_native_handle_parent_class)->constructed (object);

  take_initial_handle (self, priv->handle);
}

/* For the C constructors of the final classes: g_object_new() with named
 * properties costs more than the rest of a handle's life, so they build
 * the object bare and give it its pointer and type id here. */
void
_rc_native_handle_init_handle (RcNativeHandle *self,
                               gpointer        handle,
                               const char     *type_id)
{
  RcNativeHandlePrivate *priv = rc_native_handle_get_instance_private (self);

  priv->type_id = intern_type_id (type_id);
  take_initial_handle (self, handle);
}

static void
rc_native_handle_object_dispose (GObject *object)
{
  RcNativeHandle *self = RC_NATIVE_HANDLE (object);

  /* dispose may run more than once; the wrapper's reference is one. */
  rc_native_handle_drop_wrapper_reference (self);

  G_OBJECT_CLASS (rc_native_handle_parent_class)->dispose (object);
}

static void
rc_native_handle_finalize (GObject *object)
{
  RcNativeHandle *self = RC_NATIVE_HANDLE (object);
  RcNativeHandlePrivate *priv = rc_native_handle_get_instance_private (self);
  int state = g_atomic_int_get (get_state (self));
  gboolean tracked = (_rc_get_debug_flags () & RC_DEBUG_LEAKS) != 0;
  GPtrArray *dependencies = NULL;

  if (RC_STATE_PHASE (state) == RC_PHASE_OPEN && tracked)
    g_warning ("Native handle of type id \"%s\" leaked with %d outstanding references",
               type_id_or_none (priv), RC_STATE_COUNT (state));

  /* Left only by a handle never released: its resource is leaked and still
   * uses them, so their counted references stay taken; the objects go.
   * (A released handle's list went with its release; the flag, not the
   * list, says so without reading what that release wrote.) */
  if ((state & RC_STATE_DEPENDENCIES) != 0 && RC_STATE_PHASE (state) != RC_PHASE_RELEASED)
    dependencies = steal_dependencies (priv);

  if (tracked)
    registry_remove (self, dependencies);

  if (dependencies != NULL)
    {
      g_ptr_array_set_free_func (dependencies, g_object_unref);
      g_ptr_array_unref (dependencies);
    }

  (void) g_atomic_int_dec_and_test (&live_count);

  G_OBJECT_CLASS (rc_native_handle_parent_class)->finalize (object);
}

static void
rc_native_handle_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  RcNativeHandle *self = RC_NATIVE_HANDLE (object);

  switch (prop_id)
    {
    case PROP_HANDLE:
      g_value_set_pointer (value, rc_native_handle_get_handle (self));
      break;

    case PROP_TYPE_ID:
      g_value_set_string (value, rc_native_handle_get_type_id (self));
      break;

    case PROP_DISPOSED:
      g_value_set_boolean (value, rc_native_handle_is_disposed (self));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
rc_native_handle_set_property (GObject      *object,
                               guint         prop_id,
                               const GValue *value,
                               GParamSpec   *pspec)
{
  RcNativeHandle *self = RC_NATIVE_HANDLE (object);
  RcNativeHandlePrivate *priv = rc_native_handle_get_instance_private (self);

  switch (prop_id)
    {
    case PROP_HANDLE:
      priv->handle = g_value_get_pointer (value);
      break;

    case PROP_TYPE_ID:
      priv->type_id = intern_type_id (g_value_get_string (value));
      break;

    case PROP_DISPOSED:
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
rc_native_handle_class_init (RcNativeHandleClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = rc_native_handle_constructed;
  object_class->dispose = rc_native_handle_object_dispose;
  object_class->finalize = rc_native_handle_finalize;
  object_class->get_property = rc_native_handle_get_property;
  object_class->set_property = rc_native_handle_set_property;

  klass->is_valid_handle = rc_native_handle_real_is_valid_handle;
  klass->release_handle = rc_native_handle_real_release_handle;

  /**
   * RcNativeHandle:handle:
   *
   * The native pointer; %NULL when not set yet or released.
   */
  properties[PROP_HANDLE] =
    g_param_spec_pointer ("handle", NULL, NULL,
                          G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * RcNativeHandle:type-id:
   *
   * A name for the kind of native object (such as "DOG_PTR"), used by
   * #RcWrapperFactory and in messages; may be %NULL.
   */
  properties[PROP_TYPE_ID] =
    g_param_spec_string ("type-id", NULL, NULL,
                         NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * RcNativeHandle:disposed:
   *
   * Whether the handle has no usable pointer: never set, or released.
   * Notified when the native resource is released.
   */
  properties[PROP_DISPOSED] =
    g_param_spec_boolean ("disposed", NULL, NULL,
                          FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
rc_native_handle_init (RcNativeHandle *self)
{
  g_atomic_int_inc (&live_count);
  if (G_UNLIKELY ((_rc_get_debug_flags () & RC_DEBUG_LEAKS) != 0))
    registry_add (self);
}

/**
 * rc_native_handle_get_handle:
 * @self: a #RcNativeHandle
 *
 * Gets the native pointer. It stays valid only while a reference is held
 * (see rc_native_handle_acquire() for a safe borrow across threads).
 *
 * Returns: (nullable) (transfer none): the pointer, or %NULL if never set or released
 */
gpointer
rc_native_handle_get_handle (RcNativeHandle *self)
{
  RcNativeHandlePrivate *priv;

  g_return_val_if_fail (RC_IS_NATIVE_HANDLE (self), NULL);

  priv = rc_native_handle_get_instance_private (self);
  return g_atomic_pointer_get (&priv->handle);
}

/**
 * rc_native_handle_set_handle:
 * @self: a #RcNativeHandle created without a pointer
 * @handle: (nullable): the native pointer
 * @prior_ref_count: references held before this one, at least 0
 * @error: return location for a #GError
 *
 * Sets the native pointer of a handle created without one, for subclasses
 * that create the native object after the wrapper. The count becomes
 * `prior_ref_count + 1`. A handle takes a pointer once.
 *
 * Returns: %TRUE on success; %FALSE with @error set to
 *   %RC_ERROR_HANDLE_ALREADY_SET, %RC_ERROR_DISPOSED,
 *   %RC_ERROR_INVALID_HANDLE (rejected by
 *   #RcNativeHandleClass.is_valid_handle) or %RC_ERROR_INVALID_ARGUMENT
 */
gboolean
rc_native_handle_set_handle (RcNativeHandle  *self,
                             gpointer         handle,
                             int              prior_ref_count,
                             GError         **error)
{
  RcNativeHandlePrivate *priv;
  int *state;
  int old;

  g_return_val_if_fail (RC_IS_NATIVE_HANDLE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  priv = rc_native_handle_get_instance_private (self);
  state = get_state (self);

  if (prior_ref_count < 0 || prior_ref_count >= RC_STATE_COUNT_MAX)
    {
      g_set_error (error, RC_ERROR, RC_ERROR_INVALID_ARGUMENT,
                   "Prior reference count %d is out of range", prior_ref_count);
      return FALSE;
    }

  old = g_atomic_int_get (state);
  switch (RC_STATE_PHASE (old))
    {
    case RC_PHASE_OPEN:
      g_set_error (error, RC_ERROR, RC_ERROR_HANDLE_ALREADY_SET,
                   "The handle of type id \"%s\" already holds a native pointer",
                   type_id_or_none (priv));
      return FALSE;

    case RC_PHASE_RELEASING:
    case RC_PHASE_RELEASED:
      g_set_error (error, RC_ERROR, RC_ERROR_DISPOSED,
                   "The handle of type id \"%s\" is already released",
                   type_id_or_none (priv));
      return FALSE;

    case RC_PHASE_UNSET:
    default:
      break;
    }

  if (!RC_NATIVE_HANDLE_GET_CLASS (self)->is_valid_handle (self, handle))
    {
      g_set_error_literal (error, RC_ERROR, RC_ERROR_INVALID_HANDLE,
                           "The specified handle argument is not a valid handle");
      return FALSE;
    }

  /* The pointer first, then the phase: whoever sees OPEN sees the pointer. */
  if (!g_atomic_pointer_compare_and_exchange (&priv->handle, NULL, handle) ||
      !_rc_counter_open (get_counter (self), prior_ref_count))
    {
      g_set_error (error, RC_ERROR, RC_ERROR_HANDLE_ALREADY_SET,
                   "The handle of type id \"%s\" was set by another thread",
                   type_id_or_none (priv));
      return FALSE;
    }

  g_atomic_int_inc (&unreleased_count);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DISPOSED]);
  return TRUE;
}

/**
 * rc_native_handle_get_type_id:
 * @self: a #RcNativeHandle
 *
 * Gets the type id given at construction.
 *
 * Returns: (nullable): the type id, or %NULL
 */
const char *
rc_native_handle_get_type_id (RcNativeHandle *self)
{
  RcNativeHandlePrivate *priv;

  g_return_val_if_fail (RC_IS_NATIVE_HANDLE (self), NULL);

  priv = rc_native_handle_get_instance_private (self);
  return priv->type_id;
}

/**
 * rc_native_handle_is_valid_handle: (virtual is_valid_handle)
 * @self: a #RcNativeHandle
 * @handle: (type guintptr): a native pointer (its address, in bindings)
 *
 * Checks whether @handle is acceptable for this kind of handle, through
 * #RcNativeHandleClass.is_valid_handle (by default: not %NULL).
 *
 * Returns: %TRUE if @handle is valid
 */
gboolean
rc_native_handle_is_valid_handle (RcNativeHandle *self,
                                  gpointer        handle)
{
  g_return_val_if_fail (RC_IS_NATIVE_HANDLE (self), FALSE);

  return RC_NATIVE_HANDLE_GET_CLASS (self)->is_valid_handle (self, handle);
}

/**
 * rc_native_handle_release:
 * @self: a #RcNativeHandle
 *
 * Gives back one reference; when none is left the native resource is
 * released, exactly once. Does nothing on a disposed handle.
 */
void
rc_native_handle_release (RcNativeHandle *self)
{
  g_return_if_fail (RC_IS_NATIVE_HANDLE (self));

  if (_rc_counter_release (get_counter (self)))
    run_release_handle (self);
}

/**
 * rc_native_handle_dispose:
 * @self: a #RcNativeHandle
 *
 * A synonym of rc_native_handle_release(), as in pyrefcount. It gives back
 * one reference: it does not force the release while other references are
 * held.
 */
void
rc_native_handle_dispose (RcNativeHandle *self)
{
  rc_native_handle_release (self);
}

/**
 * rc_native_handle_is_disposed:
 * @self: a #RcNativeHandle
 *
 * Whether the handle has no usable native pointer: it was released, or it
 * was never set.
 *
 * Returns: %TRUE if disposed
 */
gboolean
rc_native_handle_is_disposed (RcNativeHandle *self)
{
  RcPhase phase;

  g_return_val_if_fail (RC_IS_NATIVE_HANDLE (self), TRUE);

  phase = _rc_counter_phase (get_counter (self));
  return phase == RC_PHASE_UNSET || phase == RC_PHASE_RELEASED;
}

/**
 * rc_native_handle_is_invalid:
 * @self: a #RcNativeHandle
 *
 * Whether the handle cannot be used: the same as
 * rc_native_handle_is_disposed(), named as in .NET's SafeHandle and
 * pyrefcount.
 *
 * Returns: %TRUE if the handle has no usable pointer
 */
gboolean
rc_native_handle_is_invalid (RcNativeHandle *self)
{
  return rc_native_handle_is_disposed (self);
}

/**
 * rc_native_handle_drop_wrapper_reference:
 * @self: a #RcNativeHandle
 *
 * Gives back the reference that the wrapper object itself holds, once: a
 * second call, and the one made when the GObject is disposed, do nothing.
 * This is rc_native_handle_release() for the wrapper as an owner.
 *
 * Language bindings call it when their proxy object dies, so that
 * #RcNativeHandleClass.release_handle runs while the proxy (and the state
 * a subclass keeps in it) is still intact, rather than later from GObject
 * dispose. C code rarely needs it: g_object_unref() of the last reference
 * does the same.
 *
 * Returns: %TRUE if the wrapper's reference was given back by this call
 */
gboolean
rc_native_handle_drop_wrapper_reference (RcNativeHandle *self)
{
  RcNativeHandlePrivate *priv;

  g_return_val_if_fail (RC_IS_NATIVE_HANDLE (self), FALSE);

  priv = rc_native_handle_get_instance_private (self);
  if (!g_atomic_int_compare_and_exchange (&priv->wrapper_released, FALSE, TRUE))
    return FALSE;

  rc_native_handle_release (self);
  return TRUE;
}

/**
 * rc_native_handle_construct: (skip)
 * @self: a #RcNativeHandle just made by g_object_new() without properties,
 *   that no other code has seen yet
 * @handle: (nullable): the native pointer, or %NULL to set it later with
 *   rc_native_handle_set_handle()
 * @type_id: (nullable): the type id
 * @prior_ref_count: references held before this one, at least 0
 *
 * For constructors written in C, such as a language binding's: gives a new
 * handle its pointer, type id and count in one step. It does what the
 * construct properties #RcNativeHandle:handle, #RcNativeHandle:type-id and
 * #RcReferenceCounter:prior-ref-count do, without their cost (passing
 * properties to g_object_new() costs more than the rest of a handle's
 * life). A @handle that #RcNativeHandleClass.is_valid_handle rejects is
 * left unset, with a critical warning, as with the property.
 *
 * Returns: %TRUE; %FALSE (with a critical warning) when @self already has a
 *   pointer or a type id, or @prior_ref_count is out of range
 */
gboolean
rc_native_handle_construct (RcNativeHandle *self,
                            gpointer        handle,
                            const char     *type_id,
                            int             prior_ref_count)
{
  RcNativeHandlePrivate *priv;
  int *state;

  g_return_val_if_fail (RC_IS_NATIVE_HANDLE (self), FALSE);
  g_return_val_if_fail (prior_ref_count >= 0 && prior_ref_count < RC_STATE_COUNT_MAX, FALSE);

  priv = rc_native_handle_get_instance_private (self);
  state = get_state (self);
  g_return_val_if_fail (*state == RC_STATE_MAKE (RC_STATE_COUNT (*state), RC_PHASE_UNSET) &&
                        priv->type_id == NULL, FALSE);

  _rc_counter_init (get_counter (self), prior_ref_count, FALSE);
  _rc_native_handle_init_handle (self, handle, type_id);
  return TRUE;
}

/**
 * rc_native_handle_acquire:
 * @self: a #RcNativeHandle
 * @error: return location for a #GError
 *
 * Borrows the native pointer: if the handle is not disposed, adds a
 * reference and returns the pointer, in one atomic step. The resource cannot
 * be released by another thread until the caller gives the reference back
 * with rc_native_handle_release().
 *
 * Returns: (nullable) (transfer none): the pointer, or %NULL with @error set
 *   to %RC_ERROR_DISPOSED
 */
gpointer
rc_native_handle_acquire (RcNativeHandle  *self,
                          GError         **error)
{
  RcNativeHandlePrivate *priv;

  g_return_val_if_fail (RC_IS_NATIVE_HANDLE (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  priv = rc_native_handle_get_instance_private (self);
  if (!_rc_counter_add_ref (get_counter (self)))
    {
      if (_rc_counter_phase (get_counter (self)) != RC_PHASE_OPEN)
        g_set_error (error, RC_ERROR, RC_ERROR_DISPOSED,
                     "The native handle of type id \"%s\" is disposed",
                     type_id_or_none (priv));
      else
        g_set_error (error, RC_ERROR, RC_ERROR_FAILED,
                     "Reference count of the handle of type id \"%s\" would overflow",
                     type_id_or_none (priv));
      return NULL;
    }

  return g_atomic_pointer_get (&priv->handle);
}

/**
 * rc_native_handle_to_string:
 * @self: a #RcNativeHandle
 *
 * Describes the handle for messages, such as
 * `RcDeletableNativeHandle to a native pointer of type id "DOG_PTR"`, or
 * with the pointer's address when there is no type id; " (disposed)" is
 * appended once disposed.
 *
 * Returns: (transfer full): a newly allocated string
 */
char *
rc_native_handle_to_string (RcNativeHandle *self)
{
  RcNativeHandlePrivate *priv;
  const char *suffix;

  g_return_val_if_fail (RC_IS_NATIVE_HANDLE (self), NULL);

  priv = rc_native_handle_get_instance_private (self);
  suffix = rc_native_handle_is_disposed (self) ? " (disposed)" : "";

  if (priv->type_id != NULL && priv->type_id[0] != '\0')
    return g_strdup_printf ("%s to a native pointer of type id \"%s\"%s",
                            G_OBJECT_TYPE_NAME (self), priv->type_id, suffix);

  return g_strdup_printf ("%s to a native pointer %p%s",
                          G_OBJECT_TYPE_NAME (self),
                          g_atomic_pointer_get (&priv->handle), suffix);
}

/**
 * rc_native_handle_get_live_count:
 *
 * Counts the #RcNativeHandle objects alive in the process (created and not
 * yet finalized), for leak checks in tests.
 *
 * Returns: the number of live handle objects
 */
guint
rc_native_handle_get_live_count (void)
{
  return (guint) g_atomic_int_get (&live_count);
}

/**
 * rc_native_handle_get_unreleased_count:
 *
 * Counts the native pointers held by handles and not yet released,
 * including those of handles finalized while references were outstanding
 * (leaked on purpose).
 *
 * Returns: the number of native pointers not yet released
 */
guint
rc_native_handle_get_unreleased_count (void)
{
  return (guint) g_atomic_int_get (&unreleased_count);
}

/* Dependencies whose release is waiting on this thread: releasing one may
 * release its own dependencies, and so on down a chain of any length, so
 * the outermost release on a thread releases them all from this queue
 * rather than recursing. */
static __thread GQueue *pending_dependencies;

/* Gives back the counted and the GObject reference of each dependency, in
 * the reverse order of their addition; takes @dependencies. */
static void
release_dependencies (GPtrArray *dependencies)
{
  GQueue queue = G_QUEUE_INIT;

  if (pending_dependencies != NULL)
    {
      g_queue_push_tail (pending_dependencies, dependencies);
      return;
    }

  pending_dependencies = &queue;
  do
    {
      for (guint i = dependencies->len; i > 0; i--)
        {
          RcNativeHandle *dependency = g_ptr_array_index (dependencies, i - 1);

          rc_native_handle_release (dependency);
          g_object_unref (dependency);
        }
      g_ptr_array_unref (dependencies);
    }
  while ((dependencies = g_queue_pop_head (&queue)) != NULL);
  pending_dependencies = NULL;
}

/* One counted reference, only on an open handle: the check and the
 * increment are one compare-and-swap, as in rc_native_handle_acquire(). */
static gboolean
try_add_ref (RcNativeHandle *self)
{
  return _rc_counter_add_ref (get_counter (self));
}

/* Marks an open handle as having dependencies, so that its release looks
 * for them; FALSE if it is not open (released, releasing, or unset). The
 * phase check and the mark are one compare-and-swap, so a release either
 * started before (and the dependency is refused) or will see the mark and
 * take deps_lock, which the caller holds until the dependency is listed. */
static gboolean
mark_dependencies (RcNativeHandle *self)
{
  int *state = get_state (self);
  int old;

  do
    {
      old = g_atomic_int_get (state);
      if (RC_STATE_PHASE (old) != RC_PHASE_OPEN)
        return FALSE;
      if ((old & RC_STATE_DEPENDENCIES) != 0)
        return TRUE;
    }
  while (!g_atomic_int_compare_and_exchange (state, old, old | RC_STATE_DEPENDENCIES));

  return TRUE;
}

static void
set_disposed_error (GError                **error,
                    RcNativeHandlePrivate  *priv,
                    RcNativeHandlePrivate  *dependency_priv,
                    const char             *which)
{
  g_set_error (error, RC_ERROR, RC_ERROR_DISPOSED,
               "The handle of type id \"%s\" cannot depend on the handle of type id \"%s\": "
               "%s is released or has no native pointer",
               type_id_or_none (priv), type_id_or_none (dependency_priv), which);
}

/* Whether @from is @target or depends on it, through any path. Under
 * deps_lock. */
static gboolean
depends_on (RcNativeHandle *from,
            RcNativeHandle *target)
{
  g_autoptr(GPtrArray) stack = g_ptr_array_new ();
  g_autoptr(GHashTable) seen = NULL;

  g_ptr_array_add (stack, from);
  while (stack->len > 0)
    {
      RcNativeHandle *handle = g_ptr_array_steal_index_fast (stack, stack->len - 1);
      RcNativeHandlePrivate *priv = rc_native_handle_get_instance_private (handle);

      if (handle == target)
        return TRUE;
      if (priv->dependencies == NULL || priv->dependencies->len == 0)
        continue;
      if (seen == NULL)
        seen = g_hash_table_new (NULL, NULL);
      if (!g_hash_table_add (seen, handle))
        continue;  /* reached before, through another path (a diamond) */
      for (guint i = 0; i < priv->dependencies->len; i++)
        g_ptr_array_add (stack, g_ptr_array_index (priv->dependencies, i));
    }

  return FALSE;
}

/**
 * rc_native_handle_add_dependency:
 * @self: a #RcNativeHandle whose native resource uses another one
 * @dependency: the #RcNativeHandle of the resource that @self uses
 * @error: return location for a #GError
 *
 * Declares that the native resource of @self uses that of @dependency (an
 * owner uses its dog), so @dependency must not be released before @self.
 *
 * From this call on, @self holds one counted reference on @dependency (as
 * rc_reference_counter_add_ref()) and keeps the object alive. Right after
 * the #RcNativeHandleClass.release_handle of @self has succeeded, @self
 * releases each of its dependencies once (rc_native_handle_release()), in
 * the reverse order of the calls, then drops the objects. So the native
 * release of @dependency never runs before that of @self, whatever order the
 * program drops them in and from whatever threads. A failed release of @self
 * keeps its dependencies, since the resource still uses them; so does a
 * handle finalized while references to it are still outstanding.
 *
 * The same dependency added twice is held twice. A dependency added while
 * another thread releases @self is either held and released after @self, or
 * refused.
 *
 * |[<!-- language="C" -->
 * owner = rc_deletable_native_handle_new_native (owner_new (dog_ptr), owner_release, "OWNER_PTR");
 * if (!rc_native_handle_add_dependency (RC_NATIVE_HANDLE (owner), RC_NATIVE_HANDLE (dog), &error))
 *   g_warning ("%s", error->message);
 * g_object_unref (dog);   // the owner keeps the dog until the owner is released
 * ]|
 *
 * In Python: `owner.add_dependency(dog)`.
 *
 * Returns: %TRUE if @self now depends on @dependency; %FALSE with @error set
 *   to %RC_ERROR_CYCLE if @dependency is @self or already depends on @self
 *   (directly or through its own dependencies: a cycle would keep each of
 *   its handles alive forever), or to %RC_ERROR_DISPOSED if either handle is
 *   released, being released, or has no native pointer yet
 */
gboolean
rc_native_handle_add_dependency (RcNativeHandle  *self,
                                 RcNativeHandle  *dependency,
                                 GError         **error)
{
  RcNativeHandlePrivate *priv;
  RcNativeHandlePrivate *dependency_priv;
  /* RC_ERROR_FAILED stands for success here, RC_ERROR_DISPOSED for self
   * released meanwhile, RC_ERROR_INVALID_HANDLE for the dependency. */
  RcError outcome = RC_ERROR_FAILED;

  g_return_val_if_fail (RC_IS_NATIVE_HANDLE (self), FALSE);
  g_return_val_if_fail (RC_IS_NATIVE_HANDLE (dependency), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  priv = rc_native_handle_get_instance_private (self);
  dependency_priv = rc_native_handle_get_instance_private (dependency);

  if (self == dependency)
    {
      g_set_error (error, RC_ERROR, RC_ERROR_CYCLE,
                   "The handle of type id \"%s\" cannot depend on itself",
                   type_id_or_none (priv));
      return FALSE;
    }

  /* Early answers, for a clear error; the decisive checks are below. */
  if (RC_STATE_PHASE (g_atomic_int_get (get_state (self))) != RC_PHASE_OPEN)
    {
      set_disposed_error (error, priv, dependency_priv, "the former");
      return FALSE;
    }
  if (RC_STATE_PHASE (g_atomic_int_get (get_state (dependency))) != RC_PHASE_OPEN)
    {
      set_disposed_error (error, priv, dependency_priv, "the latter");
      return FALSE;
    }

  /* Taken first, outside the lock: a language binding may run code when
   * an object gains a reference. The caller holds one, so giving it back
   * on refusal cannot finalize the dependency. */
  g_object_ref (dependency);
  pthread_mutex_lock (&deps_lock);
  if (!mark_dependencies (self))
    {
      /* Released meanwhile, by another thread. */
      outcome = RC_ERROR_DISPOSED;
    }
  else if (priv->n_dependants > 0 && depends_on (dependency, self))
    {
      /* (Nothing depends on a handle without dependants: no cycle can
       * close through it, whatever its dependency holds.) */
      outcome = RC_ERROR_CYCLE;
    }
  else if (!try_add_ref (dependency))
    {
      /* The counted reference comes last, when nothing can refuse any
       * more: a refusal never has to give one back, which could release a
       * dependency that was open with a count of zero. */
      outcome = RC_ERROR_INVALID_HANDLE;
    }
  else
    {
      if (priv->dependencies == NULL)
        priv->dependencies = g_ptr_array_new ();
      g_ptr_array_add (priv->dependencies, dependency);
      dependency_priv->n_dependants++;
    }
  pthread_mutex_unlock (&deps_lock);

  if (outcome == RC_ERROR_FAILED)
    return TRUE;

  if (outcome == RC_ERROR_CYCLE)
    g_set_error (error, RC_ERROR, RC_ERROR_CYCLE,
                 "The handle of type id \"%s\" cannot depend on the handle of type id \"%s\": "
                 "the latter already depends on the former",
                 type_id_or_none (priv), type_id_or_none (dependency_priv));
  else
    set_disposed_error (error, priv, dependency_priv,
                        outcome == RC_ERROR_DISPOSED ? "the former" : "the latter");
  g_object_unref (dependency);
  return FALSE;
}

/**
 * rc_native_handle_get_dependencies:
 * @self: a #RcNativeHandle
 *
 * Lists the dependencies that @self holds (see
 * rc_native_handle_add_dependency()), in the order they were added, for
 * diagnostics and tests. The list is empty once @self is released.
 *
 * Returns: (transfer container) (element-type RcNativeHandle): the
 *   dependencies; they stay valid while @self holds them, that is until
 *   @self is released
 */
GPtrArray *
rc_native_handle_get_dependencies (RcNativeHandle *self)
{
  RcNativeHandlePrivate *priv;
  GPtrArray *result;

  g_return_val_if_fail (RC_IS_NATIVE_HANDLE (self), NULL);

  priv = rc_native_handle_get_instance_private (self);
  result = g_ptr_array_new ();
  pthread_mutex_lock (&deps_lock);
  if (priv->dependencies != NULL)
    {
      for (guint i = 0; i < priv->dependencies->len; i++)
        g_ptr_array_add (result, g_ptr_array_index (priv->dependencies, i));
    }
  pthread_mutex_unlock (&deps_lock);

  return result;
}

/* The live report (RC_DEBUG=leaks). */

static int
compare_labels (gconstpointer a,
                gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

static const char *
report_label (const char *type_id)
{
  return type_id != NULL && type_id[0] != '\0' ? type_id : NULL;
}

static char *
describe_end (RcNativeHandle *handle)
{
  RcNativeHandlePrivate *priv = rc_native_handle_get_instance_private (handle);
  const char *label = report_label (priv->type_id);

  if (label != NULL)
    return g_strdup_printf ("\"%s\" (%s %p)", label, G_OBJECT_TYPE_NAME (handle), handle);
  return g_strdup_printf ("(none) (%s %p)", G_OBJECT_TYPE_NAME (handle), handle);
}

static char *
describe_edge (RcNativeHandle *from,
               RcNativeHandle *to)
{
  g_autofree char *from_text = describe_end (from);
  g_autofree char *to_text = describe_end (to);

  return g_strdup_printf ("%s -> %s", from_text, to_text);
}

static void
print_report_at_exit (void)
{
  g_autofree char *report = rc_debug_live_report ();

  if (!g_str_has_prefix (report, "refcount live handles: 0 "))
    g_printerr ("%s", report);
}

static void
registry_add (RcNativeHandle *self)
{
  pthread_mutex_lock (&registry_lock);
  if (registry == NULL)
    {
      registry = g_hash_table_new (NULL, NULL);
      finalized_unreleased = g_hash_table_new (g_str_hash, g_str_equal);
      finalized_edges = g_ptr_array_new_with_free_func (g_free);
      atexit (print_report_at_exit);
    }
  g_hash_table_add (registry, self);
  pthread_mutex_unlock (&registry_lock);
}

/* @dependencies: those that @self, being finalized, still held. */
static void
registry_remove (RcNativeHandle *self,
                 GPtrArray      *dependencies)
{
  RcNativeHandlePrivate *priv = rc_native_handle_get_instance_private (self);
  int state = g_atomic_int_get (get_state (self));

  pthread_mutex_lock (&registry_lock);
  g_hash_table_remove (registry, self);
  if (RC_STATE_PHASE (state) == RC_PHASE_OPEN)
    {
      const char *key = report_label (priv->type_id) != NULL ? priv->type_id : "";
      guint n = GPOINTER_TO_UINT (g_hash_table_lookup (finalized_unreleased, key));

      /* Interned type ids: the keys live as long as the process. */
      g_hash_table_insert (finalized_unreleased, (gpointer) g_intern_string (key), GUINT_TO_POINTER (n + 1));
      for (guint i = 0; dependencies != NULL && i < dependencies->len; i++)
        g_ptr_array_add (finalized_edges, describe_edge (self, g_ptr_array_index (dependencies, i)));
    }
  pthread_mutex_unlock (&registry_lock);
}

typedef struct
{
  guint alive;
  guint finalized;
} ReportTally;

static ReportTally *
tally_for (GHashTable *tallies,
           const char *type_id)
{
  const char *key = report_label (type_id) != NULL ? type_id : "";
  ReportTally *tally = g_hash_table_lookup (tallies, key);

  if (tally == NULL)
    {
      tally = g_new0 (ReportTally, 1);
      g_hash_table_insert (tallies, (gpointer) key, tally);
    }
  return tally;
}

/**
 * rc_debug_tracks_live_handles:
 *
 * Whether the handles not yet released are tracked for
 * rc_debug_live_report(): the environment variable `RC_DEBUG` contains
 * `leaks`. Language bindings that count a resource with an #RcCounter and
 * make its #RcNativeHandle only when C code needs one make it at once while
 * this is %TRUE, so that the report lists every handle.
 *
 * Returns: %TRUE if live handles are tracked
 */
gboolean
rc_debug_tracks_live_handles (void)
{
  return (_rc_get_debug_flags () & RC_DEBUG_LEAKS) != 0;
}

/**
 * rc_debug_live_report:
 *
 * Tells which native resources were never released, and what keeps them
 * alive. It works when the environment variable `RC_DEBUG` contains `leaks`
 * from the start of the process: the library then keeps a registry of the
 * live handles (it costs nothing otherwise).
 *
 * The report counts, per type id, the handles that hold a native pointer not
 * yet released: those still alive, and those finalized while references to
 * them were outstanding (their resource is leaked). It then lists the
 * dependency edges (rc_native_handle_add_dependency()) among them, each as
 * `"OWNER_PTR" (RcDeletableNativeHandle 0x...) -> "DOG_PTR" (...)`:
 *
 * |[
 * refcount live handles: 2 not released
 *   type id "DOG_PTR": 1 not released (1 alive, 0 finalized with outstanding references)
 *   type id "OWNER_PTR": 1 not released (1 alive, 0 finalized with outstanding references)
 * dependencies keeping them alive:
 *   "OWNER_PTR" (RcDeletableNativeHandle 0x55d0c0a0) -> "DOG_PTR" (RcDeletableNativeHandle 0x55d0c100)
 * ]|
 *
 * A handle without a type id is counted under `type id (none)`. When every
 * handle was released the report is the single line
 * `refcount live handles: 0 not released`; without `RC_DEBUG=leaks` it is
 * `refcount live handles: not tracked (set RC_DEBUG=leaks)`. With
 * `RC_DEBUG=leaks`, the report is also printed on the standard error at
 * process exit when something was not released.
 *
 * In Python: `Refcount.debug_live_report()`, or
 * `refcount.debug.live_report()`.
 *
 * Returns: (transfer full): the report, lines ending with a newline
 */
char *
rc_debug_live_report (void)
{
  g_autoptr(GHashTable) tallies = NULL;
  g_autoptr(GPtrArray) edges = NULL;
  g_autoptr(GString) report = NULL;
  g_autofree gpointer *keys = NULL;
  GHashTableIter iter;
  gpointer key;
  gpointer value;
  guint total = 0;
  guint n_keys = 0;

  if ((_rc_get_debug_flags () & RC_DEBUG_LEAKS) == 0)
    return g_strdup ("refcount live handles: not tracked (set RC_DEBUG=leaks)\n");

  tallies = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  edges = g_ptr_array_new_with_free_func (g_free);

  pthread_mutex_lock (&registry_lock);
  if (registry != NULL)
    {
      g_hash_table_iter_init (&iter, registry);
      while (g_hash_table_iter_next (&iter, &key, NULL))
        {
          RcNativeHandle *handle = key;
          RcNativeHandlePrivate *priv = rc_native_handle_get_instance_private (handle);

          if (RC_STATE_PHASE (g_atomic_int_get (get_state (handle))) != RC_PHASE_OPEN)
            continue;
          tally_for (tallies, priv->type_id)->alive++;
          total++;

          pthread_mutex_lock (&deps_lock);
          for (guint i = 0; priv->dependencies != NULL && i < priv->dependencies->len; i++)
            g_ptr_array_add (edges, describe_edge (handle, g_ptr_array_index (priv->dependencies, i)));
          pthread_mutex_unlock (&deps_lock);
        }

      g_hash_table_iter_init (&iter, finalized_unreleased);
      while (g_hash_table_iter_next (&iter, &key, &value))
        {
          tally_for (tallies, key)->finalized += GPOINTER_TO_UINT (value);
          total += GPOINTER_TO_UINT (value);
        }
      for (guint i = 0; i < finalized_edges->len; i++)
        g_ptr_array_add (edges, g_strdup (g_ptr_array_index (finalized_edges, i)));
    }
  pthread_mutex_unlock (&registry_lock);

  report = g_string_new (NULL);
  g_string_append_printf (report, "refcount live handles: %u not released\n", total);

  keys = g_hash_table_get_keys_as_array (tallies, &n_keys);
  qsort (keys, n_keys, sizeof (gpointer), compare_labels);
  for (guint i = 0; i < n_keys; i++)
    {
      ReportTally *tally = g_hash_table_lookup (tallies, keys[i]);
      const char *label = keys[i];

      if (label[0] != '\0')
        g_string_append_printf (report, "  type id \"%s\"", label);
      else
        g_string_append (report, "  type id (none)");
      g_string_append_printf (report,
                              ": %u not released (%u alive, %u finalized with outstanding references)\n",
                              tally->alive + tally->finalized, tally->alive, tally->finalized);
    }

  if (edges->len > 0)
    {
      g_ptr_array_sort (edges, compare_labels);
      g_string_append (report, "dependencies keeping them alive:\n");
      for (guint i = 0; i < edges->len; i++)
        g_string_append_printf (report, "  %s\n", (const char *) g_ptr_array_index (edges, i));
    }

  return g_string_free (g_steal_pointer (&report), FALSE);
}
