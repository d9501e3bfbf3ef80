/*
 * cli_scan - the captured messages in a capture directory; see
 * cli_scan.h.
 *
 * Every file found becomes a (name, path) record; the records are sorted
 * by (seconds, microseconds, name, order found) and runs of one name are
 * merged into one entry whose paths keep the order they were found in:
 * DIR/new, DIR/cur, then each recipient maildir in name order. Only
 * regular files count (d_type, with an lstat() fallback for file systems
 * that do not fill it in); names starting with '.' are never messages.
 *
 * DIAGNOSTICS: cli_scan() fails only when DIR itself cannot be opened;
 * a missing or unreadable new/ or cur/ is skipped.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_scan.h"
#include "xmalloc.h"

struct rec {
	char *name;
	char *path;
	size_t seq;
	long long sec;
	long usec;
};

struct recs {
	struct rec *v;
	size_t n, cap;
};

/*
 * The time in a maildir name "SECONDS.M<usec>P...": seconds are the
 * leading digits (up to a '.' or the end), else -1; microseconds the
 * digits after ".M", else 0.
 */
static void
name_time(const char *name, long long *sec, long *usec)
{
	long long s = 0;
	long u = 0;
	const char *p = name;

	*sec = -1;
	*usec = 0;
	if (!isdigit((unsigned char)*p))
		return;
	for (; isdigit((unsigned char)*p); p++) {
		if (s > (LLONG_MAX - (*p - '0')) / 10)
			return;
		s = s * 10 + (*p - '0');
	}
	if (*p != '.' && *p != '\0')
		return;
	*sec = s;
	if (p[0] != '.' || p[1] != 'M' || !isdigit((unsigned char)p[2]))
		return;
	for (p += 2; isdigit((unsigned char)*p); p++) {
		if (u > (LONG_MAX - (*p - '0')) / 10)
			return;
		u = u * 10 + (*p - '0');
	}
	*usec = u;
}

/* Is the entry de of directory dir a regular file (is_dir 0) or a
 * directory (is_dir 1)? Symbolic links are neither. */
static int
entry_is(const char *dir, const struct dirent *de, int is_dir)
{
	struct stat st;

	if (de->d_type != DT_UNKNOWN)
		return is_dir ? de->d_type == DT_DIR : de->d_type == DT_REG;
	char *path = xasprintf("%s/%s", dir, de->d_name);
	int rc = lstat(path, &st);

	free(path);
	if (rc != 0)
		return 0;
	return is_dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode);
}

/* Add the regular files of dir (a new/ or cur/) to r; skip it if it
 * cannot be read. */
static void
scan_files(const char *dir, struct recs *r)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || !entry_is(dir, de, 0))
			continue;
		if (r->n == r->cap) {
			r->cap = r->cap ? r->cap * 2 : 64;
			r->v = xrealloc(r->v, r->cap * sizeof(*r->v));
		}
		struct rec *x = &r->v[r->n];
		x->name = xstrdup(de->d_name);
		x->path = xasprintf("%s/%s", dir, de->d_name);
		x->seq = r->n;
		name_time(x->name, &x->sec, &x->usec);
		r->n++;
	}
	closedir(d);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The candidate recipient maildirs of dir: its subdirectories other than
 * new, cur and tmp, not starting with '.', sorted by name. Sets errno and
 * returns -1 if dir cannot be opened.
 */
static int
list_subdirs(const char *dir, char ***out, size_t *nout)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL;
	size_t n = 0;

	*out = NULL;
	*nout = 0;
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strcmp(de->d_name, "new") == 0 ||
		    strcmp(de->d_name, "cur") == 0 || strcmp(de->d_name, "tmp") == 0)
			continue;
		if (!entry_is(dir, de, 1))
			continue;
		v = xrealloc(v, (n + 1) * sizeof(*v));
		v[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_str);
	*out = v;
	*nout = n;
	return 0;
}

