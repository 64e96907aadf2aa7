#!/usr/bin/env bats
# t/ds-journal.bats: ds-journal, the durable store of exactly-once
# topologies.  Options and exit codes first; then real journals in the
# test's directory driven by tools/ds-jctl: units written and read back,
# restarts, epochs fenced across restarts, torn tails, corruption, a
# stopped journal holding its lock, checkpoints, group commit under 8
# writers, writer ids refused, and a full disk on a small tmpfs (root
# only): FULL for units and for a group commit bigger than the room left,
# and an exactly-once chain held back until room is made; and a write
# that fails with ENOSPC anyway (an LD_PRELOAD shim).  Journals are
# started with --notify-fd on a fifo, recorded in PIDS and killed in
# teardown (which then unmounts the test's tmpfs, if any); every wait has
# a deadline.

load helper

setup() {
	pids_setup
	D="$PWD/d"
	J="ipc://$PWD/j.sock"
	mkdir -p "$D"
	MNT=
}
teardown() {
	local p
	pids_teardown
	chattr -i "$D" 2>/dev/null || true
	[ -n "$MNT" ] || return 0
	for p in "${PIDS[@]}"; do
		wait_for "! kill -0 $p 2>/dev/null" 10 ||
		    kill -KILL "$p" 2>/dev/null || true
	done
	umount "$MNT" 2>/dev/null || umount -l "$MNT"
}

# Mount a tmpfs of $1 on $PWD/m as the journal directory D (root only).
mount_tmpfs() {
	[ "$(id -u)" -eq 0 ] || skip "needs root to mount a tmpfs"
	mkdir -p m
	mount -t tmpfs -o "size=$1,mode=0700" tmpfs "$PWD/m" 2>/dev/null ||
	    skip "mount -t tmpfs is not permitted here"
	MNT="$PWD/m"
	D="$MNT"
}

# Fill D with a file that leaves $1 bytes free.
fill_to() {
	local free
	free=$(df -B1 --output=avail "$D" | tail -1)
	[ "$free" -gt "$1" ]
	dd if=/dev/zero of="$D/fill" bs=4096 \
	    count=$(( (free - $1) / 4096 )) 2>/dev/null
}
# Start a journal on $D at $J with extra options; wait for readiness.
start_journal() {
	rm -f ready
	mkfifo ready
	ds-journal --dir "$D" --listen "$J" --min-free 0 --notify-fd 4 "$@" \
	    2>>j.log 4>ready 3>&- &
	JP=$!
	PIDS+=("$JP")
	timeout 10 head -c 1 ready >/dev/null
	kill -0 "$JP"
}

# Stop the journal started last and wait until it is gone.
stop_journal() {
	kill "$JP"
	wait_for '! kill -0 '"$JP"' 2>/dev/null' 10
}

jctl() { "$TOP/tools/ds-jctl" "$@"; }

@test "ds-journal: --help matches the SYNOPSIS and exits 0" {
	run -0 ds-journal --help
	[[ ${lines[0]} == "usage: ds-journal "* ]]
	assert_help_matches_synopsis ds-journal ds-journal.1
}

@test "ds-journal: --version exits 0" {
	run -0 ds-journal --version
	[[ $output == *0.* ]]
}

@test "ds-journal: missing --dir or --listen is a usage error (64)" {
	run -64 --separate-stderr ds-journal --listen "$J"
	[[ $stderr == *"--dir is required"* ]]
	[[ $stderr == *"usage: ds-journal "* ]]
	run -64 --separate-stderr ds-journal --dir "$D"
	[[ $stderr == *"--listen is required"* ]]
}

