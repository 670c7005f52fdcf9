/* bench-c.c: C benchmarks of refcount against GObject and GLib rc-box baselines
 *
 * Run with `meson test -C build --benchmark --verbose`. Each case prints the
 * median ns/op over several repetitions and a `ratio` line against a
 * baseline measured in this same process. Nothing is asserted on timings.
 *
 * Environment: RC_BENCH_QUICK=1 reduces the 10M live-handle case to 2M and
 * the repetitions, for quick runs.
 *
 * Other modes, used by the program itself or for profiling:
 *   bench-c --loop NAME ITERATIONS   one timed loop alone (for perf/callgrind;
 *                                    an unknown NAME lists the known ones)
 *   bench-c --mass bare|deletable N  one round of the live-handles case, run
 *                                    in a fresh process by case (5)
 *
 * SPDX-License-Identifier: MIT
 */

#define _GNU_SOURCE 1   /* pthread_setaffinity_np */

#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <dlfcn.h>

#include <refcount/refcount.h>

#define BENCH_REPS         7
#define BENCH_QUICK_REPS   3
#define BENCH_TARGET_NS    60000000.0   /* ~60 ms per timed loop */
#define BENCH_TYPE_ID      "BENCH_PTR"

#define compiler_barrier() __asm__ __volatile__ ("" ::: "memory")

static volatile gpointer sink_ptr;
static volatile int sink_int;
static guint n_reps = BENCH_REPS;

/* A non-NULL native pointer that is never freed: the release functions below
 * do nothing, so the benchmarks time the handles, not malloc. */
static int native_object;

/* ------------------------------------------------------------------------
 * Baseline: the smallest possible GObject subclass.
 * ------------------------------------------------------------------------ */

#define BENCH_TYPE_BARE (bench_bare_get_type ())
G_DECLARE_FINAL_TYPE (BenchBare, bench_bare, BENCH, BARE, GObject)

struct _BenchBare
{
  GObject parent_instance;
};

G_DEFINE_FINAL_TYPE (BenchBare, bench_bare, G_TYPE_OBJECT)

static void
bench_bare_class_init (BenchBareClass *klass)
{
}

static void
bench_bare_init (BenchBare *self)
{
}

/* The payload of the rc-box baseline: about the size of what a handle keeps
 * (a pointer, a release function and its data). */
typedef struct
{
  gpointer handle;
  gpointer func;
  gpointer user_data;
} BenchBox;

static void
bench_box_clear (gpointer data)
{
  BenchBox *box = data;

  sink_ptr = box->handle;
}

static void
noop_native_release (void *handle)
{
  sink_ptr = handle;
}

static void
noop_release (gpointer handle,
              gpointer user_data)
{
  sink_ptr = handle;
}

/* ------------------------------------------------------------------------
 * Timing
 * ------------------------------------------------------------------------ */

static gint64
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

typedef void (*BenchLoop) (guint64 iters, gpointer data);

static int
compare_doubles (gconstpointer a,
                 gconstpointer b)
{
  double x = *(const double *) a;
  double y = *(const double *) b;

  return (x > y) - (x < y);
}

static double
median (double *values,
        guint   n)
{
  qsort (values, n, sizeof (double), compare_doubles);
  if (n % 2 == 1)
    return values[n / 2];
  return (values[n / 2 - 1] + values[n / 2]) / 2.0;
}

static double
time_loop_ns (BenchLoop loop,
              gpointer  data,
              guint64   iters)
{
  gint64 start;
  gint64 end;

  start = now_ns ();
  loop (iters, data);
  end = now_ns ();
  return (double) (end - start);
}

/* Iterations for a loop of about BENCH_TARGET_NS, after a warm-up. */
static guint64
calibrate (BenchLoop loop,
           gpointer  data)
{
  guint64 iters = 1000;
  double elapsed;

  for (;;)
    {
      elapsed = time_loop_ns (loop, data, iters);
      if (elapsed > BENCH_TARGET_NS / 8 || iters >= G_GUINT64_CONSTANT (1) << 34)
        break;
      iters *= 4;
    }
  if (elapsed < 1.0)
    elapsed = 1.0;
  iters = (guint64) ((double) iters * BENCH_TARGET_NS / elapsed);
  return MAX (iters, 1000);
}

