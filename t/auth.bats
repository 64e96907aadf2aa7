#!/usr/bin/env bats
# auth.bats: every message between a job's processes carries the job
# key's MAC (ds-wire(5), AUTHENTICATION).  A stranger with another key
# (tools/ds-poke, tools/ds-jctl with DS_KEY_FILE) gets no tuple and no
# state from a producer, a router, ds-master or ds-journal, cannot ack,
# fence or stop anything, cannot write to the journal; the job finishes
# with the exact result and each attempt is counted.  Key files: the
# per-user default, --key checks, ds-master's fresh RUN/key.

load helper
load job

setup() {
	pids_setup
	T=$BATS_TEST_TMPDIR
	head -c 32 /dev/urandom > "$T/stranger.key"
	chmod 600 "$T/stranger.key"
	export DS_CALL_TIMEOUT=1
}

stranger() {	# run a tool as a stranger: another key
	DS_KEY_FILE="$T/stranger.key" "$@"
}

@test "auth: a stranger without the job key gets nothing from any process of an exactly-once job, changes nothing, and is counted" {
	mkfifo "$T/fifo"
	wordcount "$T/fifo" exactly
	start_master "$T/wc.topo"
	exec 7> "$T/fifo"
	printf 'a\nb\na\n' >&7
	R=$T/run
	wait_for "ds-master status '$T/wc.topo' 2>/dev/null | grep -q '^out.0 .*state=running .* in=[1-9]'" 30
	# ids: words.0 65536, count.I 131072+I, out.0 196608, the router of
	# edge 0 (words -> count) 2^40 + 1, the journal 2^41.
	[ "$(stat -c %a "$R/key")" = 600 ]
	# The control run: with the job key a pull of an unknown consumer
	# is answered (UNKNOWN, no data), so a silence below is the MAC's.
	run -0 env DS_KEY_FILE="$R/key" ds-poke pull "ipc://$R/words.0" 999 1
	[ "${lines[0]}" = UNKNOWN ]
	# A producer: no tuple, no ack, no fence (epoch 2^32-1).
	run -69 stranger ds-poke pull "ipc://$R/words.0" 1099511627777 1 65536:0:0:1
	[[ $output == *"timed out"* ]]
	run -69 stranger ds-poke pull "ipc://$R/words.0" 1099511627777 4294967295 65536:0:1000000:1
	# A consumer's peer (the router the count instances pull from).
	run -69 stranger ds-poke pull "ipc://$R/words-count" 131072 4294967295 65536:0:1000000:1
	# ds-master: no beat with a high epoch, no stop.
	run -69 stranger ds-poke beat "ipc://$R/master" 131072 4294967295
	run -69 stranger ds-poke ctl "ipc://$R/master" stop
	# ds-journal: no state read, no write under a high epoch.
	run -69 stranger ds-jctl read "ipc://$R/journal" 131072 4294967295
	run -69 stranger ds-jctl write "ipc://$R/journal" 131072 4294967295 set:a=999 mark:1
	run -69 stranger ds-jctl stat "ipc://$R/journal"
	# Each attempt was counted where it landed.
	run -0 env DS_KEY_FILE="$R/key" ds-jctl stat "ipc://$R/journal"
	[[ $output == *$'\nrefused 3'* ]]
	wait_for "ds-master status '$T/wc.topo' | grep -q '^words.0 .* refused=2\$'" 10
	run -0 ds-master status "$T/wc.topo"
	[[ ${lines[0]} == "job wc $T/wc.topo running once=exactly instances=6 done=0 refused=2" ]]
	[[ $output == *$'\nwords-count pid='*' refused=1'* ]]
	# The job goes on and ends with the exact counts.
	printf 'b\nc\n' >&7
	exec 7>&-
	expect_exit 0 60
	sort "$T/counts.txt" > "$T/got"
	printf '%s\t%s\n' a 1 a 2 b 1 b 2 c 1 | sort > "$T/want"
	diff "$T/want" "$T/got"
}

