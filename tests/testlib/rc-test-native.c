/*
 * rc-test-native.c - implementation of the test native library.
 *
 * One pthread mutex protects the registry of live objects and every
 * per-object field.  A lookup and the change it guards (refcount, walk count,
 * meal count) happen in the same critical section, so an object cannot be
 * freed between "is it live?" and "touch it".  The global counters are C11
 * atomics so they can be read without the lock; apart from the misuse count
 * they are only written with the lock held, so each lock-protected change
 * (create or free) updates them together and none is ever lost.
 *
 * Freeing follows the same pattern everywhere: under the lock the object is
 * removed from the registry and the freed callback is snapshotted; after
 * unlocking, the callback runs, the memory is free()d, and an owner releases
 * its dog.  Nothing user-supplied ever runs with the lock held.
 */

#define _POSIX_C_SOURCE 200809L

#include "rc-test-native.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Objects
 * ------------------------------------------------------------------------ */

/* Common header; every object struct starts with it. */
typedef struct
{
  int kind;             /* RC_TN_KIND_* */
  int ref_count;        /* guarded by lock */
  uint64_t serial;      /* unique per object ever created; never reused */
} RcTnObject;

typedef struct
{
  RcTnObject base;
  char name[];          /* one allocation: nothing else to free */
} RcTnDog;

typedef struct
{
  RcTnObject base;
  RcTnObject *dog;      /* owned native reference, or NULL */
  /* The dog's serial guards against its address being reused by a newer
   * object after someone over-released the dog behind the owner's back. */
  uint64_t dog_serial;
  int walks;
  int borrowing;        /* dog is borrowed: no native reference to give back */
} RcTnOwner;

typedef struct
{
  RcTnObject base;
  int meals;
} RcTnCroc;

/* ------------------------------------------------------------------------
 * Global state
 * ------------------------------------------------------------------------ */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* Registry: open-addressing hash set of live object pointers, linear
 * probing, capacity a power of two, NULL marks an empty slot.  Deletion
 * shifts later entries back instead of leaving tombstones, so a table that
 * saw millions of create/release cycles does not degrade.  Guarded by lock. */
static void **table;
static size_t table_capacity;   /* 0 or a power of two >= MIN_CAPACITY */
static size_t table_count;
#define MIN_CAPACITY ((size_t) 64)

static uint64_t next_serial;    /* guarded by lock */

static RcTnFreedCallback freed_callback;   /* guarded by lock */
static void *freed_callback_data;          /* guarded by lock */

/* Written under lock (except misuse), read lock-free. */
static atomic_int live_total;
static atomic_int live_by_kind[4];   /* indexed by RC_TN_KIND_*; [0] unused */
static atomic_long created_total;
static atomic_long freed_total;
static atomic_long misuse_total;

static void
count_misuse (void)
{
  atomic_fetch_add (&misuse_total, 1);
}

/* ------------------------------------------------------------------------
 * Registry (all functions require lock held)
 * ------------------------------------------------------------------------ */

/* Fibonacci hashing: malloc'd pointers share their low bits, so the
 * multiply spreads the higher bits into the top ones, which we keep. */
static size_t
slot_for (const void *p, size_t capacity)
{
  uint64_t h = (uint64_t) (uintptr_t) p * UINT64_C (0x9E3779B97F4A7C15);

  return (size_t) (h >> 32 ^ h) & (capacity - 1);
}

/* Index of p in the table, or SIZE_MAX.  Never dereferences p. */
static size_t
registry_find (const void *p)
{
  size_t mask, i;

  if (p == NULL || table_count == 0)
    return SIZE_MAX;

  mask = table_capacity - 1;
  for (i = slot_for (p, table_capacity); table[i] != NULL; i = (i + 1) & mask)
    {
      if (table[i] == p)
        return i;
    }
  return SIZE_MAX;
}

/* Rebuilds the table with new_capacity slots.  0 on allocation failure, in
 * which case the old table is left untouched. */
static int
registry_resize (size_t new_capacity)
{
  void **new_table = calloc (new_capacity, sizeof *new_table);
  size_t i, j;

  if (new_table == NULL)
    return 0;

  for (i = 0; i < table_capacity; i++)
    {
      if (table[i] == NULL)
        continue;
      for (j = slot_for (table[i], new_capacity); new_table[j] != NULL;
           j = (j + 1) & (new_capacity - 1))
        ;
      new_table[j] = table[i];
    }

  free (table);
  table = new_table;
  table_capacity = new_capacity;
  return 1;
}