/* The median ns/op of n_reps timed loops. */
static double
measure (BenchLoop loop,
         gpointer  data)
{
  double samples[BENCH_REPS];
  guint64 iters = calibrate (loop, data);
  guint i;

  for (i = 0; i < n_reps; i++)
    samples[i] = time_loop_ns (loop, data, iters) / (double) iters;
  return median (samples, n_reps);
}

static void
print_case (const char *name,
            double      ns)
{
  g_print ("%s: median %.1f ns/op (%u reps)\n", name, ns, n_reps);
}

static void
print_baseline (const char *name,
                double      ns)
{
  g_print ("  baseline %s: median %.1f ns/op\n", name, ns);
}

static void
print_ratio (const char *what,
             const char *against,
             double      ns,
             double      baseline_ns,
             double      target)
{
  double ratio = ns / baseline_ns;

  if (target > 0)
    g_print ("  ratio %s / %s: %.2f (target <= %.2f: %s)\n",
             what, against, ratio, target, ratio <= target ? "met" : "MISSED");
  else
    g_print ("  ratio %s / %s: %.2f\n", what, against, ratio);
}

/* ------------------------------------------------------------------------
 * (1) create + release
 * ------------------------------------------------------------------------ */

static void
loop_gobject_new_unref (guint64  iters,
                        gpointer data)
{
  guint64 i;

  for (i = 0; i < iters; i++)
    {
      BenchBare *obj = g_object_new (BENCH_TYPE_BARE, NULL);

      sink_ptr = obj;
      compiler_barrier ();
      g_object_unref (obj);
    }
}

static void
loop_rc_box_alloc_release (guint64  iters,
                           gpointer data)
{
  guint64 i;

  for (i = 0; i < iters; i++)
    {
      BenchBox *box = g_atomic_rc_box_alloc (sizeof (BenchBox));

      box->handle = &native_object;
      box->func = (gpointer) noop_native_release;
      box->user_data = NULL;
      sink_ptr = box;
      compiler_barrier ();
      g_atomic_rc_box_release_full (box, bench_box_clear);
    }
}

static void
loop_deletable_native (guint64  iters,
                       gpointer data)
{
  const char *type_id = data;
  guint64 i;

  for (i = 0; i < iters; i++)
    {
      RcDeletableNativeHandle *h =
        rc_deletable_native_handle_new_native (&native_object,
                                               (gpointer) noop_native_release,
                                               type_id);

      sink_ptr = h;
      compiler_barrier ();
      g_object_unref (h);
    }
}

static void
loop_deletable_callback (guint64  iters,
                         gpointer data)
{
  guint64 i;

  for (i = 0; i < iters; i++)
    {
      RcDeletableNativeHandle *h =
        rc_deletable_native_handle_new (&native_object, noop_release, NULL, NULL,
                                        BENCH_TYPE_ID);

      sink_ptr = h;
      compiler_barrier ();
      g_object_unref (h);
    }
}

static void
loop_owning (guint64  iters,
             gpointer data)
{
  guint64 i;

  for (i = 0; i < iters; i++)
    {
      RcOwningNativeHandle *h = rc_owning_native_handle_new (&native_object, BENCH_TYPE_ID);

      sink_ptr = h;
      compiler_barrier ();
      g_object_unref (h);
    }
}

/* The release function of bench-release-module, loaded with dlopen(): its
 * handles keep the module loaded until released. */
static gpointer module_release;

static void
load_release_module (void)
{
  void *module = dlopen (BENCH_RELEASE_MODULE, RTLD_NOW | RTLD_LOCAL);

  if (module == NULL || (module_release = dlsym (module, "bench_module_release")) == NULL)
    g_error ("cannot load %s: %s", BENCH_RELEASE_MODULE, dlerror ());
}

static void
loop_deletable_module (guint64  iters,
                       gpointer data)
{
  guint64 i;

  for (i = 0; i < iters; i++)
    {
      RcDeletableNativeHandle *h =
        rc_deletable_native_handle_new_native (&native_object, module_release, BENCH_TYPE_ID);

      sink_ptr = h;
      compiler_barrier ();
      g_object_unref (h);
    }
}

