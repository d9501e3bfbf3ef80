/*
 * cli_msg - one captured message for the smtptrap command; see cli_msg.h.
 *
 * GMime does all the MIME work: header parsing, unfolding and RFC 2047
 * decoding (g_mime_header_get_value), transfer decoding (the data
 * wrapper) and charset conversion (GMimeFilterCharset). What is left here
 * is choosing what to show, and making sure every string handed out is
 * valid UTF-8 without CR or LF in header values, whatever the file holds.
 *
 * cli_msg_load() reads only the header block (up to the first empty line,
 * at most MSG_HEAD_MAX octets), so listing a maildir of large messages
 * does not parse their bodies. The body functions parse the whole file.
 *
 * The envelope is the first X-Smtptrap-Mail-From and the run of
 * X-Smtptrap-Rcpt-To right after it, read from the raw values (never
 * RFC 2047 decoded). Main header fields are the decoded values as they
 * are (Message-ID keeps its <>).
 *
 * Leaf parts are everything that is not a multipart, in depth-first
 * order; an attached message (message/rfc822) is one leaf, not walked
 * into, so it can be saved as it is (GMime writes it anew, with CRLF).
 * Content types and charsets are lower-cased. cli_body.text has CRLF
 * turned into LF for display; cli_msg_part() keeps line ends.
 *
 * DIAGNOSTICS: "PATH: reason" (strerror) when the file cannot be opened
 * or read, or is not a regular file; "no part N" from cli_msg_part().
 * A file GMime cannot make sense of loads with no headers and no parts.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gmime/gmime.h>

#include "buf.h"
#include "cli_msg.h"
#include "xmalloc.h"

#define MSG_HEAD_CHUNK 8192
/* A header block larger than this is cut; GMime parses what it gets. */
#define MSG_HEAD_MAX (4 * 1024 * 1024)
/* Multiparts nested deeper than this are not walked. */
#define MSG_MAX_DEPTH 64

#define MSG_MAIL_FROM "X-Smtptrap-Mail-From"
#define MSG_RCPT_TO "X-Smtptrap-Rcpt-To"

void
cli_msg_init(void)
{
	g_mime_init();
}

/*
 * Strings
 */

/*
 * A malloc'd copy of s[0..len) that is valid UTF-8: invalid sequences and
 * NULs become U+FFFD.
 */
static char *
msg_utf8(const char *s, size_t len)
{
	char *out;
	gchar *valid;

	if (g_utf8_validate(s, (gssize)len, NULL))
		return xstrndup(s, len);
	valid = g_utf8_make_valid(s, (gssize)len);
	out = xstrdup(valid);
	g_free(valid);
	return out;
}

static char *
msg_utf8_str(const char *s)
{
	return s == NULL ? NULL : msg_utf8(s, strlen(s));
}

/* msg_utf8_str, lower-cased (ASCII only: MIME tokens). */
static char *
msg_utf8_lower(const char *s)
{
	char *out = msg_utf8_str(s);

	for (char *p = out; p != NULL && *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return out;
}

/* A decoded header value as a single line: stray CR or LF become spaces. */
static char *
msg_header_value(const char *v)
{
	char *out = msg_utf8_str(v != NULL ? v : "");

	for (char *p = out; *p; p++)
		if (*p == '\r' || *p == '\n')
			*p = ' ';
	return out;
}

/*
 * Files
 */

/*
 * Open path for reading; it must be a regular file (O_NONBLOCK so a FIFO
 * cannot hang us). The descriptor, or -1 with "PATH: reason".
 */
static int
msg_open(const char *path, struct stat *st, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, st) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st->st_mode)) {
		snprintf(err, errlen, "%s: %s", path,
		    strerror(S_ISDIR(st->st_mode) ? EISDIR : EINVAL));
		close(fd);
		return -1;
	}
	return fd;
}

/* Does d[0..len) hold the empty line ending a header block, from from on? */
static int
msg_head_end(const char *d, size_t len, size_t from)
{
	if (from == 0 && len >= 1 && (d[0] == '\n' || (len >= 2 && d[0] == '\r' && d[1] == '\n')))
		return 1;
	for (size_t i = from; i < len; i++) {
		if (d[i] != '\n')
			continue;
		if (i + 1 < len && d[i + 1] == '\n')
			return 1;
		if (i + 2 < len && d[i + 1] == '\r' && d[i + 2] == '\n')
			return 1;
	}
	return 0;
}

