/* _core.c: the handles of the refcount package (pyrefcount's API)
 *
 * SPDX-License-Identifier: MIT
 *
 * A handle is a small Python object. It counts with the C library's own
 * state word (an RcCounter, the counter of every RcNativeHandle) until C
 * code needs it; then it gets one GObject of the C library, which takes
 * over the count, the pointer, the dependencies and the library pins. So
 * Python, C and GI code share one contract (see RcCounter and
 * RcNativeHandle), and a handle that stays in Python costs no GObject.
 *
 * Life of a handle:
 *  - __init__ vets the handle object and sets the count to prior + 1, in
 *    the Python object (`lite`). A DeletableCffiNativeHandle whose release
 *    function is native (cffi, ctypes, an address) keeps its address and a
 *    pin on its library (RcLibraryPin). While the C library tracks live
 *    handles (RC_DEBUG=leaks), every handle gets its GObject at once.
 *  - release() and dispose() give back one counted reference; at zero the
 *    release runs, exactly once: the native release function, called
 *    without entering Python; nothing for an OwningCffiNativeHandle (its
 *    cffi object owns the memory); otherwise _release_handle().
 *  - When the Python object dies, its PEP 442 finalizer gives back the
 *    creating owner's reference with `self` intact, as pyrefcount's __del__
 *    calls release().
 *  - as_gobject(), or making the handle a dependency, gives it its GObject
 *    (materialize()): an RcDeletableNativeHandle for a native release
 *    function, an RcOwningNativeHandle, or a PyReleasedHandle (below), whose
 *    release_handle calls _release_handle(). The Python
 *    object then holds it through a toggle reference: while anyone else
 *    holds the GObject, the GObject keeps the Python object alive, so a
 *    release reached from C later still finds `self` and its attributes
 *    (and the cffi object that owns the memory).
 *
 * The lite state is changed with the GIL held: only this object reaches it.
 * Exceptions raised by _release_handle() during a release() called from
 * Python are raised again by that call; from anywhere else (the garbage
 * collector, C code) they go to sys.unraisablehook.
 */

#define G_LOG_DOMAIN "Refcount"
#include <Python.h>
#if PY_VERSION_HEX < 0x030C0000
#include <structmember.h>
#define Py_T_PYSSIZET T_PYSSIZET
#define Py_READONLY READONLY
#endif

#include <pygobject.h>
#include <refcount/refcount.h>

#include "rc-py-address.h"

/* ---------------------------------------------------------------------- */
/* PyReleasedHandle: an RcNativeHandle released by Python code            */

typedef struct
{
  RcNativeHandle parent_instance;
  /* The Python handle whose _release_handle() releases, borrowed: cleared
   * when it dies, or when _set_handle() replaces this GObject. Read and
   * written with the GIL held. */
  PyObject *owner;
} PyReleasedHandle;

typedef struct
{
  RcNativeHandleClass parent_class;
} PyReleasedHandleClass;

static GType py_released_handle_get_type (void);
G_DEFINE_TYPE (PyReleasedHandle, py_released_handle, RC_TYPE_NATIVE_HANDLE)

#define IS_PY_RELEASED(obj) G_TYPE_CHECK_INSTANCE_TYPE ((obj), py_released_handle_get_type ())

/* The pointer a Python-released handle shows C code when its handle object
 * has no address (ffi.NULL, a number CData, or any object a subclass's
 * _is_valid_handle() accepts): the C library counts only handles that have
 * a pointer. */
static char no_address_placeholder;

static GType py_released_gtype;

/* ---------------------------------------------------------------------- */
/* The Python objects                                                     */

typedef enum {
  KIND_COUNTER,
  KIND_HANDLE,
  KIND_CFFI,
  KIND_DELETABLE,
  KIND_OWNING,
} Kind;

typedef struct
{
  PyObject_HEAD
  /* NULL while the handle counts by itself (`lite`); once C code may hold
   * it, an RcNativeHandle: a plain reference, or the toggle reference once
   * escaped. */
  GObject *native;
  /* The handle object as given (pyrefcount returns that very object). */
  PyObject *handle;
  PyObject *type_id;
  /* DeletableCffiNativeHandle's release_native (None allowed). */
  PyObject *release_native;
  PyObject *dict;
  PyObject *weakrefs;
  /* The GObject may be held by C: toggle reference instead of a plain one. */
  unsigned int escaped : 1;
  /* Others hold the GObject: this object holds a reference to itself. */
  unsigned int kept_by_gobject : 1;
  /* A DeletableCffiNativeHandle given release_native=None. */
  unsigned int no_release : 1;
  /* No GObject: the state is `counter`, changed with the GIL held (nothing
   * but this object can reach it), and the release is this module's. */
  unsigned int lite : 1;
  /* lite: the creating owner's reference was given back (finalizer, exit). */
  unsigned int wrapper_released : 1;
  RcCounter counter;
} Handle;

/* A DeletableCffiNativeHandle: while lite, the native release function
 * (NULL for a Python callable, or with a class's own _release_handle) and
 * the pin that keeps its library loaded until the release has run. */
typedef struct
{
  Handle base;
  void *release_address;
  RcLibraryPin *pin;
} DeletableHandle;

#define AS_DELETABLE(self) ((DeletableHandle *) (self))

static PyTypeObject *counter_type;
static PyTypeObject *handle_type;
static PyTypeObject *cffi_type;
static PyTypeObject *deletable_type;
static PyTypeObject *owning_type;

/* Interned names, and the default methods they are compared with. */
static PyObject *str_release_handle, *str_is_valid_handle, *str_set_handle;
static PyObject *default_set_handle;
static PyObject *default_is_valid_handle_cffi;
static PyObject *default_release_deletable, *default_release_owning;
static PyObject *zero_long;

/* Set by the refcount package through _configure(), with the address
 * readers (rc-py-address.h): Python functions with the signatures of
 * pyrefcount's __init__s, called only when the arguments do not parse, for
 * Python's own messages. */
static PyObject *python_signatures[3];

/* On an escaped GObject: its Python handle (borrowed). */
static GQuark python_handle_quark;

static __thread int python_release_depth;
static __thread PyObject *python_release_error;

static int
python_is_running (void)
{
  return Py_IsInitialized ();
}

/* ---------------------------------------------------------------------- */
/* Releases that run Python code                                          */

/* The pending exception (normalized, with its traceback), taken; NULL if
 * none. And back. (PyErr_Fetch() is deprecated from Python 3.12.) */
static PyObject *
take_exception (void)
{
#if PY_VERSION_HEX >= 0x030C0000
  return PyErr_GetRaisedException ();
#else
  PyObject *type, *value, *traceback;

  PyErr_Fetch (&type, &value, &traceback);
  if (type == NULL)
    return NULL;
  PyErr_NormalizeException (&type, &value, &traceback);
  if (traceback != NULL && value != NULL)
    PyException_SetTraceback (value, traceback);
  Py_XDECREF (type);
  Py_XDECREF (traceback);
  return value;
#endif
}

static void
give_back_exception (PyObject *value)
{
  if (value == NULL)
    return;
#if PY_VERSION_HEX >= 0x030C0000
  PyErr_SetRaisedException (value);
#else
  PyErr_Restore (Py_NewRef ((PyObject *) Py_TYPE (value)), value, PyException_GetTraceback (value));
#endif
}

