/*
 * t/unit/plan.c: the wiring plan.  Each case loads a small topology from
 * text and compares every process of its plan, written as one line (name,
 * id, address, consumers, parts, pulls, --journal), with the line the
 * processes are expected to get: direct edges that split, routed edges
 * (routers = yes, and auto past 64 pairs), forward edges between nodes of
 * different parallel (and the instance left with no input), broadcast,
 * exactly-once (the journal, and which instances talk to it), per-edge
 * modes and the ipc:// length limit.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "topo/plan.h"

#define HEAD(extra)	"[topology]\nrun = /r\nstate = /s\n" extra "\n"
#define SRC(par)	"[node src]\nrun = ds-source\nparallel = " #par "\n"
#define R0		"1099511627777"		/* (1 << 40) | 1: edge 0 */
#define R1		"1099511627778"		/* edge 1 */
#define JID		"2199023255552"		/* 2 << 40 */

static char dir[64];
static char path[128];
static char err[512];
static struct ds_topo topo;
static struct ds_plan plan;

/* Load text as a topology and plan it: the plan's return value. */
static int
build(const char *text)
{
	FILE *f;
	int r;

	snprintf(path, sizeof(path), "%s/job.topo", dir);
	if ((f = fopen(path, "w")) == NULL || fputs(text, f) == EOF ||
	    fclose(f) == EOF) {
		perror(path);
		exit(1);
	}
	err[0] = '\0';
	if (ds_topo_load(&topo, path, err, sizeof(err)) == -1) {
		printf("# topology refused: %s\n", err);
		exit(1);
	}
	r = ds_plan_build(&plan, &topo, err, sizeof(err));
	ds_topo_free(&topo);
	return r;
}

static void
ids_put(char *b, size_t n, const struct ds_plan_ids *ids)
{
	size_t i;

	for (i = 0; i < ids->n; i++)
		snprintf(b + strlen(b), n - strlen(b), "%s%llu", i ? "," : "",
		    (unsigned long long)ids->v[i]);
}

/* Process k as "NAME ID [journal] [listen=A] [cons=IDS] [part=..]...". */
static const char *
desc(size_t k)
{
	static char b[8192];
	const struct ds_plan_proc *pr = &plan.proc[k];
	size_t i, n = sizeof(b);

	snprintf(b, n, "%s %llu", pr->name, (unsigned long long)pr->id);
	if (pr->kind == DS_PLAN_ROUTER)
		snprintf(b + strlen(b), n - strlen(b), " router=%s:%s",
		    ds_dist_name(pr->dist), ds_once_name(pr->once));
	if (pr->journal)
		snprintf(b + strlen(b), n - strlen(b), " journal");
	if (pr->listen != NULL)
		snprintf(b + strlen(b), n - strlen(b), " listen=%s",
		    pr->listen);
	if (pr->consumers.n > 0) {
		snprintf(b + strlen(b), n - strlen(b), " cons=");
		ids_put(b, n, &pr->consumers);
	}
	for (i = 0; i < pr->npart; i++) {
		snprintf(b + strlen(b), n - strlen(b), " part=%s:",
		    ds_dist_name(pr->part[i].dist));
		ids_put(b, n, &pr->part[i].to);
	}
	for (i = 0; i < pr->npull; i++) {
		snprintf(b + strlen(b), n - strlen(b), " pull=%s:",
		    ds_once_name(pr->pull[i].once));
		ids_put(b, n, &pr->pull[i].from);
		snprintf(b + strlen(b), n - strlen(b), "@%s",
		    pr->pull[i].addr);
	}
	return b;
}

/* The plan has exactly the processes of want, a NULL-ended list. */
static void
expect(const char *what, const char *const *want)
{
	size_t k;

	for (k = 0; want[k] != NULL && k < plan.nproc; k++)
		if (!ok(strcmp(desc(k), want[k]) == 0, "%s: %s", what,
		    want[k]))
			printf("#   got: %s\n", desc(k));
	ok(want[k] == NULL && k == plan.nproc, "%s: %zu processes", what,
	    plan.nproc);
}