static void
bench_create_release (void)
{
  double gobject_ns;
  double box_ns;
  double native_ns;
  double native_null_ns;
  double callback_ns;
  double owning_ns;
  double module_churn_ns;
  double module_kept_ns;
  RcDeletableNativeHandle *keeper;

  g_print ("\n== (1) create + release ==\n");
  load_release_module ();

  /* Baselines first, and again last, so that the order (warm caches, CPU
   * frequency) does not favour the handles: the faster of the two baseline
   * measurements is kept, which can only make the ratios worse. */
  gobject_ns = measure (loop_gobject_new_unref, NULL);
  box_ns = measure (loop_rc_box_alloc_release, NULL);
  native_ns = measure (loop_deletable_native, (gpointer) BENCH_TYPE_ID);
  native_null_ns = measure (loop_deletable_native, NULL);
  callback_ns = measure (loop_deletable_callback, NULL);
  owning_ns = measure (loop_owning, NULL);
  /* A function of a dlopen()ed library: each handle is the only one of its
   * function, so each takes the pin and gives it back (dlopen + dlclose of
   * an already loaded object); then with one more handle of the function
   * alive throughout, so that the pin is only counted. */
  module_churn_ns = measure (loop_deletable_module, NULL);
  keeper = rc_deletable_native_handle_new_native (&native_object, module_release, BENCH_TYPE_ID);
  module_kept_ns = measure (loop_deletable_module, NULL);
  g_object_unref (keeper);
  gobject_ns = MIN (gobject_ns, measure (loop_gobject_new_unref, NULL));
  box_ns = MIN (box_ns, measure (loop_rc_box_alloc_release, NULL));

  print_case ("create+release RcDeletableNativeHandle (new_native, type id \"" BENCH_TYPE_ID "\")",
              native_ns);
  print_baseline ("GObject new/unref", gobject_ns);
  print_baseline ("g_atomic_rc_box_alloc/release_full", box_ns);
  print_ratio ("create+release", "GObject new/unref", native_ns, gobject_ns, 1.3);
  print_ratio ("create+release", "rc_box alloc/release_full", native_ns, box_ns, 0);

  print_case ("create+release RcDeletableNativeHandle (new_native, NULL type id)", native_null_ns);
  print_ratio ("create+release (NULL type id)", "GObject new/unref",
               native_null_ns, gobject_ns, 1.3);

  print_case ("create+release RcDeletableNativeHandle (new, C callback)", callback_ns);
  print_ratio ("create+release (callback)", "GObject new/unref", callback_ns, gobject_ns, 1.3);

  print_case ("create+release RcOwningNativeHandle", owning_ns);
  print_ratio ("create+release (owning)", "GObject new/unref", owning_ns, gobject_ns, 1.3);

  print_case ("create+release, release function in a dlopen()ed library, the only handle of it",
              module_churn_ns);
  print_ratio ("create+release (library pinned per handle)", "GObject new/unref",
               module_churn_ns, gobject_ns, 0);
  print_case ("create+release, release function in a dlopen()ed library, another handle of it alive",
              module_kept_ns);
  print_ratio ("create+release (library pin shared)", "GObject new/unref",
               module_kept_ns, gobject_ns, 1.3);
}

/* ------------------------------------------------------------------------
 * (2) (3) add_ref + release and acquire + release pairs
 * ------------------------------------------------------------------------ */

static void
loop_add_ref_release (guint64  iters,
                      gpointer data)
{
  RcNativeHandle *h = data;
  /* The checked cast once, outside the loop, as a caller would hold it. */
  RcReferenceCounter *counter = RC_REFERENCE_COUNTER (h);
  guint64 i;

  for (i = 0; i < iters; i++)
    {
      rc_reference_counter_add_ref (counter);
      compiler_barrier ();
      rc_native_handle_release (h);
    }
}