/* Hands an exception raised by release code to the release() call from
 * Python that led to it, or reports it. */
static void
report_release_error (PyObject *owner)
{
  if (python_release_depth > 0 && python_release_error == NULL)
    {
      python_release_error = take_exception ();
      return;
    }
  /* Not the handle itself: a hook that keeps what it is given would keep
   * the handle, finalized, alive. */
  {
    PyObject *where = PyUnicode_FromFormat ("the release of a native handle (%s)", Py_TYPE (owner)->tp_name);

    PyErr_WriteUnraisable (where);
    Py_XDECREF (where);
  }
}

/* Calls owner._release_handle(), with the GIL: whether it released. Its
 * handle object is let go of once released, as pyrefcount does. */
static gboolean
call_release_handle (PyObject *owner)
{
  PyObject *result;
  PyObject *saved;
  gboolean released = FALSE;

  saved = take_exception ();
  Py_INCREF (owner);
  result = PyObject_CallMethodNoArgs (owner, str_release_handle);
  if (result != NULL)
    {
      int truth = PyObject_IsTrue (result);

      Py_DECREF (result);
      if (truth < 0)
        report_release_error (owner);
      released = truth > 0;
    }
  else
    {
      report_release_error (owner);
    }
  if (released)
    Py_CLEAR (((Handle *) owner)->handle);
  Py_DECREF (owner);
  give_back_exception (saved);
  return released;
}

static gboolean
py_released_handle_release_handle (RcNativeHandle *native)
{
  PyReleasedHandle *self = (PyReleasedHandle *) native;
  PyGILState_STATE gil = PyGILState_UNLOCKED;
  int ensured;
  gboolean released;

  if (!python_is_running ())
    return FALSE;  /* after interpreter exit no Python code can run */

  /* Mostly reached from Python code (release(), the finalizer), which
   * holds the GIL already. */
  ensured = !PyGILState_Check ();
  if (ensured)
    gil = PyGILState_Ensure ();
  /* NULL: replaced by _set_handle(), forgotten as pyrefcount forgets it. */
  released = self->owner == NULL || call_release_handle (self->owner);
  if (ensured)
    PyGILState_Release (gil);
  return released;
}

static gboolean
py_released_handle_is_valid_handle (RcNativeHandle *native,
                                    gpointer        pointer)
{
  return pointer != NULL;  /* the Python side decided */
}

static void
py_released_handle_class_init (PyReleasedHandleClass *klass)
{
  RC_NATIVE_HANDLE_CLASS (klass)->release_handle = py_released_handle_release_handle;
  RC_NATIVE_HANDLE_CLASS (klass)->is_valid_handle = py_released_handle_is_valid_handle;
}

static void
py_released_handle_init (PyReleasedHandle *self)
{
}

/* ---------------------------------------------------------------------- */
/* The GObject and its ties to the Python object                          */

static RcNativeHandle *
native_handle_of (Handle *self)
{
  if (self->native == NULL || !RC_IS_NATIVE_HANDLE (self->native))
    return NULL;
  return RC_NATIVE_HANDLE (self->native);
}

/* While others hold the GObject, it keeps the Python object alive. */
static void
toggle_notify (gpointer data,
               GObject *object,
               gboolean is_last)
{
  Handle *self = data;
  PyGILState_STATE gil;

  if (!python_is_running ())
    return;
  gil = PyGILState_Ensure ();
  if (is_last && self->kept_by_gobject)
    {
      self->kept_by_gobject = 0;
      Py_DECREF (self);  /* may be the last reference */
    }
  else if (!is_last && !self->kept_by_gobject)
    {
      self->kept_by_gobject = 1;
      Py_INCREF (self);
    }
  PyGILState_Release (gil);
}

/* Called before the GObject can reach C code. */
static void
escape (Handle *self)
{
  if (self->escaped || self->native == NULL)
    return;
  self->escaped = 1;
  g_object_set_qdata (self->native, python_handle_quark, self);
  g_object_add_toggle_ref (self->native, toggle_notify, self);
  g_object_unref (self->native);
}

/* Drops the GObject: when the Python object dies, or when _set_handle()
 * replaces it. A replaced handle is forgotten, as pyrefcount forgets it:
 * one more counted reference that nobody gives back, so that its release
 * never runs (the same handle may well be set again). */
static void
drop_native (Handle *self,
             int     forget)
{
  GObject *native = self->native;

  if (native == NULL)
    return;
  self->native = NULL;
  if (forget && RC_IS_NATIVE_HANDLE (native) && !rc_native_handle_is_disposed (RC_NATIVE_HANDLE (native)))
    rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (native));
  if (IS_PY_RELEASED (native))
    ((PyReleasedHandle *) native)->owner = NULL;
  if (self->escaped)
    {
      self->escaped = 0;
      g_object_set_qdata (native, python_handle_quark, NULL);
      if (self->kept_by_gobject)
        {
          /* Replaced while others hold the old GObject (released: see
           * set_handle()): it no longer keeps this object, which the
           * caller holds. */
          self->kept_by_gobject = 0;
          Py_DECREF (self);
        }
      g_object_remove_toggle_ref (native, toggle_notify, self);
    }
  else
    {
      g_object_unref (native);
    }
}

/* ---------------------------------------------------------------------- */
/* Construction                                                           */

static int
check_counting_arguments (PyObject *prior_obj,
                          PyObject *type_id,
                          int      *prior)
{
  long value;

  if (!PyLong_Check (prior_obj) || PyBool_Check (prior_obj))
    {
      PyErr_SetString (PyExc_TypeError, "prior_ref_count must be an int");
      return -1;
    }
  value = PyLong_AsLong (prior_obj);
  if (value == -1 && PyErr_Occurred ())
    return -1;
  if (value < 0)
    {
      PyErr_SetString (PyExc_ValueError, "prior_ref_count must be >= 0");
      return -1;
    }
  if (value > G_MAXINT / 8)
    {
      PyErr_SetString (PyExc_ValueError, "prior_ref_count is too large");
      return -1;
    }
  if (type_id != NULL && type_id != Py_None && !PyUnicode_Check (type_id))
    {
      PyErr_SetString (PyExc_TypeError, "type_id must be a str or None");
      return -1;
    }
  *prior = (int) value;
  return 0;
}

/* Whether the class of self uses the default `name` method. */
static int
uses_default (Handle     *self,
              PyObject   *name,
              PyObject   *default_method)
{
  PyObject *method = PyObject_GetAttr ((PyObject *) Py_TYPE (self), name);
  int same = method == default_method;

  Py_XDECREF (method);
  if (method == NULL)
    PyErr_Clear ();
  return same;
}

static const char *
type_id_string (Handle *self)
{
  return self->type_id != NULL && self->type_id != Py_None
    ? PyUnicode_AsUTF8 (self->type_id) : NULL;
}

/* The type id, or "(none)", for messages. */
static const char *
type_id_or_none (Handle *self)
{
  const char *type_id = type_id_string (self);

  return type_id != NULL ? type_id : "(none)";
}

static Kind
kind_of (Handle *self)
{
  PyTypeObject *type = Py_TYPE (self);

  if (PyType_IsSubtype (type, deletable_type))
    return KIND_DELETABLE;
  if (PyType_IsSubtype (type, owning_type))
    return KIND_OWNING;
  if (PyType_IsSubtype (type, cffi_type))
    return KIND_CFFI;
  return KIND_HANDLE;
}

