# dstream: one GNU makefile.  `make` builds, `make check` tests everything,
# `make demo` runs the demo pipeline.  Missing Debian packages are
# installed by tools/deps (a no-op when everything is present).
VERSION  = 0.1.0
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
INCDIR  ?= $(PREFIX)/include
LIBEXECDIR ?= $(PREFIX)/lib/dstream
CC      ?= cc
CFLAGS  ?= -O2 -g
WERROR  ?= -Werror
WARN     = -Wall -Wextra -Wstrict-prototypes -Wmissing-prototypes -Wshadow \
	   -Wpointer-arith -Wcast-qual -Wwrite-strings -Wvla -Wformat=2 $(WERROR)
# Evaluated when a recipe runs, i.e. after deps-check installed them.
PKGS     = nanomsg tokyocabinet popt libxxhash inih
DEPCF    = $(shell pkg-config --cflags $(PKGS) 2>/dev/null | sed 's/-I/-isystem /g')
DEPLIBS  = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
ifneq ($(SANITIZER),)
SANFLAGS = -fsanitize=$(SANITIZER) -fno-sanitize-recover=all -fno-omit-frame-pointer
endif
ALL_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -DDS_VERSION='"$(VERSION)"' \
	     $(WARN) $(DEPCF) -Ilibds $(CFLAGS) $(SANFLAGS)
LDLIBS   = -lev $(DEPLIBS) -ldl -lm

LIB_SRC  = $(sort $(wildcard libds/*.c))
LIB_OBJ  = $(LIB_SRC:.c=.o)
LIB_HDR  = $(wildcard libds/*.h)
BINS     = $(patsubst %.c,%,$(sort $(wildcard bin/ds-*.c)))
UNITS    = $(patsubst %.c,%,$(sort $(wildcard t/unit/*.c)))
TOOLS    = tools/ds-jctl tools/bench/journal tools/bench/rategen
PLUGINS  = $(patsubst %.c,%.so,$(sort $(wildcard examples/plugins/*.c)))
MAN1     = $(sort $(wildcard man/*.1))
MAN5     = $(sort $(wildcard man/*.5))
MAN7     = $(sort $(wildcard man/*.7))

all: deps-check $(BINS) $(PLUGINS) $(TOOLS)

.PHONY: all deps deps-check check check-unit check-bats check-man chaos demo \
	sanitize fuzz bench install uninstall clean

# Install missing Debian packages (needs root or sudo); no-op when present.
deps:
	@sh tools/deps install

deps-check:
	@sh tools/deps install

libds/%.o: libds/%.c $(LIB_HDR) | deps-check
	$(CC) $(ALL_CFLAGS) -fPIC -c -o $@ $<

libds/libds.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $(LIB_OBJ)

bin/%: bin/%.c libds/libds.a $(LIB_HDR)
	$(CC) $(ALL_CFLAGS) -o $@ $< libds/libds.a $(LDFLAGS) $(LDLIBS)

t/unit/%: t/unit/%.c t/unit/tap.h libds/libds.a $(LIB_HDR)
	$(CC) $(ALL_CFLAGS) -It/unit -o $@ $< libds/libds.a $(LDFLAGS) $(LDLIBS)

# Development tools in C (never installed): ds-jctl, benchmarks.
tools/%: tools/%.c libds/libds.a $(LIB_HDR)
	$(CC) $(ALL_CFLAGS) -o $@ $< libds/libds.a $(LDFLAGS) $(LDLIBS)

examples/plugins/%.so: examples/plugins/%.c libds/ds_op.h
	$(CC) $(ALL_CFLAGS) -fPIC -shared -o $@ $<

check: all $(UNITS)
	@sh t/check $(UNITS)

check-unit: all $(UNITS)
	@sh t/check --only unit $(UNITS)

check-bats: all
	@sh t/check --only bats

check-man:
	@sh t/check --only man

# Long fault-injection runs, outside `make check` (and CI).
# The long fault-injection runs (minutes): the chaos suites, then 50
# seeded tools/chaos runs of the golden count, exactly-once, SIGKILLs of
# every process kind and SIGSTOPped zombies.  CHAOS_RUNS to change 50.
CHAOS_RUNS ?= 50
chaos: all
	bats --tap t/chaos
	@for s in $$(seq 1 $(CHAOS_RUNS)); do \
		tools/chaos -q -z -s $$s -m exactly -t 300 || exit 1; \
	done

demo: all
	@sh examples/demo.sh

sanitize:
	$(MAKE) clean
	$(MAKE) SANITIZER=$${SANITIZER:-address} CC=$${CC:-cc} check

fuzz: libds/libds.a
	$(MAKE) -C tools/fuzz

bench: all
	sh tools/bench/pipeline

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(INCDIR)
	install -m 0755 $(BINS) $(DESTDIR)$(BINDIR)
	install -m 0644 libds/ds_op.h $(DESTDIR)$(INCDIR)
	install -m 0644 $(MAN1) $(DESTDIR)$(MANDIR)/man1
	install -m 0644 $(MAN5) $(DESTDIR)$(MANDIR)/man5
	install -m 0644 $(MAN7) $(DESTDIR)$(MANDIR)/man7

uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(notdir $(BINS)))
	rm -f $(DESTDIR)$(INCDIR)/ds_op.h
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(MAN1)))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man5/,$(notdir $(MAN5)))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man7/,$(notdir $(MAN7)))

clean:
	rm -f libds/*.o libds/libds.a $(BINS) $(UNITS) $(PLUGINS) $(TOOLS)
	$(MAKE) -C tools/fuzz clean 2>/dev/null || true

.DELETE_ON_ERROR:
