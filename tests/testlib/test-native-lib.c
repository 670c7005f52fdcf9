/*
 * test-native-lib.c - self-test of the test native library (TAP output).
 *
 * The refcount test suites trust rc-test-native's counters as ground truth,
 * so the fixture itself must be right: this checks its counting, misuse
 * detection, callback, thread safety and registry growth.  Plain C, no
 * GLib; a failed check prints "not ok" plus "Bail out!" and exits 1.
 *
 * Every test leaves no live object behind and checks it, and compares
 * created/freed/misuse counters as deltas, so tests are order-independent.
 */

#define _POSIX_C_SOURCE 200809L

#include "rc-test-native.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int current_test;
static const char *current_name;

_Noreturn static void
fail (const char *file, int line, const char *expr)
{
  printf ("not ok %d - %s\n", current_test, current_name);
  printf ("Bail out! %s:%d: check failed: %s\n", file, line, expr);
  fflush (stdout);
  exit (1);
}

#define CHECK(expr) \
  do { if (!(expr)) fail (__FILE__, __LINE__, #expr); } while (0)

/* Every test must end with nothing alive and no callback installed. */
static void
check_clean (void)
{
  CHECK (rc_tn_live_count () == 0);
  CHECK (rc_tn_dog_live_count () == 0);
  CHECK (rc_tn_owner_live_count () == 0);
  CHECK (rc_tn_croc_live_count () == 0);
  CHECK (rc_tn_created_count () == rc_tn_freed_count ());
}

/* ------------------------------------------------------------------------ */

static void
test_counts (void)
{
  long created = rc_tn_created_count ();
  long freed = rc_tn_freed_count ();
  long misuse = rc_tn_misuse_count ();
  void *dog = rc_tn_dog_new ("Rex");
  void *croc = rc_tn_croc_new ();
  void *owner = rc_tn_owner_new (NULL);

  CHECK (dog != NULL && croc != NULL && owner != NULL);
  CHECK (rc_tn_live_count () == 3);
  CHECK (rc_tn_dog_live_count () == 1);
  CHECK (rc_tn_owner_live_count () == 1);
  CHECK (rc_tn_croc_live_count () == 1);
  CHECK (rc_tn_created_count () - created == 3);
  CHECK (rc_tn_freed_count () == freed);
  CHECK (rc_tn_get_ref_count (dog) == 1);
  CHECK (rc_tn_is_alive (dog) && rc_tn_is_alive (croc)
         && rc_tn_is_alive (owner));

  rc_tn_add_ref (dog);
  rc_tn_add_ref (dog);
  CHECK (rc_tn_get_ref_count (dog) == 3);
  rc_tn_release (dog);
  rc_tn_release (dog);
  CHECK (rc_tn_get_ref_count (dog) == 1);
  CHECK (rc_tn_live_count () == 3);

  rc_tn_release (dog);
  CHECK (!rc_tn_is_alive (dog));
  CHECK (rc_tn_get_ref_count (dog) == -1);
  CHECK (rc_tn_dog_live_count () == 0);
  CHECK (rc_tn_live_count () == 2);
  CHECK (rc_tn_freed_count () - freed == 1);

  rc_tn_release (croc);
  rc_tn_release (owner);
  CHECK (rc_tn_freed_count () - freed == 3);
  CHECK (rc_tn_misuse_count () == misuse);
  check_clean ();
}

static void
test_dog_name (void)
{
  char buf[] = "Laika";
  long misuse = rc_tn_misuse_count ();
  void *dog = rc_tn_dog_new (buf);
  void *anon = rc_tn_dog_new (NULL);
  void *croc = rc_tn_croc_new ();

  /* The name is a copy, not the caller's buffer. */
  buf[0] = 'X';
  CHECK (strcmp (rc_tn_dog_get_name (dog), "Laika") == 0);
  CHECK (strcmp (rc_tn_dog_get_name (anon), "unnamed") == 0);
  CHECK (rc_tn_misuse_count () == misuse);

  /* A live object of the wrong kind is misuse too. */
  CHECK (rc_tn_dog_get_name (croc) == NULL);
  CHECK (rc_tn_misuse_count () - misuse == 1);

  rc_tn_release (dog);
  rc_tn_release (anon);
  rc_tn_release (croc);
  check_clean ();
}

static void
test_owner_keeps_dog (void)
{
  long misuse = rc_tn_misuse_count ();
  void *dog = rc_tn_dog_new ("Fido");
  void *owner = rc_tn_owner_new (dog);

  CHECK (rc_tn_get_ref_count (dog) == 2);
  CHECK (rc_tn_owner_get_dog (owner) == dog);
  CHECK (rc_tn_get_ref_count (owner) == 1);

  /* The caller drops its dog; the owner's reference keeps it alive. */
  rc_tn_release (dog);
  CHECK (rc_tn_is_alive (dog));
  CHECK (rc_tn_get_ref_count (dog) == 1);
  CHECK (rc_tn_owner_walk (owner) == 1);
  CHECK (rc_tn_owner_walk (owner) == 2);
  CHECK (strcmp (rc_tn_dog_get_name (rc_tn_owner_get_dog (owner)), "Fido")
         == 0);

  /* Freeing the owner releases its dog, which dies with it. */
  rc_tn_release (owner);
  CHECK (!rc_tn_is_alive (owner));
  CHECK (!rc_tn_is_alive (dog));
  CHECK (rc_tn_misuse_count () == misuse);
  check_clean ();
}

static void
test_borrowing_owner (void)
{
  long misuse = rc_tn_misuse_count ();
  void *dog = rc_tn_dog_new ("Lent");
  void *owner = rc_tn_owner_new_borrowing (dog);
  void *croc = rc_tn_croc_new ();
  void *stray;

  /* No native reference is taken on the dog. */
  CHECK (owner != NULL);
  CHECK (rc_tn_get_ref_count (dog) == 1);
  CHECK (rc_tn_owner_get_dog (owner) == dog);
  CHECK (rc_tn_owner_walk (owner) == 1);
  CHECK (rc_tn_misuse_count () == misuse);

  /* Owner freed first, as promised: no misuse, the dog is untouched. */
  rc_tn_release (owner);
  CHECK (!rc_tn_is_alive (owner));
  CHECK (rc_tn_is_alive (dog) && rc_tn_get_ref_count (dog) == 1);
  CHECK (rc_tn_misuse_count () == misuse);
  rc_tn_release (dog);
  CHECK (rc_tn_misuse_count () == misuse);

  /* The dog freed before its borrowing owner: walking is misuse, and so is
   * freeing the owner (its last use of the dog). */
  dog = rc_tn_dog_new ("Lent");
  owner = rc_tn_owner_new_borrowing (dog);
  rc_tn_release (dog);
  CHECK (!rc_tn_is_alive (dog));
  CHECK (rc_tn_misuse_count () == misuse);
  CHECK (rc_tn_owner_walk (owner) == -1);
  CHECK (rc_tn_misuse_count () - misuse == 1);
  rc_tn_release (owner);
  CHECK (rc_tn_misuse_count () - misuse == 2);

  /* Even if the dog's address is reused by a new dog (the serial tells). */
  {
    void *dogs[64];
    int i;

    dog = rc_tn_dog_new ("Lent");
    owner = rc_tn_owner_new_borrowing (dog);
    rc_tn_release (dog);
    for (i = 0; i < 64; i++)
      dogs[i] = rc_tn_dog_new ("New");
    rc_tn_release (owner);
    CHECK (rc_tn_misuse_count () - misuse == 3);
    for (i = 0; i < 64; i++)
      {
        CHECK (rc_tn_get_ref_count (dogs[i]) == 1);
        rc_tn_release (dogs[i]);
      }
  }

  /* Not a dog: misuse, and an owner without a dog that checks nothing. */
  stray = rc_tn_owner_new_borrowing (croc);
  CHECK (stray != NULL);
  CHECK (rc_tn_misuse_count () - misuse == 4);
  CHECK (rc_tn_owner_get_dog (stray) == NULL);
  rc_tn_release (croc);
  rc_tn_release (stray);
  CHECK (rc_tn_misuse_count () - misuse == 4);

  rc_tn_reset_misuse_count ();
  check_clean ();
}

static void
test_misuse (void)
{
  int on_stack = 0;
  void *foreign = malloc (64);
  long misuse = rc_tn_misuse_count ();
  void *croc = rc_tn_croc_new ();
  void *dog = rc_tn_dog_new ("Spot");
  void (*destroy) (void *) = rc_tn_release;  /* usable as a release func */

  CHECK (foreign != NULL);

  /* Double release: checked right away, before any new allocation could
   * reuse the address (see the header's note on address reuse). */
  destroy (dog);
  CHECK (rc_tn_misuse_count () == misuse);
  destroy (dog);
  CHECK (rc_tn_misuse_count () - misuse == 1);
  rc_tn_add_ref (dog);
  CHECK (rc_tn_dog_get_name (dog) == NULL);
  CHECK (rc_tn_croc_eat (croc, dog) == 0);
  CHECK (rc_tn_misuse_count () - misuse == 4);

  /* Queries never count as misuse. */
  CHECK (rc_tn_get_ref_count (dog) == -1);
  CHECK (!rc_tn_is_alive (dog));
  CHECK (rc_tn_misuse_count () - misuse == 4);

  /* NULL and foreign pointers are never dereferenced. */
  rc_tn_release (NULL);
  rc_tn_add_ref (NULL);
  rc_tn_release (foreign);
  rc_tn_add_ref (&on_stack);
  CHECK (rc_tn_owner_walk (foreign) == -1);
  CHECK (rc_tn_owner_get_dog (&on_stack) == NULL);
  CHECK (rc_tn_dog_get_name (NULL) == NULL);
  CHECK (rc_tn_croc_eat (NULL, NULL) == 0);
  CHECK (rc_tn_misuse_count () - misuse == 12);
  CHECK (rc_tn_get_ref_count (NULL) == -1 && !rc_tn_is_alive (NULL));
  CHECK (rc_tn_get_ref_count (foreign) == -1 && !rc_tn_is_alive (foreign));
  CHECK (on_stack == 0);

  /* An owner of something that is not a dog takes no reference to it. */
  {
    void *owner = rc_tn_owner_new (croc);

    CHECK (owner != NULL);
    CHECK (rc_tn_misuse_count () - misuse == 13);
    CHECK (rc_tn_get_ref_count (croc) == 1);
    CHECK (rc_tn_owner_get_dog (owner) == NULL);
    rc_tn_release (owner);
  }

  rc_tn_reset_misuse_count ();
  CHECK (rc_tn_misuse_count () == 0);

  rc_tn_release (croc);
  free (foreign);
  check_clean ();
}

static void
test_walk_after_dog_freed (void)
{
  long misuse;
  void *dog = rc_tn_dog_new ("Buddy");
  void *owner = rc_tn_owner_new (dog);
  void *lonely = rc_tn_owner_new (NULL);

  rc_tn_reset_misuse_count ();
  CHECK (rc_tn_owner_walk (owner) == 1);

  /* Over-release: the host steals the owner's reference. */
  rc_tn_release (dog);
  rc_tn_release (dog);
  CHECK (!rc_tn_is_alive (dog));
  CHECK (rc_tn_is_alive (owner));
  misuse = rc_tn_misuse_count ();
  CHECK (misuse == 0);

  CHECK (rc_tn_owner_walk (owner) == -1);
  CHECK (rc_tn_misuse_count () == 1);
  CHECK (rc_tn_owner_get_dog (owner) == NULL);

  /* Even if the dog's address gets reused by a new dog, the owner is not
   * fooled (it checks the dog's serial). */
  {
    void *dogs[64];
    int i;

    for (i = 0; i < 64; i++)
      dogs[i] = rc_tn_dog_new ("New");
    CHECK (rc_tn_owner_walk (owner) == -1);
    CHECK (rc_tn_misuse_count () == 2);
    /* Freeing the owner would release its dog: that reference is gone, so
     * it is misuse and must not touch any of the new dogs. */
    rc_tn_release (owner);
    CHECK (rc_tn_misuse_count () == 3);
    for (i = 0; i < 64; i++)
      {
        CHECK (rc_tn_get_ref_count (dogs[i]) == 1);
        rc_tn_release (dogs[i]);
      }
  }

  /* No dog at all is a legitimate state, not misuse. */
  CHECK (rc_tn_owner_walk (lonely) == -1);
  CHECK (rc_tn_misuse_count () == 3);
  rc_tn_release (lonely);

  rc_tn_reset_misuse_count ();
  check_clean ();
}

static void
test_croc_eat (void)
{
  long misuse = rc_tn_misuse_count ();
  void *croc = rc_tn_croc_new ();
  void *dog = rc_tn_dog_new ("Snack");
  void *owner = rc_tn_owner_new (dog);

  CHECK (rc_tn_croc_eat (croc, dog) == 1);
  CHECK (rc_tn_croc_eat (croc, dog) == 1);
  /* Eating only counts: nothing is freed or released. */
  CHECK (rc_tn_is_alive (dog) && rc_tn_get_ref_count (dog) == 2);
  CHECK (rc_tn_misuse_count () == misuse);

  CHECK (rc_tn_croc_eat (dog, croc) == 0);     /* kinds swapped */
  CHECK (rc_tn_croc_eat (croc, owner) == 0);   /* not a dog */
  CHECK (rc_tn_misuse_count () - misuse == 2);

  rc_tn_release (owner);
  rc_tn_release (dog);
  rc_tn_release (croc);
  CHECK (rc_tn_croc_eat (croc, dog) == 0);
  CHECK (rc_tn_misuse_count () - misuse == 3);
  check_clean ();
}

/* ------------------------------------------------------------------------ */

typedef struct
{
  int n_events;
  void *objs[16];
  int kinds[16];
  int alive_in_callback[16];
  int live_count_in_callback[16];
  void *release_when_croc_dies;   /* re-entrancy: released from callback */
} CallbackLog;

static void
log_freed (void *obj, int kind, void *user_data)
{
  CallbackLog *log = user_data;
  int i = log->n_events++;

  if (i >= 16)
    return;
  log->objs[i] = obj;
  log->kinds[i] = kind;
  /* Calling back into the library must not deadlock. */
  log->alive_in_callback[i] = rc_tn_is_alive (obj);
  log->live_count_in_callback[i] = rc_tn_live_count ();

  if (kind == RC_TN_KIND_CROC && log->release_when_croc_dies != NULL)
    {
      void *victim = log->release_when_croc_dies;

      log->release_when_croc_dies = NULL;
      rc_tn_release (victim);   /* nests another callback */
    }
}

static void
test_freed_callback (void)
{
  CallbackLog log;
  void *dog, *owner, *croc, *prey;
  long misuse = rc_tn_misuse_count ();

  memset (&log, 0, sizeof log);
  rc_tn_set_freed_callback (log_freed, &log);

  /* Owner holding the last dog reference: owner first, then its dog. */
  dog = rc_tn_dog_new ("Max");
  owner = rc_tn_owner_new (dog);
  rc_tn_release (dog);
  CHECK (log.n_events == 0);
  rc_tn_release (owner);
  CHECK (log.n_events == 2);
  CHECK (log.objs[0] == owner && log.kinds[0] == RC_TN_KIND_OWNER);
  CHECK (log.objs[1] == dog && log.kinds[1] == RC_TN_KIND_DOG);
  CHECK (log.alive_in_callback[0] == 0 && log.alive_in_callback[1] == 0);
  /* Counters already account for the object being freed. */
  CHECK (log.live_count_in_callback[0] == 1);
  CHECK (log.live_count_in_callback[1] == 0);

  /* A callback that releases another object from inside the callback. */
  croc = rc_tn_croc_new ();
  prey = rc_tn_dog_new ("Prey");
  log.release_when_croc_dies = prey;
  rc_tn_release (croc);
  CHECK (log.n_events == 4);
  CHECK (log.objs[2] == croc && log.kinds[2] == RC_TN_KIND_CROC);
  CHECK (log.objs[3] == prey && log.kinds[3] == RC_TN_KIND_DOG);
  CHECK (!rc_tn_is_alive (prey));

  /* Cleared: no more calls. */
  rc_tn_set_freed_callback (NULL, NULL);
  dog = rc_tn_dog_new ("Quiet");
  rc_tn_release (dog);
  CHECK (log.n_events == 4);

  CHECK (rc_tn_misuse_count () == misuse);
  check_clean ();
}

/* ------------------------------------------------------------------------ */

#define N_THREADS 8
#define N_ITERATIONS 100000

typedef enum { PAIRS, ADD_ONLY, RELEASE_ONLY } Phase;

typedef struct
{
  void *obj;
  Phase phase;
} RefWork;

static void *
ref_worker (void *data)
{
  RefWork *work = data;
  int i;

  for (i = 0; i < N_ITERATIONS; i++)
    {
      if (work->phase != RELEASE_ONLY)
        rc_tn_add_ref (work->obj);
      if (work->phase != ADD_ONLY)
        rc_tn_release (work->obj);
    }
  return NULL;
}

static void
run_ref_threads (void *obj, Phase phase)
{
  pthread_t threads[N_THREADS];
  RefWork work = { obj, phase };
  int i;

  for (i = 0; i < N_THREADS; i++)
    CHECK (pthread_create (&threads[i], NULL, ref_worker, &work) == 0);
  for (i = 0; i < N_THREADS; i++)
    CHECK (pthread_join (threads[i], NULL) == 0);
}

typedef struct
{
  void *target;
  atomic_int target_freed;
} FreeCounter;

static void
count_target_freed (void *obj, int kind, void *user_data)
{
  FreeCounter *counter = user_data;

  (void) kind;
  if (obj == counter->target)
    atomic_fetch_add (&counter->target_freed, 1);
}

static void
test_threads_refcount (void)
{
  FreeCounter counter;
  long freed = rc_tn_freed_count ();
  long misuse = rc_tn_misuse_count ();
  void *dog = rc_tn_dog_new ("Shared");

  counter.target = dog;
  atomic_init (&counter.target_freed, 0);
  rc_tn_set_freed_callback (count_target_freed, &counter);

  /* Interleaved pairs: the count never reaches 0, so the dog survives. */
  run_ref_threads (dog, PAIRS);
  CHECK (rc_tn_get_ref_count (dog) == 1);

  /* Separate phases make any lost update visible in the count. */
  run_ref_threads (dog, ADD_ONLY);
  CHECK (rc_tn_get_ref_count (dog) == 1 + N_THREADS * N_ITERATIONS);
  run_ref_threads (dog, RELEASE_ONLY);
  CHECK (rc_tn_get_ref_count (dog) == 1);
  CHECK (atomic_load (&counter.target_freed) == 0);

  rc_tn_release (dog);
  CHECK (atomic_load (&counter.target_freed) == 1);
  CHECK (rc_tn_freed_count () - freed == 1);
  CHECK (rc_tn_misuse_count () == misuse);

  rc_tn_set_freed_callback (NULL, NULL);
  check_clean ();
}

#define N_CHURN 20000

static void *
churn_worker (void *data)
{
  void **objs = malloc (N_CHURN * sizeof *objs);
  int i;

  (void) data;
  if (objs == NULL)
    abort ();
  /* Mixed kinds, with owners sharing their dog, all against one registry. */
  for (i = 0; i < N_CHURN; i++)
    {
      switch (i % 3)
        {
        case 0: objs[i] = rc_tn_dog_new ("Churn"); break;
        case 1: objs[i] = rc_tn_owner_new (objs[i - 1]); break;
        default: objs[i] = rc_tn_croc_new (); break;
        }
    }
  for (i = 0; i < N_CHURN; i++)
    {
      if (rc_tn_get_ref_count (objs[i]) != (i % 3 == 0 && i + 1 < N_CHURN
                                            ? 2 : 1))
        abort ();
      rc_tn_release (objs[i]);
    }
  free (objs);
  return NULL;
}

static void
test_threads_churn (void)
{
  pthread_t threads[N_THREADS];
  long created = rc_tn_created_count ();
  long freed = rc_tn_freed_count ();
  long misuse = rc_tn_misuse_count ();
  int i;

  for (i = 0; i < N_THREADS; i++)
    CHECK (pthread_create (&threads[i], NULL, churn_worker, NULL) == 0);
  for (i = 0; i < N_THREADS; i++)
    CHECK (pthread_join (threads[i], NULL) == 0);

  CHECK (rc_tn_created_count () - created == (long) N_THREADS * N_CHURN);
  CHECK (rc_tn_freed_count () - freed == (long) N_THREADS * N_CHURN);
  CHECK (rc_tn_misuse_count () == misuse);
  check_clean ();
}

/* ------------------------------------------------------------------------ */

#define N_MANY 1000000

static void
test_registry_growth (void)
{
  void **objs = malloc (N_MANY * sizeof *objs);
  long created = rc_tn_created_count ();
  long misuse = rc_tn_misuse_count ();
  int i;

  CHECK (objs != NULL);
  for (i = 0; i < N_MANY; i++)
    {
      objs[i] = (i % 2) ? rc_tn_croc_new () : rc_tn_dog_new (NULL);
      CHECK (objs[i] != NULL);
    }
  CHECK (rc_tn_live_count () == N_MANY);
  CHECK (rc_tn_dog_live_count () == N_MANY / 2);
  CHECK (rc_tn_created_count () - created == N_MANY);

  /* Remove every other entry first: deletions in the middle of probe runs
   * must not hide the survivors, and shrinking must keep them all. */
  for (i = 0; i < N_MANY; i += 2)
    rc_tn_release (objs[i]);
  CHECK (rc_tn_live_count () == N_MANY / 2);
  for (i = 0; i < N_MANY; i++)
    CHECK (rc_tn_get_ref_count (objs[i]) == (i % 2 ? 1 : -1));

  for (i = N_MANY - 1; i > 0; i -= 2)
    rc_tn_release (objs[i]);
  CHECK (rc_tn_live_count () == 0);
  CHECK (rc_tn_misuse_count () == misuse);

  free (objs);
  check_clean ();
}

/* ------------------------------------------------------------------------ */

static const struct
{
  const char *name;
  void (*func) (void);
} tests[] = {
  { "counts after create and release", test_counts },
  { "dog name is copied, NULL is unnamed", test_dog_name },
  { "owner keeps its dog alive", test_owner_keeps_dog },
  { "borrowing owner: no reference, misuse if it outlives its dog", test_borrowing_owner },
  { "misuse is counted without crashing", test_misuse },
  { "walk after dog freed returns -1", test_walk_after_dog_freed },
  { "croc eats live dogs only", test_croc_eat },
  { "freed callback: kind, order, re-entry", test_freed_callback },
  { "8 threads add_ref/release exactly", test_threads_refcount },
  { "8 threads create/release concurrently", test_threads_churn },
  { "registry grows to a million and back", test_registry_growth },
};

int
main (void)
{
  size_t n = sizeof tests / sizeof tests[0];
  size_t i;

  printf ("1..%zu\n", n);
  fflush (stdout);

  check_clean ();
  for (i = 0; i < n; i++)
    {
      current_test = (int) i + 1;
      current_name = tests[i].name;
      tests[i].func ();
      printf ("ok %d - %s\n", current_test, current_name);
      fflush (stdout);
    }
  return 0;
}