/* What a class keeps of pyrefcount's defaults, and its kind: read once per
 * class (and again when the class changes: its version tag changes). */
enum {
  DEFAULT_SET_HANDLE = 1 << 0,
  DEFAULT_IS_VALID = 1 << 1,
  DEFAULT_RELEASE_DELETABLE = 1 << 2,
  DEFAULT_RELEASE_OWNING = 1 << 3,
  KIND_SHIFT = 4,
};

typedef struct
{
  PyTypeObject *type;
  unsigned int version;
  unsigned int flags;
} ClassFlags;

#define N_CLASS_FLAGS 32
static ClassFlags class_flags[N_CLASS_FLAGS];

static unsigned int
flags_of (Handle *self)
{
  PyTypeObject *type = Py_TYPE (self);
  ClassFlags *slot = &class_flags[((uintptr_t) type >> 5) % N_CLASS_FLAGS];
  unsigned int flags;

  if (slot->type == type && type->tp_version_tag != 0 && slot->version == type->tp_version_tag)
    return slot->flags;

  flags = (unsigned int) kind_of (self) << KIND_SHIFT;
  if (uses_default (self, str_set_handle, default_set_handle))
    flags |= DEFAULT_SET_HANDLE;
  if (uses_default (self, str_is_valid_handle, default_is_valid_handle_cffi))
    flags |= DEFAULT_IS_VALID;
  if (uses_default (self, str_release_handle, default_release_deletable))
    flags |= DEFAULT_RELEASE_DELETABLE;
  if (uses_default (self, str_release_handle, default_release_owning))
    flags |= DEFAULT_RELEASE_OWNING;
  /* (Looking the methods up gave the class a version tag.) */
  slot->type = type;
  slot->version = type->tp_version_tag;
  slot->flags = flags;
  return flags;
}

/* A new GObject for a pointer (NULL: none yet), of the kind the class and
 * its release call for, with its count and type id; NULL with an
 * exception. */
static GObject *
new_native (Handle *self,
            Kind    kind,
            void   *pointer,
            int     prior,
            int     force_python)
{
  GObject *native;
  void *release_address = NULL;
  const char *type_id = type_id_string (self);

  if (PyErr_Occurred ())
    return NULL;

  if (kind == KIND_DELETABLE && !self->no_release && !force_python &&
      (flags_of (self) & DEFAULT_RELEASE_DELETABLE) != 0)
    {
      if (release_address_of (self->release_native, &release_address) < 0)
        return NULL;
    }

  if (release_address != NULL)
    native = G_OBJECT (rc_deletable_native_handle_new_native (NULL, release_address, NULL));
  else if (kind == KIND_OWNING && !force_python && (flags_of (self) & DEFAULT_RELEASE_OWNING) != 0)
    native = g_object_new (RC_TYPE_OWNING_NATIVE_HANDLE, NULL);
  else
    {
      native = g_object_new (py_released_handle_get_type (), NULL);
      ((PyReleasedHandle *) native)->owner = (PyObject *) self;
    }

  if (!rc_native_handle_construct (RC_NATIVE_HANDLE (native), pointer, type_id, prior))
    {
      g_object_unref (native);
      PyErr_SetString (PyExc_RuntimeError, "the native handle could not be constructed");
      return NULL;
    }
  return native;
}

/* ---------------------------------------------------------------------- */
/* Handles that count by themselves                                       */

/* The C library tracks live handles for its report (RC_DEBUG=leaks): then
 * every handle gets its GObject at once, to be listed. */
static int tracking_live_handles;

/* A DeletableCffiNativeHandle's release function, read once per
 * __init__: its address when it is native (cffi, ctypes or an int) and
 * pyrefcount's _release_handle is used, and a pin on its library. */
static int
deletable_take_release (Handle *self)
{
  DeletableHandle *deletable = AS_DELETABLE (self);
  void *address = NULL;

  if (!self->no_release && (flags_of (self) & DEFAULT_RELEASE_DELETABLE) != 0 &&
      release_address_of (self->release_native, &address) < 0)
    return -1;
  g_clear_pointer (&deletable->pin, rc_library_pin_release);
  deletable->release_address = address;
  deletable->pin = rc_library_pin_acquire (address);
  return 0;
}

/* The native release of a lite DeletableCffiNativeHandle, without
 * entering Python: FALSE if it has none, or its handle has no address
 * (then release_native(handle) is called from Python, as pyrefcount
 * does). */
static gboolean
deletable_release_natively (Handle *self)
{
  void (*release) (void *) = (void (*) (void *)) AS_DELETABLE (self)->release_address;
  void *pointer = NULL;

  if (release == NULL || self->handle == NULL)
    return FALSE;
  if (address_of (self->handle, &pointer) < 0)
    {
      PyErr_Clear ();
      return FALSE;
    }
  if (pointer == NULL)
    return FALSE;
  release (pointer);
  Py_CLEAR (self->handle);
  return TRUE;
}

/* A count of prior + 1, with a handle object (open) or not yet. A handle
 * set again starts afresh: the first is forgotten, as in pyrefcount. */
static void
lite_init (Handle *self,
           int     prior,
           int     open)
{
  drop_native (self, TRUE);
  rc_counter_init (&self->counter, prior, open);
  self->lite = 1;
  self->wrapper_released = 0;
}

/* The count reached zero (the counter is RELEASING): _release_handle(), or
 * nothing to call for an OwningCffiNativeHandle with pyrefcount's. */
static void
lite_run_release (Handle *self)
{
  unsigned int flags = flags_of (self);
  Kind kind = (Kind) (flags >> KIND_SHIFT);
  gboolean released = TRUE;

  if (kind == KIND_OWNING && (flags & DEFAULT_RELEASE_OWNING) != 0)
    Py_CLEAR (self->handle);
  else if (kind != KIND_DELETABLE || !deletable_release_natively (self))
    released = call_release_handle ((PyObject *) self);
  rc_counter_finish_release (&self->counter, released);
  if (released && kind == KIND_DELETABLE)
    g_clear_pointer (&AS_DELETABLE (self)->pin, rc_library_pin_release);
  if (!released)
    g_warning ("Failed to release native handle of type id \"%s\" (%s %p): "
               "it is kept, and a later release may retry",
               type_id_or_none (self), Py_TYPE (self)->tp_name, (void *) self);
}

static void
lite_release (Handle *self)
{
  if (rc_counter_release (&self->counter))
    lite_run_release (self);
}

/* The creating owner's reference, given back once (the finalizer, exit). */
static int
lite_drop_wrapper_reference (Handle *self)
{
  if (self->wrapper_released)
    return 0;
  self->wrapper_released = 1;
  lite_release (self);
  return 1;
}

/* C code needs the handle: the GObject, with the same count, phase and
 * pointer, takes over the state (the counter is not used again). */