static void
loop_acquire_release (guint64  iters,
                      gpointer data)
{
  RcNativeHandle *h = data;
  guint64 i;

  for (i = 0; i < iters; i++)
    {
      sink_ptr = rc_native_handle_acquire (h, NULL);
      compiler_barrier ();
      rc_native_handle_release (h);
    }
}

static void
loop_rc_box_acquire_release (guint64  iters,
                             gpointer data)
{
  BenchBox *box = data;
  guint64 i;

  for (i = 0; i < iters; i++)
    {
      sink_ptr = g_atomic_rc_box_acquire (box);
      compiler_barrier ();
      g_atomic_rc_box_release_full (box, bench_box_clear);
    }
}

/* ------------------------------------------------------------------------
 * (4) the pairs with several threads on one shared handle
 * ------------------------------------------------------------------------ */

typedef struct
{
  BenchLoop loop;
  gpointer data;
  guint64 iters_per_thread;
  int ready;
  int go;
  int next_cpu;
} ThreadRun;

/* Threads are spread over the CPUs round-robin, so that with 2 threads on 2
 * CPUs they really run at the same time and contend for the counter, instead
 * of the scheduler sometimes putting both on one CPU (which makes the numbers
 * bimodal). Best effort: a failure leaves the thread where it is. */
static void
pin_to_next_cpu (ThreadRun *run)
{
  cpu_set_t set;
  int cpu = g_atomic_int_add (&run->next_cpu, 1) % (int) g_get_num_processors ();

  CPU_ZERO (&set);
  CPU_SET (cpu, &set);
  (void) pthread_setaffinity_np (pthread_self (), sizeof (set), &set);
}

static gpointer
thread_main (gpointer data)
{
  ThreadRun *run = data;

  pin_to_next_cpu (run);
  g_atomic_int_inc (&run->ready);
  while (!g_atomic_int_get (&run->go))
    g_thread_yield ();
  run->loop (run->iters_per_thread, run->data);
  return NULL;
}

/* Wall time / total ops for n_threads threads, each running iters_per_thread. */
static double
time_threads_ns_per_op (BenchLoop loop,
                        gpointer  data,
                        guint     n_threads,
                        guint64   iters_per_thread)
{
  GThread *threads[64];
  ThreadRun run = { loop, data, iters_per_thread, 0, 0, 0 };
  gint64 start;
  gint64 end;
  guint i;

  g_assert (n_threads <= G_N_ELEMENTS (threads));
  for (i = 0; i < n_threads; i++)
    threads[i] = g_thread_new ("bench", thread_main, &run);
  while ((guint) g_atomic_int_get (&run.ready) < n_threads)
    g_thread_yield ();

  start = now_ns ();
  g_atomic_int_set (&run.go, 1);
  for (i = 0; i < n_threads; i++)
    g_thread_join (threads[i]);
  end = now_ns ();

  return (double) (end - start) / ((double) iters_per_thread * n_threads);
}

typedef struct
{
  const char *name;
  BenchLoop loop;
  gpointer data;
  guint64 per_thread;
  double samples[BENCH_REPS];
  double median;
} ThreadCase;

/* The cases are interleaved, one repetition of each in turn, so that a
 * change of machine load hits them alike and the ratios stay meaningful. */
static void
measure_threads (ThreadCase *cases,
                 guint       n_cases,
                 guint       n_threads)
{
  guint c;
  guint i;

  for (c = 0; c < n_cases; c++)
    {
      /* Calibrate on a short run with the same threads: contention changes
       * the cost a lot. */
      double ns = time_threads_ns_per_op (cases[c].loop, cases[c].data, n_threads, 20000);

      if (ns < 0.1)
        ns = 0.1;
      cases[c].per_thread = MAX ((guint64) (BENCH_TARGET_NS / ns / n_threads), 1000);
    }

  for (i = 0; i < n_reps; i++)
    for (c = 0; c < n_cases; c++)
      cases[c].samples[i] = time_threads_ns_per_op (cases[c].loop, cases[c].data,
                                                    n_threads, cases[c].per_thread);

  for (c = 0; c < n_cases; c++)
    cases[c].median = median (cases[c].samples, n_reps);
}

