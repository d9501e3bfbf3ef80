/*
 * maildir_sweep - remove what dead writers left in tmp/; see maildir_sweep.h
 * for the rule.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "maildir_sweep.h"

/* Skip a run of (hex) digits at *p; how many there were. */
static size_t
skip_digits(const char **p, int hex)
{
	const char *s = *p;

	while ((*s >= '0' && *s <= '9') ||
	    (hex && ((*s >= 'a' && *s <= 'f') || (*s >= 'A' && *s <= 'F'))))
		s++;
	size_t n = (size_t)(s - *p);
	*p = s;
	return n;
}

int
maildir_name_writer(const char *name, const char *host_part, long *pid)
{
	/* "SEC.MUSECPpidQseqRrand.host", as maildir_name() writes it. */
	const char *p = name;
	const char *digits;
	long v = 0;

	if (skip_digits(&p, 0) == 0 || *p++ != '.' || *p++ != 'M' || skip_digits(&p, 0) == 0 ||
	    *p++ != 'P')
		return 0;
	digits = p;
	size_t n = skip_digits(&p, 0);
	if (n == 0 || n > 9)
		return 0;
	for (const char *d = digits; d < p; d++)
		v = v * 10 + (*d - '0');
	if (v <= 0 || *p++ != 'Q' || skip_digits(&p, 0) == 0 || *p++ != 'R' ||
	    skip_digits(&p, 1) == 0 || *p++ != '.' || strcmp(p, host_part) != 0)
		return 0;
	*pid = v;
	return 1;
}

int
maildir_leftover(const char *name, long long age, const char *host_part, pid_t pid,
    int (*alive)(long pid))
{
	long writer;
	int ours = maildir_name_writer(name, host_part, &writer);

	if (pid != 0)
		return ours && writer == (long)pid;
	if (age >= MAILDIR_STALE_SECONDS)
		return 1;
	return ours && !alive(writer);
}

int
maildir_pid_alive(long pid)
{
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

/* Count a problem; the first one's text goes to err. */
static void
note_failure(struct deliver_leftovers *out, char *err, size_t errlen, const char *what,
    const char *name, int errnum)
{
	if (out->failed++ == 0)
		snprintf(err, errlen, "%s%s%s: %s", what, name ? "/" : "", name ? name : "",
		    strerror(errnum));
}

int
maildir_sweep_dir(int tmpfd, const char *what, const char *host_part, pid_t pid, time_t now,
    int (*alive)(long pid), struct deliver_leftovers *out, char *err, size_t errlen)
{
	unsigned failed = out->failed;
	int fd = openat(tmpfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *e;

	if (d == NULL) {
		note_failure(out, err, errlen, what, NULL, errno);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((errno = 0, e = readdir(d)) != NULL) {
		struct stat st;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			if (errno != ENOENT) /* gone meanwhile: its writer finished */
				note_failure(out, err, errlen, what, e->d_name, errno);
			continue;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		if (!maildir_leftover(e->d_name, (long long)now - (long long)st.st_mtime, host_part, pid,
		    alive)) {
			if (pid == 0)
				out->kept++;
			continue;
		}
		if (unlinkat(dirfd(d), e->d_name, 0) == 0)
			out->removed++;
		else if (errno != ENOENT)
			note_failure(out, err, errlen, what, e->d_name, errno);
	}
	if (errno != 0)
		note_failure(out, err, errlen, what, NULL, errno);
	closedir(d);
	return out->failed == failed ? 0 : -1;
}

/* Sweep dir/tmp under the open directory parent, if it is there. */
static void
sweep_tmp_of(int parent, const char *rootpath, const char *sub, const char *host_part, pid_t pid,
    time_t now, struct deliver_leftovers *out, char *err, size_t errlen)
{
	char what[512];
	int tmpfd = openat(parent, "tmp", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	snprintf(what, sizeof(what), "%s%s%s/tmp", rootpath, sub ? "/" : "", sub ? sub : "");
	if (tmpfd < 0) {
		/* No tmp/ (or not a directory) is not a maildir: nothing to sweep. */
		if (errno != ENOENT && errno != ENOTDIR && errno != ELOOP)
			note_failure(out, err, errlen, what, NULL, errno);
		return;
	}
	maildir_sweep_dir(tmpfd, what, host_part, pid, now, maildir_pid_alive, out, err, errlen);
	close(tmpfd);
}

int
maildir_sweep(int root, const char *rootpath, int layout, const char *host, pid_t pid,
    struct deliver_leftovers *out, char *err, size_t errlen)
{
	char host_part[MAILDIR_HOST_MAX];
	unsigned failed = out->failed;
	time_t now = time(NULL);

	maildir_host_part(host_part, host);
	if (layout != LAYOUT_PER_RECIPIENT) {
		sweep_tmp_of(root, rootpath, NULL, host_part, pid, now, out, err, errlen);
		return out->failed == failed ? 0 : -1;
	}

	/* Per recipient: every SUB/tmp; recipient directories never start with ".". */
	int fd = openat(root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *e;
	if (d == NULL) {
		note_failure(out, err, errlen, rootpath, NULL, errno);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((errno = 0, e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0) {
			if (errno != ENOENT && errno != ENOTDIR && errno != ELOOP)
				note_failure(out, err, errlen, rootpath, e->d_name, errno);
			continue;
		}
		sweep_tmp_of(sub, rootpath, e->d_name, host_part, pid, now, out, err, errlen);
		close(sub);
	}
	if (errno != 0)
		note_failure(out, err, errlen, rootpath, NULL, errno);
	closedir(d);
	return out->failed == failed ? 0 : -1;
}
