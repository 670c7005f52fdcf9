/* rc-library-pin.c: keeping a release function's library loaded
 *
 * SPDX-License-Identifier: MIT
 *
 * A handle that will call a native function at release must not outlive the
 * shared object that contains the function: a program (or cffi, when an
 * ffi.dlopen() library object is collected, or ctypes' dlclose) may close
 * that object while handles still hold it, and the release would then jump
 * into unmapped memory. So each such handle holds a pin: while any handle of
 * a function is alive, one dlopen() reference to the function's object is
 * held, and it is given back with the last one, so the object still unloads
 * when the program has closed it and the last handle is released.
 *
 * The cost is paid per distinct function, not per handle: a record per
 * function address, found through a per-thread cache; the first and last
 * handle of a function take the lock, the others only count atomically.
 * Objects that can never be unloaded (the main program and the objects it was
 * linked with, refcount's own dependencies, NODELETE objects) need no pin:
 * their records say so and cost nothing after the first look-up.
 */

/* dladdr1, dlinfo and _dl_find_object are GNU extensions. */
#define _GNU_SOURCE

#include "config.h"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <string.h>

#include "rc-library-pin-private.h"

struct _RcLibraryPin
{
  gconstpointer function;
  /* Handles holding the pin. Moves between 0 and 1 only under pin_lock. */
  int live;
  /* In an object that cannot be unloaded: never pinned. Final once set. */
  gboolean permanent;
  /* Our dlopen() reference to the function's object while live > 0. */
  void *dl_handle;
};

/* A POSIX mutex rather than GMutex, whose futex ThreadSanitizer cannot see:
 * it checks what the lock guards. It guards the records and every link map
 * that this file reads or frees: the look-ups by address, the reads of a
 * map's fields and the dlopen() of the first handle, and the dlclose() of
 * the last, which may unload the object and free its map. The dynamic
 * linker orders its own calls with a lock ThreadSanitizer does not see
 * either, so a map read by one thread and freed by another's dlclose()
 * would look unordered unless both ran under this lock. Recursive: the
 * dlclose() runs the object's destructors in this thread, and they may
 * make or release handles of their own. */
static pthread_mutex_t pin_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
/* function address -> RcLibraryPin; records are never freed (a program has
 * a bounded number of release functions), so pointers to them stay valid. */
static GHashTable *pins;
/* The link maps of the objects that cannot be unloaded, computed once. */
static GHashTable *permanent_maps;

gconstpointer _rc_library_pin_last_permanent;

/* The last function looked up by this thread, and its record. */
static __thread gconstpointer cached_function;
static __thread RcLibraryPin *cached_pin;

static struct link_map *
link_map_of (gconstpointer address)
{
#ifdef HAVE_DL_FIND_OBJECT
  struct dl_find_object info;

  if (_dl_find_object ((void *) address, &info) != 0)
    return NULL;
  return info.dlfo_link_map;
#else
  Dl_info info;
  struct link_map *map = NULL;

  if (dladdr1 (address, &info, (void **) &map, RTLD_DL_LINKMAP) == 0)
    return NULL;
  return map;
#endif
}

/* The dynamic section's string table. glibc relocates the pointers of the
 * dynamic section in place on most architectures, not on those where it is
 * read-only: a value below the load address is still an offset. */
static const char *
string_table (struct link_map *map)
{
  const ElfW(Dyn) *dyn;

  for (dyn = map->l_ld; dyn != NULL && dyn->d_tag != DT_NULL; dyn++)
    {
      if (dyn->d_tag == DT_STRTAB)
        {
          ElfW(Addr) address = dyn->d_un.d_ptr;

          if (address < map->l_addr)
            address += map->l_addr;
          return (const char *) address;
        }
    }
  return NULL;
}

static gboolean
is_nodelete (struct link_map *map)
{
  const ElfW(Dyn) *dyn;

  for (dyn = map->l_ld; dyn != NULL && dyn->d_tag != DT_NULL; dyn++)
    {
      if (dyn->d_tag == DT_FLAGS_1 && (dyn->d_un.d_val & DF_1_NODELETE) != 0)
        return TRUE;
    }
  return FALSE;
}

/* The name other objects use for map in DT_NEEDED: its soname, or else the
 * last component of its file name. */