/* Adds p (not yet present).  0 on allocation failure. */
static int
registry_insert (void *p)
{
  size_t i, mask;

  /* Keep the load factor at or below 1/2: linear probing stays short. */
  if ((table_count + 1) * 2 > table_capacity)
    {
      size_t new_capacity = table_capacity ? table_capacity * 2 : MIN_CAPACITY;

      /* If growing fails we can still go on while a free slot remains
       * (probing needs at least one empty slot to terminate). */
      if (!registry_resize (new_capacity) && table_count + 1 >= table_capacity)
        return 0;
    }

  mask = table_capacity - 1;
  for (i = slot_for (p, table_capacity); table[i] != NULL; i = (i + 1) & mask)
    ;
  table[i] = p;
  table_count++;
  return 1;
}

/* Removes the entry at index hole (from registry_find). */
static void
registry_remove_at (size_t hole)
{
  size_t mask = table_capacity - 1;
  size_t j = hole;

  /* Backward-shift deletion: move up every later entry of the same probe
   * run whose home slot does not lie cyclically in (hole, j], so that no
   * lookup ever stops early at the hole we leave. */
  for (;;)
    {
      size_t home;

      j = (j + 1) & mask;
      if (table[j] == NULL)
        break;
      home = slot_for (table[j], table_capacity);
      if (hole <= j ? (hole < home && home <= j)
                    : (hole < home || home <= j))
        continue;
      table[hole] = table[j];
      hole = j;
    }
  table[hole] = NULL;
  table_count--;

  /* Shrink at 1/8 load (grow happens at 1/2), so a burst of millions of
   * objects does not pin a huge table forever, without thrashing.  Failure
   * to shrink is harmless. */
  if (table_capacity > MIN_CAPACITY && table_count * 8 < table_capacity)
    (void) registry_resize (table_capacity / 2);
}

/* The live object at p, or NULL.  Never dereferences p unless it is live. */
static RcTnObject *
lookup (void *p)
{
  return registry_find (p) == SIZE_MAX ? NULL : (RcTnObject *) p;
}

/* The live object at p if it has the given kind, or NULL. */
static RcTnObject *
lookup_kind (void *p, int kind)
{
  RcTnObject *obj = lookup (p);

  return obj != NULL && obj->kind == kind ? obj : NULL;
}

/* Frees the registry when the library is unloaded (or the process exits), so
 * leak checkers see nothing of ours.  Objects still live at that point are
 * the host's leaks and are deliberately left to be reported as such. */
__attribute__((destructor)) static void
registry_destroy (void)
{
  pthread_mutex_lock (&lock);
  free (table);
  table = NULL;
  table_capacity = 0;
  table_count = 0;
  pthread_mutex_unlock (&lock);
}

/* ------------------------------------------------------------------------
 * Creation and destruction
 * ------------------------------------------------------------------------ */


/* With lock held: registers a fresh object with a reference count of 1.
 * 0 (nothing changed) if the registry cannot grow. */
static int
register_locked (RcTnObject *obj, int kind)
{
  if (!registry_insert (obj))
    return 0;

  obj->kind = kind;
  obj->ref_count = 1;
  obj->serial = ++next_serial;
  atomic_fetch_add (&created_total, 1);
  atomic_fetch_add (&live_total, 1);
  atomic_fetch_add (&live_by_kind[kind], 1);
  return 1;
}

/* Registers obj, or frees it and returns NULL if the registry cannot grow. */
static void *
register_new (RcTnObject *obj, int kind)
{
  int ok;

  pthread_mutex_lock (&lock);
  ok = register_locked (obj, kind);
  pthread_mutex_unlock (&lock);

  if (!ok)
    {
      free (obj);
      return NULL;
    }
  return obj;
}

static void finalize (RcTnObject *obj, RcTnFreedCallback callback,
                      void *user_data);

/* A borrowing owner's last use of its dog: misuse unless p is still the
 * live dog of serial want_serial.  Never dereferences p unless it is live. */
static void
touch_checked (void *p, uint64_t want_serial)
{
  RcTnObject *obj = (RcTnObject *) p;

  pthread_mutex_lock (&lock);
  if (registry_find (p) == SIZE_MAX
      || obj->kind != RC_TN_KIND_DOG
      || obj->serial != want_serial)
    count_misuse ();
  pthread_mutex_unlock (&lock);
}

/* Drops one reference from p if it is a live object of want_kind (0: any
 * kind) and serial want_serial (0: any; serials start at 1), otherwise
 * counts misuse.  Frees the object if that was the last reference. */