static void
print_thread_case (const char *prefix,
                   ThreadCase *tc,
                   guint       n_threads)
{
  /* median() sorted the samples */
  g_print ("%s%s, %u thread%s: median %.1f ns/op (%u reps, min %.1f, max %.1f)\n",
           prefix, tc->name, n_threads, n_threads > 1 ? "s" : "", tc->median,
           n_reps, tc->samples[0], tc->samples[n_reps - 1]);
}

static void
bench_pairs (void)
{
  static const guint thread_counts[] = { 1, 2, 8 };
  RcDeletableNativeHandle *h;
  BenchBox *box;
  double add_ref_ns;
  double acquire_ns;
  double box_ns;
  guint i;

  h = rc_deletable_native_handle_new_native (&native_object,
                                             (gpointer) noop_native_release,
                                             BENCH_TYPE_ID);
  box = g_atomic_rc_box_new0 (BenchBox);
  box->handle = &native_object;

  g_print ("\n== (2) add_ref + release pair, (3) acquire + release pair (one thread, no threads started) ==\n");
  box_ns = measure (loop_rc_box_acquire_release, box);
  add_ref_ns = measure (loop_add_ref_release, h);
  acquire_ns = measure (loop_acquire_release, h);
  box_ns = MIN (box_ns, measure (loop_rc_box_acquire_release, box));

  print_case ("add_ref+release pair", add_ref_ns);
  print_baseline ("g_atomic_rc_box_acquire/release pair", box_ns);
  print_ratio ("add_ref+release", "rc_box acquire/release", add_ref_ns, box_ns, 2.0);
  print_case ("acquire+release pair", acquire_ns);
  print_baseline ("g_atomic_rc_box_acquire/release pair", box_ns);
  print_ratio ("acquire+release", "rc_box acquire/release", acquire_ns, box_ns, 2.0);

  g_print ("\n== (4) pairs on one shared handle from 1, 2 and 8 threads "
           "(ns/op = wall time / total pairs; %u CPUs) ==\n", g_get_num_processors ());
  for (i = 0; i < G_N_ELEMENTS (thread_counts); i++)
    {
      guint n = thread_counts[i];
      ThreadCase cases[] = {
        { "g_atomic_rc_box_acquire/release pair", loop_rc_box_acquire_release, box, 0, { 0 }, 0 },
        { "add_ref+release pair", loop_add_ref_release, h, 0, { 0 }, 0 },
        { "acquire+release pair", loop_acquire_release, h, 0, { 0 }, 0 },
      };

      measure_threads (cases, G_N_ELEMENTS (cases), n);
      print_thread_case ("", &cases[1], n);
      print_thread_case ("  baseline ", &cases[0], n);
      print_ratio ("add_ref+release", "rc_box acquire/release",
                   cases[1].median, cases[0].median, 0);
      print_thread_case ("", &cases[2], n);
      print_ratio ("acquire+release", "rc_box acquire/release",
                   cases[2].median, cases[0].median, 0);
    }

  g_assert_cmpint (rc_reference_counter_get_reference_count (RC_REFERENCE_COUNTER (h)), ==, 1);
  g_object_unref (h);
  g_atomic_rc_box_release_full (box, bench_box_clear);
}

/* ------------------------------------------------------------------------
 * (5) many live handles
 * ------------------------------------------------------------------------ */

typedef struct
{
  double create_ns;    /* per handle */
  double release_ns;   /* per handle */
  double bytes;        /* per live handle */
} MassResult;

static gint64
heap_in_use (void)
{
  struct mallinfo2 mi = mallinfo2 ();

  return (gint64) mi.uordblks + (gint64) mi.hblkhd;
}

