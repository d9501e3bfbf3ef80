/*
 * xmalloc - allocation that never returns NULL.
 *
 * Running out of memory is not something a session can recover from, so
 * these wrappers end the process with fatal(); a worker's death is logged
 * and the master replaces it.
 */
#ifndef SMTPTRAP_XMALLOC_H
#define SMTPTRAP_XMALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
