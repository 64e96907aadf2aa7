#!/usr/bin/env bats
# t/install.bats: `make install` as a plugin author meets it.  The tree is
# installed once, with a PREFIX under a DESTDIR (as a package build does);
# plugins in C and C++ are compiled against it with nothing but
# `pkg-config --cflags dstream` and run by the installed ds-op, whose
# output is compared with its own built-in count.  Nothing is started in
# the background; every file is under the bats temporary directories.

load helper

PREFIX=/opt/dstream

setup_file() {
	make -s -C "$TOP" install DESTDIR="$BATS_FILE_TMPDIR/dest" \
	    PREFIX="$PREFIX" > "$BATS_FILE_TMPDIR/make.out" 2>&1
}

setup() {
	cd "$BATS_TEST_TMPDIR"
	D=$BATS_FILE_TMPDIR/dest
	P=$D$PREFIX
	# The staged tree, as pkg-config sees it from outside: the .pc file
	# says PREFIX, and the sysroot puts DESTDIR in front of its paths.
	export PKG_CONFIG_PATH=$P/share/pkgconfig PKG_CONFIG_LIBDIR=
	export PKG_CONFIG_SYSROOT_DIR=$D
}

# Frames of 3000 lines over 7 keys, from the installed ds-source.
frames() {
	seq 1 3000 | awk '{ print "k" $1 % 7, $1 }' |
	    "$P/bin/ds-source" --key-field 1
}

@test "install: make install puts programs, header, pkg-config file, pages and examples under PREFIX" {
	for f in bin/ds-source bin/ds-op bin/ds-sink bin/ds-master \
	    include/ds_op.h share/pkgconfig/dstream.pc \
	    share/man/man1/ds-op.1 share/man/man5/ds-topology.5 \
	    share/doc/dstream/examples/plugins/count.c \
	    share/doc/dstream/examples/plugins/cxxcount.cc \
	    share/doc/dstream/examples/exec/count.awk \
	    share/doc/dstream/examples/wordcount/wordcount.topo \
	    share/doc/dstream/README.md \
	    share/doc/dstream/examples/cookbook/access.log \
	    share/doc/dstream/examples/exec/movavg.py \
	    share/doc/dstream/examples/plugins/window.c; do
		[ -f "$P/$f" ] || { echo "missing $P/$f"; return 1; }
	done
	# Sources only: nothing make built, no demo of the source tree.
	run -0 find "$P/share/doc/dstream" -name '*.so' -o -name '*.d' \
	    -o -name demo.sh
	[ -z "$output" ]
	run -0 pkg-config --cflags dstream
	[ "$(echo $output)" = "-I$P/include" ]
	run -0 pkg-config --modversion dstream
	[ "$output" = "$(sed -n 's/^VERSION *= *//p' "$TOP/Makefile")" ]
	# A plugin links nothing of dstream.
	run -0 pkg-config --libs dstream
	[ -z "$(echo $output)" ]
}

@test "install: a C plugin built with pkg-config --cflags runs in the installed ds-op" {
	cc -std=c99 -Wall -Wextra -pedantic -Werror -shared -fPIC \
	    $(pkg-config --cflags dstream) -o count.so \
	    "$P/share/doc/dstream/examples/plugins/count.c"
	frames > in
	"$P/bin/ds-op" --builtin count < in | "$P/bin/ds-sink" > want
	"$P/bin/ds-op" --plugin ./count.so < in | "$P/bin/ds-sink" > got
	[ "$(wc -l < got)" = 3000 ]
	run -0 cmp want got
}

@test "install: a C++ plugin built with pkg-config --cflags runs in the installed ds-op" {
	c++ -std=c++11 -Wall -Wextra -pedantic -Werror -shared -fPIC \
	    $(pkg-config --cflags dstream) -o cxxcount.so \
	    "$P/share/doc/dstream/examples/plugins/cxxcount.cc"
	frames > in
	"$P/bin/ds-op" --builtin count < in | "$P/bin/ds-sink" > want
	"$P/bin/ds-op" --plugin ./cxxcount.so < in | "$P/bin/ds-sink" > got
	[ "$(wc -l < got)" = 3000 ]
	run -0 cmp want got
}

