/*
 * path.c: a program along $PATH (path.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/path.h"

char *
ds_path_search(const char *name)
{
	const char *path, *p, *e;
	char *cand;
	size_t n;

	if ((path = getenv("PATH")) == NULL)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path;; p = e + 1) {
		if ((e = strchr(p, ':')) == NULL)
			e = p + strlen(p);
		n = (size_t)(e - p) + strlen(name) + 3;
		if ((cand = malloc(n)) == NULL)
			return NULL;
		if (e == p)
			snprintf(cand, n, "./%s", name);
		else
			snprintf(cand, n, "%.*s/%s", (int)(e - p), p, name);
		if (access(cand, X_OK) == 0)
			return cand;
		free(cand);
		if (*e == '\0') {
			errno = ENOENT;
			return NULL;
		}
	}
}
