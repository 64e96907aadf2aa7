/*
 * t/unit/topo.c: topology files.  Good files with every key and every
 * default, the comment and indentation rules of the libinih we link,
 * each validation error with its exact "FILE:LINE: KEY: ..." message,
 * cycles naming their nodes, and the sh-like splitting of run lines.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "topo/topo.h"

static char dir[64];
static char path[128];
static char err[512];

static void
put(const char *name, const char *text)
{
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL || fputs(text, f) == EOF ||
	    fclose(f) == EOF) {
		perror(path);
		exit(1);
	}
}

static int
load(const char *text, struct ds_topo *t)
{
	put("job.topo", text);
	err[0] = '\0';
	return ds_topo_load(t, path, err, sizeof(err));
}

/* text must fail with "PATH:line: msg" ("PATH: msg" for line 0). */
static int
bad(const char *text, int line, const char *msg)
{
	struct ds_topo t;
	char want[512];
	int r;

	r = load(text, &t);
	if (line > 0)
		snprintf(want, sizeof(want), "%s:%d: %s", path, line, msg);
	else
		snprintf(want, sizeof(want), "%s: %s", path, msg);
	if (r == 0) {
		ds_topo_free(&t);
		printf("# loaded, but wanted: %s\n", want);
		return 0;
	}
	if (strcmp(err, want) != 0 || errno != EINVAL) {
		printf("# got:  %s (errno %d)\n# want: %s\n", err, errno,
		    want);
		return 0;
	}
	return t.node == NULL && t.file == NULL;
}

#define SRCSINK "[node s]\nrun = ds-source\n[node k]\nrun = ds-sink\n" \
	"input = s\n"