static int
materialize (Handle *self)
{
  RcCounter *counter = &self->counter;
  PyObject *handle;
  void *address = NULL;
  void *pointer = NULL;
  int force_python = 0;
  int count, prior;
  Kind kind;
  GObject *native;

again:
  if (!self->lite)
    return 0;
  /* First what may run Python code, and so let another thread in. */
  kind = (Kind) (flags_of (self) >> KIND_SHIFT);
  handle = self->handle;
  Py_XINCREF (handle);
  if (handle != NULL && address_or_null (handle, &address) < 0)
    {
      Py_DECREF (handle);
      return -1;
    }
  Py_XDECREF (handle);
  if (!self->lite || handle != self->handle)
    goto again;  /* (changed meanwhile) */

  count = rc_counter_get_count (counter);
  if (!rc_counter_is_open (counter) && !rc_counter_is_disposed (counter))
    {
      PyErr_SetString (PyExc_RuntimeError, "This handle is being released: it cannot be handed to C code");
      return -1;
    }
  if (rc_counter_is_open (counter) && count == 0 && self->wrapper_released)
    {
      PyErr_SetString (PyExc_RuntimeError,
                       "This handle's release failed and nobody holds it: it cannot be handed to C code");
      return -1;
    }

  if (rc_counter_is_open (counter) && address != NULL)
    pointer = address;
  else if (!rc_counter_is_disposed (counter) || rc_counter_is_released (counter))
    {
      /* Open without an address, or released already (a released GObject,
       * whose release, with no owner, calls nothing). */
      force_python = 1;
      pointer = &no_address_placeholder;
    }

  /* The creating owner's reference is the GObject's own "wrapper
   * reference": when it was given back already, the GObject's is given
   * back at once (one more first, if the count is to stay). */
  if (rc_counter_is_released (counter))
    prior = 0;
  else if (self->wrapper_released && pointer != NULL)
    prior = count;
  else
    prior = MAX (count - 1, 0);
  native = new_native (self, kind, pointer, prior, force_python);
  if (native == NULL)
    return -1;
  if (rc_counter_is_released (counter))
    ((PyReleasedHandle *) native)->owner = NULL;
  if (rc_counter_is_released (counter) || self->wrapper_released)
    (void) rc_native_handle_drop_wrapper_reference (RC_NATIVE_HANDLE (native));
  else if (count == 0)
    rc_reference_counter_decrement_ref (RC_REFERENCE_COUNTER (native));
  self->native = native;
  self->lite = 0;
  if (kind == KIND_DELETABLE)  /* (an RcDeletableNativeHandle has its own) */
    g_clear_pointer (&AS_DELETABLE (self)->pin, rc_library_pin_release);
  return 0;
}

/* A handle without a handle object yet, counting prior + 1. */
static int
init_unset (Handle *self,
            int     prior)
{
  lite_init (self, prior, FALSE);
  return tracking_live_handles ? materialize (self) : 0;
}

/* pyrefcount's _set_handle(): vets the handle, then holds it with a count
 * of prior + 1. A handle set again replaces the first one, which is
 * forgotten (not released), as in pyrefcount. */
static int
set_handle (Handle   *self,
            PyObject *handle,
            int       prior)
{
  unsigned int flags = flags_of (self);
  Kind kind = (Kind) (flags >> KIND_SHIFT);
  RcNativeHandle *native = native_handle_of (self);
  int valid;

  if (kind != KIND_HANDLE && (flags & DEFAULT_IS_VALID) != 0)
    valid = is_cdata (handle);
  else
    {
      PyObject *result = PyObject_CallMethodOneArg ((PyObject *) self, str_is_valid_handle, handle);

      if (result == NULL)
        return -1;
      valid = PyObject_IsTrue (result);
      Py_DECREF (result);
      if (valid < 0)
        return -1;
    }
  if (!valid)
    {
      PyErr_SetString (PyExc_RuntimeError, "The specified handle argument is not a valid handle");
      return -1;
    }

  if (native != NULL && self->escaped && !rc_native_handle_is_disposed (native))
    {
      PyErr_SetString (PyExc_RuntimeError,
                       "This handle is held by C code (as_gobject() or a dependency): "
                       "it cannot be given another handle");
      return -1;
    }

  /* A native release reads the handle's address without entering Python:
   * cffi is asked about a new ctype here, once, rather than then. */
  if (kind == KIND_DELETABLE && AS_DELETABLE (self)->release_address != NULL)
    {
      void *ignored;

      if (address_of (handle, &ignored) < 0)
        PyErr_Clear ();
    }

  lite_init (self, prior, TRUE);
  Py_INCREF (handle);
  Py_XSETREF (self->handle, handle);
  return tracking_live_handles ? materialize (self) : 0;
}

/* The __init__ of every handle class: the arguments differ, the steps do
 * not. */
static int
init_handle (Handle   *self,
             Kind      kind,
             PyObject *handle,
             PyObject *release_native,
             PyObject *type_id,
             PyObject *prior_obj)
{
  int prior;

  if (check_counting_arguments (prior_obj, type_id, &prior) < 0)
    return -1;

  Py_XINCREF (type_id);
  Py_XSETREF (self->type_id, type_id);
  if (kind == KIND_DELETABLE)
    {
      Py_INCREF (release_native);
      Py_XSETREF (self->release_native, release_native);
      self->no_release = release_native == Py_None;
      if (deletable_take_release (self) < 0)
        return -1;
    }

  /* With pyrefcount's _set_handle(), in one step. */
  if (handle != Py_None && self->native == NULL &&
      (flags_of (self) & DEFAULT_SET_HANDLE) != 0)
    return set_handle (self, handle, prior);

  /* Otherwise first without a handle: its count is prior + 1 as in
   * pyrefcount, until a handle is set. */
  if (init_unset (self, prior) < 0)
    return -1;
  if (handle == Py_None)
    return 0;
  if ((flags_of (self) & DEFAULT_SET_HANDLE) != 0)
    return set_handle (self, handle, prior);
  else
    {
      PyObject *prior_long = PyLong_FromLong (prior);
      PyObject *result;

      if (prior_long == NULL)
        return -1;
      result = PyObject_CallMethodObjArgs ((PyObject *) self, str_set_handle, handle, prior_long, NULL);
      Py_DECREF (prior_long);
      if (result == NULL)
        return -1;
      Py_DECREF (result);
      return 0;
    }
}

/* Arguments that do not parse: the error Python gives for the same
 * signature (pyrefcount's __init__ is a Python function). */
static int
argument_error (int       which,
                Handle   *self,
                PyObject *args,
                PyObject *kwargs)
{
  PyObject *full_args, *result;

  if (python_signatures[which] == NULL)
    return -1;
  PyErr_Clear ();
  full_args = PyTuple_New (PyTuple_GET_SIZE (args) + 1);
  if (full_args == NULL)
    return -1;
  Py_INCREF (self);
  PyTuple_SET_ITEM (full_args, 0, (PyObject *) self);
  for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE (args); i++)
    {
      Py_INCREF (PyTuple_GET_ITEM (args, i));
      PyTuple_SET_ITEM (full_args, i + 1, PyTuple_GET_ITEM (args, i));
    }
  result = PyObject_Call (python_signatures[which], full_args, kwargs);
  Py_DECREF (full_args);
  if (result != NULL)
    {
      /* It took them after all: say what the C parser said. */
      Py_DECREF (result);
      PyErr_SetString (PyExc_TypeError, "invalid arguments");
    }
  return -1;
}