/* Read from fd into b until the header block is complete. 0, or -1 with err. */
static int
msg_read_head(int fd, const char *path, struct buf *b, char *err, size_t errlen)
{
	while (b->len < MSG_HEAD_MAX) {
		size_t from = b->len >= 2 ? b->len - 2 : 0;
		ssize_t r;

		buf_reserve(b, MSG_HEAD_CHUNK);
		r = read(fd, b->data + b->len, MSG_HEAD_CHUNK);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			return -1;
		}
		if (r == 0)
			break;
		b->len += (size_t)r;
		if (msg_head_end(b->data, b->len, from))
			break;
	}
	return 0;
}

/* The seconds in a maildir name ("1795255200.M..."), else the mtime. */
static time_t
msg_received(const char *id, const struct stat *st)
{
	long long secs = 0;
	const char *p = id;

	if (*p < '0' || *p > '9')
		return st->st_mtime;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (secs > (LLONG_MAX - 9) / 10)
			return st->st_mtime;
		secs = secs * 10 + (*p - '0');
	}
	if (*p != '.' || (long long)(time_t)secs != secs)
		return st->st_mtime;
	return (time_t)secs;
}

/*
 * Envelope
 */

/*
 * Split a trace value "<ADDRESS> PARAMS" (raw, possibly folded) into the
 * address between the first '<' and its matching '>' (a '>' inside a
 * quoted local part does not count) and what follows. Malformed values
 * still give something: without '<' the first word is the address,
 * without '>' the rest of the value.
 */
static void
msg_path_split(const char *raw, char **addr, char **params)
{
	char *v = g_mime_utils_header_unfold(raw != NULL ? raw : "");
	char *lt = strchr(v, '<'), *start, *end, *rest;
	int inq = 0;

	if (lt == NULL) {
		/* Not the trace format: the first word is the address. */
		start = v + strspn(v, " \t");
		end = start + strcspn(start, " \t");
		rest = end;
	} else {
		start = lt + 1;
		for (end = start; *end; end++) {
			if (inq && *end == '\\' && end[1] != '\0')
				end++;
			else if (*end == '"')
				inq = !inq;
			else if (!inq && *end == '>')
				break;
		}
		/* An unbalanced quote: fall back to the first '>'. */
		if (*end == '\0' && strchr(start, '>') != NULL)
			end = strchr(start, '>');
		rest = *end ? end + 1 : end;
	}
	*addr = msg_utf8(start, (size_t)(end - start));
	rest += strspn(rest, " \t");
	size_t n = strlen(rest);
	while (n > 0 && (rest[n - 1] == ' ' || rest[n - 1] == '\t' || rest[n - 1] == '\r' ||
	    rest[n - 1] == '\n'))
		n--;
	*params = msg_utf8(rest, n);
	g_free(v);
}

/*
 * The envelope from the first X-Smtptrap-Mail-From and the
 * X-Smtptrap-Rcpt-To headers right after it: trace.c writes them as one
 * run, so a client's own X-Smtptrap-* headers further down are ignored.
 */
static void
msg_envelope(struct cli_msg *m, GMimeHeaderList *hl)
{
	int n = g_mime_header_list_get_count(hl), i;

	for (i = 0; i < n; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
		if (g_ascii_strcasecmp(g_mime_header_get_name(h), MSG_MAIL_FROM) == 0)
			break;
	}
	if (i == n)
		return;
	msg_path_split(g_mime_header_get_raw_value(g_mime_header_list_get_header_at(hl, i)),
	    &m->sender, &m->mail_params);
	for (i++; i < n; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
		if (g_ascii_strcasecmp(g_mime_header_get_name(h), MSG_RCPT_TO) != 0)
			break;
		m->rcpts = xrealloc(m->rcpts, (m->nrcpts + 1) * sizeof(*m->rcpts));
		msg_path_split(g_mime_header_get_raw_value(h), &m->rcpts[m->nrcpts].address,
		    &m->rcpts[m->nrcpts].params);
		m->nrcpts++;
	}
}

/*
 * Headers
 */

static void
msg_headers(struct cli_msg *m, GMimeObject *obj)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(obj);
	int n = g_mime_header_list_get_count(hl);

	if (n <= 0)
		return;
	m->headers = xcalloc((size_t)n, sizeof(*m->headers));
	for (int i = 0; i < n; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
		const char *name = g_mime_header_get_name(h);

		m->headers[i].name = msg_utf8_str(name != NULL ? name : "");
		m->headers[i].value = msg_header_value(g_mime_header_get_value(h));
	}
	m->nheaders = (size_t)n;
	msg_envelope(m, hl);
}

