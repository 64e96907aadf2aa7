#!/usr/bin/env bats
# t/ds-source.bats: ds-source, lines in and frames out.  Frames are read
# back with ds-sink (whose own tests check it against golden frames) or
# with a few lines of Python that walk the frame headers.  Every option,
# every exit status; processes started in the background are recorded in
# PIDS and killed in teardown.

load helper

setup() { pids_setup; }
teardown() { pids_teardown; }

# Tuple count of each bundle in frame file $1, space-separated, then
# "end COUNT LAST" if the last frame is an END, else "no END".
bundle_counts() {
	python3 - "$1" <<'EOF'
import struct, sys
d = open(sys.argv[1], "rb").read()
i, out, end = 0, [], "no END"
while i < len(d):
    t, n = struct.unpack_from("<H2xI", d, i + 4)
    end = "no END"
    if t == 18:
        end = "end %d %d" % struct.unpack_from("<QQ", d, i + 16 + 12)
    else:
        out.append(str(struct.unpack_from("<I", d, i + 16 + 12)[0]))
    i += 16 + n
print(" ".join(out + [end]))
EOF
}

# Bytes read(2) so far by process $1.
rchar() {
	awk '$1 == "rchar:" { print $2 }' "/proc/$1/io"
}

# Start ds-source "$@" in the background reading the fifo "in" (fd 7 is
# its writer) and writing "frames"; wait until it is ready.  Sets SRC.
start_on_fifo() {
	mkfifo in
	ds-source --notify-fd 5 "$@" < in > frames 5> ready 3>&- &
	SRC=$!
	PIDS+=("$SRC")
	exec 7> in
	wait_for '[ "$(cat ready)" = "" ] && [ -s ready ]' 10
}

@test "ds-source: --help usage equals the SYNOPSIS of ds-source(1)" {
	assert_help_matches_synopsis ds-source ds-source.1
}

@test "ds-source: --help prints the options and exits 0" {
	run -0 --separate-stderr ds-source --help
	[[ ${lines[0]} == "usage: ds-source [-qv] "* ]]
	[[ $output == *"--time-format=FORMAT"* ]]
	[ -z "$stderr" ]
}

