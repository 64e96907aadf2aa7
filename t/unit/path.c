/*
 * path.c: unit test for libds/core/path.  ds_path_search takes the first
 * executable along $PATH, skips what is not executable, reads an empty
 * entry as the current directory, and says ENOENT when nothing is found.
 */
#define _DEFAULT_SOURCE	/* mkdtemp */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/path.h"
#include "tap.h"

static char top[64];

static void
mkfile(const char *dir, const char *name, mode_t mode)
{
	char p[256];
	int fd;

	snprintf(p, sizeof(p), "%s/%s/%s", top, dir, name);
	if ((fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode)) != -1)
		close(fd);
	chmod(p, mode);
}

int
main(void)
{
	char a[128], b[128], path[300], want[256], *got;

	strcpy(top, "/tmp/ds-path-XXXXXX");
	if (mkdtemp(top) == NULL)
		return 1;
	snprintf(a, sizeof(a), "%s/a", top);
	snprintf(b, sizeof(b), "%s/b", top);
	mkdir(a, 0700);
	mkdir(b, 0700);
	mkfile("a", "prog", 0600);	/* not executable: skipped */
	mkfile("b", "prog", 0700);
	mkfile("a", "both", 0700);
	mkfile("b", "both", 0700);
	snprintf(path, sizeof(path), "%s:%s", a, b);
	setenv("PATH", path, 1);
	snprintf(want, sizeof(want), "%s/prog", b);
	got = ds_path_search("prog");
	ok(got != NULL && strcmp(got, want) == 0, "a non-executable file is "
	    "skipped: %s", got ? got : "(null)");
	free(got);
	snprintf(want, sizeof(want), "%s/both", a);
	got = ds_path_search("both");
	ok(got != NULL && strcmp(got, want) == 0, "the first directory wins");
	free(got);
	errno = 0;
	ok(ds_path_search("nothing-here") == NULL && errno == ENOENT,
	    "nothing found: NULL, ENOENT");
	snprintf(path, sizeof(path), "%s:", a);
	setenv("PATH", path, 1);
	if (chdir(b) == 0) {
		got = ds_path_search("prog");
		ok(got != NULL && strcmp(got, "./prog") == 0, "an empty entry "
		    "is the current directory");
		free(got);
	}
	if (fork() == 0) {
		execl("/bin/rm", "rm", "-rf", top, (char *)NULL);
		_exit(127);
	}
	wait(NULL);
	return done();
}