static void
release_checked (void *p, int want_kind, uint64_t want_serial)
{
  RcTnObject *obj;
  RcTnFreedCallback callback = NULL;
  void *user_data = NULL;
  size_t index;
  int died = 0;

  pthread_mutex_lock (&lock);
  index = registry_find (p);
  obj = (RcTnObject *) p;
  /* obj is only dereferenced once the registry says it is live. */
  if (index == SIZE_MAX
      || (want_kind != 0 && obj->kind != want_kind)
      || (want_serial != 0 && obj->serial != want_serial))
    {
      count_misuse ();
    }
  else if (--obj->ref_count == 0)
    {
      /* Out of the registry and the live counters while still locked, so
       * no other thread can find it or see inconsistent counts. */
      registry_remove_at (index);
      atomic_fetch_add (&freed_total, 1);
      atomic_fetch_sub (&live_total, 1);
      atomic_fetch_sub (&live_by_kind[obj->kind], 1);
      callback = freed_callback;
      user_data = freed_callback_data;
      died = 1;
    }
  pthread_mutex_unlock (&lock);

  if (died)
    finalize (obj, callback, user_data);
}

/* Runs without the lock once obj has left the registry.  No other thread
 * can reach obj any more, so its fields are read without the lock. */
static void
finalize (RcTnObject *obj, RcTnFreedCallback callback, void *user_data)
{
  RcTnObject *dog = NULL;
  uint64_t dog_serial = 0;
  int borrowing = 0;
  int kind = obj->kind;

  if (kind == RC_TN_KIND_OWNER)
    {
      dog = ((RcTnOwner *) obj)->dog;
      dog_serial = ((RcTnOwner *) obj)->dog_serial;
      borrowing = ((RcTnOwner *) obj)->borrowing;
    }

  /* Before free(), so the address cannot be handed to a new object while
   * the host may still use it as a key for the dying one. */
  if (callback != NULL)
    callback (obj, kind, user_data);

  free (obj);

  /* The serial makes this a misuse rather than a wrong release if the dog
   * was over-released elsewhere and its address reused since. */
  if (dog != NULL && !borrowing)
    release_checked (dog, RC_TN_KIND_DOG, dog_serial);
  else if (dog != NULL)
    touch_checked (dog, dog_serial);
}

/* With lock held: 1 if the owner's dog is still the live dog it took. */
static int
owner_dog_is_live (const RcTnOwner *owner)
{
  return owner->dog != NULL
         && registry_find (owner->dog) != SIZE_MAX
         && owner->dog->kind == RC_TN_KIND_DOG
         && owner->dog->serial == owner->dog_serial;
}

void *
rc_tn_dog_new (const char *name)
{
  RcTnDog *dog;
  size_t len;

  if (name == NULL)
    name = "unnamed";
  len = strlen (name);

  dog = malloc (offsetof (RcTnDog, name) + len + 1);
  if (dog == NULL)
    return NULL;
  memcpy (dog->name, name, len + 1);

  return register_new (&dog->base, RC_TN_KIND_DOG);
}

static void *
owner_new (void *dog, int borrowing)
{
  RcTnOwner *owner = malloc (sizeof *owner);
  RcTnObject *dog_obj;
  int ok;

  if (owner == NULL)
    return NULL;
  owner->dog = NULL;
  owner->dog_serial = 0;
  owner->walks = 0;
  owner->borrowing = borrowing;

  /* Taking the dog reference and registering the owner in one critical
   * section: the dog cannot die in between, and a failed registration
   * leaves no reference to give back. */
  pthread_mutex_lock (&lock);
  ok = register_locked (&owner->base, RC_TN_KIND_OWNER);
  if (ok && dog != NULL)
    {
      dog_obj = lookup_kind (dog, RC_TN_KIND_DOG);
      if (dog_obj != NULL && (borrowing || dog_obj->ref_count < INT_MAX))
        {
          if (!borrowing)
            dog_obj->ref_count++;
          owner->dog = dog_obj;
          owner->dog_serial = dog_obj->serial;
        }
      else
        count_misuse ();
    }
  pthread_mutex_unlock (&lock);

  if (!ok)
    {
      free (owner);
      return NULL;
    }
  return owner;
}

void *
rc_tn_owner_new (void *dog)
{
  return owner_new (dog, 0);
}

void *
rc_tn_owner_new_borrowing (void *dog)
{
  return owner_new (dog, 1);
}

void *
rc_tn_croc_new (void)
{
  RcTnCroc *croc = malloc (sizeof *croc);

  if (croc == NULL)
    return NULL;
  croc->meals = 0;

  return register_new (&croc->base, RC_TN_KIND_CROC);
}

