/* A queue and a few threads (finisher.h). */
#include <pthread.h>
#include <stdlib.h>

#include "finisher.h"

#define MAX_THREADS 8

typedef struct job {
    struct job *next;
    void (*fn)(void *);
    void *arg;
} job;

struct upd_finisher {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job *head, *tail;
    int stop;
    unsigned n;
    pthread_t t[MAX_THREADS];
};

static void *run(void *arg)
{
    upd_finisher *f = arg;
    pthread_mutex_lock(&f->mu);
    for (;;) {
        while (!f->head && !f->stop)
            pthread_cond_wait(&f->cv, &f->mu);
        job *j = f->head;
        if (!j)
            break; /* stopping, and nothing left */
        f->head = j->next;
        if (!f->head)
            f->tail = NULL;
        pthread_mutex_unlock(&f->mu);
        j->fn(j->arg);
        free(j);
        pthread_mutex_lock(&f->mu);
    }
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

upd_finisher *upd_finisher_start(unsigned nthreads)
{
    upd_finisher *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    if (nthreads < 1)
        nthreads = 1;
    if (nthreads > MAX_THREADS)
        nthreads = MAX_THREADS;
    while (f->n < nthreads && pthread_create(&f->t[f->n], NULL, run, f) == 0)
        f->n++;
    if (!f->n) {
        pthread_cond_destroy(&f->cv);
        pthread_mutex_destroy(&f->mu);
        free(f);
        return NULL;
    }
    return f;
}

int upd_finisher_submit(upd_finisher *f, void (*fn)(void *), void *arg)
{
    job *j = f ? malloc(sizeof *j) : NULL;
    if (!j)
        return -1;
    j->next = NULL;
    j->fn = fn;
    j->arg = arg;
    pthread_mutex_lock(&f->mu);
    if (f->stop) {
        pthread_mutex_unlock(&f->mu);
        free(j);
        return -1;
    }
    if (f->tail)
        f->tail->next = j;
    else
        f->head = j;
    f->tail = j;
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
    return 0;
}

void upd_finisher_stop(upd_finisher *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->mu);
    f->stop = 1;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    for (unsigned i = 0; i < f->n; i++)
        pthread_join(f->t[i], NULL);
    f->n = 0;
}

void upd_finisher_free(upd_finisher *f)
{
    if (!f)
        return;
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    free(f);
}
