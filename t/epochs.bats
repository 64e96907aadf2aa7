#!/usr/bin/env bats
# epochs.bats: epochs are the master's (ds-wire(5), Fencing).  A peer
# that holds the job key (tools/ds-poke, tools/ds-jctl with
# DS_KEY_FILE=RUN/key) and names a real consumer or writer with epoch
# 2^32-1 is not believed: the server asks ds-master ("epoch ID"), which
# runs a lower epoch, so nothing is fenced, the job ends exact and the
# attempt is counted (fenced= in ds-master status).  A real restart
# (epoch 2) is believed and fences epoch 1.

load helper
load job

setup() {
	pids_setup
	T=$BATS_TEST_TMPDIR
	R=$T/run
	export DS_CALL_TIMEOUT=3
}

peer() {	# run a tool with the job key
	DS_KEY_FILE="$R/key" "$@"
}

start_job() {	# $1 once
	mkfifo "$T/fifo"
	wordcount "$T/fifo" "$1"
	start_master "$T/wc.topo"
	exec 7> "$T/fifo"
	printf 'a\nb\na\n' >&7
	wait_for "ds-master status '$T/wc.topo' 2>/dev/null | grep -q '^out.0 .*state=running .* in=[1-9]'" 30
}

end_job() {
	printf 'b\nc\n' >&7
	exec 7>&-
	expect_exit 0 60
	sort "$T/counts.txt" > "$T/got"
	printf '%s\t%s\n' a 1 a 2 b 1 b 2 c 1 | sort > "$T/want"
	diff "$T/want" "$T/got"
}

@test "epochs: ds-master answers 'epoch ID': the current epoch, 0 for an id not in the topology" {
	start_job exactly
	run -0 peer ds-poke ctl "ipc://$R/master" "epoch 131072"
	[ "$output" = "131072 1" ]
	run -0 peer ds-poke ctl "ipc://$R/master" "epoch 2199023255552"
	[ "$output" = "2199023255552 1" ]
	run -0 peer ds-poke ctl "ipc://$R/master" "epoch 999"
	[ "$output" = "999 0" ]
	run -0 peer ds-poke ctl "ipc://$R/master" "epoch x"
	[[ $output == error:* ]]
	end_job
}

@test "epochs: a pull naming a real consumer with epoch 2^32-1 is not believed; nothing is fenced, the job ends exact, the attempt is counted" {
	start_job exactly
	# The router of edge 0 pulls words.0; count.0 pulls the router.
	run -69 peer ds-poke pull "ipc://$R/words.0" 1099511627777 4294967295 65536:0:1000000:4294967295
	run -69 peer ds-poke pull "ipc://$R/words-count" 131072 4294967295 65536:0:1000000:1
	grep -q 'ignored a pull of consumer 1099511627777 epoch 4294967295' "$T/m.log"
	wait_for "ds-master status '$T/wc.topo' | grep -q '^words.0 .* fenced=1 '" 10
	wait_for "ds-master status '$T/wc.topo' | grep -q '^words-count .* fenced=1 '" 10
	# The real consumers still pull at their epoch: no restart.
	run -0 ds-master status "$T/wc.topo"
	[[ $output != *restarts=[1-9]* ]]
	end_job
	run -1 grep 'fenced by' "$T/m.log"
}

@test "epochs: a journal write or read under a writer epoch the master does not run is not applied; the job ends exact" {
	start_job exactly
	run -69 peer env DS_CALL_TIMEOUT=1 ds-jctl write "ipc://$R/journal" 131072 4294967295 set:a=999 mark:1
	run -69 peer env DS_CALL_TIMEOUT=1 ds-jctl read "ipc://$R/journal" 131072 4294967295
	grep -q 'ignored a request of writer 131072 epoch 4294967295' "$T/m.log"
	wait_for "ds-master status '$T/wc.topo' | grep -q '^journal .* fenced=2 '" 10
	# The journal's own count of fenced requests did not move either.
	run -0 peer ds-jctl stat "ipc://$R/journal"
	[[ $output == *$'\nfenced 0\n'* ]]
	end_job
	run -1 grep 'fenced' "$T/m.log"
}

@test "epochs: a real restart is believed (epoch 2) and fences epoch 1" {
	start_job exactly
	pid=$(ds-master status "$T/wc.topo" | sed -n 's/^count\.0 pid=\([0-9]*\) .*/\1/p')
	[ -n "$pid" ]
	kill -9 "$pid"
	wait_for "ds-master status '$T/wc.topo' | grep -q '^count\.0 .* epoch=2 state=running'" 30
	run -0 peer ds-poke ctl "ipc://$R/master" "epoch 131072"
	[ "$output" = "131072 2" ]
	# Once epoch 2 pulled the router, epoch 1 is fenced there.
	wait_for "peer ds-poke pull 'ipc://$R/words-count' 131072 1 | grep -q '^FENCED'" 30
	end_job
}
