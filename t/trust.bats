#!/usr/bin/env bats
# t/trust.bats: dstream on a host shared with users it must not trust
# (issue 12, dstream(7) TRUST).  The other user is played by chowning
# what they would have made to nobody (the tests run as root), or by
# running as nobody (setpriv).  Every attack aims at $T/victim: nothing
# may be written to it (its content, size, inode and old mtime stay).
# Directories: a run or state directory, or a parent, that is not ours
# alone is refused with 74 naming it.  Files: a symbolic link where
# dstream writes is refused with 74 (a stale temporary one is removed).
# Sockets and files are private whatever the caller's umask.

load helper

setup() {
	pids_setup
	T=$BATS_TEST_TMPDIR
	printf 'precious\n' > "$T/victim"
	touch -d '2001-02-03 04:05:06' "$T/victim"
	V0=$(stat -c '%s %Y %i' "$T/victim")
	printf 'a 1\nb 2\na 3\n' > "$T/in"
	OTHER=()
}

teardown() {
	exec 7>&- 2>/dev/null || true
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
		wait_for "! kill -0 $p 2>/dev/null" 10 ||
		    kill -9 "$p" 2>/dev/null || true
	done
	[ ${#OTHER[@]} -eq 0 ] || rm -rf "${OTHER[@]}"
}

# The victim is as it was.
victim_same() {
	[ "$(cat "$T/victim")" = precious ] &&
	    [ "$(stat -c '%s %Y %i' "$T/victim")" = "$V0" ]
}

# A small finite job: $T/in through ds-sink into $T/out.  $1: extra
# [topology] lines.
topo() {
	cat > "$T/t.topo" <<EOF
[topology]
name = t
keepalive = 2s
run = ${RUN:-$T/run}
state = $T/state
${1:-}

[node src]
run = ds-source --file $T/in --key-field 1

[node out]
run = ds-sink --file $T/out
input = src
EOF
}

# --- directories ------------------------------------------------------

@test "trust: run and state directories are created 0700 and the job runs" {
	topo
	run -0 ds-master run "$T/t.topo"
	[ "$(stat -c %a "$T/run")" = 700 ]
	[ "$(stat -c %a "$T/state")" = 700 ]
	[ -f "$T/state/done" ]
	[ "$(wc -l < "$T/out")" = 3 ]
}

@test "trust: a run directory another user made first is refused (74); nothing is written through its planted lock" {
	mkdir -m 700 "$T/run"
	ln -s "$T/victim" "$T/run/lock"
	chown -h nobody:nogroup "$T/run" "$T/run/lock"
	topo
	run -74 --separate-stderr ds-master run "$T/t.topo"
	[ "$stderr" = "ds-master: fatal: unable to use run directory $T/run: owned by another user" ]
	victim_same
	[ "$(ls -A "$T/run")" = lock ]
	[ ! -e "$T/state" ]
}

@test "trust: a state directory another user made first is refused (74); its planted epochs.tmp is left alone" {
	mkdir -m 700 "$T/state"
	ln -s "$T/victim" "$T/state/epochs.tmp"
	chown -h nobody:nogroup "$T/state" "$T/state/epochs.tmp"
	topo
	run -74 --separate-stderr ds-master run "$T/t.topo"
	[ "$stderr" = "ds-master: fatal: unable to use state directory $T/state: owned by another user" ]
	victim_same
	[ -L "$T/state/epochs.tmp" ]
}

@test "trust: a group- or world-writable run or state directory is refused (74), the sticky bit or not" {
	topo
	for m in 770 777 1777; do
		mkdir -p "$T/run"
		chmod "$m" "$T/run"
		run -74 --separate-stderr ds-master run "$T/t.topo"
		[ "$stderr" = "ds-master: fatal: unable to use run directory $T/run: writable by group or others" ]
		rmdir "$T/run"
	done
	mkdir -p "$T/state"
	chmod 757 "$T/state"
	run -74 --separate-stderr ds-master run "$T/t.topo"
	[ "$stderr" = "ds-master: fatal: unable to use state directory $T/state: writable by group or others" ]
	[ -z "$(ls -A "$T/state")" ]
}

@test "trust: a symbolic link as the run or state directory is refused (74), even to a directory of ours" {
	mkdir -m 700 "$T/elsewhere"
	ln -s "$T/elsewhere" "$T/run"
	topo
	run -74 --separate-stderr ds-master run "$T/t.topo"
	[ "$stderr" = "ds-master: fatal: unable to use run directory $T/run: a symbolic link" ]
	rm "$T/run"
	ln -s "$T/elsewhere" "$T/state"
	run -74 --separate-stderr ds-master run "$T/t.topo"
	[ "$stderr" = "ds-master: fatal: unable to use state directory $T/state: a symbolic link" ]
	[ -z "$(ls -A "$T/elsewhere")" ]
}

@test "trust: a parent another user made first (as /tmp/dstream-UID in a sticky /tmp) is refused (74) naming it" {
	mkdir -m 1777 "$T/tmp"
	mkdir -m 700 "$T/tmp/dstream-0"
	ln -s "$T/victim" "$T/tmp/dstream-0/t"
	chown -h nobody:nogroup "$T/tmp/dstream-0" "$T/tmp/dstream-0/t"
	RUN=$T/tmp/dstream-0/t topo
	run -74 --separate-stderr ds-master run "$T/t.topo"
	[ "$stderr" = "ds-master: fatal: unable to use run directory $T/tmp/dstream-0/t: $T/tmp/dstream-0: owned by another user" ]
	victim_same
	# A sticky shared parent is fine when the rest is ours.
	rm -rf "$T/tmp/dstream-0"
	run -0 ds-master run "$T/t.topo"
	[ "$(stat -c %a "$T/tmp/dstream-0")" = 700 ]
}

@test "trust: the default /tmp/dstream-UID made first by another user: ds-master exits 74 naming it" {
	[ "$(id -u)" = 0 ] || skip "needs root to play two users"
	command -v setpriv > /dev/null || skip "no setpriv"
	local d=/tmp/dstream-65534 m
	[ ! -e "$d" ] || skip "$d exists"
	OTHER=("$d")
	# Where nobody can read the topology: a directory of its own.
	W=$(mktemp -d /tmp/ds-trust.XXXXXX)
	OTHER+=("$W")
	chmod 755 "$W"
	printf '[topology]\nname = t\n[node src]\nrun = ds-source --file in\n[node out]\nrun = ds-sink\ninput = src\n' > "$W/t.topo"
	for m in 700 755; do
		mkdir -m "$m" "$d"
		chown 65533:65533 "$d"
		run -74 --separate-stderr setpriv --reuid 65534 --regid 65534 \
		    --clear-groups env -u XDG_RUNTIME_DIR \
		    ds-master run "$W/t.topo"
		if [ "$m" = 700 ]; then
			[[ $stderr == "ds-master: fatal: unable to use run directory $d/t-"????????": $d: open: Permission denied" ]]
		else
			[[ $stderr == "ds-master: fatal: unable to use run directory $d/t-"????????": $d: owned by another user" ]]
		fi
		[ -z "$(ls -A "$d")" ]
		rmdir "$d"
	done
	[ ! -e "$W/t.state" ]
}

# --- files in dstream's directories -----------------------------------

@test "trust: a symbolic link as RUN/lock, STATE/lock, STATE/epochs, STATE/done or STATE/plan is refused (74), nothing written through it" {
	topo
	mkdir -m 700 "$T/run" "$T/state"
	local d
	for d in run state; do
		ln -s "$T/victim" "$T/$d/lock"
		run -74 --separate-stderr ds-master run "$T/t.topo"
		[ "$stderr" = "ds-master: fatal: unable to open $T/$d/lock: a symbolic link (not followed)" ]
		rm "$T/$d/lock"
	done
	for f in epochs done plan; do
		ln -s "$T/victim" "$T/state/$f"
		run -74 --separate-stderr ds-master run "$T/t.topo"
		[ "$stderr" = "ds-master: fatal: unable to read $T/state/$f: a symbolic link (not followed)" ]
		rm "$T/state/$f"
	done
	victim_same
}

@test "trust: planted STATE/epochs.tmp and done.tmp links are removed, never followed; epochs and done are replaced" {
	topo
	mkdir -m 700 "$T/run" "$T/state"
	ln -s "$T/victim" "$T/state/epochs.tmp"
	ln -s "$T/victim" "$T/state/done.tmp"
	run -0 ds-master run "$T/t.topo"
	victim_same
	[ ! -e "$T/state/epochs.tmp" ] && [ ! -L "$T/state/epochs.tmp" ]
	[ ! -L "$T/state/done.tmp" ]
	[ -f "$T/state/epochs" ] && [ ! -L "$T/state/epochs" ]
	grep -qx 'src.0 1' "$T/state/epochs"
	[[ $(cat "$T/state/done") == "finished "* ]]
}

@test "trust: a link where the control socket goes (RUN/master) is left alone (74)" {
	topo
	mkdir -m 700 "$T/run"
	ln -s "$T/victim" "$T/run/master"
	run -74 --separate-stderr ds-master run "$T/t.topo"
	[ "$stderr" = "ds-master: fatal: unable to bind ipc://$T/run/master: not a socket: left alone" ]
	[ -L "$T/run/master" ]
	victim_same
}

@test "trust: a link as STATE/journal is refused (74)" {
	topo "once = exactly"
	mkdir -m 700 "$T/state" "$T/elsewhere"
	ln -s "$T/elsewhere" "$T/state/journal"
	run -74 --separate-stderr ds-master run "$T/t.topo"
	[ "$stderr" = "ds-master: fatal: unable to use journal directory $T/state/journal: a symbolic link" ]
	[ -z "$(ls -A "$T/elsewhere")" ]
}

@test "trust: a node's state log as a symbolic link is refused (74); a state directory others may write too" {
	mkdir -m 700 st
	ln -s "$T/victim" st/1.slog
	run -74 --separate-stderr ds-source --id 1 --listen "ipc://$PWD/s" \
	    --consumers 2 --state st --key-field 1 < "$T/in"
	[ "$stderr" = "ds-source: fatal: st/1.slog: open: a symbolic link (not followed)" ]
	victim_same
	rm st/1.slog
	chmod 777 st
	run -74 --separate-stderr ds-source --id 1 --listen "ipc://$PWD/s" \
	    --consumers 2 --state st --key-field 1 < "$T/in"
	[ "$stderr" = "ds-source: fatal: st/1.slog: unable to use st: writable by group or others" ]
	[ -z "$(ls -A st)" ]
}

@test "trust: ds-journal refuses links as its segments, state.tch or state.tch.wal (74), and a shared directory" {
	local J="ipc://$PWD/j" f
	mkdir -m 700 d
	# A journal of its own first: a segment and state.tch exist.
	ds-journal --dir d --listen "$J" --min-free 0 2> j.log 3>&- &
	PIDS+=("$!")
	wait_for "[ -S j ] && [ -e d/journal.00000001 ]"
	kill -TERM "$!"
	wait_for "! kill -0 $! 2>/dev/null"
	for f in journal.00000001 state.tch state.tch.wal; do
		cp -p "d/$f" "$f.keep" 2>/dev/null || true
		rm -f "d/$f"
		ln -s "$T/victim" "d/$f"
		run -74 --separate-stderr ds-journal --dir d --listen "$J" \
		    --min-free 0
		[[ $stderr == "ds-journal: fatal: unable to "*" d/$f: a symbolic link (not followed)" ]]
		victim_same
		rm "d/$f"
		[ ! -e "$f.keep" ] || mv "$f.keep" "d/$f"
	done
	ln -s "$PWD/d" dl
	run -74 --separate-stderr ds-journal --dir dl --listen "$J"
	[ "$stderr" = "ds-journal: fatal: unable to open directory dl: a symbolic link" ]
	chmod 770 d
	run -74 --separate-stderr ds-journal --dir d --listen "$J"
	[ "$stderr" = "ds-journal: fatal: unable to open directory d: writable by group or others" ]
}

# --- the user's own output files --------------------------------------

@test "trust: ds-sink --file and --tc never reach a file through a symbolic link (74); /dev/stdout works" {
	ln -s "$T/victim" out
	run -74 --separate-stderr ds-sink --file out < "$T_DATA/one.frames"
	[ "$stderr" = "ds-sink: fatal: unable to open out: a symbolic link (not followed)" ]
	# A link to a device or fifo is not a file to clobber: followed.
	run -0 --separate-stderr ds-sink --file /dev/stdout < "$T_DATA/one.frames"
	[ "$output" = $'k1\thello' ]
	ln -s /dev/null null
	run -0 ds-sink --file null < "$T_DATA/one.frames"
	[ -L null ]
	ln -s "$T/victim" db.tch
	run -74 --separate-stderr ds-sink --tc db.tch < "$T_DATA/one.frames"
	[ "$stderr" = "ds-sink: fatal: unable to open db.tch: a symbolic link (not followed)" ]
	rm db.tch
	ln -s "$T/victim" db.tch.wal
	run -74 --separate-stderr ds-sink --tc db.tch < "$T_DATA/one.frames"
	[ "$stderr" = "ds-sink: fatal: unable to open db.tch.wal: a symbolic link (not followed)" ]
	victim_same
	[ ! -e db.tch ]
}

# --- sockets ----------------------------------------------------------

@test "trust: --listen ipc://PATH leaves a file, a link or a directory alone (74); a stale socket is replaced" {
	printf 'mine\n' > f
	touch -d '2001-02-03 04:05:06' f
	run -74 --separate-stderr ds-source --id 1 --listen "ipc://$PWD/f" \
	    --consumers 2 < /dev/null
	[ "$stderr" = "ds-source: fatal: unable to listen at ipc://$PWD/f: not a socket: left alone" ]
	[ "$(cat f)" = mine ]
	[ "$(stat -c %Y f)" = "$(date -d '2001-02-03 04:05:06' +%s)" ]
	ln -s "$T/victim" l
	run -74 ds-op --builtin count --id 2 --listen "ipc://$PWD/l" \
	    --consumers 3 --pull "least:1@ipc://$PWD/nowhere"
	[ -L l ]
	run -74 --separate-stderr ds-router --id 5 --listen "ipc://$PWD/l" \
	    --consumers 3 --dist hash --pull "least:1@ipc://$PWD/nowhere"
	[ "$stderr" = "ds-router: fatal: unable to listen at ipc://$PWD/l: not a socket: left alone" ]
	[ -L l ]
	victim_same
	mkdir dir
	run -74 ds-journal --dir "$T" --listen "ipc://$PWD/dir"
	[ -d dir ]
	# A socket left by a dead process is taken over.
	python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$PWD/stale" ||
	    skip "no python3 to make a socket"
	[ -S stale ]
	mkfifo ready
	ds-source --id 1 --listen "ipc://$PWD/stale" --consumers 2 \
	    --notify-fd 4 < /dev/null 2> src.err 4> ready 3>&- &
	PIDS+=("$!")
	timeout 10 head -c 1 ready > /dev/null
	kill -0 "$!"
	[ -S stale ]
}

@test "trust: under umask 000 every socket and file in RUN and STATE is private; the user's output keeps the umask" {
	cat > "$T/t.topo" <<EOF
[topology]
name = u
keepalive = 2s
run = $T/run
state = $T/state

[node src]
run = ds-source --key-field 1

[node count]
run = ds-op --builtin count
input = src
once.src = exactly

[node out]
run = ds-sink --file $T/out
input = count
EOF
	mkfifo "$T/fifo"
	(umask 000; exec ds-master run "$T/t.topo" < "$T/fifo" \
	    2> "$T/m.log" 3>&-) &
	local master=$!
	PIDS+=("$master")
	exec 7> "$T/fifo"
	printf 'a 1\nb 2\n' >&7
	wait_for "[ -S '$T/run/master' ] && [ -S '$T/run/journal' ] &&
	    [ -S '$T/run/src.0' ] && [ -S '$T/run/count.0' ] &&
	    [ -e '$T/state/journal/state.tch' ] && [ -s '$T/out' ]" 20
	run find "$T/run" "$T/state" -perm /077
	[ -z "$output" ]
	exec 7>&-
	wait_for "! kill -0 $master 2>/dev/null" 30
	local rc=0
	wait "$master" || rc=$?
	[ "$rc" = 0 ] || { cat "$T/m.log" >&2; false; }
	run find "$T/run" "$T/state" -perm /077
	[ -z "$output" ]
	[ -f "$T/state/done" ]
	[ "$(stat -c %a "$T/out")" = 666 ]
}
