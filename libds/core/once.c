/*
 * once.c: names of the delivery modes.
 */
#include <string.h>

#include "core/once.h"

static const enum ds_once all[] = {
	DS_ONCE_MOST, DS_ONCE_LEAST, DS_ONCE_EXACTLY
};

const char *
ds_once_name(enum ds_once o)
{
	switch (o) {
	case DS_ONCE_MOST:	return "most";
	case DS_ONCE_LEAST:	return "least";
	case DS_ONCE_EXACTLY:	return "exactly";
	}
	return "?";
}

int
ds_once_parse(const char *s, size_t n, enum ds_once *o)
{
	const char *name;
	size_t i;

	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		name = ds_once_name(all[i]);
		if (strlen(name) == n && memcmp(s, name, n) == 0) {
			*o = all[i];
			return 0;
		}
	}
	return -1;
}