@test "ds-journal: bad numbers, unknown options and operands (64)" {
	run -64 ds-journal --dir "$D" --listen "$J" --min-free 12Q
	run -64 ds-journal --dir "$D" --listen "$J" --sync-every -1
	run -64 ds-journal --dir "$D" --listen "$J" --checkpoint 10
	run -64 ds-journal --dir "$D" --listen "$J" --epoch 0
	run -64 ds-journal --dir "$D" --listen "$J" --lock-wait 1.5
	run -64 ds-journal --dir "$D" --listen "$J" --lock-wait 86401
	run -64 ds-journal --dir "$D" --listen "$J" --bogus
	run -64 ds-journal --dir "$D" --listen "$J" extra
	run -64 --separate-stderr ds-journal --dir "$D" --listen "$J" \
	    --master "ipc://$PWD/m"
	[[ $stderr == *"--master needs --id"* ]]
	run -64 ds-journal --dir "$D" --listen "$J" --notify-fd 9 9>&-
}

@test "ds-journal: --check checks every option and exits 0 without opening DIR, binding or reading a key" {
	export XDG_RUNTIME_DIR="$PWD/xdg"
	run -0 ds-journal --check --dir "$PWD/nope" --listen "$J" --id 7 \
	    --master "ipc://$PWD/m" --writers 1,2 --key "$PWD/nokey"
	[ -z "$output" ]
	[ ! -e "$PWD/nope" ]
	[ ! -e j.sock ]
	[ ! -e xdg ]
	run -64 --separate-stderr ds-journal --check --dir "$D" \
	    --listen "$J" --min-fre 1M
	[[ $stderr == "ds-journal: --min-fre: unknown option"* ]]
	run -64 ds-journal --check --dir "$D" --listen "$J" --writers 1,1
	run -64 ds-journal --check --listen "$J"
}

@test "ds-journal: a missing directory exits 66" {
	run -66 --separate-stderr ds-journal --dir "$PWD/nope" --listen "$J"
	[[ $stderr == *"unable to open directory"*"nope"* ]]
}

@test "ds-journal: an address that cannot be bound exits 69" {
	run -69 --separate-stderr ds-journal --dir "$D" \
	    --listen "ipc://$PWD/no/such/dir/sock"
	[[ $stderr == *"unable to listen"* ]]
}

@test "ds-journal: files that cannot be created exit 73" {
	# Root may write anywhere: an immutable directory stops it.
	chattr +i "$D" 2>/dev/null || skip "chattr +i is not available here"
	run -73 --separate-stderr ds-journal --dir "$D" --listen "$J"
	chattr -i "$D"
	[[ $stderr == *"unable to open $D/state.tch: "* ]]
}

@test "ds-journal: a segment that cannot be read exits 74" {
	mkdir "$D/journal.00000001"
	run -74 --separate-stderr ds-journal --dir "$D" --listen "$J"
	[[ $stderr == *"unable to read"*"journal.00000001"* ]]
}

@test "ds-journal: units are durable, read back, and survive a restart" {
	start_journal
	run -0 jctl write "$J" 7 1 set:a=1 set:b=2 timer:t=100 out:o1 mark:1:5:9
	[ "$output" = "OK epoch=1" ]
	run -0 jctl write "$J" 7 1 set:a=3 del:b out:o2 mark:2:6:10 acked:1
	run -0 jctl write "$J" 7 1 set:pending=x
	run -0 jctl read "$J" 7 1
	[ "$output" = "$(printf 'set a 3\ntimer t 100\nmark 2 outseq=6 aux=10\nacked 1\nout o2')" ]
	stop_journal
	start_journal
	run -0 jctl read "$J" 7 2
	[ "$output" = "$(printf 'set a 3\ntimer t 100\nmark 2 outseq=6 aux=10\nacked 1\nout o2')" ]
	run -0 jctl read "$J" 8 1
	[ "$output" = "" ]
}

@test "ds-journal: -v prints the cost of its group commits at a clean stop" {
	start_journal -v
	run -0 jctl write "$J" 7 1 set:a=1 mark:1
	run -0 jctl write "$J" 7 1 set:a=2 mark:2
	stop_journal
	grep -E '^ds-journal: info: 2 writes, [12] syncs, sync avg [0-9]+ us, max [0-9]+ us' j.log
	grep 'stopped by signal 15' j.log
}

@test "ds-journal: recovery streams in small replies" {
	start_journal
	args=()
	for i in $(seq 1 50); do args+=("set:key$i=value$i"); done
	run -0 jctl write "$J" 3 1 "${args[@]}" mark:1
	run -0 jctl read "$J" 3 1 64
	[ "${#lines[@]}" -eq 51 ]
	[ "${lines[50]}" = "mark 1 outseq=0 aux=0" ]
}

@test "ds-journal: a stale epoch is fenced, counted, and stays fenced after a restart" {
	start_journal
	run -0 jctl write "$J" 5 1 set:a=1 mark:1
	run -0 jctl read "$J" 5 3
	run -1 jctl write "$J" 5 2 set:a=2 mark:2
	[ "$output" = "FENCED epoch=3" ]
	run -1 jctl read "$J" 5 2
	[ "$output" = "FENCED epoch=3" ]
	run -0 jctl stat "$J"
	[[ $output == *"fenced 2"* ]]
	stop_journal
	start_journal
	run -1 jctl write "$J" 5 2 set:a=2 mark:2
	[ "$output" = "FENCED epoch=3" ]
	run -0 jctl write "$J" 5 3 set:a=2 mark:2
}

@test "ds-journal: a malformed unit gets BAD and is not applied" {
	start_journal
	# A JWRITE frame whose count says 1 but carries no record.
	python3 - <<-'EOF'
	import struct
	def crc32c(b, c=0xffffffff):
	    for x in b:
	        c ^= x
	        for _ in range(8):
	            c = (c >> 1) ^ (0x82f63b78 if c & 1 else 0)
	    return c ^ 0xffffffff
	p = struct.pack('<QII', 5, 1, 1)
	h = b'\0DS\x01' + struct.pack('<HHI', 11, 0, len(p))
	open('m', 'wb').write(h + struct.pack('<I', crc32c(h + p)) + p)
	EOF
	run -0 sh -c "jctl() { \"$TOP/tools/ds-jctl\" \"\$@\"; }; jctl raw '$J' < m"
	[ "$output" = "BAD" ]
	run -0 jctl stat "$J"
	[[ $output == *"bad 1"* ]]
	[[ $output == *"writes 0"* ]]
}

@test "ds-journal: random and mangled requests never hurt it" {
	start_journal
	run -0 jctl write "$J" 7 1 set:a=1 mark:1
	python3 - <<-'EOF'
	import random, struct
	def crc32c(b, c=0xffffffff):
	    for x in b:
	        c ^= x
	        for _ in range(8):
	            c = (c >> 1) ^ (0x82f63b78 if c & 1 else 0)
	    return c ^ 0xffffffff
	def frame(t, p):
	    h = b'\0DS\x01' + struct.pack('<HHI', t, 0, len(p))
	    return h + struct.pack('<I', crc32c(h + p)) + p
	r = random.Random(4)
	for i in range(40):
	    k = i % 4
	    if k == 0:
	        m = bytes(r.randrange(256) for _ in range(r.randrange(1, 200)))
	    elif k == 1:
	        m = frame(r.choice([11, 13, 15, 99]), bytes(r.randrange(256) for _ in range(r.randrange(0, 64))))
	    elif k == 2:
	        inner = frame(8, bytes(r.randrange(256) for _ in range(r.randrange(0, 40))))
	        m = frame(11, struct.pack('<QII', 9, 1, 1) + inner)
	    else:
	        m = frame(13, struct.pack('<QIIQ', 9, 1, 0, r.randrange(1, 1 << 40)))
	    open('m%d' % i, 'wb').write(m)
	EOF
	for i in $(seq 0 39); do
		timeout 20 "$TOP/tools/ds-jctl" raw "$J" < m$i >/dev/null 2>&1 || true
	done
	kill -0 "$JP"
	run -0 jctl read "$J" 7 1
	[ "$output" = "$(printf 'set a 1\nmark 1 outseq=0 aux=0')" ]
	run -0 jctl read "$J" 9 1
}