static void
direct(void)
{
	static const char *const want[] = {
		"src.0 65536 listen=ipc:///r/src.0 cons=131072,131073,131074,"
		    "196608 part=hash:131072,131073,131074",
		"src.1 65537 listen=ipc:///r/src.1 cons=131072,131073,131074,"
		    "196608 part=hash:131072,131073,131074",
		"op.0 131072 listen=ipc:///r/op.0 cons=196608 "
		    "pull=least:65536@ipc:///r/src.0 "
		    "pull=least:65537@ipc:///r/src.1",
		"op.1 131073 listen=ipc:///r/op.1 cons=196608 "
		    "pull=least:65536@ipc:///r/src.0 "
		    "pull=least:65537@ipc:///r/src.1",
		"op.2 131074 listen=ipc:///r/op.2 cons=196608 "
		    "pull=least:65536@ipc:///r/src.0 "
		    "pull=least:65537@ipc:///r/src.1",
		"out.0 196608 pull=least:131072@ipc:///r/op.0 "
		    "pull=least:131073@ipc:///r/op.1 "
		    "pull=least:131074@ipc:///r/op.2 "
		    "pull=least:65536@ipc:///r/src.0 "
		    "pull=least:65537@ipc:///r/src.1",
		NULL
	};
	static const char *const one[] = {
		"src.0 65536 listen=ipc:///r/src.0 cons=131072,196608",
		"op.0 131072 listen=ipc:///r/op.0 cons=196608 "
		    "pull=least:65536@ipc:///r/src.0",
		"out.0 196608 pull=least:131072@ipc:///r/op.0 "
		    "pull=least:65536@ipc:///r/src.0",
		NULL
	};

	ok(build(HEAD("") SRC(2) "[node op]\nrun = ds-op\ninput = src:hash\n"
	    "parallel = 3\n[node out]\nrun = ds-sink\ninput = op\n"
	    "input = src:range\n") == 0, "direct hash edge: %s", err);
	expect("direct hash edge", want);
	ok(plan.journal == NULL, "no journal without exactly-once");
	ok(plan.proc[5].listen == NULL && plan.proc[5].consumers.n == 0,
	    "a sink has no address and no consumers");
	ok(plan.proc[2].kind == DS_PLAN_INSTANCE && plan.proc[2].node == 1 &&
	    plan.proc[2].index == 0, "instance op.0 is node 1, index 0");
	ds_plan_free(&plan);
	ok(plan.proc == NULL && plan.nproc == 0, "free zeroes");
	ds_plan_free(&plan);
	ok(1, "free twice is harmless");

	ok(build(HEAD("") SRC(1) "[node op]\nrun = ds-op\ninput = src:hash\n"
	    "[node out]\nrun = ds-sink\ninput = op\ninput = src:shuffle\n")
	    == 0, "split into one instance: %s", err);
	expect("no --part into a node of parallel 1", one);
	ds_plan_free(&plan);
}