const char *
cli_msg_header(const struct cli_msg *m, const char *name)
{
	for (size_t i = 0; i < m->nheaders; i++)
		if (g_ascii_strcasecmp(m->headers[i].name, name) == 0)
			return m->headers[i].value;
	return NULL;
}

static char *
msg_header_dup(const struct cli_msg *m, const char *name)
{
	const char *v = cli_msg_header(m, name);

	return v != NULL ? xstrdup(v) : NULL;
}

/* "<id@host>" -> "id@host", in place (surrounding blanks too). */
static void
strip_angles(char *s)
{
	size_t n;
	char *p;

	if (s == NULL)
		return;
	for (p = s; *p == ' ' || *p == '\t'; p++)
		;
	n = strlen(p);
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (n >= 2 && p[0] == '<' && p[n - 1] == '>') {
		p++;
		n -= 2;
	}
	memmove(s, p, n);
	s[n] = '\0';
}

int
cli_msg_load(const char *path, const char *id, struct cli_msg *m, char *err, size_t errlen)
{
	struct stat st;
	struct buf head;
	int fd;

	memset(m, 0, sizeof(*m));
	if ((fd = msg_open(path, &st, err, errlen)) == -1)
		return -1;
	buf_init(&head);
	if (msg_read_head(fd, path, &head, err, errlen) == -1) {
		close(fd);
		buf_free(&head);
		return -1;
	}
	close(fd);

	if (id == NULL)
		id = strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 : path;
	m->id = xstrdup(id);
	m->path = xstrdup(path);
	m->size = (long long)st.st_size;
	m->received = msg_received(id, &st);

	if (head.len > 0) {
		GMimeStream *stream = g_mime_stream_mem_new_with_buffer(head.data, head.len);
		GMimeParser *parser = g_mime_parser_new_with_stream(stream);
		GMimeObject *obj = g_mime_parser_construct_part(parser, NULL);

		if (obj != NULL) {
			msg_headers(m, obj);
			g_object_unref(obj);
		}
		g_object_unref(parser);
		g_object_unref(stream);
	}
	buf_free(&head);

	m->subject = msg_header_dup(m, "Subject");
	m->from = msg_header_dup(m, "From");
	m->to = msg_header_dup(m, "To");
	m->cc = msg_header_dup(m, "Cc");
	m->date = msg_header_dup(m, "Date");
	m->message_id = msg_header_dup(m, "Message-ID");
	strip_angles(m->message_id);
	return 0;
}

void
cli_msg_free(struct cli_msg *m)
{
	free(m->id);
	free(m->path);
	free(m->sender);
	free(m->mail_params);
	for (size_t i = 0; i < m->nrcpts; i++) {
		free(m->rcpts[i].address);
		free(m->rcpts[i].params);
	}
	free(m->rcpts);
	free(m->subject);
	free(m->from);
	free(m->to);
	free(m->cc);
	free(m->date);
	free(m->message_id);
	for (size_t i = 0; i < m->nheaders; i++) {
		free(m->headers[i].name);
		free(m->headers[i].value);
	}
	free(m->headers);
	memset(m, 0, sizeof(*m));
}

/*
 * Bodies
 */

/*
 * Parse the whole file at path. 0 with *out the message (NULL if GMime
 * found none), or -1 with err when the file cannot be opened.
 */
static int
msg_parse(const char *path, GMimeMessage **out, char *err, size_t errlen)
{
	struct stat st;
	GMimeStream *stream;
	GMimeParser *parser;
	int fd;

	*out = NULL;
	if ((fd = msg_open(path, &st, err, errlen)) == -1)
		return -1;
	/* The stream owns fd from here on; the message keeps a reference. */
	stream = g_mime_stream_fs_new(fd);
	parser = g_mime_parser_new_with_stream(stream);
	*out = g_mime_parser_construct_message(parser, NULL);
	g_object_unref(parser);
	g_object_unref(stream);
	return 0;
}

/* Append the leaf parts under obj to leaves, depth first. */
static void
msg_leaves(GMimeObject *obj, GPtrArray *leaves, int depth)
{
	if (obj == NULL || depth > MSG_MAX_DEPTH)
		return;
	if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart *mp = GMIME_MULTIPART(obj);
		int n = g_mime_multipart_get_count(mp);

		for (int i = 0; i < n; i++)
			msg_leaves(g_mime_multipart_get_part(mp, i), leaves, depth + 1);
		return;
	}
	g_ptr_array_add(leaves, obj);
}