static const char *
needed_name_of (struct link_map *map)
{
  const char *strings = string_table (map);
  const ElfW(Dyn) *dyn;
  const char *slash;

  for (dyn = map->l_ld; strings != NULL && dyn != NULL && dyn->d_tag != DT_NULL; dyn++)
    {
      if (dyn->d_tag == DT_SONAME)
        return strings + dyn->d_un.d_val;
    }
  if (map->l_name == NULL)
    return "";
  slash = strrchr (map->l_name, '/');
  return slash != NULL ? slash + 1 : map->l_name;
}

/* Marks map and, transitively, the objects it was linked with (DT_NEEDED):
 * the dynamic linker unloads none of them while map is loaded. */
static void
mark_with_dependencies (struct link_map *map,
                        GHashTable      *by_name)
{
  g_autoptr(GPtrArray) queue = g_ptr_array_new ();

  if (map == NULL || g_hash_table_contains (permanent_maps, map))
    return;
  g_hash_table_add (permanent_maps, map);
  g_ptr_array_add (queue, map);

  while (queue->len > 0)
    {
      struct link_map *current = g_ptr_array_steal_index_fast (queue, queue->len - 1);
      const char *strings = string_table (current);
      const ElfW(Dyn) *dyn;

      for (dyn = current->l_ld; strings != NULL && dyn != NULL && dyn->d_tag != DT_NULL; dyn++)
        {
          struct link_map *needed;

          if (dyn->d_tag != DT_NEEDED)
            continue;
          needed = g_hash_table_lookup (by_name, strings + dyn->d_un.d_val);
          if (needed != NULL && !g_hash_table_contains (permanent_maps, needed))
            {
              g_hash_table_add (permanent_maps, needed);
              g_ptr_array_add (queue, needed);
            }
        }
    }
}

/* Called once, under pin_lock. The main program's objects are loaded before
 * it starts and stay until it exits; refcount's own dependencies stay as
 * long as refcount, which calls the release. */
static void
compute_permanent_maps (void)
{
  g_autoptr(GHashTable) by_name = g_hash_table_new (g_str_hash, g_str_equal);
  struct link_map *main_map = NULL;
  struct link_map *map;
  void *main_handle;

  permanent_maps = g_hash_table_new (NULL, NULL);

  main_handle = dlopen (NULL, RTLD_LAZY);
  if (main_handle == NULL || dlinfo (main_handle, RTLD_DI_LINKMAP, &main_map) != 0)
    main_map = NULL;
  if (main_handle != NULL)
    dlclose (main_handle);
  if (main_map == NULL)
    return;

  while (main_map->l_prev != NULL)
    main_map = main_map->l_prev;
  for (map = main_map; map != NULL; map = map->l_next)
    g_hash_table_insert (by_name, (gpointer) needed_name_of (map), map);

  mark_with_dependencies (main_map, by_name);
  mark_with_dependencies (link_map_of ((gconstpointer) _rc_library_pin_acquire_slow), by_name);
}

static RcLibraryPin *
lookup (gconstpointer function)
{
  RcLibraryPin *pin;

  pthread_mutex_lock (&pin_lock);
  if (pins == NULL)
    pins = g_hash_table_new (NULL, NULL);
  pin = g_hash_table_lookup (pins, function);
  if (pin == NULL)
    {
      pin = g_new0 (RcLibraryPin, 1);
      pin->function = function;
      g_hash_table_insert (pins, (gpointer) function, pin);
    }
  pthread_mutex_unlock (&pin_lock);

  return pin;
}

/* The first handle of a function (live was 0). Under pin_lock: the object
 * at the address is found again each time, since the one found before may
 * have been unloaded and another loaded in its place. */
static RcLibraryPin *
acquire_first (RcLibraryPin *pin)
{
  struct link_map *map;

  pthread_mutex_lock (&pin_lock);
  if (g_atomic_int_get (&pin->live) > 0)
    {
      g_atomic_int_inc (&pin->live);
      pthread_mutex_unlock (&pin_lock);
      return pin;
    }

  if (permanent_maps == NULL)
    compute_permanent_maps ();

  map = link_map_of (pin->function);
  if (map == NULL)
    {
      /* Not in any loaded object (a closure made at run time): nothing to
       * keep loaded. Not final: an object may be loaded there later. */
      pthread_mutex_unlock (&pin_lock);
      return NULL;
    }
  if (g_hash_table_contains (permanent_maps, map) || is_nodelete (map))
    {
      g_atomic_int_set (&pin->permanent, TRUE);
      __atomic_store_n (&_rc_library_pin_last_permanent, pin->function, __ATOMIC_RELAXED);
      pthread_mutex_unlock (&pin_lock);
      return NULL;
    }

  pin->dl_handle = dlopen (map->l_name, RTLD_LAZY | RTLD_NOLOAD);
  if (pin->dl_handle == NULL)
    {
      /* Found by address but not by name: being unloaded right now by a
       * program that still creates handles of its functions. */
      g_warning ("Cannot keep %s loaded for the release function %p: %s",
                 map->l_name, pin->function, dlerror ());
      pthread_mutex_unlock (&pin_lock);
      return NULL;
    }
  g_atomic_int_set (&pin->live, 1);
  pthread_mutex_unlock (&pin_lock);

  return pin;
}