@test "install: ds_op.h alone compiles as C++11 with the plugin macro, exported under its C name" {
	cat > op.cc <<'EOF'
#include <ds_op.h>
#include <cstring>

static int
tuple(struct ds_op_ctx *c, const struct ds_op_tuple *t)
{
	const void *v;
	size_t l;

	if (ds_state_get(c, &v, &l) == 1 && l == t->paylen &&
	    std::memcmp(v, t->payload, l) == 0)
		return 0;	// the same payload as last time: drop it
	if (ds_state_put(c, t->payload, t->paylen) == -1)
		return 1;
	return ds_emit(c, t->key, t->keylen, t->payload, t->paylen, 0);
}

DS_OP_PLUGIN("changes", NULL, tuple, NULL, NULL, NULL);
EOF
	c++ -std=c++11 -Wall -Wextra -pedantic -Werror -shared -fPIC \
	    $(pkg-config --cflags dstream) -o changes.so op.cc
	run -0 nm -D --defined-only changes.so
	printf '%s\n' "${lines[@]}" | grep -Eq '^[0-9a-f]+ [DR] ds_op_plugin$'
	printf 'a 1\na 1\nb 1\na 2\na 2\nb 1\n' |
	    "$P/bin/ds-source" --key-field 1 |
	    "$P/bin/ds-op" --plugin ./changes.so | "$P/bin/ds-sink" > got
	run -0 cat got
	[ "$output" = "$(printf 'a\ta 1\nb\tb 1\na\ta 2')" ]
}

@test "install: the plugin of ds-op(1) 'Writing a plugin' builds with its compile line and runs" {
	# The page as installed, its code cut out of the rendered text.
	mandoc -T ascii "$P/share/man/man1/ds-op.1" | sed 's/.\x08//g' |
	    expand > page
	sed -n '/^ *#include <ds_op.h>/,/^ *DS_OP_PLUGIN/p' page |
	    sed 's/^ *//' > myop.c
	grep -q '^DS_OP_PLUGIN("long"' myop.c
	line=$(grep -m1 '^ *cc -shared -fPIC' page)
	[ "$(echo $line)" = 'cc -shared -fPIC $(pkg-config --cflags dstream) -o myop.so myop.c' ]
	eval "$line"
	{ printf 'k short\n'; printf 'k %0120d\n' 7; } > in
	"$P/bin/ds-source" --key-field 1 < in |
	    "$P/bin/ds-op" --plugin ./myop.so |
	    "$P/bin/ds-sink" --format '%p' > got
	run -0 cat got
	[ "$output" = "$(sed -n 2p in)" ]
}

@test "install: installed pages name the installed examples and header, and lint clean" {
	for m in man1/ds-op.1 man5/ds-topology.5; do
		f=$P/share/man/$m
		grep -q "$PREFIX/share/doc/dstream/examples/" "$f"
		run ! grep -q /usr/local "$f"
		run -0 mandoc -T lint -W warning "$f"
		[ -z "$output" ]
	done
	grep -q "$PREFIX/include/ds_op.h" "$P/share/man/man1/ds-op.1"
	grep -q "$PREFIX/share/doc/dstream/README.md" \
	    "$P/share/man/man7/dstream.7"
	grep -q "$PREFIX/share/pkgconfig/dstream.pc" "$P/share/man/man1/ds-op.1"
}

@test "install: make uninstall removes what install put" {
	d=$BATS_TEST_TMPDIR/un
	make -s -C "$TOP" install DESTDIR="$d" PREFIX="$PREFIX" > out 2>&1
	[ -n "$(find "$d" -type f)" ]
	make -s -C "$TOP" uninstall DESTDIR="$d" PREFIX="$PREFIX" > out 2>&1
	run -0 find "$d" -type f
	[ -z "$output" ]
	[ ! -e "$d$PREFIX/share/doc/dstream" ]
}
