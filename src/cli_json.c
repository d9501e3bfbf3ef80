/*
 * cli_json - the JSON forms of a captured message (cli_msg_json,
 * cli_msg_json_list in cli_msg.h), built with json-c.
 *
 * List form:
 *   {"id", "file", "received" (seconds since the epoch), "received_iso"
 *    ("2026-11-21T10:00:00Z"), "size",
 *    "envelope": {"sender", "mail_parameters",
 *                 "recipients": [{"address", "parameters"}]},
 *    "subject", "from", "to", "cc", "date", "message_id"}
 * Show form, with a body: the list form plus "headers": [{"name",
 * "value"}] (all, in order), "text", "text_type" and "parts": [{"index",
 * "content_type", "charset", "filename", "disposition", "encoding",
 * "size"}]. Anything absent is null.
 *
 * json-c escapes what JSON needs but passes octets through as they are,
 * so every string is checked here and invalid UTF-8 replaced (U+FFFD):
 * the output is valid JSON whatever the struct holds.
 *
 * DIAGNOSTICS: none; out of memory ends the process (xmalloc).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glib.h>
#include <json.h>

#include "cli_msg.h"
#include "xmalloc.h"

/* A JSON string for s (valid UTF-8 guaranteed), or NULL (JSON null). */
static json_object *
json_str(const char *s)
{
	json_object *o;
	gchar *valid;

	if (s == NULL)
		return NULL;
	if (g_utf8_validate(s, -1, NULL))
		return json_object_new_string(s);
	valid = g_utf8_make_valid(s, -1);
	o = json_object_new_string(valid);
	g_free(valid);
	return o;
}

/* "2026-11-21T10:00:00Z", or NULL for a time gmtime cannot represent. */
static json_object *
json_time_iso(time_t t)
{
	struct tm tm;
	char s[64];

	if (gmtime_r(&t, &tm) == NULL || strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return NULL;
	return json_object_new_string(s);
}

static json_object *
json_envelope(const struct cli_msg *m)
{
	json_object *env = json_object_new_object();
	json_object *rcpts = json_object_new_array();

	json_object_object_add(env, "sender", json_str(m->sender));
	json_object_object_add(env, "mail_parameters", json_str(m->mail_params));
	for (size_t i = 0; i < m->nrcpts; i++) {
		json_object *r = json_object_new_object();

		json_object_object_add(r, "address", json_str(m->rcpts[i].address));
		json_object_object_add(r, "parameters", json_str(m->rcpts[i].params));
		json_object_array_add(rcpts, r);
	}
	json_object_object_add(env, "recipients", rcpts);
	return env;
}

static json_object *
json_headers(const struct cli_msg *m)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; i < m->nheaders; i++) {
		json_object *h = json_object_new_object();

		json_object_object_add(h, "name", json_str(m->headers[i].name));
		json_object_object_add(h, "value", json_str(m->headers[i].value));
		json_object_array_add(a, h);
	}
	return a;
}

static json_object *
json_parts(const struct cli_body *b)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; i < b->nparts; i++) {
		const struct cli_part *p = &b->parts[i];
		json_object *o = json_object_new_object();

		json_object_object_add(o, "index", json_object_new_int(p->index));
		json_object_object_add(o, "content_type", json_str(p->content_type));
		json_object_object_add(o, "charset", json_str(p->charset));
		json_object_object_add(o, "filename", json_str(p->filename));
		json_object_object_add(o, "disposition", json_str(p->disposition));
		json_object_object_add(o, "encoding", json_str(p->encoding));
		json_object_object_add(o, "size", json_object_new_int64(p->size));
		json_object_array_add(a, o);
	}
	return a;
}

/* The list form of m, plus the show form's members when body is given. */
static json_object *
json_msg(const struct cli_msg *m, const struct cli_body *body)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_str(m->id));
	json_object_object_add(o, "file", json_str(m->path));
	json_object_object_add(o, "received", json_object_new_int64((int64_t)m->received));
	json_object_object_add(o, "received_iso", json_time_iso(m->received));
	json_object_object_add(o, "size", json_object_new_int64(m->size));
	json_object_object_add(o, "envelope", json_envelope(m));
	json_object_object_add(o, "subject", json_str(m->subject));
	json_object_object_add(o, "from", json_str(m->from));
	json_object_object_add(o, "to", json_str(m->to));
	json_object_object_add(o, "cc", json_str(m->cc));
	json_object_object_add(o, "date", json_str(m->date));
	json_object_object_add(o, "message_id", json_str(m->message_id));
	if (body != NULL) {
		json_object_object_add(o, "headers", json_headers(m));
		json_object_object_add(o, "text", json_str(body->text));
		json_object_object_add(o, "text_type", json_str(body->text_type));
		json_object_object_add(o, "parts", json_parts(body));
	}
	return o;
}

/* The text of o (one line), malloc'd; o is released. */
static char *
json_finish(json_object *o)
{
	const char *s = json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	char *out = xstrdup(s != NULL ? s : "null");

	json_object_put(o);
	return out;
}

char *
cli_msg_json(const struct cli_msg *m, const struct cli_body *body)
{
	return json_finish(json_msg(m, body));
}

char *
cli_msg_json_list(struct cli_msg *const *msgs, size_t n)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, json_msg(msgs[i], NULL));
	return json_finish(a);
}
