/*
 * coro - coroutines on their own stacks, for running several sessions in
 * one worker process.
 *
 * A coroutine runs fn(arg) on a private stack until it calls coro_yield(),
 * which returns to whoever called coro_resume() (the worker's scheduler);
 * the next coro_resume() continues it after its coro_yield(). When fn
 * returns the coroutine is finished and its stack may be started again.
 *
 * The stacks are mmap()ed with an inaccessible guard page below them, so
 * an overflow is a crash of this worker, never silent corruption. Only the
 * pages a session touches become resident; coro_trim() gives them back.
 * Under AddressSanitizer every switch is announced to it (the fiber API);
 * under valgrind each stack is registered, so memcheck sees a switch as a
 * change of stack rather than one enormous stack frame.
 * Single-threaded: one process runs one coroutine at a time.
 */
#ifndef SMTPTRAP_CORO_H
#define SMTPTRAP_CORO_H

#include <stddef.h>
#include <ucontext.h>

struct coro {
	ucontext_t ctx;
	char *map;              /* guard page + stack */
	size_t maplen;
	void (*fn)(void *);
	void *arg;
	int running;            /* started and not finished */
	void *asan_fake;        /* AddressSanitizer's fake stack while switched out */
	unsigned vg_stack;      /* valgrind's id for the stack (0 outside valgrind) */
};

/* The stack size every coroutine gets (address space; pages on first use). */
size_t coro_stack_size(void);

/* Map the stack; 0, or -1 with errno set. */
int coro_init(struct coro *c);
/* Run fn(arg) on c's stack until it yields or returns. */
void coro_start(struct coro *c, void (*fn)(void *), void *arg);
/* Continue c after its coro_yield(), until it yields again or returns. */
void coro_resume(struct coro *c);
/* From inside a coroutine: back to coro_start()/coro_resume()'s caller. */
void coro_yield(void);
/* The coroutine running now, or NULL outside any. */
struct coro *coro_current(void);
/* Drop the stack's resident pages (between uses). */
void coro_trim(struct coro *c);
void coro_free(struct coro *c);

#endif