static void
routed(void)
{
	static const char *const yes[] = {
		"src.0 65536 listen=ipc:///r/src.0 cons=" R0,
		"src.1 65537 listen=ipc:///r/src.1 cons=" R0,
		"op.0 131072 listen=ipc:///r/op.0 cons=196608 "
		    "pull=least:65536,65537@ipc:///r/src-op",
		"op.1 131073 listen=ipc:///r/op.1 cons=196608 "
		    "pull=least:65536,65537@ipc:///r/src-op",
		"op.2 131074 listen=ipc:///r/op.2 cons=196608 "
		    "pull=least:65536,65537@ipc:///r/src-op",
		"out.0 196608 pull=least:131072@ipc:///r/op.0 "
		    "pull=least:131073@ipc:///r/op.1 "
		    "pull=least:131074@ipc:///r/op.2",
		"src-op " R0 " router=hash:least listen=ipc:///r/src-op "
		    "cons=131072,131073,131074 "
		    "pull=least:65536@ipc:///r/src.0 "
		    "pull=least:65537@ipc:///r/src.1",
		NULL
	};
	const struct ds_plan_proc *pr;
	char want[512];
	size_t k;

	ok(build(HEAD("routers = yes") SRC(2) "[node op]\nrun = ds-op\n"
	    "input = src:hash\nparallel = 3\n[node out]\nrun = ds-sink\n"
	    "input = op\n") == 0, "routers = yes: %s", err);
	expect("routers = yes", yes);
	ok(plan.proc[6].kind == DS_PLAN_ROUTER && plan.proc[6].edge == 0 &&
	    plan.proc[6].node == -1, "the router is edge 0's");
	ok(ds_plan_router_id(0) == 1099511627777ull &&
	    ds_plan_router_id(1) == 1099511627778ull, "router ids");
	pr = ds_plan_find(&plan, ds_plan_router_id(0));
	ok(pr == &plan.proc[6], "find the router by id");
	ok(ds_plan_find(&plan, 131073) == &plan.proc[3], "find op.1 by id");
	ok(ds_plan_find(&plan, DS_PLAN_JOURNAL_ID) == NULL &&
	    ds_plan_find(&plan, 7) == NULL, "unknown ids are not found");
	ds_plan_free(&plan);

	/* auto: 8 x 9 = 72 pairs get a router, 8 x 8 = 64 do not. */
	ok(build(HEAD("") SRC(8) "[node op]\nrun = ds-op\ninput = src:hash\n"
	    "parallel = 9\n[node op2]\nrun = ds-op\ninput = src:range\n"
	    "parallel = 8\n[node out]\nrun = ds-sink\ninput = op\n"
	    "input = op2\n") == 0, "routers = auto: %s", err);
	ok(plan.nproc == 8 + 9 + 8 + 1 + 1, "auto: one router");
	ok(strcmp(desc(0), "src.0 65536 listen=ipc:///r/src.0 cons=" R0
	    ",196608,196609,196610,196611,196612,196613,196614,196615 "
	    "part=range:196608,196609,196610,196611,196612,196613,196614,"
	    "196615") == 0, "auto: src.0 feeds the router and splits for op2: "
	    "%s", desc(0));
	ok(strcmp(desc(8), "op.0 131072 listen=ipc:///r/op.0 cons=262144 "
	    "pull=least:65536,65537,65538,65539,65540,65541,65542,65543"
	    "@ipc:///r/src-op") == 0, "auto: op.0 pulls the router: %s",
	    desc(8));
	for (k = 0; k < 8; k++) {
		snprintf(want, sizeof(want), "ipc:///r/src.%zu", k);
		if (plan.proc[17].npull != 8 ||
		    strcmp(plan.proc[17].pull[k].addr, want) != 0)
			break;
	}
	ok(k == 8, "auto: op2.0 pulls each of 8 sources directly");
	pr = &plan.proc[plan.nproc - 1];
	ok(pr->kind == DS_PLAN_ROUTER && strcmp(pr->name, "src-op") == 0 &&
	    pr->consumers.n == 9 && pr->npull == 8, "auto: the router of "
	    "src -> op, last");
	ds_plan_free(&plan);
}

static void
forward(void)
{
	static const char *const want[] = {
		"src.0 65536 listen=ipc:///r/src.0 cons=131072",
		"src.1 65537 listen=ipc:///r/src.1 cons=131073",
		"src.2 65538 listen=ipc:///r/src.2 cons=131072",
		"src.3 65539 listen=ipc:///r/src.3 cons=131073",
		"op.0 131072 listen=ipc:///r/op.0 cons=196608 "
		    "pull=least:65536@ipc:///r/src.0 "
		    "pull=least:65538@ipc:///r/src.2",
		"op.1 131073 listen=ipc:///r/op.1 cons=196608 "
		    "pull=least:65537@ipc:///r/src.1 "
		    "pull=least:65539@ipc:///r/src.3",
		"out.0 196608 pull=least:131072@ipc:///r/op.0 "
		    "pull=least:131073@ipc:///r/op.1",
		NULL
	};
	char msg[512];

	ok(build(HEAD("") SRC(4) "[node op]\nrun = ds-op\ninput = src\n"
	    "parallel = 2\n[node out]\nrun = ds-sink\ninput = op\n") == 0,
	    "forward 4 -> 2 -> 1: %s", err);
	expect("forward 4 -> 2 -> 1", want);
	ds_plan_free(&plan);

	/* op.2 has no forward input, but src:hash feeds it. */
	ok(build(HEAD("") SRC(2) "[node op]\nrun = ds-op\ninput = src\n"
	    "[node op2]\nrun = ds-op\ninput = op\ninput = src:hash\n"
	    "parallel = 3\n[node out]\nrun = ds-sink\ninput = op2\n") == 0,
	    "forward 1 -> 3 beside a hash edge: %s", err);
	ok(strcmp(desc(5), "op2.2 196610 listen=ipc:///r/op2.2 cons=262144 "
	    "pull=least:65536@ipc:///r/src.0 pull=least:65537@ipc:///r/src.1")
	    == 0, "op2.2 pulls only the sources: %s", desc(5));
	ok(strcmp(desc(2), "op.0 131072 listen=ipc:///r/op.0 cons=196608 "
	    "pull=least:65536@ipc:///r/src.0 pull=least:65537@ipc:///r/src.1")
	    == 0, "op.0 has one forward consumer: %s", desc(2));
	ds_plan_free(&plan);

	errno = 0;
	ok(build(HEAD("") SRC(1) "[node op]\nrun = ds-op\ninput = src\n"
	    "[node out]\nrun = ds-sink\ninput = op\nparallel = 2\n") == -1 &&
	    errno == EINVAL, "forward 1 -> 2: refused with EINVAL");
	snprintf(msg, sizeof(msg), "%s:11: parallel: instance out.1 gets no "
	    "input (forward inputs have fewer instances)", path);
	ok(strcmp(err, msg) == 0, "the message names the instance: %s", err);
	ok(plan.proc == NULL && plan.nproc == 0 && plan.journal == NULL,
	    "nothing left to free");
}

static void
broadcast(void)
{
	static const char *const want[] = {
		"src.0 65536 listen=ipc:///r/src.0 cons=131072,131073,131074",
		"src.1 65537 listen=ipc:///r/src.1 cons=131072,131073,131074",
		"out.0 131072 pull=least:65536@ipc:///r/src.0 "
		    "pull=least:65537@ipc:///r/src.1",
		"out.1 131073 pull=least:65536@ipc:///r/src.0 "
		    "pull=least:65537@ipc:///r/src.1",
		"out.2 131074 pull=least:65536@ipc:///r/src.0 "
		    "pull=least:65537@ipc:///r/src.1",
		NULL
	};

	ok(build(HEAD("") SRC(2) "[node out]\nrun = ds-sink\n"
	    "input = src:broadcast\nparallel = 3\n") == 0, "broadcast: %s",
	    err);
	expect("broadcast: every instance, no --part", want);
	ds_plan_free(&plan);
}

static void
exactly(void)
{
	static const char *const all[] = {
		"journal " JID " listen=ipc:///r/journal",
		"src.0 65536 journal listen=ipc:///r/src.0 cons=131072",
		"op.0 131072 journal listen=ipc:///r/op.0 cons=196608 "
		    "pull=exactly:65536@ipc:///r/src.0",
		"out.0 196608 journal pull=most:131072@ipc:///r/op.0",
		NULL
	};
	static const char *const edge[] = {
		"journal " JID " listen=ipc:///r/journal",
		"src.0 65536 listen=ipc:///r/src.0 cons=131072," R1,
		"op.0 131072 journal listen=ipc:///r/op.0 cons=262144 "
		    "pull=exactly:65536@ipc:///r/src.0",
		"op3.0 196608 journal listen=ipc:///r/op3.0 cons=262144 "
		    "pull=exactly:65536@ipc:///r/src-op3",
		"op3.1 196609 journal listen=ipc:///r/op3.1 cons=262144 "
		    "pull=exactly:65536@ipc:///r/src-op3",
		"out.0 262144 pull=least:131072@ipc:///r/op.0 "
		    "pull=most:196608@ipc:///r/op3.0 "
		    "pull=most:196609@ipc:///r/op3.1",
		"src-op3 " R1 " router=hash:exactly listen=ipc:///r/src-op3 "
		    "cons=196608,196609 pull=exactly:65536@ipc:///r/src.0",
		NULL
	};

	ok(build(HEAD("once = exactly") SRC(1) "[node op]\nrun = ds-op\n"
	    "input = src\n[node out]\nrun = ds-sink\ninput = op\n"
	    "once.op = most\n") == 0, "once = exactly: %s", err);
	expect("once = exactly: a journal, first; every instance uses it",
	    all);
	ok(plan.journal != NULL && strcmp(plan.journal, "ipc:///r/journal")
	    == 0, "the journal's address");
	ok(plan.proc[0].kind == DS_PLAN_JOURNAL && plan.proc[0].id ==
	    DS_PLAN_JOURNAL_ID && plan.proc[0].node == -1 &&
	    plan.proc[0].npull == 0, "the journal process");
	ok(ds_plan_find(&plan, DS_PLAN_JOURNAL_ID) == &plan.proc[0],
	    "find the journal by id");
	ds_plan_free(&plan);

	/* Exactly-once edges only: op and op3 use the journal, not src. */
	ok(build(HEAD("routers = yes") SRC(1) "[node op]\nrun = ds-op\n"
	    "input = src\nonce.src = exactly\n[node op3]\nrun = ds-op\n"
	    "input = src:hash\nparallel = 2\nonce.src = exactly\n"
	    "[node out]\nrun = ds-sink\ninput = op\ninput = op3\n"
	    "once.op3 = most\n") == 0, "exactly-once edges: %s", err);
	expect("exactly-once edges", edge);
	ds_plan_free(&plan);

	ok(build(HEAD("once = most") SRC(1) "[node out]\nrun = ds-sink\n"
	    "input = src\nonce.src = least\n") == 0, "once override: %s", err);
	ok(strcmp(desc(1), "out.0 131072 pull=least:65536@ipc:///r/src.0")
	    == 0 && plan.proc[1].once == DS_ONCE_MOST && plan.journal == NULL,
	    "a least edge in a most job: the pull says least: %s", desc(1));
	ds_plan_free(&plan);
}

static void
addresses(void)
{
	char text[512], run[128], msg[512];

	/* "ipc://" + RUN/NAME: RUN/NAME may be 100 bytes, not 101. */
	memset(run, 'x', sizeof(run));
	run[0] = '/';
	run[100 - 1 - 5] = '\0';		/* RUN/src.0 is 100 bytes */
	snprintf(text, sizeof(text), "[topology]\nrun = %s\n" SRC(1)
	    "[node out]\nrun = ds-sink\ninput = src\n", run);
	ok(build(text) == 0, "RUN/NAME of 100 bytes: %s", err);
	ok(plan.proc[0].listen != NULL &&
	    strlen(plan.proc[0].listen) == 106, "its address: ipc:// + 100");
	ds_plan_free(&plan);
	snprintf(text, sizeof(text), "[topology]\nrun = %sy\n" SRC(1)
	    "[node out]\nrun = ds-sink\ninput = src\n", run);
	errno = 0;
	ok(build(text) == -1 && errno == EINVAL, "RUN/NAME of 101 bytes: "
	    "refused with EINVAL");
	snprintf(msg, sizeof(msg), "%s: run: %sy/src.0 is too long for an "
	    "ipc:// address (100 bytes at most)", path, run);
	ok(strcmp(err, msg) == 0, "the message names the address: %s", err);
}

int
main(void)
{
	char cmd[128];

	snprintf(dir, sizeof(dir), "/tmp/ds-plan-XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	direct();
	routed();
	forward();
	broadcast();
	exactly();
	addresses();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ok(system(cmd) == 0, "temporary directory removed");
	return done();
}