static void
good(void)
{
	struct ds_topo t;
	char want[512], cwd[256], run1[256], text[512];
	int r;

	/* Minimal file: every default. */
	setenv("XDG_RUNTIME_DIR", "/xdg", 1);
	r = load(SRCSINK, &t);
	ok(r == 0, "minimal topology loads: %s", err);
	if (r != 0)
		return;
	ok(strcmp(t.file, path) == 0, "file kept");
	ok(strcmp(t.name, "job") == 0, "name defaults to the file name "
	    "without .topo");
	ok(t.once == DS_ONCE_LEAST, "once defaults to least");
	ok(t.keepalive_ms == 10000, "keepalive defaults to 10s");
	ok(t.fence_only == 0, "zombies defaults to kill");
	snprintf(want, sizeof(want), "%s/job.state", dir);
	ok(strcmp(t.state, want) == 0, "state defaults to the file's "
	    "dir/NAME.state: %s", t.state);
	ok(strncmp(t.run, "/xdg/dstream/job-", 17) == 0 &&
	    strlen(t.run) == 25 && strspn(t.run + 17, "0123456789abcdef") ==
	    8, "run defaults to $XDG_RUNTIME_DIR/dstream/NAME-HASH: %s", t.run);
	ok(strcmp(t.path, path) == 0 && strcmp(t.dir, dir) == 0,
	    "path and dir absolute: %s %s", t.path, t.dir);
	ok(t.node[0].run_line == 2 && t.node[0].par_line == 0 &&
	    t.once_line == 0, "run line kept, parallel and once unset");
	snprintf(run1, sizeof(run1), "%s", t.run);
	ok(t.bundle == 64, "bundle defaults to 64");
	ok(t.linger_ms == 5, "linger defaults to 5ms");
	ok(t.max_emit == 0 && t.max_keys == 0, "max-emit, max-keys unset");
	ok(t.nnode == 2 && t.nedge == 1, "two nodes, one edge");
	ok(strcmp(t.node[0].name, "s") == 0 && t.node[0].line == 1 &&
	    t.node[0].kind == DS_KIND_SOURCE && t.node[0].parallel == 1 &&
	    t.node[0].argc == 1 && strcmp(t.node[0].argv[0], "ds-source") ==
	    0 && t.node[0].argv[1] == NULL, "source node, parallel 1");
	ok(strcmp(t.node[1].name, "k") == 0 && t.node[1].line == 3 &&
	    t.node[1].kind == DS_KIND_SINK, "sink node");
	ok(t.edge[0].from == 0 && t.edge[0].to == 1 && t.edge[0].dist ==
	    DS_DIST_FORWARD && t.edge[0].once == DS_ONCE_LEAST &&
	    t.edge[0].line == 5, "edge defaults: forward, topology's once");
	ds_topo_free(&t);
	ok(t.node == NULL && t.file == NULL, "free zeroes");
	ds_topo_free(&t);
	ok(1, "free twice is harmless");

	/* The same state by another path: the same run directory. */
	snprintf(text, sizeof(text), "[topology]\nstate = ../%s/./job.state"
	    "\n" SRCSINK, strrchr(dir, '/') + 1);
	r = load(text, &t);
	ok(r == 0 && strcmp(t.run, run1) == 0, "state named another way: the "
	    "same run directory: %s", r == 0 ? t.run : err);
	if (r == 0)
		ds_topo_free(&t);
	/* Another state: another run directory, though the name is one. */
	r = load("[topology]\nstate = other\n" SRCSINK, &t);
	ok(r == 0 && strncmp(t.run, "/xdg/dstream/job-", 17) == 0 &&
	    strcmp(t.run, run1) != 0, "another state: another run directory: "
	    "%s", r == 0 ? t.run : err);
	if (r == 0)
		ds_topo_free(&t);

	unsetenv("XDG_RUNTIME_DIR");
	r = load(SRCSINK, &t);
	snprintf(want, sizeof(want), "/tmp/dstream-%lu/job%s",
	    (unsigned long)getuid(), run1 + 16);
	ok(r == 0 && strcmp(t.run, want) == 0, "run without XDG_RUNTIME_DIR:"
	    " /tmp/dstream-UID/NAME-HASH");
	ds_topo_free(&t);
	setenv("XDG_RUNTIME_DIR", "relative", 1);
	r = load(SRCSINK, &t);
	ok(r == 0 && strcmp(t.run, want) == 0, "a relative XDG_RUNTIME_DIR "
	    "is ignored");
	ds_topo_free(&t);

	/* Every key. */
	r = load("; a comment\n"
	    "# another comment\n"
	    "[topology]\n"
	    "name = wc-1.x\n"
	    "once = most\n"
	    "keepalive = 2s ; inline comment\n"
	    "zombies = fence\n"
	    "state = ./st/dir\n"
	    "run = /r/x\n"
	    "bundle = 10\n"
	    "linger = 1m\n"
	    "max-emit = 16M\n"
	    "max-keys = 1000\n"
	    "\n"
	    "[node src]\n"
	    "run = /usr/bin/ds-source --file in.txt --key-field 1\n"
	    "parallel = 2\n"
	    "[node count]\n"
	    "run = ds-op --exec 'awk -f x.awk' \"a b\"\n"
	    "input = src:hash\n"
	    "parallel = 4\n"
	    "once.src = least\n"
	    "[node out]\n"
	    "run = bin/ds-sink\n"
	    "input = count:broadcast\n"
	    "input = src:range\n"
	    "once.count = exactly\n", &t);
	ok(r == 0, "every key loads: %s", err);
	if (r != 0)
		return;
	ok(strcmp(t.name, "wc-1.x") == 0, "name");
	ok(t.once == DS_ONCE_MOST && t.once_line == 5, "once = most, line 5");
	ok(t.node[1].run_line == 19 && t.node[1].par_line == 21,
	    "run and parallel lines of count");
	ok(t.edge[0].once_line == 22 && t.edge[1].once_line == 27 &&
	    t.edge[2].once_line == 0, "the lines of once.src and once.count, "
	    "none for src -> out");
	ok(t.keepalive_ms == 2000, "keepalive = 2s, inline ; comment cut");
	ok(t.fence_only == 1, "zombies = fence");
	snprintf(want, sizeof(want), "%s/st/dir", dir);
	ok(strcmp(t.state, want) == 0, "state relative to the file's dir: %s",
	    t.state);
	ok(strcmp(t.run, "/r/x") == 0, "absolute run dir kept");
	ok(t.bundle == 10, "bundle");
	ok(t.linger_ms == 60000, "linger = 1m");
	ok(t.max_emit == 16u << 20, "max-emit = 16M");
	ok(t.max_keys == 1000, "max-keys");
	ok(t.nnode == 3 && ds_topo_find(&t, "count") == 1 &&
	    ds_topo_find(&t, "out") == 2 && ds_topo_find(&t, "nope") == -1,
	    "nodes in file order; ds_topo_find");
	ok(t.node[0].kind == DS_KIND_SOURCE && t.node[0].parallel == 2 &&
	    t.node[0].argc == 5 && strcmp(t.node[0].argv[4], "1") == 0 &&
	    t.node[0].line == 15, "/usr/bin/ds-source is a source");
	ok(t.node[1].kind == DS_KIND_OP && t.node[1].parallel == 4 &&
	    t.node[1].argc == 4 && strcmp(t.node[1].argv[2], "awk -f x.awk")
	    == 0 && strcmp(t.node[1].argv[3], "a b") == 0 &&
	    strcmp(t.node[1].run, "ds-op --exec 'awk -f x.awk' \"a b\"") == 0,
	    "ds-op, quoted words, run as written");
	ok(t.node[2].kind == DS_KIND_SINK, "bin/ds-sink is a sink");
	ok(t.nedge == 3, "three edges");
	ok(t.edge[0].from == 0 && t.edge[0].to == 1 && t.edge[0].dist ==
	    DS_DIST_HASH && t.edge[0].once == DS_ONCE_LEAST &&
	    t.edge[0].line == 20, "src:hash with once.src = least");
	ok(t.edge[1].from == 1 && t.edge[1].to == 2 && t.edge[1].dist ==
	    DS_DIST_BROADCAST && t.edge[1].once == DS_ONCE_EXACTLY,
	    "count:broadcast with once.count = exactly");
	ok(t.edge[2].from == 0 && t.edge[2].to == 2 && t.edge[2].dist ==
	    DS_DIST_RANGE && t.edge[2].once == DS_ONCE_MOST &&
	    t.edge[2].line == 26, "second input = line, topology's once");
	ok(t.routers == DS_ROUTERS_AUTO && !ds_topo_routed(&t, 0) &&
	    !ds_topo_routed(&t, 1) && !ds_topo_routed(&t, 2),
	    "routers defaults to auto: 2 x 4 instances, no router");
	t.node[1].parallel = 33;
	ok(ds_topo_routed(&t, 0) && !ds_topo_routed(&t, 1),
	    "auto: 2 x 33 instances get a router, 33 x 1 not");
	t.routers = DS_ROUTERS_YES;
	ok(ds_topo_routed(&t, 1) && ds_topo_routed(&t, 2),
	    "routers = yes: every distributing edge");
	ds_topo_free(&t);
	r = load("[topology]\nrouters = yes\n" SRCSINK, &t);
	ok(r == 0 && t.routers == DS_ROUTERS_YES && !ds_topo_routed(&t, 0),
	    "routers = yes; a forward edge never gets one");
	ds_topo_free(&t);
	r = load("[topology]\nrouters = no\n[node s]\nrun = ds-source\n"
	    "parallel = 64\n[node k]\nrun = ds-sink\ninput = s:hash\n"
	    "parallel = 64\n", &t);
	ok(r == 0 && t.routers == DS_ROUTERS_NO && !ds_topo_routed(&t, 0),
	    "routers = no: 64 x 64 instances direct");
	ds_topo_free(&t);

	/* Syntax of the linked libinih. */
	r = load("  [topology]\n"
	    "\tonce: most\n"
	    "  state = a;b\n"
	    "[node s]   ; trailing comment\n"
	    "    run = ds-source\n"
	    "    parallel = 3\n"
	    "[node k]\n"
	    "  run = ds-sink\n"
	    "\tinput = s:shuffle\n", &t);
	ok(r == 0, "indented lines and KEY: VALUE load: %s", err);
	if (r == 0) {
		ok(t.once == DS_ONCE_MOST, "KEY: VALUE is KEY = VALUE");
		ok(strlen(t.state) > 4 && strcmp(t.state + strlen(t.state) - 4,
		    "/a;b") == 0, "; without a blank before it is data");
		ok(t.node[0].parallel == 3 && t.node[0].line == 4,
		    "an indented key after a key is a key, not a "
		    "continuation");
		ok(t.edge[0].dist == DS_DIST_SHUFFLE, "shuffle");
		ds_topo_free(&t);
	}

	r = load("\xef\xbb\xbf[topology]\r\nonce = most\r\n"
	    "[node s]\r\nrun = ds-source\r\n"
	    "[node k]  \r\nrun = ds-sink --file o\r\ninput = s:hash\r\n", &t);
	ok(r == 0, "byte order mark and CRLF lines load: %s", err);
	if (r == 0) {
		ok(t.once == DS_ONCE_MOST && t.nnode == 2 &&
		    t.node[1].argc == 3 && strcmp(t.node[1].argv[2], "o") == 0
		    && t.edge[0].dist == DS_DIST_HASH, "CR is stripped");
		ds_topo_free(&t);
	}

	/* Durations. */
	r = load("[topology]\nkeepalive = 400\nlinger = 0\n" SRCSINK, &t);
	ok(r == 0 && t.keepalive_ms == 400 && t.linger_ms == 0,
	    "plain numbers are milliseconds");
	ds_topo_free(&t);
	r = load("[topology]\nkeepalive = 1m\nlinger = 250ms\n" SRCSINK, &t);
	ok(r == 0 && t.keepalive_ms == 60000 && t.linger_ms == 250,
	    "m and ms suffixes");
	ds_topo_free(&t);
	r = load("[topology]\nkeepalive = 86400s\nlinger = 60s\nbundle = "
	    "65536\n" SRCSINK, &t);
	ok(r == 0 && t.keepalive_ms == 86400000 && t.linger_ms == 60000 &&
	    t.bundle == 65536, "largest keepalive, linger and bundle");
	ds_topo_free(&t);

	/* Forward merges; parallel up to 1024. */
	r = load("[node s]\nrun = ds-source\nparallel = 1024\n"
	    "[node k]\nrun = ds-sink\ninput = s\n", &t);
	ok(r == 0 && t.node[0].parallel == 1024, "forward 1024 -> 1 merges");
	ds_topo_free(&t);
	r = load("[node s]\nrun = ds-source\nparallel = 3\n"
	    "[node k]\nrun = ds-sink\nparallel = 3\ninput = s:forward\n", &t);
	ok(r == 0 && t.edge[0].dist == DS_DIST_FORWARD, "forward 3 -> 3");
	ds_topo_free(&t);

	/* A later node can be named as input; diamonds are fine. */
	r = load("[node k]\nrun = ds-sink\ninput = a\ninput = b\n"
	    "[node a]\nrun = ds-op --builtin identity\ninput = s\n"
	    "[node b]\nrun = ds-op --builtin count\ninput = s:hash\n"
	    "[node s]\nrun = ds-source\n", &t);
	ok(r == 0 && t.nedge == 4 && t.edge[0].from == 1 &&
	    t.edge[1].from == 2 && t.edge[3].from == 3,
	    "forward references and a diamond: %s", err);
	ds_topo_free(&t);

	/* Relative file name: dirs are made absolute against the cwd. */
	if (getcwd(cwd, sizeof(cwd)) != NULL && chdir(dir) == 0) {
		r = ds_topo_load(&t, "job.topo", err, sizeof(err));
		snprintf(want, sizeof(want), "%s/job.state", dir);
		ok(r == 0 && strcmp(t.state, want) == 0,
		    "relative file: absolute state dir: %s", err);
		ds_topo_free(&t);
		r = ds_topo_load(&t, "./job.topo", err, sizeof(err));
		ok(r == 0 && strcmp(t.state, want) == 0 &&
		    strcmp(t.name, "job") == 0, "./FILE too");
		ds_topo_free(&t);
		ok(chdir(cwd) == 0, "back to the cwd");
	}

	ok(ds_topo_producer(0, 0) == 0x10000 &&
	    ds_topo_producer(2, 5) == (3u << 16 | 5), "producer ids");
	ok(strcmp(ds_once_name(DS_ONCE_MOST), "most") == 0 &&
	    strcmp(ds_once_name(DS_ONCE_LEAST), "least") == 0 &&
	    strcmp(ds_once_name(DS_ONCE_EXACTLY), "exactly") == 0,
	    "ds_once_name");
	ok(strcmp(ds_dist_name(DS_DIST_FORWARD), "forward") == 0 &&
	    strcmp(ds_dist_name(DS_DIST_HASH), "hash") == 0 &&
	    strcmp(ds_dist_name(DS_DIST_RANGE), "range") == 0 &&
	    strcmp(ds_dist_name(DS_DIST_SHUFFLE), "shuffle") == 0 &&
	    strcmp(ds_dist_name(DS_DIST_BROADCAST), "broadcast") == 0,
	    "ds_dist_name");
}