static void
free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int
cmp_rec(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;
	int c;

	if (x->sec != y->sec)
		return x->sec < y->sec ? -1 : 1;
	if (x->usec != y->usec)
		return x->usec < y->usec ? -1 : 1;
	if ((c = strcmp(x->name, y->name)) != 0)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sort the records and merge runs of one name into entries; the
 * records' strings move into the entries. */
static void
merge(struct recs *r, struct cli_list *out)
{
	if (r->n > 1)
		qsort(r->v, r->n, sizeof(*r->v), cmp_rec);
	out->v = xcalloc(r->n, sizeof(*out->v));
	out->n = 0;
	for (size_t i = 0; i < r->n;) {
		size_t j = i + 1;

		while (j < r->n && strcmp(r->v[j].name, r->v[i].name) == 0)
			j++;
		struct cli_entry *e = &out->v[out->n++];
		e->id = r->v[i].name;
		e->sec = r->v[i].sec;
		e->usec = r->v[i].usec;
		e->npaths = j - i;
		e->paths = xcalloc(e->npaths, sizeof(char *));
		for (size_t k = i; k < j; k++) {
			e->paths[k - i] = r->v[k].path;
			if (k > i)
				free(r->v[k].name);
		}
		i = j;
	}
	free(r->v);
	r->v = NULL;
	r->n = r->cap = 0;
}

int
cli_scan(const char *dir, struct cli_list *out, char *err, size_t errlen)
{
	static const char *const boxes[] = { "new", "cur" };
	struct recs r = { NULL, 0, 0 };
	char **subs;
	size_t nsubs;

	out->v = NULL;
	out->n = 0;
	if (list_subdirs(dir, &subs, &nsubs) != 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	for (size_t b = 0; b < 2; b++) {
		char *p = xasprintf("%s/%s", dir, boxes[b]);

		scan_files(p, &r);
		free(p);
	}
	for (size_t i = 0; i < nsubs; i++)
		for (size_t b = 0; b < 2; b++) {
			char *p = xasprintf("%s/%s/%s", dir, subs[i], boxes[b]);

			scan_files(p, &r);
			free(p);
		}
	free_strv(subs, nsubs);
	merge(&r, out);
	return 0;
}

void
cli_list_free(struct cli_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].id);
		free_strv(l->v[i].paths, l->v[i].npaths);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

long
cli_find(const struct cli_list *l, const char *id)
{
	size_t len = strlen(id);
	const char *slash = strrchr(id, '/');
	long found = -1;

	if (len == 0)
		return -1;
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].id, id) == 0)
			return (long)i;
	if (slash != NULL) {
		for (size_t i = 0; i < l->n; i++)
			for (size_t k = 0; k < l->v[i].npaths; k++)
				if (strcmp(l->v[i].paths[k], id) == 0)
					return (long)i;
		/* Another spelling of a path (./x, an absolute path): its
		 * last component still names the message. */
		for (size_t i = 0; slash[1] != '\0' && i < l->n; i++)
			if (strcmp(l->v[i].id, slash + 1) == 0)
				return (long)i;
	}
	for (size_t i = 0; i < l->n; i++) {
		if (strncmp(l->v[i].id, id, len) != 0)
			continue;
		if (found >= 0)
			return -2;
		found = (long)i;
	}
	return found;
}

static int
is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int
cli_new_dirs(const char *dir, struct cli_dirs *out)
{
	char **subs;
	size_t nsubs;
	char *p;

	out->news = NULL;
	out->nnews = 0;
	if (list_subdirs(dir, &subs, &nsubs) != 0)
		return -1;
	out->news = xcalloc(nsubs + 1, sizeof(char *));
	p = xasprintf("%s/new", dir);
	if (is_dir(p))
		out->news[out->nnews++] = p;
	else
		free(p);
	for (size_t i = 0; i < nsubs; i++) {
		p = xasprintf("%s/%s/new", dir, subs[i]);
		if (is_dir(p))
			out->news[out->nnews++] = p;
		else
			free(p);
	}
	free_strv(subs, nsubs);
	return 0;
}

void
cli_dirs_free(struct cli_dirs *d)
{
	free_strv(d->news, d->nnews);
	d->news = NULL;
	d->nnews = 0;
}