@test "ds-journal: a torn tail is cut with a warning" {
	start_journal
	run -0 jctl write "$J" 7 1 set:a=1 mark:1
	run -0 jctl write "$J" 7 1 set:a=2 mark:2
	stop_journal
	size=$(stat -c %s "$D/journal.00000001")
	truncate -s $((size - 5)) "$D/journal.00000001"
	start_journal
	grep -q "warning: .*journal.00000001: torn tail cut" j.log
	run -0 jctl read "$J" 7 1
	[ "$output" = "$(printf 'set a 1\nmark 1 outseq=0 aux=0')" ]
	run -0 jctl stat "$J"
	[[ $output == *"torn 1"* ]]
}

@test "ds-journal: a corrupt record is refused with 65 naming file and offset" {
	start_journal
	run -0 jctl write "$J" 7 1 set:a=1 mark:1
	run -0 jctl write "$J" 7 1 set:a=2 mark:2
	stop_journal
	# Flip one bit in the first record's payload.
	printf '\001' | dd of="$D/journal.00000001" bs=1 seek=60 conv=notrunc \
	    2>/dev/null
	run -65 --separate-stderr ds-journal --dir "$D" --listen "$J"
	[[ $stderr == *"journal.00000001: offset 32: corrupt record"* ]]
}

@test "ds-journal: a segment of an unknown version exits 76" {
	python3 - "$D/journal.00000001" <<-'EOF'
	import struct, sys
	def crc32c(b, c=0xffffffff):
	    for x in b:
	        c ^= x
	        for _ in range(8):
	            c = (c >> 1) ^ (0x82f63b78 if c & 1 else 0)
	    return c ^ 0xffffffff
	h = b'\0DSJ' + struct.pack('<HHQQI', 2, 0, 1, 0, 0)
	open(sys.argv[1], 'wb').write(h + struct.pack('<I', crc32c(h)))
	EOF
	run -76 --separate-stderr ds-journal --dir "$D" --listen "$J"
	[[ $stderr == *"journal.00000001: offset 0: unsupported segment version"* ]]
}

@test "ds-journal: a missing segment is corruption (65)" {
	start_journal
	run -0 jctl write "$J" 7 1 set:a=1 mark:1
	stop_journal
	cp "$D/journal.00000001" "$D/journal.00000003"
	run -65 --separate-stderr ds-journal --dir "$D" --listen "$J"
	[[ $stderr == *"segment 2 missing before journal.00000003"* ]]
}

@test "ds-journal: a segment cut inside its header is rewritten with a warning" {
	start_journal
	run -0 jctl write "$J" 7 1 set:a=1 mark:1
	stop_journal
	printf '\000DSJ\001' > "$D/journal.00000002"
	start_journal
	grep -q "warning: .*journal.00000002: torn segment header" j.log
	run -0 jctl write "$J" 7 1 set:a=2 mark:2
	stop_journal
	start_journal
	run -0 jctl read "$J" 7 1
	[ "${lines[0]}" = "set a 2" ]
}

@test "ds-journal: a stopped journal keeps DIR locked (69); killed, it frees it" {
	start_journal
	kill -STOP "$JP"
	run -69 --separate-stderr ds-journal --dir "$D" --listen "ipc://$PWD/j2"
	[[ $stderr == *"another ds-journal holds $D"* ]]
	[[ $stderr == *"stopped"* ]]
	kill -KILL "$JP"
	wait_for '! kill -0 '"$JP"' 2>/dev/null' 10
	start_journal
	run -0 jctl stat "$J"
}

@test "ds-journal: --lock-wait waits for a held lock, then recovers and serves" {
	start_journal
	run -0 jctl write "$J" 7 1 set:a=1 mark:1
	old=$JP
	kill -STOP "$old"
	# Readiness goes to a file: a fifo would block the start itself.
	ds-journal --dir "$D" --listen "ipc://$PWD/j2" --min-free 0 \
	    --lock-wait 30 --notify-fd 4 2>j2.log 4>ready2 3>&- &
	JP=$!
	PIDS+=("$JP")
	wait_for "grep -q 'warning: another ds-journal holds $D .*: waiting up to 30 s for it' j2.log" 10
	kill -0 "$JP"
	[ ! -s ready2 ]
	kill -KILL "$old"
	wait_for '[ -s ready2 ]' 10
	run -0 jctl read "ipc://$PWD/j2" 7 1
	[ "${lines[0]}" = "set a 1" ]
	[ "$(grep -c 'waiting up to' j2.log)" -eq 1 ]
}

@test "ds-journal: --lock-wait gives up after SECONDS (69)" {
	start_journal
	kill -STOP "$JP"
	SECONDS=0
	run -69 --separate-stderr ds-journal --dir "$D" \
	    --listen "ipc://$PWD/j2" --lock-wait 1
	t=$SECONDS
	kill -KILL "$JP"
	[ "$t" -ge 1 ] && [ "$t" -lt 10 ]
	[[ $stderr == *"waiting up to 1 s for it"* ]]
	[[ $stderr == *"fatal: another ds-journal holds $D"* ]]
}

@test "ds-journal: checkpoints fold segments into state.tch and recover" {
	start_journal --checkpoint 4096
	for i in $(seq 1 60); do
		jctl write "$J" 7 1 set:k$((i % 7))=v$i timer:t=$i out:o$i \
		    mark:$i acked:$((i - 1)) >/dev/null
	done
	run -0 jctl stat "$J"
	[[ $output != *"checkpoints 0"* ]]
	[ ! -e "$D/journal.00000001" ]
	jctl read "$J" 7 1 | sort > before
	stop_journal
	start_journal --checkpoint 4096
	jctl read "$J" 7 1 | sort > after
	cmp before after
	grep -qx 'set k4 v60' after
	grep -qx 'out o60' after
	run ! grep -qx 'out o59' after
}

@test "ds-journal: --sync-every delays and still commits" {
	start_journal --sync-every 20
	run -0 jctl write "$J" 1 1 set:a=1 mark:1
	[ "$output" = "OK epoch=1" ]
	run -0 jctl read "$J" 1 1
	[ "${lines[0]}" = "set a 1" ]
}

@test "ds-journal: a lost lease exits 75 without answering" {
	run -75 --separate-stderr ds-journal --dir "$D" --listen "$J" \
	    --master "ipc://$PWD/nomaster" --id 5 --keepalive 300
	[[ $stderr == *"lease lost"* ]]
}

@test "ds-journal: SIGKILLed while writing and checkpointing, every acknowledged unit survives" {
	acked=0
	for round in 1 2 3 4 5; do
		start_journal --checkpoint 4096
		(
			n=$acked
			while n=$((n + 1)); do
				"$TOP/tools/ds-jctl" write "$J" 7 1 set:k=$n \
				    out:o$n mark:$n acked:$((n - 1)) >/dev/null ||
				    exit 0
				echo $n > last.tmp && mv last.tmp last
			done
		) 3>&- &
		W=$!
		PIDS+=("$W")
		wait_for '[ -s last ] && [ "$(cat last)" -ge $((acked + 20 + RANDOM % 40)) ]' 20
		kill -KILL "$JP"
		wait_for '! kill -0 '"$W"' 2>/dev/null' 20
		acked=$(cat last)
		start_journal --checkpoint 4096
		run -0 jctl read "$J" 7 1
		m=$(echo "$output" | awk '$1 == "mark" { print $2 }')
		# The unit in flight at the kill may or may not be durable.
		[ "$m" -ge "$acked" ] && [ "$m" -le $((acked + 1)) ]
		[ "${lines[0]}" = "set k $m" ]
		[ "${lines[3]}" = "out o$m" ]
		acked=$m
		echo $acked > last
		stop_journal
	done
	[ "$(ls "$D" | grep -c journal)" -le 2 ]
}

@test "ds-journal: SIGTERM exits 0" {
	start_journal
	kill -TERM "$JP"
	rc=0
	wait "$JP" || rc=$?
	[ "$rc" -eq 0 ]
}

@test "ds-journal: one sync serves several writers (group commit)" {
	start_journal
	run -0 "$TOP/tools/bench/journal" -w 8 -s 1 "$J"
	w=$(echo "$output" | awk '$1 == "journal:" { print $3 }')
	s=$(echo "$output" | awk '$1 == "journal:" { print $5 }')
	[ "$w" -gt 0 ]
	[ "$s" -lt "$w" ]
	[[ $output == *"lost 0"* ]]
}

@test "ds-journal: a full disk gets FULL, a warning, and no damage (tmpfs)" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to mount a tmpfs"
	unshare -m true 2>/dev/null || skip "no private mount namespace (unshare -m)"
	cat > full.sh <<-EOF
	set -e
	mount -t tmpfs -o size=8m,mode=0700 tmpfs "$D"
	ds-journal --dir "$D" --listen "$J" --min-free 2M 2>j.log 3>&- &
	p=\$!
	trap 'kill \$p 2>/dev/null' EXIT
	i=0; until "$TOP/tools/ds-jctl" stat "$J" >/dev/null 2>&1; do
		i=\$((i + 1)); [ \$i -lt 200 ] || exit 9; sleep 0.05; done
	"$TOP/tools/ds-jctl" write "$J" 1 1 set:a=1 mark:1
	free=\$(df -B1 --output=avail "$D" | tail -1)
	dd if=/dev/zero of="$D/fill" bs=1024 count=\$(( (free - 1048576) / 1024 )) 2>/dev/null
	"$TOP/tools/ds-jctl" write "$J" 1 1 set:a=2 mark:2 || echo refused
	"$TOP/tools/ds-jctl" write "$J" 1 1 set:a=3 mark:3 || echo refused
	rm "$D/fill"
	"$TOP/tools/ds-jctl" write "$J" 1 1 set:a=4 mark:4
	"$TOP/tools/ds-jctl" read "$J" 1 1
	"$TOP/tools/ds-jctl" stat "$J" | grep '^full '
	EOF
	run -0 unshare -m sh full.sh
	echo "$output"
	[ "${lines[0]}" = "OK epoch=1" ]
	[ "${lines[1]}" = "FULL" ]
	[ "${lines[2]}" = "refused" ]
	[ "${lines[3]}" = "FULL" ]
	[ "${lines[5]}" = "OK epoch=1" ]
	[ "${lines[6]}" = "set a 4" ]
	[ "${lines[8]}" = "full 2" ]
	[ "$(grep -c 'refusing writes' j.log)" -eq 1 ]
	grep -q 'accepting writes again' j.log
}

@test "ds-journal: one group commit bigger than the room left gets FULL for what does not fit; no ENOSPC death (tmpfs)" {
	mount_tmpfs 4m
	start_journal --min-free 64K
	run -0 jctl write "$J" 1 1 set:a=1 mark:1
	# 64K over --min-free and 300K free in all: 8 units of 64K in one
	# request, each alone fits, together they do not.
	fill_to $((64 * 1024 + 300 * 1024))
	run -1 jctl group "$J" 2 1 8 65536
	echo "$output"
	[ "${#lines[@]}" -eq 8 ]
	nok=$(grep -c '^OK' <<< "$output")
	[ "$nok" -ge 1 ] && [ "$nok" -lt 8 ]
	# In order: the OKs, then only FULLs.
	[ "$(printf 'OK epoch=1\n%.0s' $(seq "$nok"); printf 'FULL\n%.0s' $(seq $((8 - nok))))" = "$output" ]
	kill -0 "$JP"
	run -0 jctl stat "$J"
	grep -qx "full $((8 - nok))" <<< "$output"
	run -0 jctl read "$J" 2 1
	[ "$(grep -c '^set k' <<< "$output")" -eq "$nok" ]
	[[ ${lines[-1]} == "mark $nok outseq=0 aux=0" ]]
	# Room made: the same request goes through whole.
	rm "$D/fill"
	run -0 jctl group "$J" 2 1 8 65536
	[ "$(grep -c '^OK' <<< "$output")" -eq 8 ]
	stop_journal
	grep -q 'refusing writes' j.log
	run ! grep -q 'fatal' j.log
}

@test "ds-journal: with --writers only those writers are served; others get BAD, are counted and add no writer" {
	start_journal --writers 7,5
	run -0 jctl write "$J" 7 1 set:a=1 mark:1
	run -0 jctl write "$J" 5 1 set:b=1 mark:1
	run -1 jctl write "$J" 9 1 set:c=1 mark:1
	[ "$output" = "BAD" ]
	for w in $(seq 100 150); do
		run -1 jctl write "$J" "$w" 1 set:c=1 mark:1
	done
	run -69 jctl read "$J" 9 1
	run -0 jctl stat "$J"
	grep -qx 'writers 2' <<< "$output"
	grep -qx 'unknown 53' <<< "$output"
	grep -qx 'bad 0' <<< "$output"
	grep -qx 'writes 2' <<< "$output"
	run -0 jctl read "$J" 7 1
	[ "$output" = "$(printf 'set a 1\nmark 1 outseq=0 aux=0')" ]
	# Logged at the 1st, 2nd, 4th ... 32nd refusal only.
	[ "$(grep -c 'refused a request of writer' j.log)" -eq 6 ]
	grep -q 'refused a request of writer 9: not one of --writers (1 refused so far)' j.log
}

@test "ds-journal: without --writers at most --max-writers writers; bad --writers and --max-writers with --writers are usage errors (64)" {
	start_journal --max-writers 2
	run -0 jctl write "$J" 1 1 set:a=1 mark:1
	run -0 jctl write "$J" 2 1 set:a=1 mark:1
	run -1 jctl write "$J" 3 1 set:a=1 mark:1
	[ "$output" = "BAD" ]
	run -0 jctl write "$J" 1 1 set:a=2 mark:2
	run -0 jctl stat "$J"
	grep -qx 'writers 2' <<< "$output"
	grep -qx 'unknown 1' <<< "$output"
	grep -q 'writer 3: --max-writers reached' j.log
	run -64 --separate-stderr ds-journal --dir "$D" --listen "$J" \
	    --writers 1 --max-writers 3
	[[ $stderr == *"--max-writers is for a journal without --writers"* ]]
	run -64 --separate-stderr ds-journal --dir "$D" --listen "$J" \
	    --writers 1,0
	[[ $stderr == *"--writers: bad ids '1,0'"* ]]
	run -64 ds-journal --dir "$D" --listen "$J" --writers 1,1
	run -64 ds-journal --dir "$D" --listen "$J" --max-writers 0
}

@test "ds-journal: an exactly-once chain on a full journal gets FULL, holds its input, and completes once room is made (tmpfs)" {
	mount_tmpfs 4m
	awk 'BEGIN { for (i = 1; i <= 4000; i++)
	    printf "user-%03d %d\n", i % 97, i }' > in
	ds-source --file in --key-field 1 | ds-op --builtin count |
	    ds-sink > want
	start_journal --min-free 64K
	fill_to $((64 * 1024 + 32 * 1024))
	local x=(--once exactly --journal "$J" --epoch 1) p n
	ds-source --file in --key-field 1 --id 1 --listen "ipc://$PWD/src" \
	    --consumers 2 "${x[@]}" 2> src.err 3>&- &
	p[1]=$!
	ds-op --builtin count --id 2 --listen "ipc://$PWD/op" --consumers 3 \
	    --pull "exactly:1@ipc://$PWD/src" "${x[@]}" 2> op.err 3>&- &
	p[2]=$!
	ds-sink --id 3 --pull "exactly:2@ipc://$PWD/op" --file got "${x[@]}" \
	    2> sink.err 3>&- &
	p[3]=$!
	PIDS+=("${p[@]}")
	wait_for "jctl stat '$J' | grep -qx 'refusing 1'" 30
	wait_for "grep -q 'short of disk space' src.err op.err sink.err" 10
	run -0 jctl stat "$J"
	[ "$(awk '$1 == "full" { print $2 }' <<< "$output")" -gt 0 ]
	kill -0 "$JP" "${p[@]}"
	rm "$D/fill"
	for n in 1 2 3; do
		wait_for "! kill -0 ${p[$n]} 2>/dev/null" 60
		wait "${p[$n]}"
	done
	cmp got want
	grep -q 'accepting writes again' j.log
	run ! grep -q 'fatal' j.log src.err op.err sink.err
}

@test "ds-journal: an exactly-once instance whose id is not in --writers cannot recover (69)" {
	start_journal --writers 5
	seq 1 10 > in
	run -69 --separate-stderr ds-source --file in --id 1 \
	    --listen "ipc://$PWD/src" --consumers 2 --once exactly --journal "$J"
	[[ $stderr == *"unable to recover from the journal at $J: refused, or a malformed answer (is this id one of its writers?)"* ]]
	run -0 jctl stat "$J"
	grep -qx 'unknown 1' <<< "$output"
	grep -qx 'writers 0' <<< "$output"
}

@test "ds-journal: a group commit whose write fails with ENOSPC anyway is answered FULL, undone whole, and the journal goes on" {
	# An LD_PRELOAD shim: while the file $ENOSPC_FLAG exists, a write
	# to a segment writes half, then fails with ENOSPC.
	cc -std=c11 -Wall -Werror -fPIC -shared -o enospc.so -x c - -ldl <<-'C'
	#define _GNU_SOURCE
	#include <dlfcn.h>
	#include <errno.h>
	#include <stdio.h>
	#include <stdlib.h>
	#include <string.h>
	#include <unistd.h>
	ssize_t
	write(int fd, const void *p, size_t n)
	{
		static ssize_t (*real)(int, const void *, size_t);
		static int half;
		const char *flag = getenv("ENOSPC_FLAG");
		char link[64], path[4096];
		ssize_t k;

		if (real == NULL)
			real = (ssize_t (*)(int, const void *, size_t))
			    dlsym(RTLD_NEXT, "write");
		if (flag == NULL || access(flag, F_OK) != 0)
			return real(fd, p, n);
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		if ((k = readlink(link, path, sizeof(path) - 1)) <= 0)
			return real(fd, p, n);
		path[k] = '\0';
		if (strstr(path, "/journal.") == NULL)
			return real(fd, p, n);
		if (!half && n > 1) {
			half = 1;
			return real(fd, p, n / 2);
		}
		errno = ENOSPC;
		return -1;
	}
	C
	ENOSPC_FLAG="$PWD/flag" LD_PRELOAD="$PWD/enospc.so" start_journal
	run -0 jctl write "$J" 1 1 set:a=1 mark:1
	size=$(stat -c %s "$D/journal.00000001")
	touch flag
	run -1 jctl group "$J" 1 1 3 1000
	[ "$output" = "$(printf 'FULL\nFULL\nFULL')" ]
	kill -0 "$JP"
	[ "$(stat -c %s "$D/journal.00000001")" -eq "$size" ]
	run -0 jctl stat "$J"
	grep -qx 'writes 1' <<< "$output"
	grep -qx 'full 3' <<< "$output"
	rm flag
	run -0 jctl read "$J" 1 1
	[ "$output" = "$(printf 'set a 1\nmark 1 outseq=0 aux=0')" ]
	run -0 jctl group "$J" 1 1 3 1000
	run -0 jctl read "$J" 1 1
	[ "$(grep -c '^set k' <<< "$output")" -eq 3 ]
	stop_journal
	grep -q 'No space left on device: .* queued bytes refused, none applied: answering them FULL' j.log
	start_journal
	run -0 jctl read "$J" 1 2
	[ "$(grep -c '^set k' <<< "$output")" -eq 3 ]
	run ! grep -q 'torn' j.log
}