static void
errors(void)
{
	struct ds_topo t;
	char want[512], longline[300];
	FILE *f;

	snprintf(path, sizeof(path), "%s/missing.topo", dir);
	ok(ds_topo_load(&t, path, err, sizeof(err)) == -1 &&
	    errno == ENOENT, "missing file: -1, ENOENT");
	snprintf(want, sizeof(want), "%s: cannot open: %s", path,
	    strerror(ENOENT));
	ok(strcmp(err, want) == 0, "missing file message: %s", err);

	/* Lines. */
	ok(bad(SRCSINK "junk\n", 6,
	    "not a [section], KEY = VALUE or comment line"), "syntax error");
	ok(bad("[node s\n" SRCSINK, 1,
	    "not a [section], KEY = VALUE or comment line"), "unclosed [");
	memset(longline, 'x', sizeof(longline));
	memcpy(longline, "run = ds-source ", 16);
	longline[198] = '\0';
	snprintf(want, sizeof(want), "[node s]\n%s\n", longline);
	ok(bad(want, 2, "line longer than 197 bytes"), "line too long");
	longline[197] = '\0';
	snprintf(want, sizeof(want), "[node s]\n%s\n[node k]\nrun = ds-sink\n"
	    "input = s\n", longline);
	ok(load(want, &t) == 0, "197 bytes is fine: %s", err);
	ds_topo_free(&t);
	snprintf(want, sizeof(want), "[node s]\n\t\t\t\t%s\n[node k]\nrun = "
	    "ds-sink\ninput = s\n", longline);
	ok(load(want, &t) == 0, "leading blanks do not count");
	ds_topo_free(&t);
	snprintf(path, sizeof(path), "%s/job.topo", dir);
	if ((f = fopen(path, "w")) != NULL) {
		fwrite("[node s]\nrun = ds-source\0x\n", 1, 27, f);
		fclose(f);
	}
	ok(ds_topo_load(&t, path, err, sizeof(err)) == -1 &&
	    strstr(err, "job.topo:2: NUL byte in the line") != NULL,
	    "NUL byte: %s", err);

	/* Sections. */
	ok(bad("once = most\n" SRCSINK, 1, "once: key before any [section]"),
	    "key before any section");
	ok(bad(SRCSINK "[nodes x]\nrun = ds-op\n", 6,
	    "[nodes x]: unknown section ([topology] or [node NAME])"),
	    "unknown section");
	ok(bad(SRCSINK "[ topology ]\n", 6,
	    "[ topology ]: unknown section ([topology] or [node NAME])"),
	    "blanks inside [ ] are part of the name");
	ok(bad(SRCSINK "[node]\n", 6, "[node]: missing node name"),
	    "node without name");
	ok(bad(SRCSINK "[node  ]\n", 6, "[node  ]: missing node name"),
	    "node with a blank name");
	ok(bad(SRCSINK "[node a-b]\n", 6,
	    "[node a-b]: a node name is letters, digits and _ only"),
	    "- in a node name");
	ok(bad(SRCSINK "[node a.b]\n", 6,
	    "[node a.b]: a node name is letters, digits and _ only"),
	    ". in a node name");
	ok(bad(SRCSINK "[node "
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]"
	    "\n", 6, "[node "
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "]: node name longer than 64 bytes"), "65-byte node name");
	ok(bad(SRCSINK "[node s]\nrun = ds-source\n", 6,
	    "[node s]: duplicate node (first on line 1)"), "duplicate node");
	ok(bad("[topology]\n" SRCSINK "[topology]\n", 7,
	    "[topology]: duplicate section (first on line 1)"),
	    "duplicate [topology]");
	ok(bad(SRCSINK "[node x] y\n", 6, "[node x] y: text after ]"),
	    "text after ]");
	ok(bad("[node s]\n" "[node k]\nrun = ds-sink\ninput = s\n", 1,
	    "run: missing in [node s]"), "empty node section");

	/* Keys and values. */
	ok(bad("[topology]\nonce = most\nfoo = 1\n" SRCSINK, 3,
	    "foo: unknown key in [topology]"), "unknown topology key");
	ok(bad(SRCSINK "colour = red\n", 6, "colour: unknown key in [node k]"),
	    "unknown node key");
	ok(bad(SRCSINK "once = most\n", 6, "once: unknown key in [node k]"),
	    "once without .NODE in a node");
	ok(bad("[topology]\nname =\n" SRCSINK, 2, "name: missing value"),
	    "missing value");
	ok(bad("[node s]\nrun =   \n", 2, "run: missing value"),
	    "blank value");
	ok(bad("[topology]\nonce = most\nonce = least\n" SRCSINK, 3,
	    "once: duplicate key (first on line 2)"), "duplicate topology key");
	ok(bad(SRCSINK "run = ds-sink\n", 6,
	    "run: duplicate key (first on line 4)"), "duplicate run");
	ok(bad(SRCSINK "parallel = 1\nparallel = 2\n", 7,
	    "parallel: duplicate key (first on line 6)"), "duplicate parallel");
	ok(bad("[topology]\nonce = sometimes\n" SRCSINK, 2,
	    "once: must be most, least or exactly, not 'sometimes'"),
	    "bad once");
	ok(bad("[topology]\nzombies = keep\n" SRCSINK, 2,
	    "zombies: must be kill or fence, not 'keep'"), "bad zombies");
	ok(bad("[topology]\nrouters = maybe\n" SRCSINK, 2,
	    "routers: must be auto, yes or no, not 'maybe'"), "bad routers");
	ok(bad("[topology]\nname = a/b\n" SRCSINK, 2,
	    "name: 'a/b' is not a name (letters, digits, _ - and ., not "
	    "starting with ., at most 64 bytes)"), "bad name");
	ok(bad("[topology]\nname = .x\n" SRCSINK, 2,
	    "name: '.x' is not a name (letters, digits, _ - and ., not "
	    "starting with ., at most 64 bytes)"), "name starting with .");
	ok(bad("[topology]\nname = a # b\n" SRCSINK, 2,
	    "name: 'a # b' is not a name (letters, digits, _ - and ., not "
	    "starting with ., at most 64 bytes)"), "# after a value is data");
	put("bad name.topo", SRCSINK);
	ok(ds_topo_load(&t, path, err, sizeof(err)) == -1, "bad file name");
	snprintf(want, sizeof(want), "%s: name: the file name gives 'bad "
	    "name', which is not a name; set name = in [topology]", path);
	ok(strcmp(err, want) == 0, "bad file name message: %s", err);

	/* Numbers and durations. */
	ok(bad("[topology]\nkeepalive = 10 s\n" SRCSINK, 2,
	    "keepalive: not a duration (N, Nms, Ns or Nm): '10 s'"),
	    "blank inside a duration");
	ok(bad("[topology]\nkeepalive = 1h\n" SRCSINK, 2,
	    "keepalive: not a duration (N, Nms, Ns or Nm): '1h'"),
	    "unknown suffix");
	ok(bad("[topology]\nkeepalive = -5\n" SRCSINK, 2,
	    "keepalive: not a duration (N, Nms, Ns or Nm): '-5'"), "sign");
	ok(bad("[topology]\nkeepalive = 1.5s\n" SRCSINK, 2,
	    "keepalive: not a duration (N, Nms, Ns or Nm): '1.5s'"),
	    "fraction");
	ok(bad("[topology]\nkeepalive = 399ms\n" SRCSINK, 2,
	    "keepalive: must be 400ms to 86400000ms, not 399ms"),
	    "keepalive below 400ms");
	ok(bad("[topology]\nkeepalive = 1441m\n" SRCSINK, 2,
	    "keepalive: must be 400ms to 86400000ms, not 1441m"),
	    "keepalive over a day");
	ok(bad("[topology]\nkeepalive = 99999999999999999999\n" SRCSINK, 2,
	    "keepalive: not a duration (N, Nms, Ns or Nm): "
	    "'99999999999999999999'"), "overflowing number");
	ok(bad("[topology]\nkeepalive = 999999999999999999m\n" SRCSINK, 2,
	    "keepalive: must be 400ms to 86400000ms, not 999999999999999999m"),
	    "overflowing multiplication");
	ok(bad("[topology]\nlinger = 61s\n" SRCSINK, 2,
	    "linger: must be 0ms to 60000ms, not 61s"), "linger over 60s");
	ok(bad("[topology]\nmax-emit = 0\n" SRCSINK, 2,
	    "max-emit: must be 1 to 4611686018427387903 bytes, not 0"),
	    "max-emit 0");
	ok(bad("[topology]\nmax-emit = 4T\n" SRCSINK, 2,
	    "max-emit: not a size (N, NK, NM or NG): '4T'"),
	    "max-emit with an unknown suffix");
	ok(bad("[topology]\nmax-emit = 9999999999999G\n" SRCSINK, 2,
	    "max-emit: must be 1 to 4611686018427387903 bytes, not "
	    "9999999999999G"), "max-emit overflowing");
	ok(bad("[topology]\nmax-keys = 1k\n" SRCSINK, 2,
	    "max-keys: not a number: '1k'"), "max-keys with a suffix");
	ok(bad("[topology]\nbundle = 0\n" SRCSINK, 2,
	    "bundle: must be 1 to 65536, not 0"), "bundle 0");
	ok(bad("[topology]\nbundle = 65537\n" SRCSINK, 2,
	    "bundle: must be 1 to 65536, not 65537"), "bundle too big");
	ok(bad("[topology]\nbundle = 1k\n" SRCSINK, 2,
	    "bundle: not a number: '1k'"), "bundle with a suffix");
	ok(bad("[topology]\nbundle = +3\n" SRCSINK, 2,
	    "bundle: not a number: '+3'"), "bundle with a sign");
	ok(bad(SRCSINK "parallel = 0\n", 6,
	    "parallel: must be 1 to 1024, not 0"), "parallel 0");
	ok(bad(SRCSINK "parallel = 1025\n", 6,
	    "parallel: must be 1 to 1024, not 1025"), "parallel 1025");
	ok(bad(SRCSINK "parallel = two\n", 6,
	    "parallel: not a number: 'two'"), "parallel not a number");

	/* run. */
	ok(bad("[node s]\nrun = cat in.txt\n", 2,
	    "run: must start with ds-source, ds-op or ds-sink, not 'cat'"),
	    "run of another program");
	ok(bad("[node s]\nrun = ds-router --dist hash\n", 2,
	    "run: must start with ds-source, ds-op or ds-sink, not "
	    "'ds-router'"), "ds-router is not a node");
	ok(bad("[node s]\nrun = ds-source --file 'in.txt\n", 2,
	    "run: unterminated single quote"), "unterminated quote");
	ok(bad("[node s]\nrun = ds-source | cat\n", 2,
	    "run: shell syntax outside quotes ($ ` | ; & < > ( )): the "
	    "command runs without a shell; quote it"), "a pipe");
	ok(bad("[node s]\nrun = ds-source --exec 'a ; b'\n", 2,
	    "run: unterminated single quote"),
	    "blank+; is a comment even inside quotes");

	/* input. */
	ok(bad(SRCSINK "[node k2]\nrun = ds-sink\ninput = s:random\n", 8,
	    "input: unknown distribution 'random' (hash, range, shuffle, "
	    "broadcast or forward)"), "unknown distribution");
	ok(bad(SRCSINK "[node k2]\nrun = ds-sink\ninput = s:\n", 8,
	    "input: unknown distribution '' (hash, range, shuffle, "
	    "broadcast or forward)"), "empty distribution");
	ok(bad(SRCSINK "[node k2]\nrun = ds-sink\ninput = :hash\n", 8,
	    "input: missing node name"), "input without node");
	ok(bad(SRCSINK "[node k2]\nrun = ds-op\ninput = k2\n", 8,
	    "input: node k2 cannot be its own input"), "own input");
	ok(bad(SRCSINK "input = s:hash\n", 6,
	    "input: s is already an input (line 5)"), "duplicate input");
	ok(bad(SRCSINK "input = nope\n", 6, "input: no node nope"),
	    "input naming a missing node");
	ok(bad("[node s]\nrun = ds-source\ninput = k\n"
	    "[node k]\nrun = ds-sink\ninput = s\n", 3,
	    "input: node s is a ds-source, which takes no input"),
	    "source with an input");
	ok(bad(SRCSINK "[node o]\nrun = ds-op --builtin count\n", 6,
	    "input: missing: node o is a ds-op and needs at least one"),
	    "op without input");
	ok(bad(SRCSINK "[node k2]\nrun = ds-sink\n", 6,
	    "input: missing: node k2 is a ds-sink and needs at least one"),
	    "sink without input");
	ok(bad("[node s]\nrun = ds-source\n[node k]\nrun = ds-sink\n", 1,
	    "[node s]: no node has it as input; only a ds-sink may end the "
	    "graph"), "graph errors: the lowest line is reported");
	ok(bad(SRCSINK "[node k2]\nrun = ds-sink\ninput = k\n", 8,
	    "input: k is a ds-sink, which has no output"),
	    "sink with consumers");
	ok(bad(SRCSINK "[node o]\nrun = ds-op\ninput = s\n", 6,
	    "[node o]: no node has it as input; only a ds-sink may end the "
	    "graph"), "op without consumers");
	ok(bad("[node s]\nrun = ds-source\n", 1,
	    "[node s]: no node has it as input; only a ds-sink may end the "
	    "graph"), "source alone");
	ok(load("[node s]\nrun = ds-source\n[node k]\nrun = ds-sink\n"
	    "parallel = 2\ninput = s\n", &t) == 0, "forward 1 -> 2 loads "
	    "(ds-master refuses it)");
	ds_topo_free(&t);
	ok(bad("[topology]\nonce = most\n", 0, "no [node NAME] section"),
	    "no nodes");
	ok(bad("", 0, "no [node NAME] section"), "empty file");

	/* once.NODE. */
	ok(bad(SRCSINK "once.x = most\n", 6,
	    "once.x: x is not an input of node k"), "once for a non-input");
	ok(bad(SRCSINK "once.k = most\n", 6,
	    "once.k: k is not an input of node k"), "once for itself");
	ok(bad(SRCSINK "once. = most\n", 6,
	    "once.: missing node name after once."), "once. alone");
	ok(bad(SRCSINK "once.s = often\n", 6,
	    "once.s: must be most, least or exactly, not 'often'"),
	    "bad once.NODE mode");
	ok(bad(SRCSINK "once.s = most\nonce.s = least\n", 7,
	    "once.s: duplicate key (first on line 6)"), "duplicate once.s");

	/* Cycles. */
	ok(bad("[node s]\nrun = ds-source\n"
	    "[node a]\nrun = ds-op\ninput = s\ninput = c\n"
	    "[node b]\nrun = ds-op\ninput = a\n"
	    "[node c]\nrun = ds-op\ninput = b\n"
	    "[node k]\nrun = ds-sink\ninput = c\n", 0,
	    "cycle: a -> b -> c -> a"), "three-node cycle");
	ok(bad("[node s]\nrun = ds-source\n"
	    "[node k]\nrun = ds-sink\ninput = b\n"
	    "[node a]\nrun = ds-op\ninput = s\ninput = b\n"
	    "[node b]\nrun = ds-op\ninput = a\n", 0,
	    "cycle: a -> b -> a"), "two-node cycle");

	/* The first error is reported. */
	ok(bad("[topology]\nbundle = 0\nlinger = x\n" SRCSINK "input = x\n",
	    2, "bundle: must be 1 to 65536, not 0"), "first error wins");
	ok(bad("[topology]\nbundle = 0\n!!\n", 2,
	    "bundle: must be 1 to 65536, not 0"),
	    "a value error before a syntax error");
	ok(bad("[topology]\n!!\nbundle = 0\n", 2,
	    "not a [section], KEY = VALUE or comment line"),
	    "a syntax error before a value error");
	ok(bad("[topology]\nbundle = 1\n" SRCSINK "input = x\n", 8,
	    "input: no node x"), "graph errors after line errors");
}

