# dstream: one GNU makefile.  `make` builds, `make check` tests everything,
# `make demo` runs the demo pipeline.  `make` and `make install` only
# check the Debian packages and name the missing ones (tools/deps check);
# `make check` and `make demo` install them (tools/deps install, a no-op
# when everything is present).  libds/ is split by layer (tools/layers):
# core <- net, store, op, topo <- node <- bin; `make` fails on an include
# that goes up.
VERSION  = 0.1.0
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
INCDIR  ?= $(PREFIX)/include
DOCDIR  ?= $(PREFIX)/share/doc/dstream
PCDIR   ?= $(PREFIX)/share/pkgconfig
LIBEXECDIR ?= $(PREFIX)/lib/dstream
CC      ?= cc
CFLAGS  ?= -O2 -g
WERROR  ?= -Werror
WARN     = -Wall -Wextra -Wstrict-prototypes -Wmissing-prototypes -Wshadow \
	   -Wpointer-arith -Wcast-qual -Wwrite-strings -Wvla -Wformat=2 $(WERROR)
# Evaluated when a recipe runs, i.e. after deps-check installed them.
PKGS     = nanomsg tokyocabinet popt libxxhash inih libsodium libcrypto
DEPCF    = $(shell pkg-config --cflags $(PKGS) 2>/dev/null | sed 's/-I/-isystem /g')
DEPLIBS  = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
ifneq ($(SANITIZER),)
SANFLAGS = -fsanitize=$(SANITIZER) -fno-sanitize-recover=all -fno-omit-frame-pointer
endif
ALL_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -DDS_VERSION='"$(VERSION)"' \
	     $(WARN) $(DEPCF) -Ilibds $(CFLAGS) $(SANFLAGS) -MMD -MP
LDLIBS   = -lev $(DEPLIBS) -ldl -lm
# C++ only for the example plugins: ds_op.h must be C++11 as well as C11.
CXXFLAGS ?= -O2 -g
CXXWARN  = -Wall -Wextra -Wpedantic -Wshadow -Wcast-qual -Wwrite-strings \
	   -Wold-style-cast $(WERROR)