/* _rc_library_pin_acquire() past its inline checks. */
RcLibraryPin *
_rc_library_pin_acquire_slow (gconstpointer function)
{
  RcLibraryPin *pin;
  int live;

  if (G_LIKELY (function == cached_function))
    {
      pin = cached_pin;
    }
  else
    {
      pin = lookup (function);
      cached_pin = pin;
      cached_function = function;
    }

  if (G_LIKELY (g_atomic_int_get (&pin->permanent)))
    {
      __atomic_store_n (&_rc_library_pin_last_permanent, function, __ATOMIC_RELAXED);
      return NULL;
    }

  for (live = g_atomic_int_get (&pin->live); live > 0; live = g_atomic_int_get (&pin->live))
    {
      if (g_atomic_int_compare_and_exchange (&pin->live, live, live + 1))
        return pin;
    }

  return acquire_first (pin);
}

/*
 * _rc_library_pin_release:
 * @pin: (nullable): a pin from _rc_library_pin_acquire()
 *
 * Gives the pin back; the object may be unloaded after the last one.
 */
void
_rc_library_pin_release (RcLibraryPin *pin)
{
  int live;

  if (pin == NULL)
    return;

  for (live = g_atomic_int_get (&pin->live); live > 1; live = g_atomic_int_get (&pin->live))
    {
      if (g_atomic_int_compare_and_exchange (&pin->live, live, live - 1))
        return;
    }

  /* The dlclose() under the lock (see pin_lock), after the record is
   * settled: the destructors that unloading runs re-enter it in this
   * thread. Live went to 1 only with the dlopen() reference it gives back. */
  pthread_mutex_lock (&pin_lock);
  if (g_atomic_int_dec_and_test (&pin->live))
    dlclose (g_steal_pointer (&pin->dl_handle));
  pthread_mutex_unlock (&pin_lock);
}

/**
 * SECTION:rc-library-pin
 * @Title: Library pins
 * @Short_description: keeping the library of a release function loaded
 *
 * A handle that will call a native function when it is released must not
 * outlive the shared object that contains the function: the program, or
 * cffi and ctypes when their library object goes, may close that object
 * while handles still hold the function, and the release would then jump
 * into unmapped memory. #RcDeletableNativeHandle holds a pin for its
 * release function; language bindings and C code that keep a function
 * pointer in a handle of their own (the refcount Python package's handles
 * do) hold one with rc_library_pin_acquire() until the release has run.
 *
 * The cost is paid per distinct function, not per pin; a function in an
 * object that cannot be unloaded (the main program, what it is linked with,
 * refcount's own dependencies) needs no pin, and costs nothing after its
 * first look-up.
 */

/**
 * rc_library_pin_acquire: (skip)
 * @function: (nullable): a native function that will be called later
 *
 * Keeps the shared object that contains @function loaded until the pin is
 * given back with rc_library_pin_release().
 *
 * Returns: (nullable): the pin, or %NULL when none is needed (a function
 *   that cannot be unloaded, or %NULL)
 */
RcLibraryPin *
rc_library_pin_acquire (gconstpointer function)
{
  return _rc_library_pin_acquire (function);
}

/**
 * rc_library_pin_release: (skip)
 * @pin: (nullable): a pin from rc_library_pin_acquire(), or %NULL
 *
 * Gives the pin back: the last one of a shared object lets it unload, if
 * the program closed it meanwhile. The object's destructors then run in
 * this thread, before this returns; they may make and release handles, but
 * must not wait for another thread that does.
 */
void
rc_library_pin_release (RcLibraryPin *pin)
{
  if (pin != NULL)
    _rc_library_pin_release (pin);
}