static int
split(const char *s, int n, ...)
{
	char **argv;
	const char *why, *w;
	va_list ap;
	int argc, i, good = 1;

	if (ds_topo_split(s, &argv, &argc, &why) == -1) {
		printf("# %s: %s\n", s, why);
		return 0;
	}
	va_start(ap, n);
	if (argc != n)
		good = 0;
	for (i = 0; good && i < n; i++) {
		w = va_arg(ap, const char *);
		if (strcmp(argv[i], w) != 0) {
			printf("# word %d: got <%s> want <%s>\n", i, argv[i],
			    w);
			good = 0;
		}
	}
	va_end(ap);
	good = good && argv[argc] == NULL;
	ds_topo_argv_free(argv);
	return good;
}

static int
nosplit(const char *s, const char *want)
{
	char **argv = NULL;
	const char *why;
	int argc;

	if (ds_topo_split(s, &argv, &argc, &why) == 0) {
		ds_topo_argv_free(argv);
		return 0;
	}
	if (strcmp(why, want) != 0) {
		printf("# got: %s\n", why);
		return 0;
	}
	return errno == EINVAL;
}

static void
splitting(void)
{
	const char *sh = "shell syntax outside quotes ($ ` | ; & < > ( )): "
	    "the command runs without a shell; quote it";
	const char *glob = "glob character outside quotes (* ? [): nothing "
	    "is expanded; quote it";

	ok(split("ds-op", 1, "ds-op"), "one word");
	ok(split("ds-op  --builtin\tcount ", 3, "ds-op", "--builtin",
	    "count"), "blanks and tabs separate");
	ok(split("a 'b c' d", 3, "a", "b c", "d"), "single quotes");
	ok(split("a 'x\\y\"$`|;'", 2, "a", "x\\y\"$`|;"),
	    "single quotes are literal");
	ok(split("a \"b c\"", 2, "a", "b c"), "double quotes");
	ok(split("a \"q\\\"q\\\\b\\$c\\`d\"", 2, "a", "q\"q\\b$c`d"),
	    "double quotes: \\\" \\\\ \\$ \\`");
	ok(split("a \"\\n\\x'\"", 2, "a", "\\n\\x'"),
	    "double quotes: other backslashes stay");
	ok(split("a\\ b \\'c \\|", 3, "a b", "'c", "|"),
	    "backslash outside quotes");
	ok(split("a '' \"\"", 3, "a", "", ""), "empty quotes are words");
	ok(split("x'a'\"b\"c\\ d", 1, "xabc d"), "adjacent parts join");
	ok(split("ds-op --exec 'awk -f examples/wordcount/split.awk'", 3,
	    "ds-op", "--exec", "awk -f examples/wordcount/split.awk"),
	    "the wordcount run line");
	ok(split("a b#c x~y", 3, "a", "b#c", "x~y"),
	    "# and ~ inside a word are data");
	ok(split("a = b:c, @%+^!{}", 4, "a", "=", "b:c,", "@%+^!{}"),
	    "other punctuation is data");
	ok(nosplit("", "empty command"), "empty");
	ok(nosplit(" \t ", "empty command"), "blanks only");
	ok(nosplit("a 'b", "unterminated single quote"), "open '");
	ok(nosplit("a \"b", "unterminated double quote"), "open \"");
	ok(nosplit("a \"b\\\"", "unterminated double quote"),
	    "escaped closing \"");
	ok(nosplit("a b\\", "backslash at the end"), "trailing backslash");
	ok(nosplit("a $HOME", sh), "$");
	ok(nosplit("a `b`", sh), "`");
	ok(nosplit("a | b", sh), "|");
	ok(nosplit("a;b", sh), ";");
	ok(nosplit("a &", sh), "&");
	ok(nosplit("a <in", sh), "<");
	ok(nosplit("a >out", sh), ">");
	ok(nosplit("a (b)", sh), "(");
	ok(nosplit("a b)", sh), ")");
	ok(nosplit("a *.txt", glob), "*");
	ok(nosplit("a ?", glob), "?");
	ok(nosplit("a [ab]", glob), "[");
	ok(nosplit("a #c", "'#' starting a word: no comments here; quote it"),
	    "# starting a word");
	ok(nosplit("a ~/x", "'~' starting a word: nothing is expanded; "
	    "quote it"), "~ starting a word");
	ok(nosplit("a \"$x\"", "'$' in double quotes: nothing is expanded; "
	    "write \\$ or use single quotes"), "$ in double quotes");
	ok(nosplit("a \"`x`\"", "'`' in double quotes: nothing is expanded; "
	    "write \\` or use single quotes"), "` in double quotes");
	ok(nosplit("a\rb", "control character"), "control character");
}

int
main(void)
{
	char cmd[128];

	snprintf(dir, sizeof(dir), "/tmp/ds-topo-XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	good();
	errors();
	splitting();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ok(system(cmd) == 0, "temporary directory removed");
	return done();
}