/* The leaf parts of msg (borrowed from it); the caller frees the array. */
static GPtrArray *
msg_leaf_list(GMimeMessage *msg)
{
	GPtrArray *leaves = g_ptr_array_new();

	if (msg != NULL)
		msg_leaves(g_mime_message_get_mime_part(msg), leaves, 0);
	return leaves;
}

/* "type/subtype" in lower case, malloc'd. */
static char *
msg_leaf_type(GMimeObject *leaf)
{
	GMimeContentType *ct = g_mime_object_get_content_type(leaf);
	char *mt, *out;

	if (ct == NULL)
		return xstrdup("text/plain");
	mt = g_mime_content_type_get_mime_type(ct);
	out = msg_utf8_lower(mt != NULL ? mt : "text/plain");
	g_free(mt);
	return out;
}

static const char *
msg_leaf_charset(GMimeObject *leaf)
{
	GMimeContentType *ct = g_mime_object_get_content_type(leaf);

	return ct != NULL ? g_mime_content_type_get_parameter(ct, "charset") : NULL;
}

static int
msg_leaf_is_attachment(GMimeObject *leaf)
{
	GMimeContentDisposition *d = g_mime_object_get_content_disposition(leaf);

	return d != NULL && g_mime_content_disposition_is_attachment(d);
}

/* Write leaf's content, transfer decoded, to out. */
static void
msg_leaf_write(GMimeObject *leaf, GMimeStream *out)
{
	if (GMIME_IS_PART(leaf)) {
		GMimeDataWrapper *w = g_mime_part_get_content(GMIME_PART(leaf));

		if (w != NULL)
			g_mime_data_wrapper_write_to_stream(w, out);
	} else if (GMIME_IS_MESSAGE_PART(leaf)) {
		GMimeMessage *msg = g_mime_message_part_get_message(GMIME_MESSAGE_PART(leaf));

		/* GMime writes it anew: with CRLF, as mail is stored. */
		if (msg != NULL) {
			GMimeFormatOptions *fo = g_mime_format_options_new();

			g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_DOS);
			g_mime_object_write_to_stream(GMIME_OBJECT(msg), fo, out);
			g_mime_format_options_free(fo);
		}
	}
	g_mime_stream_flush(out);
}

/* Charsets whose text is taken as UTF-8 as it is (ASCII is a subset). */
static int
msg_charset_is_utf8(const char *cs)
{
	static const char *const same[] = { "utf-8", "utf8", "us-ascii", "ascii" };

	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++)
		if (g_ascii_strcasecmp(cs, same[i]) == 0)
			return 1;
	return 0;
}

/*
 * Decode leaf into out: transfer decoding always; with to_utf8, its
 * charset converted to UTF-8 (when iconv knows it; a missing charset is
 * taken as UTF-8); with unix_newlines, CRLF as LF.
 */
static void
msg_leaf_decode(GMimeObject *leaf, int to_utf8, int unix_newlines, struct buf *out)
{
	GMimeStream *mem = g_mime_stream_mem_new();
	GMimeStream *filtered = g_mime_stream_filter_new(mem);
	const char *cs = msg_leaf_charset(leaf);
	GByteArray *bytes;

	if (to_utf8 && cs != NULL && !msg_charset_is_utf8(cs)) {
		GMimeFilter *f = g_mime_filter_charset_new(cs, "UTF-8");

		if (f != NULL) {
			g_mime_stream_filter_add(GMIME_STREAM_FILTER(filtered), f);
			g_object_unref(f);
		}
	}
	if (unix_newlines) {
		GMimeFilter *f = g_mime_filter_dos2unix_new(FALSE);

		g_mime_stream_filter_add(GMIME_STREAM_FILTER(filtered), f);
		g_object_unref(f);
	}
	msg_leaf_write(leaf, filtered);
	g_object_unref(filtered);
	bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
	buf_append(out, bytes->data, bytes->len);
	g_object_unref(mem);
}

/* Octets in leaf after transfer decoding. */
static long long
msg_leaf_size(GMimeObject *leaf)
{
	GMimeStream *null = g_mime_stream_null_new();
	long long size;

	msg_leaf_write(leaf, null);
	size = (long long)GMIME_STREAM_NULL(null)->written;
	g_object_unref(null);
	return size;
}

/* Content-Transfer-Encoding as GMime understood it, else as written. */
static char *
msg_leaf_encoding(GMimeObject *leaf)
{
	const char *hv;

	if (GMIME_IS_PART(leaf)) {
		GMimeContentEncoding enc = g_mime_part_get_content_encoding(GMIME_PART(leaf));
		const char *s = g_mime_content_encoding_to_string(enc);

		if (enc != GMIME_CONTENT_ENCODING_DEFAULT && s != NULL && *s)
			return xstrdup(s);
	}
	hv = g_mime_object_get_header(leaf, "Content-Transfer-Encoding");
	if (hv == NULL)
		return NULL;
	char *s = g_strstrip(msg_utf8_lower(hv));
	if (*s == '\0') {
		free(s);
		return NULL;
	}
	return s;
}