@test "ds-source: --version prints the name and version" {
	run -0 --separate-stderr ds-source --version
	[[ $output =~ ^ds-source\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
}

@test "ds-source: an unknown option is a usage error (64)" {
	run -64 --separate-stderr ds-source --no-such-option
	[[ $stderr == *"--no-such-option"* ]]
	[[ $stderr == *"usage: ds-source "* ]]
	[ -z "$output" ]
}

@test "ds-source: an operand is a usage error (64)" {
	run -64 --separate-stderr ds-source somefile
	[[ $stderr == "ds-source: unexpected operand 'somefile'"* ]]
}

@test "ds-source: --check checks every option, topology ones too, and exits 0 without opening, binding or making a key" {
	export XDG_RUNTIME_DIR="$PWD/xdg"
	run -0 ds-source --check --file nowhere --key-field 1 --bundle 8 \
	    --id 65536 --name src.0 --listen "ipc://$PWD/sock" \
	    --consumers 131072 --master "ipc://$PWD/m" --state "$PWD"
	[ -z "$output" ]
	[ ! -e sock ]
	[ ! -e xdg ]
	run -64 --separate-stderr ds-source --check --key-feld 1
	[[ $stderr == "ds-source: --key-feld: unknown option"* ]]
	run -64 ds-source --check --bundle 0
	run -64 ds-source --check --time-format epoch
	run -64 --separate-stderr ds-source --check --id 65536 \
	    --master "ipc://$PWD/m"
	[[ $stderr == "ds-source: topology mode needs --listen"* ]]
	run -64 ds-source --check --listen "ipc://$PWD/sock" \
	    --consumers 2 --id 1 --once exactly
	[ ! -e xdg ]
}

@test "ds-source: round trip through ds-sink gives key TAB line for each line" {
	awk 'BEGIN {
		for (i = 1; i <= 3000; i++)
			printf "%sk%d\tv %d x%c\n", (i % 3 ? "" : "  "), i % 17, i, 200
		print ""; print "   "; print "\t\tlast"
	}' > in
	awk '{ print $1 "\t" $0 }' in > want
	ds-source --key-field 1 < in | ds-sink > got
	run -0 cmp want got
}

@test "ds-source: without --key-field every key is empty" {
	printf 'a b\nc d\n' | ds-source | ds-sink > got
	run -0 cat got
	[ "$output" = "$(printf '\ta b\n\tc d')" ]
}

@test "ds-source: a last line without a newline is a tuple" {
	printf 'one\ntwo' | ds-source | ds-sink --format '%s %p' > got
	run -0 cat got
	[ "$output" = "$(printf '1 one\n2 two')" ]
}

@test "ds-source: empty input gives an empty stream (the END alone) and exits 0" {
	ds-source < /dev/null > frames 2> err
	run -0 cmp frames "$T_DATA/empty.frames"
	[ ! -s err ]
}

@test "ds-source: the stream ends with an END: the lines read and the last seq" {
	seq 1 150 > in
	ds-source --file in > frames
	run -0 bundle_counts frames
	[ "$output" = "64 64 22 end 150 150" ]
	run -0 ds-sink --format %s < frames
	[ "${lines[149]}" = 150 ]
}

@test "ds-source: bytes pass as they are (NUL, CR, 8-bit)" {
	printf 'a\0b\r\n\377\376\n\n' > in
	ds-source < in | ds-sink --format '%p' > got
	run -0 cmp in got
}

@test "ds-source: seq is the line number, producer 0, epoch 0" {
	seq 1 1000 | sed 's/^/line /' > in
	ds-source --bundle 7 < in | ds-sink --format '%s %i %P %e' > got
	seq 1 1000 | awk '{ print $1, "0:" $1, 0, 0 }' > want
	run -0 cmp want got
}

@test "ds-source: ids are the same in every run (deterministic)" {
	seq 1 5000 > in
	ds-source --file in --bundle 3 | ds-sink --format '%i %k %p' > a
	ds-source --bundle 500 < in | ds-sink --format '%i %k %p' > b
	run -0 cmp a b
}

@test "ds-source: --key-field splits on runs of blanks, like awk" {
	printf '  a \t b c\nx\n\n   \none two\n' > in
	ds-source --key-field 2 < in | ds-sink --format '[%k]' > got
	run -0 cat got
	[ "$output" = "$(printf '[b]\n[]\n[]\n[]\n[two]')" ]
}

@test "ds-source: --key-field 0 means no key" {
	printf 'a b\n' | ds-source --key-field 0 | ds-sink --format '[%k]' > got
	run -0 cat got
	[ "$output" = "[]" ]
}

@test "ds-source: --key-field must be a number (64)" {
	run -64 --separate-stderr ds-source --key-field x
	[[ $stderr == *"--key-field: not a number: 'x'"* ]]
}

@test "ds-source: --delimiter separates every occurrence, empty fields count" {
	printf 'a,,c\n,b\nx\n  y ,z\n' > in
	ds-source --delimiter , --key-field 2 < in | ds-sink --format '[%k]' > got
	run -0 cat got
	[ "$output" = "$(printf '[]\n[b]\n[]\n[z]')" ]
	ds-source --delimiter , --key-field 1 < in | ds-sink --format '[%k]' > got
	run -0 cat got
	[ "$output" = "$(printf '[a]\n[]\n[x]\n[  y ]')" ]
}

@test "ds-source: --delimiter '\\t' is a tab" {
	printf 'a b\tc d\n' | ds-source --delimiter '\t' --key-field 2 |
	    ds-sink --format '[%k]' > got
	run -0 cat got
	[ "$output" = "[c d]" ]
}

@test "ds-source: --delimiter must be exactly one byte (64)" {
	run -64 --separate-stderr ds-source --delimiter ab
	[[ $stderr == *"--delimiter: not one byte: 'ab'"* ]]
	run -64 --separate-stderr ds-source --delimiter ''
	[[ $stderr == *"--delimiter: not one byte"* ]]
}

@test "ds-source: --bundle N puts N tuples in a bundle" {
	seq 1 25 > in
	ds-source --bundle 10 --file in > frames
	run -0 bundle_counts frames
	[ "$output" = "10 10 5 end 25 25" ]
	ds-source --bundle 1 --file in > frames
	run -0 bundle_counts frames
	[ "$output" = "$(printf '1 %.0s' $(seq 25))end 25 25" ]
}

@test "ds-source: the default bundle is 64 tuples" {
	seq 1 200 > in
	ds-source --file in > frames
	run -0 bundle_counts frames
	[ "$output" = "64 64 64 8 end 200 200" ]
}

@test "ds-source: a bundle also closes at about 1 MiB" {
	python3 -c 'print(("x" * 100000 + "\n") * 25, end="")' > in
	ds-source --file in --bundle 64 > frames
	run -0 bundle_counts frames
	[ "$output" = "10 10 5 end 25 25" ]
}

@test "ds-source: --bundle out of 1..65536 is a usage error (64)" {
	run -64 --separate-stderr ds-source --bundle 0
	[[ $stderr == *"--bundle: 0 out of range 1..65536"* ]]
	run -64 --separate-stderr ds-source --bundle 65537
	[[ $stderr == *"--bundle: 65537 out of range"* ]]
}

@test "ds-source: --file reads the file" {
	printf 'x 1\ny 2\n' > in
	ds-source --file in --key-field 1 | ds-sink > got
	run -0 cat got
	[ "$output" = "$(printf 'x\tx 1\ny\ty 2')" ]
}

@test "ds-source: a missing --file exits 66 naming it" {
	run -66 --separate-stderr ds-source --file "$BATS_TEST_TMPDIR/nope"
	[ "$stderr" = "ds-source: fatal: unable to open $BATS_TEST_TMPDIR/nope: No such file or directory" ]
	[ -z "$output" ]
}

@test "ds-source: a directory as --file exits 66" {
	run -66 --separate-stderr ds-source --file "$BATS_TEST_TMPDIR"
	[ "$stderr" = "ds-source: fatal: unable to open $BATS_TEST_TMPDIR: Is a directory" ]
}

@test "ds-source: a read error exits 74" {
	run -74 --separate-stderr ds-source --file /proc/self/mem
	[ "$stderr" = "ds-source: fatal: unable to read /proc/self/mem: Input/output error" ]
	run -74 --separate-stderr ds-source < /
	[ "$stderr" = "ds-source: fatal: unable to read stdin: Is a directory" ]
}

@test "ds-source: a full disk on stdout exits 74" {
	seq 1 10 > in
	run -74 --separate-stderr bash -c 'ds-source --file in > /dev/full'
	[ "$stderr" = "ds-source: fatal: unable to write stdout: No space left on device" ]
}

@test "ds-source: a closed stdout (EPIPE) exits 74 with one line" {
	seq 1 400000 > in
	run -0 bash -c 'ds-source --file in 2> err | head -c 10 > /dev/null
	    echo "${PIPESTATUS[0]}"'
	[ "$output" = 74 ]
	run -0 cat err
	[ "$output" = "ds-source: fatal: unable to write stdout: Broken pipe" ]
}

@test "ds-source: --max-tuple refuses a longer line with 65, after the lines before it" {
	printf 'short\n%s\nnext\n' "$(printf 'x%.0s' $(seq 200))" > in
	ds-source --max-tuple 100 < in > frames 2> err && rc=0 || rc=$?
	[ "$rc" = 65 ]
	run -0 cat err
	[ "$output" = "ds-source: fatal: line 2: tuple of 200 bytes over --max-tuple 100" ]
	# ... and no END: the reader sees the stream cut.
	run -65 --separate-stderr ds-sink --format '%p' < frames
	[ "$output" = short ]
	[[ $stderr == "ds-sink: fatal: stdin: stream cut: end of input without an END frame at offset "*", after 1 tuple (last seq 1)" ]]
}

@test "ds-source: --max-tuple counts the key and the line" {
	printf 'abc def\n' > in
	run -65 --separate-stderr ds-source --key-field 1 --max-tuple 9 < in
	[ "$stderr" = "ds-source: fatal: line 1: tuple of 10 bytes over --max-tuple 9" ]
	run -0 --separate-stderr ds-source --key-field 1 --max-tuple 10 < in
}

@test "ds-source: --max-tuple accepts K, M and G suffixes" {
	awk 'BEGIN { s = sprintf("%2000s", ""); print s }' > in
	run -65 --separate-stderr ds-source --max-tuple 1K < in
	[[ $stderr == *"over --max-tuple 1024" ]]
	ds-source --max-tuple 2K < in | ds-sink --format '%p' > got
	run -0 cmp in got
}

@test "ds-source: a line without end is refused without buffering it whole" {
	# 8 MiB and no newline: refused once more than --max-tuple is seen.
	run -65 --separate-stderr bash -c \
	    'head -c 8388608 /dev/zero | tr "\0" x | ds-source --max-tuple 1K'
	[[ $stderr =~ ^ds-source:\ fatal:\ line\ 1:\ tuple\ of\ at\ least\ [0-9]+\ bytes\ over\ --max-tuple\ 1024$ ]]
}

@test "ds-source: --max-tuple out of range is a usage error (64)" {
	run -64 --separate-stderr ds-source --max-tuple 0
	[[ $stderr == *"--max-tuple: 0 out of range"* ]]
	run -64 --separate-stderr ds-source --max-tuple 64M
	[[ $stderr == *"--max-tuple: 64M out of range"* ]]
	run -64 --separate-stderr ds-source --max-tuple 1X
	[[ $stderr == *"--max-tuple: not a number"* ]]
}

@test "ds-source: without --time-field the event time is the time of reading" {
	before=$(date +%s%N)
	printf 'a\n' | ds-source | ds-sink --format '%t' > got
	after=$(date +%s%N)
	t=$(cat got)
	[ "$t" -ge "$before" ]
	[ "$t" -le "$after" ]
}

@test "ds-source: --time-field reads epoch seconds with a fraction (default format)" {
	printf 'a 1700000000\nb 1700000000.5\nc 1700000000.123456789\n' |
	    ds-source --time-field 2 | ds-sink --format '%t %T' > got
	run -0 cat got
	[ "${lines[0]}" = "1700000000000000000 2023-11-14T22:13:20.000000000Z" ]
	[ "${lines[1]}" = "1700000000500000000 2023-11-14T22:13:20.500000000Z" ]
	[ "${lines[2]}" = "1700000000123456789 2023-11-14T22:13:20.123456789Z" ]
}

@test "ds-source: %T of an epoch time field equals date -u" {
	printf '1795533392 x\n' | ds-source --time-field 1 |
	    ds-sink --format '%T' > got
	want=$(date -u -d @1795533392 +%Y-%m-%dT%H:%M:%S.000000000Z)
	run -0 cat got
	[ "$output" = "$want" ]
	[ "$output" = "2026-11-24T15:16:32.000000000Z" ]
}

@test "ds-source: --time-format epoch is the default" {
	printf 'a 1700000000.25\n' |
	    ds-source --time-field 2 --time-format epoch | ds-sink --format '%t' > got
	run -0 cat got
	[ "$output" = 1700000000250000000 ]
}

@test "ds-source: --time-format epoch-ms reads milliseconds" {
	printf 'a,1700000000123\n' |
	    ds-source --delimiter , --time-field 2 --time-format epoch-ms |
	    ds-sink --format '%t' > got
	run -0 cat got
	[ "$output" = 1700000000123000000 ]
}

@test "ds-source: --time-format iso8601 reads Z, offsets, fractions and a space" {
	printf '%s\n' '2026-11-24T15:16:32Z|a' '2026-11-24T16:16:32.5+01:00|b' \
	    '2026-11-24 10:16:32.123456789-05:00|c' > in
	ds-source --delimiter '|' --time-field 1 --time-format iso8601 < in |
	    ds-sink --format '%T %t' > got
	run -0 cat got
	[ "${lines[0]}" = "2026-11-24T15:16:32.000000000Z 1795533392000000000" ]
	[ "${lines[1]}" = "2026-11-24T15:16:32.500000000Z 1795533392500000000" ]
	[ "${lines[2]}" = "2026-11-24T15:16:32.123456789Z 1795533392123456789" ]
}

@test "ds-source: an unparsable time field exits 65 quoting it" {
	printf 'a 1700000000\nb yesterday\n' > in
	ds-source --time-field 2 < in > frames 2> err && rc=0 || rc=$?
	[ "$rc" = 65 ]
	run -0 cat err
	[ "$output" = "ds-source: fatal: line 2: bad time field: 'yesterday'" ]
	run -65 --separate-stderr ds-sink --format '%p' < frames
	[ "$output" = "a 1700000000" ]
	[[ $stderr == *"stream cut: end of input without an END frame"* ]]
}

@test "ds-source: a missing time field exits 65" {
	run -65 --separate-stderr ds-source --time-field 3 <<< 'a 1700000000'
	[ "$stderr" = "ds-source: fatal: line 1: bad time field: ''" ]
}

@test "ds-source: a time in the wrong format exits 65" {
	run -65 --separate-stderr ds-source --time-field 1 --time-format iso8601 <<< '1700000000'
	[ "$stderr" = "ds-source: fatal: line 1: bad time field: '1700000000'" ]
	run -65 --separate-stderr ds-source --time-field 1 --time-format epoch-ms <<< '17.5'
	[ "$stderr" = "ds-source: fatal: line 1: bad time field: '17.5'" ]
}

@test "ds-source: --time-format without --time-field is a usage error (64)" {
	run -64 --separate-stderr ds-source --time-format iso8601
	[[ $stderr == "ds-source: --time-format needs --time-field"* ]]
}

@test "ds-source: an unknown --time-format is a usage error (64)" {
	run -64 --separate-stderr ds-source --time-field 1 --time-format rfc822
	[[ $stderr == *"--time-format: unknown format 'rfc822'"* ]]
}

# Three nginx access log lines, their times in three zones.
nginx_log() {
	cat <<'EOF'
127.0.0.1 - - [24/Nov/2025:15:00:00 +0000] "GET / HTTP/1.1" 200 612 "-" "curl/8.5"
10.0.0.2 - bob [01/Jan/2026:00:30:05 -0800] "POST /api HTTP/1.1" 201 17 "-" "x"
10.0.0.3 - - [29/Feb/2024:23:59:59 +0530] "GET /a HTTP/2.0" 404 0 "-" "y"
EOF
}

@test "ds-source: a strptime pattern reads nginx times over two fields, %z honoured" {
	nginx_log > in
	# The environment must change nothing: C locale, no TZ.
	LC_ALL=de_DE.UTF-8 TZ=Asia/Tokyo ds-source --key-field 1 \
	    --time-field 4 --time-format '[%d/%b/%Y:%H:%M:%S %z]' < in |
	    ds-sink --format '%t %k %p' > got
	run -0 cat got
	[ "${#lines[@]}" = 3 ]
	[ "${lines[0]}" = "$(date -d '2025-11-24 15:00:00 +0000' +%s%N) 127.0.0.1 $(sed -n 1p in)" ]
	[ "${lines[1]}" = "$(date -d '2026-01-01 00:30:05 -0800' +%s%N) 10.0.0.2 $(sed -n 2p in)" ]
	[ "${lines[2]}" = "$(date -d '2024-02-29 23:59:59 +0530' +%s%N) 10.0.0.3 $(sed -n 3p in)" ]
}

@test "ds-source: %T of a pattern's time equals date -u" {
	nginx_log | sed -n 2p |
	    ds-source --time-field 4 --time-format '[%d/%b/%Y:%H:%M:%S %z]' |
	    ds-sink --format '%T' > got
	run -0 cat got
	[ "$output" = "$(date -u -d '2026-01-01 00:30:05 -0800' +%Y-%m-%dT%H:%M:%S.000000000Z)" ]
}

@test "ds-source: a pattern without %z is UTC; %N reads a fraction; fields split by --delimiter" {
	printf '%s\n' 'a,2025-11-24,15:00:00.5,x' 'b,2025-11-24,15:00:00.123456789,y' > in
	TZ=America/New_York ds-source --delimiter , --time-field 2 \
	    --time-format '%Y-%m-%d,%H:%M:%S.%N' < in |
	    ds-sink --format '%t' > got
	s=$(date -u -d '2025-11-24 15:00:00' +%s)
	run -0 cat got
	[ "${lines[0]}" = "${s}500000000" ]
	[ "${lines[1]}" = "${s}123456789" ]
}

@test "ds-source: a time a pattern does not read exits 65 quoting its fields" {
	{ nginx_log | sed -n 1p; echo '127.0.0.1 - - [24/Nov/2025:15:00:00 +01x0] "GET / HTTP/1.1" 200 1'; } > in
	ds-source --time-field 4 --time-format '[%d/%b/%Y:%H:%M:%S %z]' < in \
	    > frames 2> err && rc=0 || rc=$?
	[ "$rc" = 65 ]
	run -0 cat err
	[ "$output" = "ds-source: fatal: line 2: bad time field: '[24/Nov/2025:15:00:00 +01x0]'" ]
	run -65 --separate-stderr ds-sink --format '%p' < frames
	[ "$output" = "$(sed -n 1p in)" ]
}

@test "ds-source: a pattern must end where a field ends (65)" {
	run -65 --separate-stderr ds-source --time-field 1 --time-format '%Y-%m-%d' <<< '2025-11-24T15:00:00Z x'
	[ "$stderr" = "ds-source: fatal: line 1: bad time field: '2025-11-24T15:00:00Z'" ]
	run -65 --separate-stderr ds-source --time-field 1 --time-format '%Y-%m-%d' <<< '2025-02-30 x'
	[ "$stderr" = "ds-source: fatal: line 1: bad time field: '2025-02-30'" ]
}

@test "ds-source: a pattern with %Z, %s, no year or an unknown conversion is a usage error (64)" {
	run -64 --separate-stderr ds-source --time-field 1 --time-format '%Y %Z'
	[[ $stderr == "ds-source: --time-format '%Y %Z': %Z drops the zone"* ]]
	run -64 --separate-stderr ds-source --time-field 1 --time-format '%s'
	[[ $stderr == *"%s reads the local time zone; use the format epoch"* ]]
	run -64 --separate-stderr ds-source --time-field 1 --time-format '%H:%M:%S'
	[[ $stderr == *"no year"* ]]
	run -64 --separate-stderr ds-source --time-field 1 --time-format '%Y %q'
	[[ $stderr == *"an unknown conversion"* ]]
	run -64 --separate-stderr ds-source --time-field 1 --time-format '%Y.%N.%N'
	[[ $stderr == *"more than one %N"* ]]
}

@test "ds-source: --time-field must be a number (64)" {
	run -64 --separate-stderr ds-source --time-field -1
	[[ $stderr == *"--time-field: not a number"* ]]
}

@test "ds-source: --linger writes a partial bundle while the input stays open" {
	start_on_fifo --linger 20
	printf 'hello\n' >&7
	wait_for '[ "$(ds-sink --format %p < frames 2>/dev/null)" = hello ]' 10
	printf 'world\n' >&7
	wait_for '[ "$(ds-sink --format %p < frames 2>/dev/null | tail -1)" = world ]' 10
	exec 7>&-
	wait "$SRC"
}

@test "ds-source: --linger 0 writes as soon as the input has nothing more" {
	start_on_fifo --linger 0 --bundle 1000
	printf 'now\n' >&7
	wait_for '[ "$(ds-sink --format %p < frames 2>/dev/null)" = now ]' 10
	exec 7>&-
	wait "$SRC"
}

@test "ds-source: --linger holds a partial bundle until it expires or input ends" {
	start_on_fifo --linger 60000
	base=$(rchar "$SRC")
	printf 'held\n' >&7
	# ds-source has read the line ...
	wait_for '[ "$(rchar "$SRC")" -ge $((base + 5)) ]' 10
	# ... and, with 60 s to wait, has not written it yet.
	[ ! -s frames ]
	exec 7>&-
	wait "$SRC"
	run -0 ds-sink --format %p < frames
	[ "$output" = held ]
}

@test "ds-source: --linger out of 0..60000 is a usage error (64)" {
	run -64 --separate-stderr ds-source --linger 60001
	[[ $stderr == *"--linger: 60001 out of range 0..60000"* ]]
}

@test "ds-source: SIGTERM writes what was read and exits 0, but no END" {
	start_on_fifo --linger 60000
	base=$(rchar "$SRC")
	printf 'one\ntwo\n' >&7
	wait_for '[ "$(rchar "$SRC")" -ge $((base + 8)) ]' 10
	kill -TERM "$SRC"
	wait "$SRC"
	run -0 bundle_counts frames
	[ "$output" = "2 no END" ]
	run -65 --separate-stderr ds-sink --format '%s %p' < frames
	[ "$output" = "$(printf '1 one\n2 two')" ]
	[[ $stderr == *"stream cut: end of input without an END frame"*", after 2 tuples (last seq 2)" ]]
}

@test "ds-source: --notify-fd writes a newline once the input is open" {
	printf 'a\n' > in
	ds-source --file in --notify-fd 5 5> ready > /dev/null
	run -0 od -An -c ready
	[ "$(echo $output)" = '\n' ]
}

@test "ds-source: --notify-fd must be an open descriptor (64)" {
	run -64 --separate-stderr ds-source --notify-fd 9 9>&-
	[[ $stderr == *"--notify-fd: 9 is not open"* ]]
}

@test "ds-source: NOTIFY_SOCKET receives READY=1" {
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("sock"); s.settimeout(30)
open("bound", "w").close()
open("msg", "w").write(s.recv(512).decode())
' 3>&- &
	PIDS+=("$!")
	wait_for '[ -e bound ]' 10
	NOTIFY_SOCKET="$BATS_TEST_TMPDIR/sock" ds-source < /dev/null
	wait "${PIDS[0]}"
	run -0 cat msg
	[[ $output == READY=1* ]]
}

@test "ds-source: -q prints fatal errors only" {
	run -0 --separate-stderr env NOTIFY_SOCKET=relative ds-source < /dev/null
	[[ $stderr == "ds-source: warning: unable to signal readiness"* ]]
	run -0 --separate-stderr env NOTIFY_SOCKET=relative ds-source -q < /dev/null
	[ -z "$stderr" ]
	run -66 --separate-stderr ds-source -q --file nope
	[[ $stderr == "ds-source: fatal: "* ]]
}

@test "ds-source: -v reports the end of input" {
	run -0 --separate-stderr ds-source -v <<< $'a\nb\nc'
	[ "$stderr" = "ds-source: info: end of input: 3 lines" ]
	run -0 --separate-stderr ds-source <<< $'a\nb\nc'
	[ -z "$stderr" ]
}

@test "ds-source: out of memory exits 71" {
	bash -c 'ulimit -v 40000 && ds-source --version' > /dev/null 2>&1 ||
	    skip "cannot run under ulimit -v (sanitizer build?)"
	run -71 --separate-stderr bash -c \
	    'ulimit -v 40000 && exec ds-source --max-tuple 60M < /dev/null'
	[ "$stderr" = "ds-source: fatal: out of memory" ]
}

@test "ds-source: --rate paces the lines; a bad --rate is a usage error (64)" {
	seq 1 300 > in
	local t0=$SECONDS
	run -0 sh -c 'ds-source --file in --rate 200 | ds-sink | wc -l'
	[ "$output" = 300 ]
	# 300 lines at 200/s take about 1.5 s: at least a second.
	[ $((SECONDS - t0)) -ge 1 ]
	run -64 --separate-stderr ds-source --rate 0 < /dev/null
	[[ $stderr == *"--rate"* ]]
	run -64 ds-source --rate x < /dev/null
	run -64 ds-source --rate 1000000001 < /dev/null
}