/* ------------------------------------------------------------------------
 * Reference counting
 * ------------------------------------------------------------------------ */

void
rc_tn_add_ref (void *obj)
{
  RcTnObject *o;

  pthread_mutex_lock (&lock);
  o = lookup (obj);
  if (o != NULL && o->ref_count < INT_MAX)
    o->ref_count++;
  else
    count_misuse ();
  pthread_mutex_unlock (&lock);
}

void
rc_tn_release (void *obj)
{
  release_checked (obj, 0, 0);
}

int
rc_tn_get_ref_count (void *obj)
{
  RcTnObject *o;
  int count;

  pthread_mutex_lock (&lock);
  o = lookup (obj);
  count = o != NULL ? o->ref_count : -1;
  pthread_mutex_unlock (&lock);

  return count;
}

int
rc_tn_is_alive (void *obj)
{
  int alive;

  pthread_mutex_lock (&lock);
  alive = lookup (obj) != NULL;
  pthread_mutex_unlock (&lock);

  return alive;
}

/* ------------------------------------------------------------------------
 * Object behaviour
 * ------------------------------------------------------------------------ */

const char *
rc_tn_dog_get_name (void *dog)
{
  RcTnObject *o;

  pthread_mutex_lock (&lock);
  o = lookup_kind (dog, RC_TN_KIND_DOG);
  if (o == NULL)
    count_misuse ();
  pthread_mutex_unlock (&lock);

  return o != NULL ? ((RcTnDog *) o)->name : NULL;
}

void *
rc_tn_owner_get_dog (void *owner)
{
  RcTnOwner *o;
  void *dog = NULL;

  pthread_mutex_lock (&lock);
  o = (RcTnOwner *) lookup_kind (owner, RC_TN_KIND_OWNER);
  if (o == NULL)
    count_misuse ();
  else if (owner_dog_is_live (o))
    dog = o->dog;
  pthread_mutex_unlock (&lock);

  return dog;
}

int
rc_tn_owner_walk (void *owner)
{
  RcTnOwner *o;
  int walks = -1;

  pthread_mutex_lock (&lock);
  o = (RcTnOwner *) lookup_kind (owner, RC_TN_KIND_OWNER);
  if (o == NULL)
    count_misuse ();
  else if (o->dog == NULL)
    ; /* created without a dog: nothing to walk, but no bug either */
  else if (!owner_dog_is_live (o))
    count_misuse ();  /* the walk would use a freed dog */
  else
    {
      if (o->walks < INT_MAX)
        o->walks++;
      walks = o->walks;
    }
  pthread_mutex_unlock (&lock);

  return walks;
}

int
rc_tn_croc_eat (void *croc, void *dog)
{
  RcTnObject *c, *d;
  int ate = 0;

  pthread_mutex_lock (&lock);
  c = lookup_kind (croc, RC_TN_KIND_CROC);
  d = lookup_kind (dog, RC_TN_KIND_DOG);
  if (c != NULL && d != NULL)
    {
      if (((RcTnCroc *) c)->meals < INT_MAX)
        ((RcTnCroc *) c)->meals++;
      ate = 1;
    }
  else
    count_misuse ();
  pthread_mutex_unlock (&lock);

  return ate;
}

/* ------------------------------------------------------------------------
 * Global counters
 * ------------------------------------------------------------------------ */

int
rc_tn_live_count (void)
{
  return atomic_load (&live_total);
}

int
rc_tn_dog_live_count (void)
{
  return atomic_load (&live_by_kind[RC_TN_KIND_DOG]);
}

int
rc_tn_owner_live_count (void)
{
  return atomic_load (&live_by_kind[RC_TN_KIND_OWNER]);
}

int
rc_tn_croc_live_count (void)
{
  return atomic_load (&live_by_kind[RC_TN_KIND_CROC]);
}

long
rc_tn_created_count (void)
{
  return atomic_load (&created_total);
}

long
rc_tn_freed_count (void)
{
  return atomic_load (&freed_total);
}

long
rc_tn_misuse_count (void)
{
  return atomic_load (&misuse_total);
}

void
rc_tn_reset_misuse_count (void)
{
  atomic_store (&misuse_total, 0);
}

/* ------------------------------------------------------------------------
 * Freed callback
 * ------------------------------------------------------------------------ */

void
rc_tn_set_freed_callback (RcTnFreedCallback callback, void *user_data)
{
  pthread_mutex_lock (&lock);
  freed_callback = callback;
  freed_callback_data = user_data;
  pthread_mutex_unlock (&lock);
}