static int
counter_init (Handle   *self,
              PyObject *args,
              PyObject *kwargs)
{
  static char *keywords[] = { (char *) "prior_ref_count", NULL };
  PyObject *prior_obj = NULL;
  PyObject *zero = NULL;
  int prior;

  if (!PyArg_ParseTupleAndKeywords (args, kwargs, "|O:ReferenceCounter", keywords, &prior_obj))
    return -1;
  if (prior_obj == NULL)
    prior_obj = zero = PyLong_FromLong (0);
  if (prior_obj == NULL || check_counting_arguments (prior_obj, NULL, &prior) < 0)
    {
      Py_XDECREF (zero);
      return -1;
    }
  Py_XDECREF (zero);
  /* A counter alone never needs a GObject. */
  lite_init (self, prior, TRUE);
  return 0;
}

static int
native_handle_init (Handle   *self,
                    PyObject *args,
                    PyObject *kwargs)
{
  static char *keywords[] = { (char *) "handle", (char *) "prior_ref_count", NULL };
  PyObject *handle = Py_None, *prior = zero_long;

  if (!PyArg_ParseTupleAndKeywords (args, kwargs, "|OO:NativeHandle", keywords, &handle, &prior))
    return argument_error (0, self, args, kwargs);
  return init_handle (self, KIND_HANDLE, handle, NULL, NULL, prior);
}

static int
cffi_init (Handle   *self,
           PyObject *args,
           PyObject *kwargs)
{
  static char *keywords[] = { (char *) "handle", (char *) "type_id", (char *) "prior_ref_count", NULL };
  PyObject *handle, *type_id = Py_None, *prior = zero_long;
  Kind kind = PyObject_TypeCheck (self, owning_type) ? KIND_OWNING : KIND_CFFI;

  if (!PyArg_ParseTupleAndKeywords (args, kwargs, "O|OO:__init__", keywords, &handle, &type_id, &prior))
    return argument_error (1, self, args, kwargs);
  return init_handle (self, kind, handle, NULL, type_id, prior);
}

static int
deletable_init (Handle   *self,
                PyObject *args,
                PyObject *kwargs)
{
  static char *keywords[] = { (char *) "handle", (char *) "release_native", (char *) "type_id", (char *) "prior_ref_count", NULL };
  PyObject *handle, *release, *type_id = Py_None, *prior = zero_long;

  if (!PyArg_ParseTupleAndKeywords (args, kwargs, "OO|OO:__init__", keywords,
                                    &handle, &release, &type_id, &prior))
    return argument_error (2, self, args, kwargs);
  return init_handle (self, KIND_DELETABLE, handle, release, type_id, prior);
}

/* ---------------------------------------------------------------------- */
/* Death                                                                  */

static void
handle_finalize (Handle *self)
{
  RcNativeHandle *native = native_handle_of (self);
  PyObject *saved;

  if (native == NULL && !self->lite)
    return;
  saved = take_exception ();
  /* pyrefcount's __del__: release() once, unless disposed. */
  if (self->lite)
    (void) lite_drop_wrapper_reference (self);
  else
    (void) rc_native_handle_drop_wrapper_reference (native);
  give_back_exception (saved);
}

static int
handle_traverse (Handle   *self,
                 visitproc visit,
                 void     *arg)
{
  Py_VISIT (Py_TYPE (self));
  Py_VISIT (self->handle);
  Py_VISIT (self->type_id);
  Py_VISIT (self->release_native);
  Py_VISIT (self->dict);
  return 0;
}

/* Only on cyclic garbage, after the finalizer (and so the release) ran. */
static int
handle_clear (Handle *self)
{
  Py_CLEAR (self->handle);
  Py_CLEAR (self->type_id);
  Py_CLEAR (self->release_native);
  Py_CLEAR (self->dict);
  return 0;
}

static void
handle_dealloc (Handle *self)
{
  PyTypeObject *type = Py_TYPE (self);

  if (PyObject_CallFinalizerFromDealloc ((PyObject *) self) < 0)
    return;  /* resurrected */
  PyObject_GC_UnTrack (self);
  if (self->weakrefs != NULL)
    PyObject_ClearWeakRefs ((PyObject *) self);
  drop_native (self, FALSE);
  if (PyType_IsSubtype (type, deletable_type))
    g_clear_pointer (&AS_DELETABLE (self)->pin, rc_library_pin_release);
  Py_CLEAR (self->handle);
  Py_CLEAR (self->type_id);
  Py_CLEAR (self->release_native);
  Py_CLEAR (self->dict);
  type->tp_free (self);
  Py_DECREF (type);
}

/* ---------------------------------------------------------------------- */
/* Methods and properties                                                 */

static RcNativeHandle *
require_handle (Handle *self)
{
  RcNativeHandle *native = native_handle_of (self);

  if (native == NULL)
    PyErr_SetString (PyExc_RuntimeError, "this handle was not initialized (its __init__ did not run)");
  return native;
}

static PyObject *
handle_get_reference_count (Handle *self,
                            void   *closure)
{
  if (self->lite)
    return PyLong_FromLong (rc_counter_get_count (&self->counter));
  if (self->native == NULL)
    return PyLong_FromLong (0);
  return PyLong_FromLong (rc_reference_counter_get_reference_count (RC_REFERENCE_COUNTER (self->native)));
}

static PyObject *
handle_add_ref (Handle   *self,
                PyObject *unused)
{
  if (self->lite)
    (void) rc_counter_add_ref (&self->counter);
  else if (self->native == NULL)
    return PyErr_Format (PyExc_RuntimeError, "this counter was not initialized (its __init__ did not run)");
  else
    rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (self->native));
  Py_RETURN_NONE;
}

static PyObject *
handle_decrement_ref (Handle   *self,
                      PyObject *unused)
{
  if (self->lite)
    (void) rc_counter_decrement_ref (&self->counter);
  else if (self->native == NULL)
    return PyErr_Format (PyExc_RuntimeError, "this counter was not initialized (its __init__ did not run)");
  else
    rc_reference_counter_decrement_ref (RC_REFERENCE_COUNTER (self->native));
  Py_RETURN_NONE;
}

static int
is_disposed (Handle *self)
{
  RcNativeHandle *native = native_handle_of (self);

  if (self->lite)
    return rc_counter_is_disposed (&self->counter);
  return native == NULL || rc_native_handle_is_disposed (native);
}

static PyObject *
handle_get_handle (Handle   *self,
                   PyObject *unused)
{
  /* A Python-released handle lets go of its handle object when released
   * (a lite one always does): no need to ask the C library. */
  if (self->lite && self->handle != NULL)
    {
      Py_INCREF (self->handle);
      return self->handle;
    }
  if (self->handle == NULL || self->native == NULL ||
      (G_OBJECT_TYPE (self->native) != py_released_gtype && is_disposed (self)))
    Py_RETURN_NONE;
  Py_INCREF (self->handle);
  return self->handle;
}

static PyObject *
handle_get_handle_property (Handle *self,
                            void   *closure)
{
  return handle_get_handle (self, NULL);
}

static PyObject *
handle_get_address (Handle *self,
                    void   *closure)
{
  RcNativeHandle *native = native_handle_of (self);
  void *pointer = native != NULL ? rc_native_handle_get_handle (native) : NULL;

  if (self->lite && self->handle != NULL && !rc_counter_is_disposed (&self->counter) &&
      address_or_null (self->handle, &pointer) < 0)
    return NULL;
  if (pointer == NULL || pointer == (void *) &no_address_placeholder)
    Py_RETURN_NONE;
  return PyLong_FromVoidPtr (pointer);
}

/* acquire(): +1 and the handle object, in one atomic step, or GLib.Error
 * (Refcount.Error.DISPOSED); give it back with release(). */
static PyObject *
handle_acquire (Handle   *self,
                PyObject *unused)
{
  RcNativeHandle *native;
  GError *error = NULL;

  if (self->lite)
    {
      gboolean open;

      if (rc_counter_add_ref (&self->counter))
        return handle_get_handle (self, NULL);
      /* As rc_native_handle_acquire() words it. */
      open = rc_counter_is_open (&self->counter);
      g_set_error (&error, RC_ERROR, open ? RC_ERROR_FAILED : RC_ERROR_DISPOSED,
                   open ? "Reference count of the handle of type id \"%s\" would overflow"
                        : "The native handle of type id \"%s\" is disposed",
                   type_id_or_none (self));
      pyg_error_check (&error);
      return NULL;
    }
  native = require_handle (self);
  if (native == NULL)
    return NULL;
  if (rc_native_handle_acquire (native, &error) == NULL && error != NULL)
    {
      pyg_error_check (&error);
      return NULL;
    }
  return handle_get_handle (self, NULL);
}

static PyObject *
handle_get_obj (Handle *self,
                void   *closure)
{
  PyObject *ptr = handle_get_handle (self, NULL);
  PyObject *item;

  item = PyObject_GetItem (ptr, zero_long);
  Py_DECREF (ptr);
  return item;
}

static PyObject *
handle_get_disposed (Handle *self,
                     void   *closure)
{
  return PyBool_FromLong (is_disposed (self));
}

static PyObject *
handle_get_type_id (Handle *self,
                    void   *closure)
{
  PyObject *type_id = self->type_id != NULL ? self->type_id : Py_None;

  Py_INCREF (type_id);
  return type_id;
}

/* release() and dispose(): one counted reference back; an exception raised
 * by the release code it runs is raised here. */
static PyObject *
handle_release (Handle   *self,
                PyObject *unused)
{
  RcNativeHandle *native = NULL;
  PyObject *error;

  if (!self->lite && (native = require_handle (self)) == NULL)
    return NULL;
  if (self->no_release)
    {
      /* pyrefcount: with release_native=None nothing is released, and the
       * handle is not cleared. */
      if (self->lite)
        {
          if (!rc_counter_is_disposed (&self->counter))
            (void) rc_counter_decrement_ref (&self->counter);
        }
      else if (!rc_native_handle_is_disposed (native))
        rc_reference_counter_decrement_ref (RC_REFERENCE_COUNTER (native));
      Py_RETURN_NONE;
    }

  python_release_depth++;
  if (self->lite)
    lite_release (self);
  else
    rc_native_handle_release (native);
  python_release_depth--;

  if (python_release_depth == 0 && python_release_error != NULL)
    {
      error = python_release_error;
      python_release_error = NULL;
      give_back_exception (error);
      return NULL;
    }
  Py_RETURN_NONE;
}

static PyObject *
handle_set_handle_method (Handle    *self,
                          PyObject  *args,
                          PyObject  *kwargs)
{
  static char *keywords[] = { (char *) "handle", (char *) "prior_ref_count", NULL };
  PyObject *handle, *prior_obj = zero_long;
  int prior;

  if (!PyArg_ParseTupleAndKeywords (args, kwargs, "O|O:_set_handle", keywords, &handle, &prior_obj))
    return NULL;
  if (check_counting_arguments (prior_obj, NULL, &prior) < 0)
    return NULL;
  if (self->native == NULL && !self->lite && init_unset (self, prior) < 0)
    return NULL;
  if (set_handle (self, handle, prior) < 0)
    return NULL;
  Py_RETURN_NONE;
}

static PyObject *
handle_not_implemented (Handle   *self,
                        PyObject *args)
{
  PyErr_SetNone (PyExc_NotImplementedError);
  return NULL;
}

static PyObject *
cffi_is_valid_handle (Handle   *self,
                      PyObject *handle)
{
  return PyBool_FromLong (is_cdata (handle));
}

static PyObject *
deletable_release_handle (Handle   *self,
                          PyObject *unused)
{
  PyObject *handle = self->handle;

  if (self->release_native != NULL && self->release_native != Py_None)
    {
      PyObject *result = PyObject_CallOneArg (self->release_native, handle != NULL ? handle : Py_None);

      if (result == NULL)
        return NULL;
      Py_DECREF (result);
    }
  Py_RETURN_TRUE;
}

static PyObject *
owning_release_handle (Handle   *self,
                       PyObject *unused)
{
  Py_RETURN_TRUE;
}

/* The GObject of a handle of this package, or of a GI Refcount handle. */
static RcNativeHandle *
gobject_handle_of (PyObject *obj)
{
  if (PyObject_TypeCheck (obj, handle_type))
    {
      RcNativeHandle *native;

      if (materialize ((Handle *) obj) < 0)
        return NULL;
      native = native_handle_of ((Handle *) obj);

      if (native != NULL)
        escape ((Handle *) obj);
      return native;
    }
  if (PyObject_TypeCheck (obj, &PyGObject_Type) && pygobject_get (obj) != NULL &&
      RC_IS_NATIVE_HANDLE (pygobject_get (obj)))
    return RC_NATIVE_HANDLE (pygobject_get (obj));
  return NULL;
}

static PyObject *
handle_add_dependency (Handle   *self,
                       PyObject *dependency)
{
  RcNativeHandle *native;
  RcNativeHandle *other;
  GError *error = NULL;

  if (materialize (self) < 0 || (native = require_handle (self)) == NULL)
    return NULL;
  other = gobject_handle_of (dependency);
  if (other == NULL && PyErr_Occurred ())
    return NULL;
  if (other == NULL)
    return PyErr_Format (PyExc_TypeError,
                         "A dependency must be a handle of the refcount package or a "
                         "Refcount.NativeHandle; got '%s'", Py_TYPE (dependency)->tp_name);
  if (!rc_native_handle_add_dependency (native, other, &error))
    {
      pyg_error_check (&error);
      return NULL;
    }
  Py_RETURN_NONE;
}

/* The Python object for a GObject handle: its handle of this package, or a
 * PyGObject wrapper. */
static PyObject *
python_object_for (GObject *object)
{
  PyObject *handle = g_object_get_qdata (object, python_handle_quark);

  if (handle != NULL)
    {
      Py_INCREF (handle);
      return handle;
    }
  return pygobject_new (object);
}

static PyObject *
handle_get_dependencies (Handle   *self,
                         PyObject *unused)
{
  RcNativeHandle *native;
  GPtrArray *dependencies;
  PyObject *list;

  if (self->lite)
    return PyList_New (0);  /* dependencies are added to its GObject */
  native = require_handle (self);
  if (native == NULL)
    return NULL;
  dependencies = rc_native_handle_get_dependencies (native);
  list = PyList_New (dependencies->len);
  for (guint i = 0; list != NULL && i < dependencies->len; i++)
    {
      PyObject *item = python_object_for (g_ptr_array_index (dependencies, i));

      if (item == NULL)
        Py_CLEAR (list);
      else
        PyList_SET_ITEM (list, i, item);
    }
  g_ptr_array_unref (dependencies);
  return list;
}

/* _drop_at_exit(h): the finalizer's release, for a handle that Python
 * alone still holds at interpreter exit; True if it gave back a reference. */
static PyObject *
core_drop_at_exit (PyObject *module,
                   PyObject *obj)
{
  RcNativeHandle *native;

  if (!PyObject_TypeCheck (obj, handle_type))
    Py_RETURN_FALSE;
  if (((Handle *) obj)->lite)
    return PyBool_FromLong (lite_drop_wrapper_reference ((Handle *) obj));
  native = native_handle_of ((Handle *) obj);
  if (native == NULL || ((Handle *) obj)->kept_by_gobject)
    Py_RETURN_FALSE;
  return PyBool_FromLong (rc_native_handle_drop_wrapper_reference (native));
}

/* handle_of(obj): the handle of this package whose as_gobject() obj is, or
 * obj itself (for the GI overrides' get_dependencies()). */
static PyObject *
core_handle_of (PyObject *module,
                PyObject *obj)
{
  if (PyObject_TypeCheck (obj, &PyGObject_Type) && pygobject_get (obj) != NULL)
    return python_object_for (pygobject_get (obj));
  Py_INCREF (obj);
  return obj;
}

static PyObject *
handle_as_gobject (Handle   *self,
                   PyObject *unused)
{
  RcNativeHandle *native;

  if (materialize (self) < 0 || (native = require_handle (self)) == NULL)
    return NULL;
  escape (self);
  return pygobject_new (G_OBJECT (native));
}

static PyObject *
cffi_str (Handle *self)
{
  PyObject *handle;
  PyObject *text;

  if (self->type_id != NULL && self->type_id != Py_None && PyUnicode_GetLength (self->type_id) > 0)
    return PyUnicode_FromFormat ("CFFI pointer handle to a native pointer of type id \"%U\"", self->type_id);
  handle = handle_get_handle (self, NULL);
  text = PyUnicode_FromFormat ("CFFI pointer handle to a native pointer %S", handle);
  Py_DECREF (handle);
  return text;
}

static PyMethodDef counter_methods[] = {
  { "add_ref", (PyCFunction) handle_add_ref, METH_NOARGS,
    "add_ref()\n--\n\nAdds one reference." },
  { "decrement_ref", (PyCFunction) handle_decrement_ref, METH_NOARGS,
    "decrement_ref()\n--\n\nRemoves one reference, and does nothing else." },
  { NULL }
};

static PyGetSetDef counter_getset[] = {
  { "reference_count", (getter) handle_get_reference_count, NULL, "The number of references held.", NULL },
  { NULL }
};

static PyObject *
handle_enter (Handle   *self,
              PyObject *unused)
{
  Py_INCREF (self);
  return (PyObject *) self;
}

static PyObject *
handle_exit (Handle   *self,
             PyObject *args)
{
  PyObject *result = handle_release (self, NULL);

  if (result == NULL)
    return NULL;
  Py_DECREF (result);
  Py_RETURN_FALSE;
}

static PyMethodDef native_handle_methods[] = {
  { "__enter__", (PyCFunction) handle_enter, METH_NOARGS, NULL },
  { "__exit__", (PyCFunction) handle_exit, METH_VARARGS, "Disposes the handle (release())." },
  { "get_handle", (PyCFunction) handle_get_handle, METH_NOARGS,
    "get_handle()\n--\n\nThe handle object given, or None when never set or released." },
  { "release", (PyCFunction) handle_release, METH_NOARGS,
    "release()\n--\n\nGives back one reference; at zero, releases the native resource, once." },
  { "dispose", (PyCFunction) handle_release, METH_NOARGS,
    "dispose()\n--\n\nA synonym of release()." },
  { "_set_handle", (PyCFunction) (void (*) (void)) handle_set_handle_method, METH_VARARGS | METH_KEYWORDS,
    "_set_handle(handle, prior_ref_count=0)\n--\n\n"
    "Holds `handle` (vetted by _is_valid_handle()) with prior_ref_count + 1 references." },
  { "_is_valid_handle", (PyCFunction) handle_not_implemented, METH_O,
    "_is_valid_handle(handle)\n--\n\nWhether `handle` is valid: subclasses say." },
  { "_release_handle", (PyCFunction) handle_not_implemented, METH_NOARGS,
    "_release_handle()\n--\n\nReleases the native resource (True on success): subclasses do." },
  { "add_dependency", (PyCFunction) handle_add_dependency, METH_O,
    "add_dependency(dependency)\n--\n\n"
    "This handle keeps `dependency` (a handle of this package or a Refcount.NativeHandle) "
    "until its own release, and releases it right after." },
  { "acquire", (PyCFunction) handle_acquire, METH_NOARGS,
    "acquire()\n--\n\n"
    "Borrows the handle: one more reference and the handle object, or GLib.Error if disposed; "
    "give it back with release()." },
  { "get_dependencies", (PyCFunction) handle_get_dependencies, METH_NOARGS,
    "get_dependencies()\n--\n\nThe dependencies, in the order they were added." },
  { "as_gobject", (PyCFunction) handle_as_gobject, METH_NOARGS,
    "as_gobject()\n--\n\n"
    "The Refcount.NativeHandle of this handle, for C and GI code: the same counter "
    "and resource, kept while either side holds it." },
  { NULL }
};

static PyGetSetDef native_handle_getset[] = {
  { "disposed", (getter) handle_get_disposed, NULL, "Whether the handle is never set, or released.", NULL },
  { "is_invalid", (getter) handle_get_disposed, NULL, "Whether the handle is never set, or released.", NULL },
  { "_handle", (getter) handle_get_handle_property, NULL, "The handle object (pyrefcount's attribute).", NULL },
  { "address", (getter) handle_get_address, NULL, "The native address as an int, or None.", NULL },
  { NULL }
};

static PyMethodDef cffi_methods[] = {
  { "_is_valid_handle", (PyCFunction) cffi_is_valid_handle, METH_O,
    "_is_valid_handle(handle)\n--\n\nWhether `handle` is a cffi CData." },
  { NULL }
};

static PyGetSetDef cffi_getset[] = {
  { "ptr", (getter) handle_get_handle_property, NULL, "The cffi object given (None once released).", NULL },
  { "obj", (getter) handle_get_obj, NULL, "The pointed-to object, ptr[0].", NULL },
  { "type_id", (getter) handle_get_type_id, NULL, "The type id given, or None.", NULL },
  { NULL }
};

static PyMethodDef deletable_methods[] = {
  { "_release_handle", (PyCFunction) deletable_release_handle, METH_NOARGS,
    "_release_handle()\n--\n\nCalls release_native(handle)." },
  { NULL }
};

static PyMethodDef owning_methods[] = {
  { "_release_handle", (PyCFunction) owning_release_handle, METH_NOARGS,
    "_release_handle()\n--\n\nNothing to release: the cffi object owns the memory." },
  { NULL }
};

static PyMemberDef handle_members[] = {
  { "__dictoffset__", Py_T_PYSSIZET, offsetof (Handle, dict), Py_READONLY, NULL },
  { "__weaklistoffset__", Py_T_PYSSIZET, offsetof (Handle, weakrefs), Py_READONLY, NULL },
  { NULL }
};

