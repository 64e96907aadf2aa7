#!/usr/bin/env bats
# t/cookbook.bats: the cookbook of README.md, run as it is written there.
# Each recipe is the indented block after a line "<!-- cookbook: NAME -->"
# in README.md, taken from the file by recipe() so that the text and the
# test cannot drift.  It runs as a newcomer would run it: the tree
# installed once (make install into a DESTDIR), its programs first on
# PATH and pkg-config finding it, in a directory holding a copy of the
# installed examples as examples/.  Its output is compared with what awk
# and sort compute from the same access log, never with written-down
# numbers.  Each recipe runs in a session of its own, whose process group
# teardown stops if it outlives its deadline.

load helper

PREFIX=/opt/dstream

setup_file() {
	make -s -C "$TOP" install DESTDIR="$BATS_FILE_TMPDIR/dest" \
	    PREFIX="$PREFIX" > "$BATS_FILE_TMPDIR/make.out" 2>&1
}

setup() {
	T=$BATS_TEST_TMPDIR
	cd "$T"
	D=$BATS_FILE_TMPDIR/dest
	P=$D$PREFIX
	export PATH="$P/bin:$PATH"
	export PKG_CONFIG_PATH=$P/share/pkgconfig PKG_CONFIG_LIBDIR=
	export PKG_CONFIG_SYSROOT_DIR=$D
	# ds-master's run directory, and the job key, of this test alone.
	export XDG_RUNTIME_DIR=$T/xdg
	mkdir -m 700 "$XDG_RUNTIME_DIR"
	cp -R "$P/share/doc/dstream/examples" examples
	LOG=examples/cookbook/access.log
	PID=
}

teardown() {
	[ -n "$PID" ] || return 0
	# The process group of the session recipe_run started: the shell,
	# ds-master and the pipeline's programs (ds-master stops its job
	# on TERM, and waits for it).
	if kill -0 -- "-$PID" 2>/dev/null; then
		kill -TERM -- "-$PID" 2>/dev/null || true
		wait_for "! kill -0 -- -$PID 2>/dev/null" 20 ||
		    kill -KILL -- "-$PID" 2>/dev/null || true
	fi
}

# The text of block NAME of README.md: the indented lines after its
# marker, unindented, blank lines inside kept.  Fails unless the marker
# is there exactly once with a block after it.
recipe() {	# $1: NAME
	awk -v want="<!-- cookbook: $1 -->" '
	$0 == want { found++; on = 1; next }
	on && /^    / {
		for (; blank > 0; blank--)
			print ""
		print substr($0, 5)
		lines++
		next
	}
	on && /^[ \t]*$/ { if (lines) blank++; next }
	{ on = 0 }
	END { exit !(found == 1 && lines > 0) }' "$TOP/README.md"
}

# Run recipe NAME with bash -e -o pipefail in this directory: its
# output in out, its errors in err.  Fails if it fails, takes more than
# 50 s, or writes anything on stderr.
recipe_run() {	# $1: NAME
	local rc=0
	recipe "$1" > "$1.sh"
	setsid -w bash -e -o pipefail "$1.sh" > out 2> err < /dev/null 3>&- &
	PID=$!
	wait_for "! kill -0 $PID 2>/dev/null" 50 || { cat err >&2; return 1; }
	wait "$PID" || rc=$?
	if [ "$rc" -ne 0 ] || [ -s err ]; then
		echo "recipe $1 exited $rc" >&2
		cat err >&2
		return 1
	fi
}

# Fail, showing both, unless the files $1 (got) and $2 (want) are equal.
same() {
	cmp -s "$1" "$2" && return 0
	diff "$2" "$1" | head -20 >&2
	return 1
}

# awk: utc(F4, F5) is the time of a log line, fields 4 and 5
# ("[24/Nov/2025:16:03:12" "+0100]"), as ISO 8601 in UTC without the
# zone: 2025-11-24T15:03:12.  A time the offset moves to another day
# stops awk with 1 (the cookbook log has none).
UTC='
function utc(f4, f5,   a, off, t, mon) {
	split(substr(f4, 2), a, "[/:]")
	off = (substr(f5, 2, 2) * 60 + substr(f5, 4, 2)) * 60
	if (substr(f5, 1, 1) == "-")
		off = -off
	t = a[4] * 3600 + a[5] * 60 + a[6] - off
	if (t < 0 || t >= 86400) {
		print "utc: " f4 " " f5 ": another day" > "/dev/stderr"
		exit 1
	}
	mon = (index("JanFebMarAprMayJunJulAugSepOctNovDec", a[2]) + 2) / 3
	return sprintf("%s-%02d-%02dT%02d:%02d:%02d", a[3], mon, a[1],
	    int(t / 3600), int(t / 60) % 60, t % 60)
}'

@test "cookbook: README.md has exactly the recipes this file runs" {
	grep -o '^<!-- cookbook: .* -->$' "$TOP/README.md" > names
	cat > want <<'EOF'
<!-- cookbook: status -->
<!-- cookbook: output status -->
<!-- cookbook: bytes-per-client -->
<!-- cookbook: top-bytes -->
<!-- cookbook: errors -->
<!-- cookbook: file errors.topo -->
<!-- cookbook: errors-job -->
<!-- cookbook: per-minute -->
<!-- cookbook: movavg -->
EOF
	same names want
	# and the extraction finds a block for each, and fails without one
	while read -r _ _ name; do
		name=${name% -->}
		recipe "$name" > /dev/null
	done < names
	run -1 recipe nosuchrecipe
}

@test "cookbook: the access log is what tools/cookbook-log writes, and installed" {
	"$TOP/tools/cookbook-log" > log
	same log "$TOP/examples/cookbook/access.log"
	same "$LOG" "$TOP/examples/cookbook/access.log"
	# varied enough for the recipes to mean something
	[ "$(wc -l < log)" -ge 300 ]
	[ "$(awk '$9 ~ /^5/ { print $9 }' log | sort -u | wc -l)" -ge 3 ]
	[ "$(awk '{ print $7 }' log | sort -u | wc -l)" -ge 8 ]
	[ "$(awk '{ print substr($4, 14, 5) }' log | sort -u | wc -l)" -ge 5 ]
}

@test "cookbook: requests per status (count --final) equals awk's, as README shows it" {
	recipe_run status
	awk '{ n[$9]++ } END { for (k in n) print k "\t" n[k] }' "$LOG" |
	    sort > want
	same out want
	recipe "output status" > shown
	same shown want
}

@test "cookbook: bytes per client (sum 10 --final) equal awk's" {
	recipe_run bytes-per-client
	awk '{ b[$1] += $10 } END { for (k in b) printf "%s\t%d\n", k, b[k] }' \
	    "$LOG" | sort > want
	[ "$(wc -l < want)" -ge 5 ]
	same out want
}

@test "cookbook: top paths by bytes (topk 5 10) equals awk's" {
	recipe_run top-bytes
	awk '{ b[$7] += $10 } END { for (k in b) printf "%s\t%d\n", k, b[k] }' \
	    "$LOG" | sort -t "$(printf '\t')" -k2,2nr -k1,1 | head -5 > want
	[ "$(wc -l < want)" -eq 5 ]
	same out want
}

@test "cookbook: server errors per path (filter, count --final) equals awk's" {
	recipe_run errors
	awk '$9 ~ /^5[0-9][0-9]$/ { n[$7]++ }
	    END { for (k in n) print k "\t" n[k] }' "$LOG" | sort > want
	[ "$(wc -l < want)" -ge 2 ]
	same out want
}

@test "cookbook: server errors per path as a job (errors.topo, ds-master run) equals awk's" {
	recipe "file errors.topo" > errors.topo
	recipe_run errors-job
	awk '$9 ~ /^5[0-9][0-9]$/ { n[$7]++ }
	    END { for (k in n) print k "\t" n[k] }' "$LOG" | sort > want
	same out want
	# the job ran as written: two count instances
	grep -qx 'parallel = 2' errors.topo
	[ -d errors.state ]
}

@test "cookbook: requests per minute (the window.c plugin, built with pkg-config) equal awk's" {
	recipe_run per-minute
	[ -f window.so ]
	awk "$UTC"'
	{ n[substr(utc($4, $5), 1, 16) ":00Z"]++ }
	END { for (k in n) print k "\t" n[k] }' "$LOG" | sort > want
	[ "$(wc -l < want)" -ge 5 ]
	same out want
}

@test "cookbook: moving average of bytes per path (movavg.py) equals awk's" {
	recipe_run movavg
	awk "$UTC"'
	{
		k = $7
		v[k, ++n[k]] = $10
		s = c = 0
		for (i = n[k]; i > 0 && i > n[k] - 5; i--) {
			s += v[k, i]
			c++
		}
		printf "%s.000000000Z\t%s\t%.1f\n", utc($4, $5), k, s / c
	}' "$LOG" > want
	[ "$(wc -l < want)" -eq "$(wc -l < "$LOG")" ]
	same out want
}
