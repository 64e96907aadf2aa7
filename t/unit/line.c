/*
 * t/unit/line.c: field splitting with awk's blank rule and cut's
 * delimiter rule, including empty fields, missing fields, leading and
 * trailing separators, and a line that is not NUL-terminated.
 */
#include <string.h>

#include "core/line.h"
#include "tap.h"

static int
field(const char *line, size_t n, int delim, const char *want)
{
	const char *f = NULL;
	size_t fl = 0;
	int r;

	r = ds_line_field(line, strlen(line), n, delim, &f, &fl);
	if (want == NULL)
		return r == 0;
	return r == 1 && fl == strlen(want) && memcmp(f, want, fl) == 0 &&
	    f >= line && f + fl <= line + strlen(line);
}

int
main(void)
{
	const int B = DS_LINE_BLANKS;
	const char *f;
	size_t fl;

	ok(field("a b c", 1, B, "a"), "blanks: field 1");
	ok(field("a b c", 2, B, "b"), "blanks: field 2");
	ok(field("a b c", 3, B, "c"), "blanks: last field");
	ok(field("a b c", 4, B, NULL), "blanks: past the last field");
	ok(field("a b c", 0, B, NULL), "blanks: field 0 is none");
	ok(field("   a \t  b", 1, B, "a"), "blanks: leading blanks ignored");
	ok(field("   a \t  b", 2, B, "b"), "blanks: a run of blanks is one");
	ok(field("a b   ", 3, B, NULL), "blanks: trailing blanks add none");
	ok(field("", 1, B, NULL), "blanks: empty line has no field");
	ok(field(" \t ", 1, B, NULL), "blanks only: no field");
	ok(field("k1 x", 1, B, "k1"), "blanks: multi-byte field");
	ok(field("a,b c", 1, B, "a,b"), "blanks: commas are not blanks");

	ok(field("a,b,c", 1, ',', "a"), "delim: field 1");
	ok(field("a,b,c", 3, ',', "c"), "delim: last field");
	ok(field("a,b,c", 4, ',', NULL), "delim: past the last field");
	ok(field("a,,c", 2, ',', ""), "delim: empty field counts");
	ok(field("a,,c", 3, ',', "c"), "delim: field after an empty one");
	ok(field(",a", 1, ',', ""), "delim: leading empty field");
	ok(field("a,", 2, ',', ""), "delim: trailing empty field");
	ok(field("", 1, ',', ""), "delim: empty line has one empty field");
	ok(field("", 2, ',', NULL), "delim: empty line has no field 2");
	ok(field(" a\tb", 2, '\t', "b"), "delim: tab");
	ok(field(" a\tb", 1, '\t', " a"), "delim: blanks are data");
	ok(field("a b", 1, ',', "a b"), "delim: no delimiter, whole line");
	ok(field("a\xff" "b", 2, 0xff, "b"), "delim: byte 0xff");

	/* Not NUL-terminated: only len bytes are looked at. */
	ok(ds_line_field("a b c", 3, 2, B, &f, &fl) == 1 && fl == 1 &&
	    *f == 'b', "blanks: stops at len");
	ok(ds_line_field("a b c", 3, 3, B, &f, &fl) == 0,
	    "blanks: nothing past len");
	ok(ds_line_field("a,b,c", 3, 2, ',', &f, &fl) == 1 && fl == 1 &&
	    *f == 'b', "delim: stops at len");
	ok(ds_line_field("a,b,c", 3, 3, ',', &f, &fl) == 0,
	    "delim: nothing past len");
	return done();
}
