/*
 * path.c: where a ds-sink instance writes.  Instances of one node share
 * their command line but must not share a file: %i in --file or --tc
 * makes one path per instance.  --check prints the absolute path, so
 * that ds-master can refuse two instances writing the same file without
 * parsing ds-sink's options itself.
 */
#define _XOPEN_SOURCE 700	/* realpath */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sink.h"

char *
sink_path(const struct ds_common *co, const struct ds_node_cfg *cf,
    const char *opt, char *tmpl)
{
	struct ds_buf b = DS_BUF_INIT;
	uint64_t index;
	char num[24];
	const char *p;
	int known;

	if (strchr(tmpl, '%') == NULL)
		return tmpl;
	known = ds_node_cfg_index(cf, &index) == 0;
	for (p = tmpl; *p != '\0'; p++) {
		if (*p != '%') {
			if (ds_buf_addc(&b, *p) == -1)
				goto nomem;
			continue;
		}
		if (p[1] == 'i' && !known)
			ds_dieusage(co, "%s: %%i needs --name NODE.I: '%s'",
			    opt, cf->name);
		if (p[1] == 'i')
			snprintf(num, sizeof(num), "%llu",
			    (unsigned long long)index);
		else if (p[1] == '%')
			strcpy(num, "%");
		else
			ds_dieusage(co, "%s: only %%i and %%%% may follow a "
			    "%%: '%s'", opt, tmpl);
		if (ds_buf_addstr(&b, num) == -1)
			goto nomem;
		p++;
	}
	if (ds_buf_addc(&b, '\0') == -1)
		goto nomem;
	free(tmpl);
	return (char *)b.p;
nomem:
	ds_die(DS_EX_OSERR, "out of memory");
}

/* "a/b" (malloc'ed; "/b" when a is "/"), or NULL. */
static char *
join(const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 2;
	char *s;

	if ((s = malloc(n)) != NULL)
		snprintf(s, n, "%s%s%s", a, strcmp(a, "/") == 0 ? "" : "/", b);
	return s;
}

/* path made absolute; NULL when out of memory or without a cwd. */
static char *
absolute(const char *path)
{
	char *cwd, *copy, *slash, *dir, *s;

	if (path[0] == '/')
		copy = strdup(path);
	else {
		if ((cwd = getcwd(NULL, 0)) == NULL)
			return NULL;
		copy = join(cwd, path);
		free(cwd);
	}
	if (copy == NULL)
		return NULL;
	/* The directory as the kernel finds it, when it exists. */
	slash = strrchr(copy, '/');
	*slash = '\0';
	if ((dir = realpath(copy[0] != '\0' ? copy : "/", NULL)) == NULL) {
		*slash = '/';
		return copy;
	}
	s = join(dir, slash + 1);
	free(dir);
	free(copy);
	return s;
}

void
sink_check(const char *file, const char *tc)
{
	const char *path[2] = { file, tc };
	char *abs;
	size_t i;

	for (i = 0; i < 2; i++) {
		if (path[i] == NULL)
			continue;
		if ((abs = absolute(path[i])) == NULL)
			ds_diesys(DS_EX_OSERR, "%s", path[i]);
		printf("writes %s\n", abs);
		free(abs);
	}
	if (fflush(stdout) == EOF || ferror(stdout))
		ds_diesys(DS_EX_IOERR, "unable to write stdout");
	exit(DS_EX_OK);
}