@test "auth: a standalone producer answers only holders of the per-user key; the key is made private" {
	export XDG_RUNTIME_DIR="$T/xdg"
	mkdir -m 700 "$XDG_RUNTIME_DIR"
	seq 5 > in
	ds-source --id 1 --file in --listen "ipc://$T/s" --consumers 2 &
	PIDS+=($!)
	wait_for "[ -S '$T/s' ]" 10
	[ "$(stat -c %a "$XDG_RUNTIME_DIR/dstream")" = 700 ]
	[ "$(stat -c %a "$XDG_RUNTIME_DIR/dstream/key")" = 600 ]
	[ "$(stat -c %s "$XDG_RUNTIME_DIR/dstream/key")" = 32 ]
	run -69 stranger ds-poke pull "ipc://$T/s" 2 1 1:0:0:0
	run -0 ds-poke pull "ipc://$T/s" 2 1 1:0:0:0
	[ "${lines[0]}" = OK ]
	[ "${lines[1]}" = "tuples 5" ]
	# The real consumer gets everything.
	run -0 ds-sink --id 2 --pull "least:1@ipc://$T/s"
	[ "$output" = "$(seq 5 | sed 's/^/\t/')" ]
}

@test "auth: --key must be a private 32-byte file of ours: 66 when missing, 74 otherwise, nothing read through a link" {
	run -66 --separate-stderr ds-sink --id 2 --pull "least:1@ipc://$T/s" --key "$T/none"
	[[ $stderr == *"key $T/none: "* ]]
	head -c 32 /dev/urandom > "$T/k"
	chmod 644 "$T/k"
	run -74 --separate-stderr ds-sink --id 2 --pull "least:1@ipc://$T/s" --key "$T/k"
	[[ $stderr == *"readable or writable by group or others"* ]]
	chmod 600 "$T/k"
	ln -s "$T/k" "$T/link"
	run -74 --separate-stderr ds-sink --id 2 --pull "least:1@ipc://$T/s" --key "$T/link"
	[[ $stderr == *"a symbolic link"* ]]
	head -c 31 /dev/urandom > "$T/short"
	chmod 600 "$T/short"
	run -74 --separate-stderr ds-sink --id 2 --pull "least:1@ipc://$T/s" --key "$T/short"
	[[ $stderr == *"not 32 bytes"* ]]
	mkdir -m 777 "$T/open"
	cp "$T/k" "$T/open/k"
	run -74 --separate-stderr ds-journal --dir "$T" --listen "ipc://$T/j" --key "$T/open/k"
	[[ $stderr == *"writable by group or others"* ]]
	chown nobody "$T/k"
	run -74 --separate-stderr ds-router --id 5 --dist hash --listen "ipc://$T/r" --consumers 2 --pull "least:1@ipc://$T/s" --key "$T/k"
	[[ $stderr == *"owned by another user"* ]]
}

@test "auth: every run of ds-master makes a new key; a process of the last run cannot talk to the new one" {
	mkfifo "$T/fifo"
	wordcount "$T/fifo" least
	start_master "$T/wc.topo"
	exec 7> "$T/fifo"
	wait_for "ds-master status '$T/wc.topo' > /dev/null 2>&1" 20
	cp "$T/run/key" "$T/old.key"
	exec 7>&-
	expect_exit 0 60
	# The key goes with the run that made it.
	[ ! -e "$T/run/key" ]
	rm -f "$T/state/done"
	start_master "$T/wc.topo"
	exec 7> "$T/fifo"
	wait_for "ds-master status '$T/wc.topo' > /dev/null 2>&1" 20
	run ! cmp -s "$T/old.key" "$T/run/key"
	run -69 env DS_KEY_FILE="$T/old.key" ds-poke beat "ipc://$T/run/master" 65536 1
	run -0 env DS_KEY_FILE="$T/run/key" ds-poke beat "ipc://$T/run/master" 65536 1
	exec 7>&-
	expect_exit 0 60
}

@test "auth: a socket outside a private directory works, its replies covered whole" {
	mkdir -m 1777 "$T/shared"
	seq 5 > in
	ds-source --id 1 --file in --listen "ipc://$T/shared/s" --consumers 2 &
	PIDS+=($!)
	wait_for "[ -S '$T/shared/s' ]" 10
	run -69 stranger ds-poke pull "ipc://$T/shared/s" 2 1 1:0:0:0
	run -0 ds-sink --id 2 --pull "least:1@ipc://$T/shared/s"
	[ "$output" = "$(seq 5 | sed 's/^/\t/')" ]
}
