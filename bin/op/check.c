/*
 * check.c: ds-op --check.  The options were parsed and validated as for
 * a run; what is left is what a run would find out first: a --plugin is
 * loaded already (ds-op.c), a built-in's operands go through its init,
 * and an --exec command's program is looked up, when its first word is
 * a plain name sh(1) would look up in PATH.  Nothing is started: a
 * plugin's init is the plugin author's code, and may open files.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/path.h"
#include "op.h"

/* Words sh(1) runs itself: looked up nowhere. */
static const char *const sh_words[] = {
	"!", ".", ":", "[", "alias", "bg", "break", "case", "cd", "command",
	"continue", "do", "echo", "eval", "exec", "exit", "export", "false",
	"fg", "for", "getopts", "hash", "if", "jobs", "kill", "printf", "pwd",
	"read", "readonly", "return", "set", "shift", "test", "times", "trap",
	"true", "type", "ulimit", "umask", "unalias", "unset", "until", "wait",
	"while", "{", NULL
};

/* Is file (with a slash) or name (along PATH) an executable? */
static int
found(const char *name)
{
	char *cand;

	if (strchr(name, '/') != NULL)
		return access(name, X_OK) == 0;
	if ((cand = ds_path_search(name)) == NULL) {
		if (errno == ENOMEM)
			ds_die(DS_EX_OSERR, "out of memory");
		return 0;
	}
	free(cand);
	return 1;
}

/*
 * The program of command, if it is a plain word (no quoting, expansion
 * or assignment: then only sh knows) that is not sh's own: exit 69 if it
 * is nowhere to be run.
 */
static void
check_exec(const char *command)
{
	char word[256];
	size_t n, i;

	command += strspn(command, " \t\n");
	n = strcspn(command, " \t\n");
	if (n == 0 || n >= sizeof(word))
		return;
	memcpy(word, command, n);
	word[n] = '\0';
	if (strspn(word, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789_-+.,/@") != n)
		return;
	for (i = 0; sh_words[i] != NULL; i++)
		if (strcmp(word, sh_words[i]) == 0)
			return;
	if (!found(word))
		ds_die(DS_EX_UNAVAILABLE, "--exec: %s: program not found",
		    word);
}

void
op_check(const struct ds_common *co, int builtin)
{
	if (O.command != NULL)
		check_exec(O.command);
	else if (builtin)
		op_start(co);
	exit(DS_EX_OK);
}
