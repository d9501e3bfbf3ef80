/*
 * master - the prefork master: keeps the worker pool sized, reaps and
 * replaces workers, refuses connections with 421 when every worker is busy
 * and the pool is full, and stops gracefully on SIGTERM/SIGINT.
 *
 * The master never speaks SMTP beyond that one 421 line. It returns when
 * every worker has exited after a stop request.
 */
#ifndef SMTPTRAP_MASTER_H
#define SMTPTRAP_MASTER_H

#include <stddef.h>

struct authdb;
struct config;
struct tls_server;
struct listener;

int master_run(const struct config *cfg, struct listener *listeners, size_t nlisteners,
    struct tls_server *tls, const struct authdb *authdb);

#endif
