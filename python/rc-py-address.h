/* rc-py-address.h: the addresses of handle objects and release functions
 *
 * SPDX-License-Identifier: MIT
 *
 * Shared by the two extension modules (refcount/_core.c and
 * gi/overrides/_refcount_fast.c), each with its own copy of this state.
 * C reads None, an int, and the cffi objects of the types it has learned;
 * for anything else it asks the module's Python readers, set with
 * rc_py_address_configure(), and learns the cffi type when their answer
 * matches what C would read.
 */

#include <Python.h>
#include <stdint.h>

/* cffi has no C API to read a CData's address. Its object starts with
 * {PyObject_HEAD; CTypeDescrObject *c_type; char *c_data;}, and c_data is
 * the address for pointers, arrays, functions, structs and unions. Each
 * ctype is read that way only after the Python reader's answer for one of
 * its values matched c_data. */
typedef struct
{
  PyObject_HEAD
  PyObject *c_type;
  char *c_data;
} CffiDataLayout;

#define N_KNOWN_CTYPES 64

typedef struct
{
  PyObject *ctype;
  char is_function;
} KnownCtype;

static KnownCtype known_ctypes[N_KNOWN_CTYPES];
static int n_known_ctypes;

static PyObject *cdata_type;             /* cffi's FFI.CData, or NULL */
static PyObject *python_address_info;    /* obj -> (address, is_function) */
static PyObject *python_release_address; /* release -> address or None */

/* The Python readers: cdata (None without cffi), address_info(obj) ->
 * (address, is_function), raising TypeError or ValueError for an object
 * without an address, and release_address(release) -> address, or None for
 * a Python callable. 0, or -1 with an exception. */
static inline int
rc_py_address_configure (PyObject *cdata,
                         PyObject *address_info,
                         PyObject *release_address)
{
  if ((cdata != Py_None && !PyType_Check (cdata)) ||
      !PyCallable_Check (address_info) || !PyCallable_Check (release_address))
    {
      PyErr_SetString (PyExc_TypeError, "the address readers are a type (or None) and two callables");
      return -1;
    }
  Py_XSETREF (cdata_type, cdata != Py_None ? Py_NewRef (cdata) : NULL);
  Py_XSETREF (python_address_info, Py_NewRef (address_info));
  Py_XSETREF (python_release_address, Py_NewRef (release_address));
  return 0;
}

static inline const KnownCtype *
known_ctype_of (PyObject *obj)
{
  PyObject *ctype = ((CffiDataLayout *) obj)->c_type;

  for (int i = 0; i < n_known_ctypes; i++)
    if (known_ctypes[i].ctype == ctype)
      return &known_ctypes[i];
  return NULL;
}

static inline int
is_cdata (PyObject *obj)
{
  return cdata_type != NULL && PyObject_TypeCheck (obj, (PyTypeObject *) cdata_type);
}

/* reader(obj), for a Python reader set by rc_py_address_configure(). */
static inline PyObject *
call_python_reader (PyObject *reader,
                    PyObject *obj)
{
  if (reader == NULL)
    {
      PyErr_SetString (PyExc_RuntimeError, "the address readers are not configured");
      return NULL;
    }
  return PyObject_CallOneArg (reader, obj);
}

/* An exact int that is a pointer: 1 with *address set; 0 for anything else
 * (negative, too large: the Python reader words the error). */
static inline int
int_address (PyObject *obj,
             void    **address)
{
  unsigned long long value;

  if (!PyLong_CheckExact (obj))
    return 0;
  /* (Not PyLong_AsVoidPtr(), which takes a negative number.) */
  value = PyLong_AsUnsignedLongLong (obj);
  if (value == (unsigned long long) -1 && PyErr_Occurred ())
    {
      PyErr_Clear ();
      return 0;
    }
#if UINTPTR_MAX < ULLONG_MAX
  if (value > UINTPTR_MAX)
    return 0;
#endif
  *address = (void *) (uintptr_t) value;
  return 1;
}

/* The address of a handle object (NULL for None). -1 with the Python
 * reader's exception for an object without an address, or any error. */
static inline int
address_of (PyObject *obj,
            void    **address)
{
  PyObject *info;
  int is_function;
  unsigned long long value;

  *address = NULL;
  if (obj == Py_None || int_address (obj, address))
    return 0;
  if (is_cdata (obj) && known_ctype_of (obj) != NULL)
    {
      *address = ((CffiDataLayout *) obj)->c_data;
      return 0;
    }

  info = call_python_reader (python_address_info, obj);
  if (info == NULL)
    return -1;
  if (!PyArg_ParseTuple (info, "Kp", &value, &is_function))
    {
      Py_DECREF (info);
      return -1;
    }
  Py_DECREF (info);
  *address = (void *) (uintptr_t) value;

  /* The Python reader said where: remember how to read this ctype, if
   * c_data agrees. */
  if (value != 0 && is_cdata (obj) && ((CffiDataLayout *) obj)->c_data == *address &&
      n_known_ctypes < N_KNOWN_CTYPES)
    {
      known_ctypes[n_known_ctypes].ctype = Py_NewRef (((CffiDataLayout *) obj)->c_type);
      known_ctypes[n_known_ctypes].is_function = (char) is_function;
      n_known_ctypes++;
    }
  return 0;
}

/* address_of() for a handle object that may have no address (a
 * subclass's _is_valid_handle may accept one): NULL then, for its
 * TypeError or ValueError; -1 for any other error. */
static inline int
address_or_null (PyObject *obj,
                 void    **address)
{
  if (address_of (obj, address) == 0)
    return 0;
  *address = NULL;
  if (!PyErr_ExceptionMatches (PyExc_TypeError) && !PyErr_ExceptionMatches (PyExc_ValueError))
    return -1;
  PyErr_Clear ();
  return 0;
}

/* The address of a native release function; NULL without an exception for
 * a Python callable. -1 with the Python reader's exception for anything
 * that is neither (a NULL function pointer, a number...). */
static inline int
release_address_of (PyObject *release,
                    void    **address)
{
  PyObject *result;

  *address = NULL;
  if (int_address (release, address) && *address != NULL)
    return 0;
  if (is_cdata (release))
    {
      const KnownCtype *known = known_ctype_of (release);

      if (known != NULL && known->is_function)
        {
          *address = ((CffiDataLayout *) release)->c_data;
          if (*address != NULL)
            return 0;
        }
    }
  result = call_python_reader (python_release_address, release);
  if (result == NULL)
    return -1;
  if (result != Py_None)
    {
      *address = PyLong_AsVoidPtr (result);
      if (PyErr_Occurred ())
        {
          Py_DECREF (result);
          return -1;
        }
      /* Learn the ctype of a cffi function, as address_of() does. */
      if (is_cdata (release))
        {
          void *ignored;

          if (address_of (release, &ignored) < 0)
            PyErr_Clear ();
        }
    }
  Py_DECREF (result);
  return 0;
}
