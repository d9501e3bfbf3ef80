/*
 * tmpdir - a fresh temporary directory for a unit test, and its removal.
 *
 * tmpdir_make("check_x") makes $TMPDIR/check_x.XXXXXX (TMPDIR unset or
 * empty: /tmp) and returns its name, which the caller owns; failing is a
 * failed test. tmpdir_remove() deletes the directory and everything in
 * it (links are removed, never followed) and frees the name.
 */
#ifndef SMTPTRAP_TESTS_TMPDIR_H
#define SMTPTRAP_TESTS_TMPDIR_H

char *tmpdir_make(const char *prefix);
void tmpdir_remove(char *dir);

#endif