static MassResult
mass_once (gsize     n,
           gboolean  bare_gobject,
           gpointer *objects)
{
  MassResult r;
  gint64 heap_before;
  gint64 heap_after;
  gint64 t0;
  gint64 t1;
  gint64 t2;
  gsize i;

  heap_before = heap_in_use ();
  t0 = now_ns ();
  if (bare_gobject)
    {
      for (i = 0; i < n; i++)
        objects[i] = g_object_new (BENCH_TYPE_BARE, NULL);
    }
  else
    {
      for (i = 0; i < n; i++)
        objects[i] = rc_deletable_native_handle_new_native (&native_object,
                                                            (gpointer) noop_native_release,
                                                            BENCH_TYPE_ID);
    }
  t1 = now_ns ();
  heap_after = heap_in_use ();
  compiler_barrier ();
  for (i = 0; i < n; i++)
    g_object_unref (objects[i]);
  t2 = now_ns ();

  r.create_ns = (double) (t1 - t0) / (double) n;
  r.release_ns = (double) (t2 - t1) / (double) n;
  r.bytes = (double) (heap_after - heap_before) / (double) n;
  return r;
}

/* Each repetition runs in a fresh copy of this program (`bench-c --mass KIND N`),
 * so that the heap starts empty: otherwise memory freed by an earlier round
 * (kept by GSlice and malloc) hides the footprint, and the page faults of a
 * growing heap are counted for one size and not the other. */
static gboolean
mass_in_child (const char *kind,
               gsize       n,
               MassResult *r)
{
  char *exe = g_file_read_link ("/proc/self/exe", NULL);
  char *n_str = g_strdup_printf ("%" G_GSIZE_FORMAT, n);
  char *argv[] = { exe, (char *) "--mass", (char *) kind, n_str, NULL };
  char *out = NULL;
  GError *error = NULL;
  int status = 0;
  gboolean ok;

  ok = exe != NULL &&
       g_spawn_sync (NULL, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                     &out, NULL, &status, &error) &&
       g_spawn_check_wait_status (status, &error) &&
       out != NULL &&
       sscanf (out, "mass %lf %lf %lf", &r->create_ns, &r->release_ns, &r->bytes) == 3;
  if (!ok)
    g_printerr ("bench-c: the --mass %s %s child failed: %s\n", kind, n_str,
                error != NULL ? error->message : (out != NULL ? out : "no output"));

  g_clear_error (&error);
  g_free (out);
  g_free (n_str);
  g_free (exe);
  return ok;
}

static int
mass_child_main (const char *kind,
                 const char *n_str)
{
  gsize n = (gsize) g_ascii_strtoull (n_str, NULL, 10);
  gpointer *objects;
  MassResult r;

  if (n == 0 || (strcmp (kind, "bare") != 0 && strcmp (kind, "deletable") != 0))
    {
      g_printerr ("usage: bench-c --mass bare|deletable N\n");
      return 2;
    }

  g_type_ensure (BENCH_TYPE_BARE);
  g_type_ensure (RC_TYPE_DELETABLE_NATIVE_HANDLE);
  /* Touch the array so that its pages are neither counted nor timed. */
  objects = g_new (gpointer, n);
  memset (objects, 0, n * sizeof (gpointer));

  r = mass_once (n, strcmp (kind, "bare") == 0, objects);
  g_print ("mass %.3f %.3f %.3f\n", r.create_ns, r.release_ns, r.bytes);
  g_free (objects);
  return 0;
}

static gboolean
mass_median (const char *kind,
             gsize       n,
             guint       reps,
             MassResult *result)
{
  double create[BENCH_REPS];
  double release[BENCH_REPS];
  double bytes[BENCH_REPS];
  MassResult r;
  guint i;

  for (i = 0; i < reps; i++)
    {
      if (!mass_in_child (kind, n, &r))
        return FALSE;
      create[i] = r.create_ns;
      release[i] = r.release_ns;
      bytes[i] = r.bytes;
    }

  result->create_ns = median (create, reps);
  result->release_ns = median (release, reps);
  result->bytes = median (bytes, reps);
  return TRUE;
}

static void
print_mass (const char *what,
            gsize       n,
            guint       reps,
            MassResult  r)
{
  g_print ("%s, %" G_GSIZE_FORMAT " live: median create %.1f ns/handle, "
           "release %.1f ns/handle (%u reps); %.1f bytes/live handle (mallinfo2)\n",
           what, n, r.create_ns, r.release_ns, reps, r.bytes);
}

