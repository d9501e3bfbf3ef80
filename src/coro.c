/*
 * coro - coroutines on their own stacks; see coro.h.
 *
 * makecontext() sets a stack up and swapcontext() switches. The entry
 * point gets its coroutine from `current`, so no pointer has to pass
 * through makecontext()'s int arguments.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "coro.h"
#include "log.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define CORO_ASAN 1
/* Instrumented frames are larger: give sessions more room. */
#define CORO_STACK (1024 * 1024)
#else
#define CORO_ASAN 0
#define CORO_STACK (256 * 1024)
#endif

/*
 * valgrind: a stack it has been told about is a stack, so a switch is not
 * taken for a huge frame ("client switching stacks?") and memcheck keeps
 * each stack's definedness apart. A stack is given by its lowest and its
 * highest byte. A finished coroutine's frames are declared undefined, as
 * returning from a function makes them on an ordinary stack: memcheck's
 * leak check then finds no stale pointers there (which would hide the last
 * session's leaks as "still reachable"), and the next task on the stack
 * cannot read them unnoticed. The client requests are no-ops outside
 * valgrind; without the headers (the valgrind package) they are left out.
 */
#if defined(HAVE_VALGRIND_VALGRIND_H) && defined(HAVE_VALGRIND_MEMCHECK_H)
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>
#define CORO_STACK_REGISTER(lo, hi) VALGRIND_STACK_REGISTER((lo), (hi))
#define CORO_STACK_DEREGISTER(id) VALGRIND_STACK_DEREGISTER(id)
#define CORO_STACK_DEAD(p, len) ((void)VALGRIND_MAKE_MEM_UNDEFINED((p), (len)))
#else
#define CORO_STACK_REGISTER(lo, hi) 0u
#define CORO_STACK_DEREGISTER(id) ((void)(id))
#define CORO_STACK_DEAD(p, len) ((void)(p), (void)(len))
#endif

static ucontext_t main_ctx;
static struct coro *current;

#if CORO_ASAN
/*
 * swapcontext() without AddressSanitizer's interceptor, which warns in
 * every process that calls it; the switches are announced through the
 * fiber API instead, and coro_start() clears the stack's shadow, which is
 * what the interceptor would have done.
 */
static void
switch_context(ucontext_t *from, const ucontext_t *to)
{
	volatile int switched = 0;

	getcontext(from);
	if (!switched) {
		switched = 1;
		setcontext(to);
	}
}
#else
#define switch_context(from, to) swapcontext((from), (to))
#endif
#if CORO_ASAN
static const void *main_bottom;
static size_t main_size;
#endif

size_t
coro_stack_size(void)
{
	return CORO_STACK;
}

static char *
stack_base(const struct coro *c)
{
	return c->map + (c->maplen - CORO_STACK);
}

static size_t
page_size(void)
{
	long p = sysconf(_SC_PAGESIZE);

	return p > 0 ? (size_t)p : 4096;
}

int
coro_init(struct coro *c)
{
	size_t guard = page_size();

	c->maplen = guard + CORO_STACK;
	c->map = mmap(NULL, c->maplen, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (c->map == MAP_FAILED) {
		c->map = NULL;
		return -1;
	}
	if (mprotect(c->map, guard, PROT_NONE) != 0) {
		int e = errno;
		munmap(c->map, c->maplen);
		c->map = NULL;
		errno = e;
		return -1;
	}
	c->vg_stack = CORO_STACK_REGISTER(stack_base(c), stack_base(c) + CORO_STACK - 1);
	c->running = 0;
	return 0;
}

/* Switch from the scheduler into c. */
static void
switch_in(struct coro *c)
{
	current = c;
#if CORO_ASAN
	void *fake = NULL;
	__sanitizer_start_switch_fiber(&fake, stack_base(c), CORO_STACK);
	switch_context(&main_ctx, &c->ctx);
	__sanitizer_finish_switch_fiber(fake, NULL, NULL);
#else
	switch_context(&main_ctx, &c->ctx);
#endif
	current = NULL;
	if (!c->running)
		CORO_STACK_DEAD(stack_base(c), CORO_STACK);
}

static void
entry(void)
{
	struct coro *c = current;

#if CORO_ASAN
	__sanitizer_finish_switch_fiber(NULL, &main_bottom, &main_size);
#endif
	c->fn(c->arg);
	c->running = 0;
	/* Finished: leave for good (ASan: this fiber's fake stack goes too). */
#if CORO_ASAN
	__sanitizer_start_switch_fiber(NULL, main_bottom, main_size);
#endif
	setcontext(&main_ctx);
	abort();
}

void
coro_start(struct coro *c, void (*fn)(void *), void *arg)
{
	if (getcontext(&c->ctx) != 0)
		fatal("getcontext() failed");
	c->ctx.uc_stack.ss_sp = stack_base(c);
	c->ctx.uc_stack.ss_size = CORO_STACK;
	c->ctx.uc_link = NULL;
	makecontext(&c->ctx, entry, 0);
#if CORO_ASAN
	/* Frames of the stack's last task may have left poisoned redzones. */
	__asan_unpoison_memory_region(stack_base(c), CORO_STACK);
#endif
	c->fn = fn;
	c->arg = arg;
	c->running = 1;
	switch_in(c);
}

void
coro_resume(struct coro *c)
{
	if (c->running)
		switch_in(c);
}

void
coro_yield(void)
{
	struct coro *c = current;

	if (c == NULL)
		return;
#if CORO_ASAN
	__sanitizer_start_switch_fiber(&c->asan_fake, main_bottom, main_size);
	switch_context(&c->ctx, &main_ctx);
	__sanitizer_finish_switch_fiber(c->asan_fake, &main_bottom, &main_size);
#else
	switch_context(&c->ctx, &main_ctx);
#endif
	current = c;
}

struct coro *
coro_current(void)
{
	return current;
}

void
coro_trim(struct coro *c)
{
	if (c->map != NULL && !c->running)
		(void)madvise(stack_base(c), CORO_STACK, MADV_DONTNEED);
}

void
coro_free(struct coro *c)
{
	if (c->map != NULL) {
		CORO_STACK_DEREGISTER(c->vg_stack);
		munmap(c->map, c->maplen);
	}
	c->map = NULL;
}