static void
msg_part_info(GMimeObject *leaf, int index, struct cli_part *p)
{
	GMimeContentDisposition *d = g_mime_object_get_content_disposition(leaf);
	const char *fn = NULL;

	memset(p, 0, sizeof(*p));
	p->index = index;
	p->content_type = msg_leaf_type(leaf);
	p->charset = msg_utf8_lower(msg_leaf_charset(leaf));
	if (GMIME_IS_PART(leaf))
		fn = g_mime_part_get_filename(GMIME_PART(leaf));
	else if (d != NULL)
		fn = g_mime_content_disposition_get_parameter(d, "filename");
	p->filename = fn != NULL ? msg_header_value(fn) : NULL;
	if (d != NULL)
		p->disposition = msg_utf8_lower(g_mime_content_disposition_get_disposition(d));
	p->encoding = msg_leaf_encoding(leaf);
	p->size = msg_leaf_size(leaf);
}

/* The index of the first leaf of type ctype that is not an attachment, or -1. */
static int
msg_find_text(const struct cli_body *b, GPtrArray *leaves, const char *ctype)
{
	for (size_t i = 0; i < b->nparts; i++)
		if (strcmp(b->parts[i].content_type, ctype) == 0 &&
		    !msg_leaf_is_attachment(g_ptr_array_index(leaves, i)))
			return (int)i;
	return -1;
}

int
cli_msg_body(const char *path, struct cli_body *b, char *err, size_t errlen)
{
	GMimeMessage *msg;
	GPtrArray *leaves;
	int t;

	memset(b, 0, sizeof(*b));
	if (msg_parse(path, &msg, err, errlen) == -1)
		return -1;
	leaves = msg_leaf_list(msg);
	if (leaves->len > 0)
		b->parts = xcalloc(leaves->len, sizeof(*b->parts));
	for (guint i = 0; i < leaves->len; i++)
		msg_part_info(g_ptr_array_index(leaves, i), (int)i + 1, &b->parts[i]);
	b->nparts = leaves->len;

	if ((t = msg_find_text(b, leaves, "text/plain")) == -1)
		t = msg_find_text(b, leaves, "text/html");
	if (t != -1) {
		struct buf text;

		buf_init(&text);
		msg_leaf_decode(g_ptr_array_index(leaves, t), 1, 1, &text);
		b->text = msg_utf8(text.data != NULL ? text.data : "", text.len);
		b->text_type = xstrdup(b->parts[t].content_type);
		buf_free(&text);
	}
	g_ptr_array_free(leaves, TRUE);
	if (msg != NULL)
		g_object_unref(msg);
	return 0;
}

void
cli_msg_body_free(struct cli_body *b)
{
	free(b->text);
	free(b->text_type);
	for (size_t i = 0; i < b->nparts; i++) {
		free(b->parts[i].content_type);
		free(b->parts[i].charset);
		free(b->parts[i].filename);
		free(b->parts[i].disposition);
		free(b->parts[i].encoding);
	}
	free(b->parts);
	memset(b, 0, sizeof(*b));
}

int
cli_msg_part(const char *path, int n, char **out, size_t *outlen, char *err, size_t errlen)
{
	GMimeMessage *msg;
	GPtrArray *leaves;
	struct buf data;
	int rc = 0;

	*out = NULL;
	*outlen = 0;
	if (msg_parse(path, &msg, err, errlen) == -1)
		return -1;
	leaves = msg_leaf_list(msg);
	if (n < 1 || (guint)n > leaves->len) {
		snprintf(err, errlen, "no part %d", n);
		rc = -1;
	} else {
		GMimeObject *leaf = g_ptr_array_index(leaves, n - 1);
		char *type = msg_leaf_type(leaf);

		buf_init(&data);
		msg_leaf_decode(leaf, strncmp(type, "text/", 5) == 0, 0, &data);
		free(type);
		/* Always a buffer, NUL-terminated for convenience. */
		buf_reserve(&data, 0);
		data.data[data.len] = '\0';
		*out = data.data;
		*outlen = data.len;
	}
	g_ptr_array_free(leaves, TRUE);
	if (msg != NULL)
		g_object_unref(msg);
	return rc;
}