LIB_SRC  = $(sort $(wildcard libds/*/*.c))
LIB_OBJ  = $(LIB_SRC:.c=.o)
BINS     = $(patsubst %.c,%,$(sort $(wildcard bin/ds-*.c)))
PARTS    = $(patsubst bin/%/,%,$(sort $(dir $(wildcard bin/*/*.c))))
$(foreach p,$(PARTS),$(eval PARTS_ds-$(p) = \
	$(patsubst %.c,%.o,$(sort $(wildcard bin/$(p)/*.c)))))
PART_OBJ = $(foreach p,$(PARTS),$(PARTS_ds-$(p)))
UNITS    = $(patsubst %.c,%,$(sort $(wildcard t/unit/*.c)))
TOOLS    = tools/ds-jctl tools/ds-poke tools/bench/journal tools/bench/rategen
PLUGINS  = $(patsubst %.c,%.so,$(sort $(wildcard examples/plugins/*.c))) \
	   $(patsubst %.cc,%.so,$(sort $(wildcard examples/plugins/*.cc)))
# What `make install` puts in $(DOCDIR)/examples: the sources, not what
# make built from them, nor demo.sh (it runs the source tree's programs).
# Files only: running an example leaves its state directory beside it.
EXAMPLES = $(shell find examples -mindepth 2 -maxdepth 2 -type f \
	   ! -name '*.so' ! -name '*.d' ! -name '*.o' | LC_ALL=C sort)
MAN1     = $(sort $(wildcard man/*.1))
MAN5     = $(sort $(wildcard man/*.5))
MAN7     = $(sort $(wildcard man/*.7))

all: deps-check layers $(BINS) $(PLUGINS) $(TOOLS)

.PHONY: all deps deps-check layers check check-unit check-bats check-man \
	chaos demo sanitize fuzz bench install uninstall clean

# `make` names missing Debian packages; these targets install them.
DEPS_MODE = check
deps check check-unit check-bats demo sanitize: DEPS_MODE = install

deps deps-check:
	@sh tools/deps $(DEPS_MODE)

layers:
	@sh tools/layers

libds/%.o: libds/%.c | deps-check layers
	$(CC) $(ALL_CFLAGS) -fPIC -c -o $@ $<

libds/libds.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $(LIB_OBJ)

# A program may keep parts in a folder of its own, split by concern:
# bin/ds-NAME.c (main) plus bin/NAME/*.c (ds-master, ds-source, ...).
.SECONDEXPANSION:
bin/%: bin/%.c $$(PARTS_$$*) libds/libds.a
	$(CC) $(ALL_CFLAGS) -o $@ $< $(PARTS_$*) libds/libds.a $(LDFLAGS) \
	    $(LDLIBS)

$(PART_OBJ): %.o: %.c | deps-check layers
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

t/unit/%: t/unit/%.c libds/libds.a
	$(CC) $(ALL_CFLAGS) -It/unit -o $@ $< libds/libds.a $(LDFLAGS) $(LDLIBS)

# Development tools in C (never installed): ds-jctl, benchmarks.
tools/%: tools/%.c libds/libds.a
	$(CC) $(ALL_CFLAGS) -o $@ $< libds/libds.a $(LDFLAGS) $(LDLIBS)

# Plugins see only the installed header, as <ds_op.h>.
examples/plugins/%.so: examples/plugins/%.c
	$(CC) $(ALL_CFLAGS) -Ilibds/op -fPIC -shared -o $@ $<

examples/plugins/%.so: examples/plugins/%.cc
	$(CXX) -std=c++11 $(CXXWARN) -Ilibds/op $(CXXFLAGS) $(SANFLAGS) \
	    -MMD -MP -fPIC -shared -o $@ $<

-include $(LIB_OBJ:.o=.d) $(BINS:=.d) $(UNITS:=.d) $(TOOLS:=.d) \
	$(PLUGINS:.so=.d) $(PART_OBJ:.o=.d)

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
# Then 10 at-least-once and 10 at-most-once seeds with an upstream
# operator (-U) that merges two sources (-S 2, so that a restart may
# replay in another order) and feeds the hash edge's ds-router, and
# SIGKILLs of ds-op (the upstream ones by name: kind up), the routers and
# the sink: the case issue 3 left alone (issue 11).  These all run, and
# the target fails after them if any failed.  CHAOS_UP_RUNS to change 10.
# Last, 10 at-least-once and 10 exactly-once seeds of orderly stops: the
# job is stopped three times (ds-master stop or SIGINT) and run again, and
# its output must be exact in both modes (issue 13).  CHAOS_STOP_RUNS.
CHAOS_RUNS ?= 50
CHAOS_UP_RUNS ?= 10
CHAOS_STOP_RUNS ?= 10
chaos: all
	bats --tap t/chaos
	@for s in $$(seq 1 $(CHAOS_RUNS)); do \
		tools/chaos -q -z -s $$s -m exactly -t 300 || exit 1; \
	done
	@f=0; for m in least most; do for s in $$(seq 1 $(CHAOS_UP_RUNS)); do \
		tools/chaos -q -z -U -S 2 -R yes -K up,op,router,sink -s $$s \
		    -m $$m -t 300 || f=$$((f + 1)); \
	done; done; \
	[ $$f -eq 0 ] || { echo "chaos: $$f upstream-op runs failed"; exit 1; }
	@f=0; for m in least exactly; do \
	    for s in $$(seq 1 $(CHAOS_STOP_RUNS)); do \
		tools/chaos -q -O 3 -s $$s -m $$m -t 300 || f=$$((f + 1)); \
	done; done; \
	[ $$f -eq 0 ] || { echo "chaos: $$f orderly-stop runs failed"; exit 1; }

demo: all
	@sh examples/demo.sh

sanitize:
	$(MAKE) clean
	$(MAKE) SANITIZER=$${SANITIZER:-address} CC=$${CC:-cc} check

fuzz: libds/libds.a
	$(MAKE) -C tools/fuzz

bench: all
	sh tools/bench/pipeline

# Installed man pages name the installed places; the sources say where
# the default PREFIX puts them.
MANSED = -e 's,/usr/local/share/doc/dstream,$(DOCDIR),g' \
	 -e 's,/usr/local/share/pkgconfig,$(PCDIR),g' \
	 -e 's,/usr/local/include,$(INCDIR),g'

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7 \
	    $(DESTDIR)$(INCDIR) $(DESTDIR)$(PCDIR) \
	    $(addprefix $(DESTDIR)$(DOCDIR)/,$(sort $(dir $(EXAMPLES))))
	install -m 0755 $(BINS) $(DESTDIR)$(BINDIR)
	install -m 0644 libds/op/ds_op.h $(DESTDIR)$(INCDIR)
	for m in $(MAN1) $(MAN5) $(MAN7); do \
		d=$(DESTDIR)$(MANDIR)/man$${m##*.}/$${m##*/}; \
		sed $(MANSED) $$m > $$d && chmod 0644 $$d || exit 1; \
	done
	for f in $(EXAMPLES); do \
		install -m 0644 $$f $(DESTDIR)$(DOCDIR)/$$f || exit 1; \
	done
	@# Its cookbook runs on the examples; dstream(7) points to it.
	install -m 0644 README.md $(DESTDIR)$(DOCDIR)
	@# A plugin needs the header only: ds-op hands it every function it
	@# calls, so it links nothing of dstream.
	printf '%s\n' 'prefix=$(PREFIX)' \
	    'includedir=$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCDIR))' '' \
	    'Name: dstream' \
	    'Description: the ds-op plugin API, ds_op.h (ds-op --plugin)' \
	    'Version: $(VERSION)' 'Cflags: -I$${includedir}' \
	    > $(DESTDIR)$(PCDIR)/dstream.pc

uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(notdir $(BINS)))
	rm -f $(DESTDIR)$(INCDIR)/ds_op.h $(DESTDIR)$(PCDIR)/dstream.pc
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(MAN1)))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man5/,$(notdir $(MAN5)))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man7/,$(notdir $(MAN7)))
	rm -f $(addprefix $(DESTDIR)$(DOCDIR)/,$(EXAMPLES)) \
	    $(DESTDIR)$(DOCDIR)/README.md
	-rmdir $(addprefix $(DESTDIR)$(DOCDIR)/,$(sort $(dir $(EXAMPLES)))) \
	    $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(DOCDIR) 2>/dev/null

clean:
	rm -f libds/*/*.o libds/*/*.d libds/libds.a $(BINS) $(UNITS) \
	    $(PLUGINS) $(TOOLS) $(BINS:=.d) $(UNITS:=.d) $(TOOLS:=.d) \
	    $(PLUGINS:.so=.d) $(PART_OBJ) $(PART_OBJ:.o=.d)
	$(MAKE) -C tools/fuzz clean 2>/dev/null || true

.DELETE_ON_ERROR:
