/*
 * topo.c: topology files (ds-topology(5)).  libinih tokenises the file;
 * our reader in front of it counts lines, refuses lines inih would cut,
 * strips leading blanks (so inih never takes an indented line for the
 * continuation of the previous value) and sees every [section] header,
 * also empty ones, which inih's handler never reports.  Everything else is
 * checked here: keys and values as they come, then the graph once the
 * whole file is read.  The first error (lowest line, graph errors after
 * line errors) is the one reported; nothing is ever printed.
 */
#define _XOPEN_SOURCE 700	/* realpath */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Debian's libinih is built to pass the line number to the handler. */
#define INI_HANDLER_LINENO 1
#include <ini.h>

#include "topo/topo.h"

#define NAME_MAX_LEN	64
#define PARALLEL_MAX	1024
#define BUNDLE_MAX	65536
#define LINGER_MAX	60000ull
#define BOUND_MAX	(UINT64_MAX >> 2)	/* max-emit, max-keys */
#define KEEPALIVE_MIN	400ull
#define KEEPALIVE_MAX	86400000ull

enum sec { SEC_NONE, SEC_TOPO, SEC_NODE };

/* An input = line before its node name is resolved. */
struct rawedge {
	char		*from;
	int		 to;
	enum ds_dist	 dist;
	int		 line;
};

/* A once.NODE = line. */
struct override {
	char		*from;
	int		 to;
	enum ds_once	 once;
	int		 line;
};

static const char *const topokeys[] = {
	"name", "once", "keepalive", "zombies", "state", "run", "bundle",
	"linger", "max-emit", "max-keys", "routers", "drain"
};
#define NTOPOKEYS	(sizeof(topokeys) / sizeof(topokeys[0]))

struct parse {
	struct ds_topo	*t;
	FILE		*fp;
	char		*lbuf;		/* getline's buffer */
	size_t		 lcap;
	int		 line;		/* of the line inih is working on */
	char		*err;
	size_t		 errlen;
	int		 errline;	/* 0: no error yet */
	enum sec	 sec;
	int		 cur;		/* node of the current [node] */
	int		 topo_line;	/* of [topology], 0 if none yet */
	int		 seen[NTOPOKEYS]; /* [topology] keys: line of first */
	int		*run_line;	/* per node: line of run =, or 0 */
	int		*par_line;	/* per node: line of parallel = */
	size_t		 nodecap;
	struct rawedge	*raw;
	size_t		 nraw, rawcap;
	struct override	*ovr;
	size_t		 novr, ovrcap;
};

__attribute__((format(printf, 3, 4)))
static int
fail(struct parse *p, int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	/* Graph checks go on after an error: the lowest line wins. */
	if (p->errline != 0 && (line > 0 ? line : INT_MAX) >= p->errline)
		return 0;
	if (line > 0)
		n = snprintf(p->err, p->errlen, "%s:%d: ", p->t->file, line);
	else
		n = snprintf(p->err, p->errlen, "%s: ", p->t->file);
	if (n < 0 || (size_t)n >= p->errlen)
		n = p->errlen > 0 ? (int)p->errlen - 1 : 0;
	va_start(ap, fmt);
	if (p->errlen > 0)
		vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	p->errline = line > 0 ? line : INT_MAX;
	return 0;
}

static int
nomem(struct parse *p)
{
	return fail(p, p->line, "out of memory");
}

static int
grow(void *pp, size_t *cap, size_t n, size_t size)
{
	void **ptr = pp;
	size_t c = *cap ? *cap * 2 : 8;
	void *q;

	if (n < *cap)
		return 0;
	q = realloc(*ptr, c * size);
	if (q == NULL)
		return -1;
	*ptr = q;
	*cap = c;
	return 0;
}

uint64_t
ds_topo_producer(int node, unsigned index)
{
	return (uint64_t)(node + 1) << 16 | index;
}

int
ds_topo_find(const struct ds_topo *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->nnode; i++)
		if (strcmp(t->node[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Strict decimal: digits only, no sign, no blanks; *end at the first
 * non-digit. */
static int
digits(const char *s, uint64_t *v, const char **end)
{
	uint64_t n = 0;

	if (!isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		if (n > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -1;
		n = n * 10 + (uint64_t)(*s - '0');
	}
	*v = n;
	*end = s;
	return 0;
}

static int
number(struct parse *p, const char *key, const char *s, uint64_t min,
    uint64_t max, uint64_t *v)
{
	const char *end;

	if (digits(s, v, &end) == -1 || *end != '\0')
		return fail(p, p->line, "%s: not a number: '%s'", key, s);
	if (*v < min || *v > max)
		return fail(p, p->line, "%s: must be %llu to %llu, not %s",
		    key, (unsigned long long)min, (unsigned long long)max, s);
	return 1;
}

/* Milliseconds: N, Nms, Ns or Nm. */
static int
duration(struct parse *p, const char *key, const char *s, uint64_t min,
    uint64_t max, uint64_t *v)
{
	const char *end;
	uint64_t mul;

	if (digits(s, v, &end) == -1)
		goto bad;
	if (*end == '\0' || strcmp(end, "ms") == 0)
		mul = 1;
	else if (strcmp(end, "s") == 0)
		mul = 1000;
	else if (strcmp(end, "m") == 0)
		mul = 60000;
	else
		goto bad;
	if (*v > UINT64_MAX / mul || *v * mul < min || *v * mul > max)
		return fail(p, p->line,
		    "%s: must be %llums to %llums, not %s", key,
		    (unsigned long long)min, (unsigned long long)max, s);
	*v *= mul;
	return 1;
bad:
	return fail(p, p->line,
	    "%s: not a duration (N, Nms, Ns or Nm): '%s'", key, s);
}

/* Bytes: N, or N followed by K, M or G (powers of 1024). */
static int
size(struct parse *p, const char *key, const char *s, uint64_t min,
    uint64_t max, uint64_t *v)
{
	const char *end;
	unsigned shift = 0;

	if (digits(s, v, &end) == -1 || (*end != '\0' && end[1] != '\0'))
		goto bad;
	switch (*end) {
	case '\0':
		break;
	case 'K': case 'k':
		shift = 10;
		break;
	case 'M': case 'm':
		shift = 20;
		break;
	case 'G': case 'g':
		shift = 30;
		break;
	default:
		goto bad;
	}
	if (*v > max >> shift || *v << shift < min)
		return fail(p, p->line, "%s: must be %llu to %llu bytes, not "
		    "%s", key, (unsigned long long)min,
		    (unsigned long long)max, s);
	*v <<= shift;
	return 1;
bad:
	return fail(p, p->line, "%s: not a size (N, NK, NM or NG): '%s'",
	    key, s);
}

static int
nodename_ok(const char *s)
{
	size_t n;

	for (n = 0; s[n] != '\0'; n++)
		if (!isalnum((unsigned char)s[n]) && s[n] != '_')
			return 0;
	return n > 0 && n <= NAME_MAX_LEN;
}

static int
toponame_ok(const char *s)
{
	size_t n;

	if (s[0] == '.')
		return 0;
	for (n = 0; s[n] != '\0'; n++)
		if (!isalnum((unsigned char)s[n]) && s[n] != '_' &&
		    s[n] != '-' && s[n] != '.')
			return 0;
	return n > 0 && n <= NAME_MAX_LEN;
}

void
ds_topo_argv_free(char **argv)
{
	char **a;

	if (argv == NULL)
		return;
	for (a = argv; *a != NULL; a++)
		free(*a);
	free(argv);
}

static int
addword(char ***argv, int *argc, size_t *cap, const char *w, size_t len)
{
	char *s;

	if (grow(argv, cap, (size_t)*argc + 1, sizeof(**argv)) == -1)
		return -1;
	if ((s = malloc(len + 1)) == NULL)
		return -1;
	memcpy(s, w, len);
	s[len] = '\0';
	(*argv)[(*argc)++] = s;
	(*argv)[*argc] = NULL;
	return 0;
}

int
ds_topo_split(const char *s, char ***argvp, int *argcp, const char **why)
{
	char **argv = NULL, *w;
	size_t cap = 0, wl = 0;
	int argc = 0, inword = 0;
	unsigned char c;

	*why = NULL;
	if ((w = malloc(strlen(s) + 1)) == NULL)
		goto nomem;
	for (;; s++) {
		c = (unsigned char)*s;
		if (c == '\0' || c == ' ' || c == '\t') {
			if (inword && addword(&argv, &argc, &cap, w, wl) == -1)
				goto nomem;
			inword = 0;
			wl = 0;
			if (c == '\0')
				break;
			continue;
		}
		if (c < 0x20 || c == 0x7f) {
			*why = "control character";
			goto bad;
		}
		if (c == '\'') {
			for (s++; *s != '\'' && *s != '\0'; s++)
				w[wl++] = *s;
			if (*s == '\0') {
				*why = "unterminated single quote";
				goto bad;
			}
		} else if (c == '"') {
			for (s++; *s != '"' && *s != '\0'; s++) {
				if (*s == '$' || *s == '`') {
					*why = *s == '$' ?
					    "'$' in double quotes: nothing is "
					    "expanded; write \\$ or use single "
					    "quotes" :
					    "'`' in double quotes: nothing is "
					    "expanded; write \\` or use single "
					    "quotes";
					goto bad;
				}
				if (*s == '\\' && s[1] != '\0' &&
				    strchr("\"\\$`", s[1]) != NULL)
					s++;
				w[wl++] = *s;
			}
			if (*s == '\0') {
				*why = "unterminated double quote";
				goto bad;
			}
		} else if (c == '\\') {
			if (s[1] == '\0') {
				*why = "backslash at the end";
				goto bad;
			}
			w[wl++] = *++s;
		} else if (strchr("$`|;&<>()", c) != NULL) {
			*why = "shell syntax outside quotes ($ ` | ; & < > ( )):"
			    " the command runs without a shell; quote it";
			goto bad;
		} else if (strchr("*?[", c) != NULL) {
			*why = "glob character outside quotes (* ? [): "
			    "nothing is expanded; quote it";
			goto bad;
		} else if (!inword && (c == '#' || c == '~')) {
			*why = c == '#' ? "'#' starting a word: no comments "
			    "here; quote it" : "'~' starting a word: nothing "
			    "is expanded; quote it";
			goto bad;
		} else
			w[wl++] = (char)c;
		inword = 1;
	}
	free(w);
	if (argc == 0) {
		*why = "empty command";
		free(argv);
		errno = EINVAL;
		return -1;
	}
	*argvp = argv;
	*argcp = argc;
	return 0;
bad:
	free(w);
	ds_topo_argv_free(argv);
	errno = EINVAL;
	return -1;
nomem:
	free(w);
	ds_topo_argv_free(argv);
	*why = "out of memory";
	errno = ENOMEM;
	return -1;
}

static int
node_add(struct parse *p, const char *name)
{
	struct ds_topo *t = p->t;
	struct ds_topo_node *n;
	size_t cap = p->nodecap;
	int *rl, *pl;

	if (grow(&t->node, &p->nodecap, t->nnode, sizeof(*t->node)) == -1)
		return nomem(p);
	if (p->nodecap != cap) {
		rl = realloc(p->run_line, p->nodecap * sizeof(int));
		if (rl != NULL)
			p->run_line = rl;
		pl = realloc(p->par_line, p->nodecap * sizeof(int));
		if (pl != NULL)
			p->par_line = pl;
		if (rl == NULL || pl == NULL)
			return nomem(p);
	}
	n = &t->node[t->nnode];
	memset(n, 0, sizeof(*n));
	if ((n->name = strdup(name)) == NULL)
		return nomem(p);
	n->parallel = 1;
	n->line = p->line;
	p->run_line[t->nnode] = 0;
	p->par_line[t->nnode] = 0;
	p->cur = (int)t->nnode++;
	return 1;
}

/* A [section] header seen by the reader, s its text between [ and ]. */
static int
section(struct parse *p, const char *s)
{
	const char *q;
	char name[NAME_MAX_LEN + 2];
	size_t len;
	int i;

	if (strcmp(s, "topology") == 0) {
		if (p->topo_line != 0)
			return fail(p, p->line, "[topology]: duplicate "
			    "section (first on line %d)", p->topo_line);
		p->topo_line = p->line;
		p->sec = SEC_TOPO;
		return 1;
	}
	if (strncmp(s, "node", 4) != 0 || (s[4] != '\0' && s[4] != ' ' &&
	    s[4] != '\t'))
		return fail(p, p->line, "[%s]: unknown section ([topology] "
		    "or [node NAME])", s);
	for (q = s + 4; *q == ' ' || *q == '\t'; q++)
		;
	len = strlen(q);
	while (len > 0 && (q[len - 1] == ' ' || q[len - 1] == '\t'))
		len--;
	if (len == 0)
		return fail(p, p->line, "[%s]: missing node name", s);
	if (len > NAME_MAX_LEN)
		return fail(p, p->line, "[%s]: node name longer than %d "
		    "bytes", s, NAME_MAX_LEN);
	memcpy(name, q, len);
	name[len] = '\0';
	if (!nodename_ok(name))
		return fail(p, p->line, "[%s]: a node name is letters, "
		    "digits and _ only", s);
	if ((i = ds_topo_find(p->t, name)) != -1)
		return fail(p, p->line, "[%s]: duplicate node (first on "
		    "line %d)", s, p->t->node[i].line);
	p->sec = SEC_NODE;
	return node_add(p, name);
}

/*
 * ini_reader: hand inih the next line without its leading blanks, after
 * checking its length and looking at section headers.
 */
static char *
reader(char *str, int num, void *user)
{
	struct parse *p = user;
	ssize_t n;
	size_t len;
	char *s, *e;
	char save;

	if (p->errline != 0)
		return NULL;
	errno = 0;
	if ((n = getline(&p->lbuf, &p->lcap, p->fp)) == -1) {
		if (ferror(p->fp))
			fail(p, 0, "cannot read: %s", strerror(errno));
		return NULL;
	}
	p->line++;
	len = (size_t)n;
	if (len > 0 && p->lbuf[len - 1] == '\n')
		p->lbuf[--len] = '\0';
	if (strlen(p->lbuf) != len) {
		fail(p, p->line, "NUL byte in the line");
		return NULL;
	}
	s = p->lbuf;
	if (p->line == 1 && strncmp(s, "\xef\xbb\xbf", 3) == 0) {
		s += 3;		/* a UTF-8 byte order mark */
		len -= 3;
	}
	for (; *s == ' ' || *s == '\t'; s++)
		len--;
	if (num < 3 || len > (size_t)num - 3) {
		fail(p, p->line, "line longer than %d bytes", num - 3);
		return NULL;
	}
	if (*s == '[') {
		/* As inih: ']' ends it, unless a blank+';' comment comes first. */
		for (e = s + 1; *e != '\0' && *e != ']'; e++)
			if (*e == ';' && (e[-1] == ' ' || e[-1] == '\t'))
				break;
		if (*e == ']') {
			save = *e;
			*e = '\0';
			section(p, s + 1);
			*e = save;
			for (e++; *e == ' ' || *e == '\t' || *e == '\r'; e++)
				;
			if (*e != '\0' && *e != ';' && *e != '#')
				fail(p, p->line, "%s: text after ]", s);
			if (p->errline != 0)
				return NULL;
		}
	}
	memcpy(str, s, len);
	str[len] = '\n';
	str[len + 1] = '\0';
	return str;
}

static int
dupkey(struct parse *p, int *seen, const char *key)
{
	if (*seen != 0)
		return fail(p, p->line, "%s: duplicate key (first on line "
		    "%d)", key, *seen);
	*seen = p->line;
	return 1;
}

static int
setstr(struct parse *p, char **dst, const char *v)
{
	if ((*dst = strdup(v)) == NULL)
		return nomem(p);
	return 1;
}

static int
topo_key(struct parse *p, const char *key, const char *v)
{
	struct ds_topo *t = p->t;
	uint64_t n;
	size_t k;

	for (k = 0; k < sizeof(topokeys) / sizeof(topokeys[0]); k++)
		if (strcmp(key, topokeys[k]) == 0)
			break;
	if (k == sizeof(topokeys) / sizeof(topokeys[0]))
		return fail(p, p->line, "%s: unknown key in [topology]", key);
	if (!dupkey(p, &p->seen[k], key))
		return 0;
	switch (k) {
	case 0:
		if (!toponame_ok(v))
			return fail(p, p->line, "name: '%s' is not a name "
			    "(letters, digits, _ - and ., not starting with ., "
			    "at most %d bytes)", v, NAME_MAX_LEN);
		return setstr(p, &t->name, v);
	case 1:
		if (ds_once_parse(v, strlen(v), &t->once) == -1)
			return fail(p, p->line, "once: must be most, least or "
			    "exactly, not '%s'", v);
		return 1;
	case 2:
		return duration(p, key, v, KEEPALIVE_MIN, KEEPALIVE_MAX,
		    &t->keepalive_ms);
	case 3:
		if (strcmp(v, "kill") == 0)
			t->fence_only = 0;
		else if (strcmp(v, "fence") == 0)
			t->fence_only = 1;
		else
			return fail(p, p->line, "zombies: must be kill or "
			    "fence, not '%s'", v);
		return 1;
	case 4:
		return setstr(p, &t->state, v);
	case 5:
		return setstr(p, &t->run, v);
	case 6:
		if (!number(p, key, v, 1, BUNDLE_MAX, &n))
			return 0;
		t->bundle = (unsigned)n;
		return 1;
	case 7:
		return duration(p, key, v, 0, LINGER_MAX, &t->linger_ms);
	case 8:
		return size(p, key, v, 1, BOUND_MAX, &t->max_emit);
	case 9:
		return number(p, key, v, 1, BOUND_MAX, &t->max_keys);
	case 11:
		return duration(p, key, v, 0, KEEPALIVE_MAX, &t->drain_ms);
	default:
		if (strcmp(v, "auto") == 0)
			t->routers = DS_ROUTERS_AUTO;
		else if (strcmp(v, "yes") == 0)
			t->routers = DS_ROUTERS_YES;
		else if (strcmp(v, "no") == 0)
			t->routers = DS_ROUTERS_NO;
		else
			return fail(p, p->line, "routers: must be auto, yes or "
			    "no, not '%s'", v);
		return 1;
	}
}

int
ds_topo_routed(const struct ds_topo *t, size_t e)
{
	const struct ds_topo_edge *ed = &t->edge[e];

	if (ed->dist == DS_DIST_FORWARD || t->routers == DS_ROUTERS_NO)
		return 0;
	if (t->routers == DS_ROUTERS_YES)
		return 1;
	return (uint64_t)t->node[ed->from].parallel *
	    t->node[ed->to].parallel > DS_TOPO_DIRECT_MAX;
}

static const char *
kindname(enum ds_kind k)
{
	return k == DS_KIND_SOURCE ? "ds-source" : k == DS_KIND_OP ?
	    "ds-op" : "ds-sink";
}

static int
node_run(struct parse *p, struct ds_topo_node *n, const char *v)
{
	const char *why, *base;

	if (!dupkey(p, &p->run_line[p->cur], "run"))
		return 0;
	if ((n->run = strdup(v)) == NULL)
		return nomem(p);
	if (ds_topo_split(v, &n->argv, &n->argc, &why) == -1) {
		if (errno == ENOMEM)
			return nomem(p);
		return fail(p, p->line, "run: %s", why);
	}
	base = strrchr(n->argv[0], '/');
	base = base != NULL ? base + 1 : n->argv[0];
	if (strcmp(base, "ds-source") == 0)
		n->kind = DS_KIND_SOURCE;
	else if (strcmp(base, "ds-op") == 0)
		n->kind = DS_KIND_OP;
	else if (strcmp(base, "ds-sink") == 0)
		n->kind = DS_KIND_SINK;
	else
		return fail(p, p->line, "run: must start with ds-source, "
		    "ds-op or ds-sink, not '%s'", n->argv[0]);
	return 1;
}

static int
node_input(struct parse *p, struct ds_topo_node *n, const char *v)
{
	struct rawedge *r;
	const char *colon;
	enum ds_dist d = DS_DIST_FORWARD;
	size_t len, i;

	colon = strchr(v, ':');
	len = colon != NULL ? (size_t)(colon - v) : strlen(v);
	if (colon != NULL && ds_dist_parse(colon + 1, &d) == -1)
		return fail(p, p->line, "input: unknown distribution '%s' "
		    "(hash, range, shuffle, broadcast or forward)", colon + 1);
	if (len == 0)
		return fail(p, p->line, "input: missing node name");
	if (strlen(n->name) == len && memcmp(n->name, v, len) == 0)
		return fail(p, p->line, "input: node %s cannot be its own "
		    "input", n->name);
	for (i = 0; i < p->nraw; i++) {
		r = &p->raw[i];
		if (r->to == p->cur && strlen(r->from) == len &&
		    memcmp(r->from, v, len) == 0)
			return fail(p, p->line, "input: %s is already an input "
			    "(line %d)", r->from, r->line);
	}
	if (grow(&p->raw, &p->rawcap, p->nraw, sizeof(*p->raw)) == -1)
		return nomem(p);
	r = &p->raw[p->nraw];
	if ((r->from = strndup(v, len)) == NULL)
		return nomem(p);
	r->to = p->cur;
	r->dist = d;
	r->line = p->line;
	p->nraw++;
	return 1;
}

static int
node_once(struct parse *p, const char *key, const char *v)
{
	struct override *o;
	const char *from = key + 5;
	enum ds_once m;
	size_t i;

	if (*from == '\0')
		return fail(p, p->line, "%s: missing node name after once.",
		    key);
	for (i = 0; i < p->novr; i++)
		if (p->ovr[i].to == p->cur && strcmp(p->ovr[i].from, from) == 0)
			return fail(p, p->line, "%s: duplicate key (first on "
			    "line %d)", key, p->ovr[i].line);
	if (ds_once_parse(v, strlen(v), &m) == -1)
		return fail(p, p->line, "%s: must be most, least or exactly, "
		    "not '%s'", key, v);
	if (grow(&p->ovr, &p->ovrcap, p->novr, sizeof(*p->ovr)) == -1)
		return nomem(p);
	o = &p->ovr[p->novr];
	if ((o->from = strdup(from)) == NULL)
		return nomem(p);
	o->to = p->cur;
	o->once = m;
	o->line = p->line;
	p->novr++;
	return 1;
}

static int
node_key(struct parse *p, const char *key, const char *v)
{
	struct ds_topo_node *n = &p->t->node[p->cur];
	uint64_t par;

	if (strcmp(key, "run") == 0)
		return node_run(p, n, v);
	if (strcmp(key, "input") == 0)
		return node_input(p, n, v);
	if (strcmp(key, "parallel") == 0) {
		if (!dupkey(p, &p->par_line[p->cur], key) ||
		    !number(p, key, v, 1, PARALLEL_MAX, &par))
			return 0;
		n->parallel = (unsigned)par;
		return 1;
	}
	if (strncmp(key, "once.", 5) == 0)
		return node_once(p, key, v);
	return fail(p, p->line, "%s: unknown key in [node %s]", key, n->name);
}

static int
handler(void *user, const char *sec, const char *key, const char *v,
    int lineno)
{
	struct parse *p = user;

	(void)sec;
	(void)lineno;	/* == p->line; ours also counts what inih is not shown */
	if (p->errline != 0)
		return 0;
	if (p->sec == SEC_NONE)
		return fail(p, p->line, "%s: key before any [section]", key);
	if (v == NULL || *v == '\0')
		return fail(p, p->line, "%s: missing value", key);
	if (p->sec == SEC_TOPO)
		return topo_key(p, key, v);
	return node_key(p, key, v);
}

/* dir/path, or path if it is absolute; leading "./" dropped. */
static char *
resolve(const char *dir, const char *path)
{
	char *s;

	if (path[0] == '/')
		return strdup(path);
	while (path[0] == '.' && path[1] == '/') {
		path += 2;
		while (*path == '/')
			path++;
	}
	if (*path == '\0' || strcmp(path, ".") == 0)
		return strdup(dir);
	if ((s = malloc(strlen(dir) + strlen(path) + 2)) == NULL)
		return NULL;
	sprintf(s, "%s%s%s", dir, strcmp(dir, "/") == 0 ? "" : "/", path);
	return s;
}

/*
 * The real path of the file's directory (realpath(3): the file was just
 * read, so it exists): "..", "." and links resolved, so that the state
 * and run directories under it are named the one way ds_dir_open takes.
 */
static char *
filedir(const char *file)
{
	char *copy, *slash, *dir;

	if ((copy = strdup(file)) == NULL)
		return NULL;
	slash = strrchr(copy, '/');
	if (slash == copy)
		copy[1] = '\0';
	else if (slash != NULL)
		*slash = '\0';
	dir = realpath(slash != NULL ? copy : ".", NULL);
	free(copy);
	return dir;
}

/*
 * The state directory's real path (symbolic links and dot-dots resolved,
 * as far as it exists: it need not yet), malloc'ed, or NULL (ENOMEM).
 */
static char *
real_state(const char *state)
{
	char *r, *parent, *slash, *s;

	if ((r = realpath(state, NULL)) != NULL || errno == ENOMEM)
		return r;
	if ((parent = strdup(state)) == NULL)
		return NULL;
	slash = strrchr(parent, '/');
	*slash = '\0';
	r = realpath(parent[0] ? parent : "/", NULL);
	if (r == NULL) {
		free(parent);
		return errno == ENOMEM ? NULL : strdup(state);
	}
	if ((s = malloc(strlen(r) + strlen(slash + 1) + 2)) != NULL)
		sprintf(s, "%s%s%s", r, strcmp(r, "/") == 0 ? "" : "/",
		    slash + 1);
	free(r);
	free(parent);
	return s;
}

/*
 * The default run directory, BASE/NAME-H: H is 8 hex digits of the
 * FNV-1a hash of the state directory's real path, so that two jobs with
 * one name (ex.topo in two directories) never share one, and one job
 * named by two paths does.  NULL on ENOMEM.
 */
static char *
default_run(const struct ds_topo *t)
{
	uint64_t h = 0xcbf29ce484222325ull;
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	const unsigned char *c;
	char *real, *s;
	size_t n;

	if ((real = real_state(t->state)) == NULL)
		return NULL;
	for (c = (const unsigned char *)real; *c != '\0'; c++)
		h = (h ^ *c) * 0x100000001b3ull;
	free(real);
	n = strlen(t->name) + 64 + (xdg != NULL ? strlen(xdg) : 0);
	if ((s = malloc(n)) == NULL)
		return NULL;
	if (xdg != NULL && xdg[0] == '/')
		snprintf(s, n, "%s/dstream/%s-%08lx", xdg, t->name,
		    (unsigned long)((h ^ h >> 32) & 0xffffffffu));
	else
		snprintf(s, n, "/tmp/dstream-%lu/%s-%08lx",
		    (unsigned long)getuid(), t->name,
		    (unsigned long)((h ^ h >> 32) & 0xffffffffu));
	return s;
}

static int
dirs(struct parse *p)
{
	struct ds_topo *t = p->t;
	const char *base;
	char *old, *s;

	if ((t->dir = filedir(t->file)) == NULL) {
		if (errno == ENOMEM)
			return nomem(p);
		return fail(p, 0, "cannot find its directory: %s",
		    strerror(errno));
	}
	base = strrchr(t->file, '/');
	if ((t->path = resolve(t->dir, base != NULL ? base + 1 : t->file)) ==
	    NULL)
		return nomem(p);
	if (t->state == NULL) {
		if ((s = malloc(strlen(t->name) + 9)) == NULL)
			return nomem(p);
		sprintf(s, "%s.state", t->name);
		t->state = s;
	}
	old = t->state;
	if ((t->state = resolve(t->dir, old)) == NULL) {
		t->state = old;
		return nomem(p);
	}
	free(old);
	old = t->run;
	t->run = old == NULL ? default_run(t) : resolve(t->dir, old);
	if (t->run == NULL) {
		t->run = old;
		return nomem(p);
	}
	free(old);
	return 1;
}

static int
default_name(struct parse *p)
{
	struct ds_topo *t = p->t;
	const char *base;
	size_t len;

	if (t->name != NULL)
		return 1;
	base = strrchr(t->file, '/');
	base = base != NULL ? base + 1 : t->file;
	len = strlen(base);
	if (len > 5 && strcmp(base + len - 5, ".topo") == 0)
		len -= 5;
	if ((t->name = strndup(base, len)) == NULL)
		return nomem(p);
	if (!toponame_ok(t->name))
		return fail(p, 0, "name: the file name gives '%s', which is "
		    "not a name; set name = in [topology]", t->name);
	return 1;
}

static int
edges(struct parse *p)
{
	struct ds_topo *t = p->t;
	struct ds_topo_edge *e;
	struct rawedge *r;
	struct override *o;
	size_t i, j;
	int from, ok = 1;

	if (p->nraw > 0 && (t->edge = calloc(p->nraw, sizeof(*t->edge))) ==
	    NULL)
		return nomem(p);
	for (i = 0; i < p->nraw; i++) {
		r = &p->raw[i];
		if ((from = ds_topo_find(t, r->from)) == -1) {
			ok = fail(p, r->line, "input: no node %s", r->from);
			continue;
		}
		e = &t->edge[t->nedge++];
		e->from = from;
		e->to = r->to;
		e->dist = r->dist;
		e->once = t->once;
		e->line = r->line;
		e->once_line = 0;
	}
	for (i = 0; i < p->novr; i++) {
		o = &p->ovr[i];
		for (j = 0; j < t->nedge; j++) {
			e = &t->edge[j];
			if (e->to == o->to &&
			    strcmp(t->node[e->from].name, o->from) == 0)
				break;
		}
		if (j == t->nedge)
			ok = fail(p, o->line, "once.%s: %s is not an input "
			    "of node %s", o->from, o->from,
			    t->node[o->to].name);
		else {
			t->edge[j].once = o->once;
			t->edge[j].once_line = o->line;
		}
	}
	return ok;
}

static int
kinds(struct parse *p)
{
	struct ds_topo *t = p->t;
	struct ds_topo_node *n, *u;
	struct ds_topo_edge *e;
	size_t i, j;
	int nin, nout, first, ok = 1;

	for (i = 0; i < t->nnode; i++) {
		n = &t->node[i];
		nin = nout = 0;
		first = 0;
		for (j = 0; j < t->nedge; j++) {
			e = &t->edge[j];
			if (e->to == (int)i && nin++ == 0)
				first = e->line;
			if (e->from == (int)i)
				nout++;
		}
		if (n->kind == DS_KIND_SOURCE && nin > 0)
			ok = fail(p, first, "input: node %s is a ds-source, "
			    "which takes no input", n->name);
		if (n->kind != DS_KIND_SOURCE && nin == 0)
			ok = fail(p, n->line, "input: missing: node %s is a "
			    "%s and needs at least one", n->name,
			    kindname(n->kind));
		for (j = 0; j < t->nedge; j++) {
			e = &t->edge[j];
			if (e->to != (int)i)
				continue;
			u = &t->node[e->from];
			if (u->kind == DS_KIND_SINK)
				ok = fail(p, e->line, "input: %s is a "
				    "ds-sink, which has no output", u->name);
		}
		if (n->kind != DS_KIND_SINK && nout == 0)
			ok = fail(p, n->line, "[node %s]: no node has it as "
			    "input; only a ds-sink may end the graph",
			    n->name);
	}
	return ok;
}

/* Depth-first search; colour 1 = on the stack, 2 = done. */
static int
cycle_from(struct parse *p, int v, char *colour, int *stack, int depth)
{
	struct ds_topo *t = p->t;
	char buf[512];
	size_t j, len;
	int k, w;

	colour[v] = 1;
	stack[depth] = v;
	for (j = 0; j < t->nedge; j++) {
		if (t->edge[j].from != v)
			continue;
		w = t->edge[j].to;
		if (colour[w] == 2)
			continue;
		if (colour[w] == 1) {
			for (k = 0; stack[k] != w; k++)
				;
			buf[0] = '\0';
			for (; k <= depth; k++) {
				len = strlen(buf);
				snprintf(buf + len, sizeof(buf) - len,
				    "%s -> ", t->node[stack[k]].name);
			}
			len = strlen(buf);
			snprintf(buf + len, sizeof(buf) - len, "%s",
			    t->node[w].name);
			return fail(p, 0, "cycle: %s", buf);
		}
		if (!cycle_from(p, w, colour, stack, depth + 1))
			return 0;
	}
	colour[v] = 2;
	return 1;
}

static int
acyclic(struct parse *p)
{
	struct ds_topo *t = p->t;
	char *colour;
	int *stack, ok = 1;
	size_t i;

	colour = calloc(t->nnode, 1);
	stack = calloc(t->nnode, sizeof(*stack));
	if (colour == NULL || stack == NULL)
		ok = nomem(p);
	for (i = 0; ok && i < t->nnode; i++)
		if (colour[i] == 0)
			ok = cycle_from(p, (int)i, colour, stack, 0);
	free(colour);
	free(stack);
	return ok;
}

static int
check(struct parse *p)
{
	struct ds_topo *t = p->t;
	size_t i;

	if (t->nnode == 0)
		return fail(p, 0, "no [node NAME] section");
	for (i = 0; i < t->nnode; i++)
		if (t->node[i].run == NULL)
			return fail(p, t->node[i].line, "run: missing in "
			    "[node %s]", t->node[i].name);
	/* Each goes on to report the error on the lowest line. */
	return edges(p) && kinds(p) && acyclic(p) && default_name(p) &&
	    dirs(p);
}

static void
parse_free(struct parse *p)
{
	size_t i;

	for (i = 0; i < p->nraw; i++)
		free(p->raw[i].from);
	for (i = 0; i < p->novr; i++)
		free(p->ovr[i].from);
	free(p->raw);
	free(p->ovr);
	free(p->run_line);
	free(p->par_line);
	free(p->lbuf);
}

int
ds_topo_load(struct ds_topo *t, const char *file, char *err, size_t errlen)
{
	struct parse p;
	size_t i;
	int rc, saved;

	memset(t, 0, sizeof(*t));
	memset(&p, 0, sizeof(p));
	t->once = DS_ONCE_LEAST;
	t->keepalive_ms = 10000;
	t->drain_ms = 60000;
	t->bundle = 64;
	t->linger_ms = 5;
	p.t = t;
	p.err = err;
	p.errlen = errlen;
	if ((t->file = strdup(file)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", file);
		errno = ENOMEM;
		return -1;
	}
	if ((p.fp = fopen(file, "r")) == NULL) {
		saved = errno;
		snprintf(err, errlen, "%s: cannot open: %s", file,
		    strerror(saved));
		ds_topo_free(t);
		errno = saved;
		return -1;
	}
	rc = ini_parse_stream(reader, &p, handler, &p);
	fclose(p.fp);
	if (rc > 0)
		fail(&p, rc, "not a [section], KEY = VALUE or comment line");
	else if (rc < 0 && p.errline == 0)
		fail(&p, 0, "out of memory");
	if (p.errline == 0)
		check(&p);
	for (i = 0; p.errline == 0 && i < t->nnode; i++) {
		t->node[i].run_line = p.run_line[i];
		t->node[i].par_line = p.par_line[i];
	}
	t->once_line = p.seen[1];	/* topokeys[1] */
	parse_free(&p);
	if (p.errline != 0) {
		ds_topo_free(t);
		errno = EINVAL;
		return -1;
	}
	return 0;
}

void
ds_topo_free(struct ds_topo *t)
{
	size_t i;

	for (i = 0; i < t->nnode; i++) {
		free(t->node[i].name);
		free(t->node[i].run);
		ds_topo_argv_free(t->node[i].argv);
	}
	free(t->node);
	free(t->edge);
	free(t->file);
	free(t->path);
	free(t->dir);
	free(t->name);
	free(t->state);
	free(t->run);
	memset(t, 0, sizeof(*t));
}
