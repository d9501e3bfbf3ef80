/* transcript - per-session transcripts (placeholder). */
#include <fcntl.h>
#include <stdio.h>

#include "transcript.h"

int
transcript_dir_open(const char *dir, char *err, size_t errlen)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		snprintf(err, errlen, "cannot open %s", dir);
	return fd;
}