static void
bench_mass (gboolean quick)
{
  gsize big = quick ? 2000000 : 10000000;
  guint small_reps = quick ? 3 : 5;
  guint big_reps = 3;
  MassResult bare;
  MassResult small;
  MassResult large;
  char *name;

  g_print ("\n== (5) many live handles: create N, then release N "
           "(RcDeletableNativeHandle, new_native, type id \"" BENCH_TYPE_ID "\") ==\n");
  if (!mass_median ("bare", 1000000, small_reps, &bare) ||
      !mass_median ("deletable", 1000000, small_reps, &small) ||
      !mass_median ("deletable", big, big_reps, &large))
    {
      g_print ("many live handles: FAILED to run the child process\n");
      return;
    }

  print_mass ("RcDeletableNativeHandle", 1000000, small_reps, small);
  print_mass ("  baseline bare GObject", 1000000, small_reps, bare);
  print_ratio ("create per handle 1M", "bare GObject new 1M", small.create_ns, bare.create_ns, 0);
  print_ratio ("release per handle 1M", "bare GObject unref 1M", small.release_ns, bare.release_ns, 0);
  print_ratio ("bytes per live handle", "bare GObject", small.bytes, bare.bytes, 0);

  print_mass ("RcDeletableNativeHandle", big, big_reps, large);
  name = g_strdup_printf ("create per handle %" G_GSIZE_FORMAT "M", big / 1000000);
  print_ratio (name, "create per handle 1M (linear growth: ~1.0)",
               large.create_ns, small.create_ns, 0);
  g_free (name);
  name = g_strdup_printf ("release per handle %" G_GSIZE_FORMAT "M", big / 1000000);
  print_ratio (name, "release per handle 1M (linear growth: ~1.0)",
               large.release_ns, small.release_ns, 0);
  g_free (name);
  name = g_strdup_printf ("bytes per handle %" G_GSIZE_FORMAT "M", big / 1000000);
  print_ratio (name, "bytes per handle 1M", large.bytes, small.bytes, 0);
  g_free (name);
}

/* ------------------------------------------------------------------------
 * `bench-c --loop NAME ITERATIONS`: one loop alone, for perf or callgrind.
 * ------------------------------------------------------------------------ */

static int
single_loop_main (const char *name,
                  const char *iters_str)
{
  static const struct {
    const char *name;
    BenchLoop loop;
    gpointer data;
  } loops[] = {
    { "gobject-new-unref", loop_gobject_new_unref, NULL },
    { "rc-box-alloc-release", loop_rc_box_alloc_release, NULL },
    { "deletable-native", loop_deletable_native, (gpointer) BENCH_TYPE_ID },
    { "deletable-native-null-id", loop_deletable_native, NULL },
    { "deletable-callback", loop_deletable_callback, NULL },
    { "owning", loop_owning, NULL },
    { "deletable-module", loop_deletable_module, NULL },
    { "deletable-module-kept", loop_deletable_module, GINT_TO_POINTER (1) },
    { "add-ref-release", loop_add_ref_release, NULL },
    { "acquire-release", loop_acquire_release, NULL },
    { "rc-box-acquire-release", loop_rc_box_acquire_release, NULL },
  };
  guint64 iters = g_ascii_strtoull (iters_str, NULL, 10);
  RcDeletableNativeHandle *keeper = NULL;
  RcDeletableNativeHandle *h;
  BenchBox *box;
  gint64 t0;
  gint64 t1;
  guint i;

  g_type_ensure (BENCH_TYPE_BARE);
  h = rc_deletable_native_handle_new_native (&native_object,
                                             (gpointer) noop_native_release,
                                             BENCH_TYPE_ID);
  box = g_atomic_rc_box_new0 (BenchBox);

  for (i = 0; i < G_N_ELEMENTS (loops); i++)
    {
      gpointer data = loops[i].data;

      if (strcmp (loops[i].name, name) != 0)
        continue;
      if (loops[i].loop == loop_add_ref_release || loops[i].loop == loop_acquire_release)
        data = h;
      else if (loops[i].loop == loop_rc_box_acquire_release)
        data = box;
      if (loops[i].loop == loop_deletable_module)
        {
          load_release_module ();
          /* "-kept": another handle of the function alive throughout */
          if (data != NULL)
            keeper = rc_deletable_native_handle_new_native (&native_object, module_release, BENCH_TYPE_ID);
          data = NULL;
        }

      t0 = now_ns ();
      loops[i].loop (iters, data);
      t1 = now_ns ();
      g_clear_object (&keeper);
      g_print ("%s: %.1f ns/op over %" G_GUINT64_FORMAT " iterations\n",
               name, (double) (t1 - t0) / (double) MAX (iters, 1), iters);
      g_object_unref (h);
      g_atomic_rc_box_release_full (box, bench_box_clear);
      return 0;
    }

  g_printerr ("unknown loop \"%s\"; known:", name);
  for (i = 0; i < G_N_ELEMENTS (loops); i++)
    g_printerr (" %s", loops[i].name);
  g_printerr ("\n");
  g_object_unref (h);
  g_atomic_rc_box_release_full (box, bench_box_clear);
  return 2;
}