#define COMMON_SLOTS \
  { Py_tp_dealloc, handle_dealloc }, \
  { Py_tp_traverse, handle_traverse }, \
  { Py_tp_clear, handle_clear }, \
  { Py_tp_members, handle_members }, \
  /* not object's tp_new: it makes the instance dict at once (3.11) */ \
  { Py_tp_new, PyType_GenericNew }

#define FLAGS (Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC)

static PyType_Slot counter_slots[] = {
  COMMON_SLOTS,
  { Py_tp_init, counter_init },
  { Py_tp_methods, counter_methods },
  { Py_tp_getset, counter_getset },
  { Py_tp_doc, (void *) "ReferenceCounter(prior_ref_count=0)\n--\n\n"
               "A reference counter starting at prior_ref_count + 1." },
  { 0, NULL }
};

static PyType_Slot native_handle_slots[] = {
  COMMON_SLOTS,
  { Py_tp_init, native_handle_init },
  { Py_tp_finalize, handle_finalize },
  { Py_tp_methods, native_handle_methods },
  { Py_tp_getset, native_handle_getset },
  { Py_tp_doc, (void *) "NativeHandle(handle=None, prior_ref_count=0)\n--\n\n"
               "A reference-counted handle to a native resource (abstract): subclasses "
               "implement _is_valid_handle() and _release_handle()." },
  { 0, NULL }
};

static PyType_Slot cffi_slots[] = {
  COMMON_SLOTS,
  { Py_tp_init, cffi_init },
  { Py_tp_methods, cffi_methods },
  { Py_tp_getset, cffi_getset },
  { Py_tp_str, cffi_str },
  { Py_tp_repr, cffi_str },
  { Py_tp_doc, (void *) "CffiNativeHandle(handle, type_id=None, prior_ref_count=0)\n--\n\n"
               "A reference-counted handle to a cffi object; subclasses implement _release_handle()." },
  { 0, NULL }
};

static PyType_Slot deletable_slots[] = {
  COMMON_SLOTS,
  { Py_tp_init, deletable_init },
  { Py_tp_methods, deletable_methods },
  { Py_tp_doc, (void *) "DeletableCffiNativeHandle(handle, release_native, type_id=None, prior_ref_count=0)\n--\n\n"
               "A handle released by release_native(handle); a native cffi or ctypes function "
               "is called without entering Python." },
  { 0, NULL }
};

static PyType_Slot owning_slots[] = {
  COMMON_SLOTS,
  { Py_tp_methods, owning_methods },
  { Py_tp_doc, (void *) "OwningCffiNativeHandle(handle, type_id=None, prior_ref_count=0)\n--\n\n"
               "A handle to memory owned by its cffi object (such as ffi.new): releasing frees nothing." },
  { 0, NULL }
};

static PyTypeObject *
make_type (PyObject     *module,
           const char   *name,
           PyType_Slot  *slots,
           PyTypeObject *base,
           int           basicsize)
{
  PyType_Spec spec = {
    .name = name,
    .basicsize = basicsize,
    .flags = FLAGS,
    .slots = slots,
  };
  PyObject *bases = base != NULL ? PyTuple_Pack (1, base) : NULL;
  PyObject *type;

  if (base != NULL && bases == NULL)
    return NULL;
  type = PyType_FromModuleAndSpec (module, &spec, bases);
  Py_XDECREF (bases);
  if (type == NULL)
    return NULL;
  if (PyModule_AddObjectRef (module, strrchr (name, '.') + 1, type) < 0)
    {
      Py_DECREF (type);
      return NULL;
    }
  return (PyTypeObject *) type;
}

/* _configure(cdata_type, address_info, release_address, *signatures): the
 * package's Python answers for what C cannot read itself (see
 * rc-py-address.h), and the signatures of its __init__s. */
static PyObject *
core_configure (PyObject *module,
                PyObject *args)
{
  PyObject *cdata, *info, *release;
  PyObject *signatures[3];

  if (!PyArg_ParseTuple (args, "OOOOOO:_configure", &cdata, &info, &release,
                         &signatures[0], &signatures[1], &signatures[2]))
    return NULL;
  for (int i = 0; i < 3; i++)
    {
      Py_INCREF (signatures[i]);
      Py_XSETREF (python_signatures[i], signatures[i]);
    }
  if (rc_py_address_configure (cdata, info, release) < 0)
    return NULL;
  Py_RETURN_NONE;
}

static PyMethodDef core_functions[] = {
  { "_configure", core_configure, METH_VARARGS, NULL },
  { "handle_of", core_handle_of, METH_O, NULL },
  { "_drop_at_exit", core_drop_at_exit, METH_O, NULL },
  { NULL }
};

static struct PyModuleDef core_module = {
  PyModuleDef_HEAD_INIT,
  .m_name = "refcount._core",
  .m_doc = "The handles of the refcount package, on the refcount C library (see _core.c).",
  .m_size = -1,
  .m_methods = core_functions,
};

static PyObject *
method_of (PyTypeObject *type,
           PyObject     *name)
{
  return PyObject_GetAttr ((PyObject *) type, name);
}

PyMODINIT_FUNC PyInit__core (void);

PyMODINIT_FUNC
PyInit__core (void)
{
  PyObject *module, *gobject_module;

  gobject_module = pygobject_init (-1, -1, -1);
  if (gobject_module == NULL)
    return NULL;
  Py_DECREF (gobject_module);

  module = PyModule_Create (&core_module);
  if (module == NULL)
    return NULL;

  tracking_live_handles = rc_debug_tracks_live_handles ();
  str_release_handle = PyUnicode_InternFromString ("_release_handle");
  str_is_valid_handle = PyUnicode_InternFromString ("_is_valid_handle");
  str_set_handle = PyUnicode_InternFromString ("_set_handle");
  zero_long = PyLong_FromLong (0);
  if (str_release_handle == NULL || str_is_valid_handle == NULL || str_set_handle == NULL ||
      zero_long == NULL)
    goto fail;

  if ((counter_type = make_type (module, "refcount.base.ReferenceCounter", counter_slots, NULL,
                                 sizeof (Handle))) == NULL ||
      (handle_type = make_type (module, "refcount.base.NativeHandle", native_handle_slots, counter_type,
                                sizeof (Handle))) == NULL ||
      (cffi_type = make_type (module, "refcount.interop.CffiNativeHandle", cffi_slots, handle_type,
                              sizeof (Handle))) == NULL ||
      (deletable_type = make_type (module, "refcount.interop.DeletableCffiNativeHandle",
                                   deletable_slots, cffi_type, sizeof (DeletableHandle))) == NULL ||
      (owning_type = make_type (module, "refcount.interop.OwningCffiNativeHandle", owning_slots, cffi_type,
                                sizeof (Handle))) == NULL)
    goto fail;

  default_set_handle = method_of (handle_type, str_set_handle);
  default_is_valid_handle_cffi = method_of (cffi_type, str_is_valid_handle);
  default_release_deletable = method_of (deletable_type, str_release_handle);
  default_release_owning = method_of (owning_type, str_release_handle);
  if (default_set_handle == NULL ||
      default_is_valid_handle_cffi == NULL || default_release_deletable == NULL ||
      default_release_owning == NULL)
    goto fail;

  python_handle_quark = g_quark_from_static_string ("refcount-python-handle");
  /* The GType, before any thread can make one. */
  py_released_gtype = py_released_handle_get_type ();
  return module;

fail:
  Py_DECREF (module);
  return NULL;
}
