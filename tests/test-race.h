/* test-race.h: rounds of worker threads that start together
 *
 * SPDX-License-Identifier: MIT
 *
 * The main thread prepares a round, the workers meet at a barrier that the
 * last one to arrive opens, all act at the same moment, and the last to
 * finish wakes the main thread, which checks. No sleeps: spinning with
 * g_thread_yield() once a tight start is over (there may be more threads
 * than cores). A file may define RACE_GO_SPINS, the tight spins at the
 * barrier, before including this.
 */

#pragma once

#include <glib.h>

#define RACE_MAX_WORKERS 8

#ifndef RACE_GO_SPINS
# define RACE_GO_SPINS 1000
#endif

static inline void
spin_until_at_least (int   *counter,
                     int    target,
                     guint  pure_spins)
{
  guint spins = 0;

  while (g_atomic_int_get (counter) < target)
    {
      if (++spins > pure_spins)
        g_thread_yield ();
    }
}

typedef struct _Race Race;

/* Runs in each worker once per round, all workers at the same moment. */
typedef void (*RaceWorkerFunc) (Race  *race,
                                guint  worker,
                                guint  round);

struct _Race
{
  guint n_workers;
  guint n_rounds;
  RaceWorkerFunc func;
  gpointer data;

  int prepared;         /* last round whose state is ready */
  int arrived;          /* cumulative over the rounds */
  int go;               /* last round opened */
  int done;             /* cumulative over the rounds */
  GMutex lock;
  GCond cond;
};

typedef struct
{
  Race *race;
  guint index;
} RaceWorker;

static inline gpointer
race_worker_thread (gpointer data)
{
  RaceWorker *worker = data;
  Race *race = worker->race;
  int n = (int) race->n_workers;
  int round;

  for (round = 1; round <= (int) race->n_rounds; round++)
    {
      spin_until_at_least (&race->prepared, round, 16);

      /* the barrier: the last one in opens it */
      if (g_atomic_int_add (&race->arrived, 1) + 1 == round * n)
        g_atomic_int_set (&race->go, round);
      else
        spin_until_at_least (&race->go, round, RACE_GO_SPINS);

      race->func (race, worker->index, (guint) round);

      if (g_atomic_int_add (&race->done, 1) + 1 == round * n)
        {
          g_mutex_lock (&race->lock);
          g_cond_signal (&race->cond);
          g_mutex_unlock (&race->lock);
        }
    }

  return NULL;
}

/* Runs @n_rounds rounds: @setup before each (main thread, workers waiting),
 * @func in every worker at once, @check after (main thread, workers done). */
static inline void
race_run (guint           n_workers,
          guint           n_rounds,
          void          (*setup) (Race *race, guint round),
          RaceWorkerFunc  func,
          void          (*check) (Race *race, guint round),
          gpointer        data)
{
  Race race = { 0, };
  RaceWorker workers[RACE_MAX_WORKERS];
  GThread *threads[RACE_MAX_WORKERS];
  guint i;
  int round;

  g_assert_cmpuint (n_workers, <=, RACE_MAX_WORKERS);
  race.n_workers = n_workers;
  race.n_rounds = n_rounds;
  race.func = func;
  race.data = data;
  g_mutex_init (&race.lock);
  g_cond_init (&race.cond);

  for (i = 0; i < n_workers; i++)
    {
      workers[i].race = &race;
      workers[i].index = i;
      threads[i] = g_thread_new ("racer", race_worker_thread, &workers[i]);
    }

  for (round = 1; round <= (int) n_rounds; round++)
    {
      setup (&race, (guint) round);
      /* a full barrier: the workers see everything setup () wrote */
      g_atomic_int_set (&race.prepared, round);

      g_mutex_lock (&race.lock);
      while (g_atomic_int_get (&race.done) < round * (int) n_workers)
        g_cond_wait (&race.cond, &race.lock);
      g_mutex_unlock (&race.lock);

      check (&race, (guint) round);
    }

  for (i = 0; i < n_workers; i++)
    g_thread_join (threads[i]);
  g_mutex_clear (&race.lock);
  g_cond_clear (&race.cond);
}