/* ------------------------------------------------------------------------ */

static char *
cpu_model (void)
{
  char *contents = NULL;
  char *model = NULL;
  char **lines;
  guint i;

  if (!g_file_get_contents ("/proc/cpuinfo", &contents, NULL, NULL))
    return g_strdup ("unknown");

  lines = g_strsplit (contents, "\n", -1);
  for (i = 0; lines[i] != NULL && model == NULL; i++)
    {
      if (g_str_has_prefix (lines[i], "model name"))
        {
          const char *colon = strchr (lines[i], ':');

          if (colon != NULL)
            model = g_strstrip (g_strdup (colon + 1));
        }
    }
  g_strfreev (lines);
  g_free (contents);
  return model != NULL ? model : g_strdup ("unknown");
}

int
main (int    argc,
      char **argv)
{
  gboolean quick;
  char *model;
  char *loadavg = NULL;
  gint64 start;

  if (argc == 4 && strcmp (argv[1], "--mass") == 0)
    return mass_child_main (argv[2], argv[3]);
  if (argc == 4 && strcmp (argv[1], "--loop") == 0)
    return single_loop_main (argv[2], argv[3]);

  quick = g_strcmp0 (g_getenv ("RC_BENCH_QUICK"), "1") == 0;
  model = cpu_model ();
  start = now_ns ();
  if (quick)
    n_reps = BENCH_QUICK_REPS;

  g_print ("refcount C benchmarks (refcount %u.%u.%u)\n",
           rc_get_major_version (), rc_get_minor_version (), rc_get_micro_version ());
  g_print ("machine: %u CPUs (g_get_num_processors), CPU model: %s\n",
           g_get_num_processors (), model);
  g_print ("GLib %u.%u.%u (headers %d.%d.%d), G_SLICE=%s, RC_DEBUG=%s%s\n",
           glib_major_version, glib_minor_version, glib_micro_version,
           GLIB_MAJOR_VERSION, GLIB_MINOR_VERSION, GLIB_MICRO_VERSION,
           g_getenv ("G_SLICE") != NULL ? g_getenv ("G_SLICE") : "(unset)",
           g_getenv ("RC_DEBUG") != NULL ? g_getenv ("RC_DEBUG") : "(unset)",
           quick ? ", RC_BENCH_QUICK=1" : "");
  g_print ("timer: clock_gettime(CLOCK_MONOTONIC); each case: median of the timed loops "
           "(~%.0f ms each); timings are reported, never asserted\n",
           BENCH_TARGET_NS / 1e6);
  if (g_file_get_contents ("/proc/loadavg", &loadavg, NULL, NULL))
    g_print ("load average at start (other processes skew the numbers): %s",
             loadavg);
  g_free (loadavg);
  g_free (model);

  /* Register the types outside the timed loops. */
  g_type_ensure (BENCH_TYPE_BARE);
  g_type_ensure (RC_TYPE_DELETABLE_NATIVE_HANDLE);
  g_type_ensure (RC_TYPE_OWNING_NATIVE_HANDLE);

  bench_create_release ();
  bench_pairs ();
  bench_mass (quick);

  g_print ("\ntotal time: %.1f s\n", (double) (now_ns () - start) / 1e9);
  sink_int = native_object;
  return 0;
}
