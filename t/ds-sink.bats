#!/usr/bin/env bats
# t/ds-sink.bats: ds-sink, frames in and text out.  Input comes from
# ds-source, from the golden frames in t/data, and from streams damaged on
# purpose (cut with head -c, a byte flipped with Python, plain text).
# Every option, every exit status; background processes are recorded in
# PIDS and killed in teardown.

load helper

setup() { pids_setup; }
teardown() {
	pids_teardown
	[ -z "${TC_MNT:-}" ] || umount "$TC_MNT" 2>/dev/null || true
}

# "end:count" for each frame of file $1: its end offset and tuple count
# (0 for the END frame).
frame_ends() {
	python3 - "$1" <<'EOF'
import struct, sys
d = open(sys.argv[1], "rb").read()
i, out = 0, []
while i < len(d):
    t, n = struct.unpack_from("<H2xI", d, i + 4)
    c = struct.unpack_from("<I", d, i + 16 + 12)[0] if t == 1 else 0
    i += 16 + n
    out.append("%d:%d" % (i, c))
print(" ".join(out))
EOF
}

# Copy file $1 to stdout with byte $2 XORed with $3.
flip() {
	python3 -c 'import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[int(sys.argv[2])] ^= int(sys.argv[3], 0)
sys.stdout.buffer.write(b)' "$@"
}

@test "ds-sink: --help usage equals the SYNOPSIS of ds-sink(1)" {
	assert_help_matches_synopsis ds-sink ds-sink.1
}

@test "ds-sink: --help prints the options and exits 0" {
	run -0 --separate-stderr ds-sink --help
	[[ ${lines[0]} == "usage: ds-sink [-qv] "* ]]
	[[ $output == *"--format=FMT"* ]]
	[ -z "$stderr" ]
}

@test "ds-sink: --version prints the name and version" {
	run -0 --separate-stderr ds-sink --version
	[[ $output =~ ^ds-sink\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
}

@test "ds-sink: an unknown option is a usage error (64)" {
	run -64 --separate-stderr ds-sink --bogus < /dev/null
	[[ $stderr == *"--bogus"* ]]
	[[ $stderr == *"usage: ds-sink "* ]]
}

@test "ds-sink: an operand is a usage error (64)" {
	run -64 --separate-stderr ds-sink out.txt < /dev/null
	[[ $stderr == "ds-sink: unexpected operand 'out.txt'"* ]]
}

@test "ds-sink: prints key TAB payload per tuple of the golden frames" {
	run -0 --separate-stderr ds-sink < "$T_DATA/three.frames"
	[ "$output" = "$(printf 'apple\tred\nbanana\tyellow\napple\tgreen\n\tno key\ncherry\t')" ]
	[ -z "$stderr" ]
}

@test "ds-sink: round trip with ds-source keeps every byte" {
	awk 'BEGIN { for (i = 1; i <= 5000; i++) printf "k%d\tv%d %c\r\n", i % 7, i, 128 + i % 100 }' > in
	printf 'a\0b\n\n' >> in
	ds-source --key-field 1 --delimiter '\t' < in | ds-sink > got
	awk -F '\t' '{ print $1 "\t" $0 }' in > want
	run -0 cmp want got
}

@test "ds-sink: an empty stream (the END alone) prints nothing and exits 0" {
	run -0 --separate-stderr ds-sink < "$T_DATA/empty.frames"
	[ -z "$output" ]
	[ -z "$stderr" ]
}

@test "ds-sink: no input at all is a stream cut (65)" {
	run -65 --separate-stderr ds-sink < /dev/null
	[ -z "$output" ]
	[ "$stderr" = "ds-sink: fatal: stdin: stream cut: end of input without an END frame at offset 0, before any tuple" ]
}

@test "ds-sink: a stream without its END prints what came, then exits 65 (stream cut)" {
	head -c 271 "$T_DATA/three.frames" > cut
	run -65 --separate-stderr ds-sink --format %p < cut
	[ "$output" = "$(printf 'red\nyellow\ngreen\nno key\n')" ]
	[ "$stderr" = "ds-sink: fatal: stdin: stream cut: end of input without an END frame at offset 271, after 5 tuples (last seq 5)" ]
}

@test "ds-sink: a truncated frame file exits 65 (stream cut) after the whole bundles" {
	head -c 200 "$T_DATA/three.frames" > cut
	run -65 --separate-stderr ds-sink --format %p < cut
	[ "$output" = "$(printf 'red\nyellow\ngreen')" ]
	[ "$stderr" = "ds-sink: fatal: stdin: stream cut: truncated frame payload at offset 177, after 3 tuples (last seq 3)" ]
}

@test "ds-sink: a frame after the END exits 65 (two streams back to back)" {
	cat "$T_DATA/three.frames" "$T_DATA/one.frames" > two
	run -65 --separate-stderr ds-sink --format %p < two
	[ "$output" = "$(printf 'red\nyellow\ngreen\nno key\n')" ]
	[ "$stderr" = "ds-sink: fatal: stdin: bad frame at offset 315: frame after the END frame" ]
}

@test "ds-sink: an END that disagrees with the bundles exits 65 saying both" {
	# three.frames' bundles, then one.frames' END (1 tuple, last seq 1)
	{ head -c 271 "$T_DATA/three.frames"; tail -c 44 "$T_DATA/one.frames"; } > bad
	run -65 --separate-stderr ds-sink --format %p < bad
	[ "$output" = "$(printf 'red\nyellow\ngreen\nno key\n')" ]
	[ "$stderr" = "ds-sink: fatal: stdin: bad END at offset 271: it says 1 tuple (last seq 1), 5 were read (last seq 5)" ]
}

@test "ds-sink: --format %k %p %s %P %e %i" {
	run -0 --separate-stderr ds-sink --format '%k|%p|%s|%P|%e|%i' < "$T_DATA/three.frames"
	[ "${lines[0]}" = "apple|red|1|0|0|0:1" ]
	[ "${lines[3]}" = "|no key|4|0|0|0:4" ]
	[ "${lines[4]}" = "cherry||5|0|0|0:5" ]
}

@test "ds-sink: --format %s is the line number of ds-source's input" {
	seq 101 1100 > in
	ds-source --bundle 13 < in | ds-sink --format '%s' > got
	run -0 diff <(seq 1 1000) got
}

@test "ds-sink: --format %t and %T print the event time" {
	run -0 ds-sink --format '%t %T' < "$T_DATA/three.frames"
	[ "${lines[0]}" = "1700000000000000000 2023-11-14T22:13:20.000000000Z" ]
	[ "${lines[4]}" = "1700000000004000000 2023-11-14T22:13:20.004000000Z" ]
}

@test "ds-sink: --format %T of an epoch time field is ISO 8601 UTC with ns" {
	printf 'x 1795533392.123456789\n' | ds-source --time-field 2 |
	    ds-sink --format '%T' > got
	run -0 cat got
	[ "$output" = "2026-11-24T15:16:32.123456789Z" ]
}

@test "ds-sink: --format %r prints the trace id or -" {
	run -0 ds-sink --format '%r %k %p' < "$T_DATA/three.frames"
	[ "${lines[0]}" = "- apple red" ]
	[ "${lines[2]}" = "0123456789abcdef apple green" ]
}

@test "ds-sink: --format %l prints now minus the event time" {
	# The golden tuples have event time 1700000000 s (2023): positive,
	# and at least now minus that time.
	before=$(date +%s)
	run -0 ds-sink --format '%l %k' < "$T_DATA/three.frames"
	[[ "${lines[0]}" =~ ^[0-9]+\ apple$ ]]
	lat=${lines[0]%% *}
	[ $((lat / 1000000000)) -ge $((before - 1700000000 - 1)) ]
	[ $((lat / 1000000000)) -le $(($(date +%s) - 1700000000 + 1)) ]
	# An event time far in the future gives a negative latency.
	printf '9999999999 x\n' | ds-source --time-field 1 |
	    ds-sink --format '%l' > got
	run -0 cat got
	[[ "$output" =~ ^-[0-9]+$ ]]
}

@test "ds-sink: --format %% and the escapes \\t \\n \\\\" {
	printf 'a\n' | ds-source | ds-sink --format '100%%\t%p\n\\end' > got
	run -0 cat got
	[ "${lines[0]}" = "$(printf '100%%\ta')" ]
	[ "${lines[1]}" = '\end' ]
	[ "${#lines[@]}" = 2 ]
}

@test "ds-sink: --format bytes other than % and \\ stand for themselves" {
	printf 'v\n' | ds-source | ds-sink --format '<%p> é $x' > got
	run -0 cat got
	[ "$output" = '<v> é $x' ]
}

@test "ds-sink: an unknown --format conversion is a usage error (64)" {
	run -64 --separate-stderr ds-sink --format '%k %x' < /dev/null
	[[ $stderr == "ds-sink: --format: unknown conversion '%x'"* ]]
	[ -z "$output" ]
}

@test "ds-sink: a trailing lone % in --format is a usage error (64)" {
	run -64 --separate-stderr ds-sink --format '%k %' < /dev/null
	[[ $stderr == "ds-sink: --format: trailing lone '%'"* ]]
}

@test "ds-sink: a trailing lone \\ in --format is a usage error (64)" {
	run -64 --separate-stderr ds-sink --format '%k \' < /dev/null
	[[ $stderr == "ds-sink: --format: trailing lone '\\'"* ]]
}

@test "ds-sink: an unknown escape in --format is a usage error (64)" {
	run -64 --separate-stderr ds-sink --format '%k\q' < /dev/null
	[[ $stderr == "ds-sink: --format: unknown escape '\\q'"* ]]
}

@test "ds-sink: --file creates the file with mode 0666 less the umask" {
	umask 027
	ds-sink --file out < "$T_DATA/one.frames"
	run -0 cat out
	[ "$output" = "$(printf 'k1\thello')" ]
	run -0 stat -c %a out
	[ "$output" = 640 ]
}

@test "ds-sink: --file truncates an existing file" {
	seq 1 100 > out
	run -0 ds-sink --file out < "$T_DATA/one.frames"
	[ -z "$output" ]
	run -0 cat out
	[ "$output" = "$(printf 'k1\thello')" ]
}

@test "ds-sink: --append adds to the --file" {
	echo first > out
	ds-sink --append --file out < "$T_DATA/one.frames"
	ds-sink --append --file out < "$T_DATA/one.frames"
	run -0 cat out
	[ "$output" = "$(printf 'first\nk1\thello\nk1\thello')" ]
}

@test "ds-sink: --append without --file is a usage error (64)" {
	run -64 --separate-stderr ds-sink --append < /dev/null
	[[ $stderr == "ds-sink: --append needs --file"* ]]
}

# Topology options of an instance named $1 (nothing listens: --check).
inst_opts() {
	echo --id 196608 --name "$1" --master "ipc://$PWD/m" \
	    --pull "least:131072@ipc://$PWD/up"
}

@test "ds-sink: --check prints the absolute path of --file and --tc and creates, binds and reads nothing" {
	export XDG_RUNTIME_DIR="$PWD/xdg"
	local here
	here=$(pwd -P)
	run -0 ds-sink --check --file out < /dev/null
	[ "$output" = "writes $here/out" ]
	run -0 ds-sink --check --tc db.tc $(inst_opts out.0)
	[ "$output" = "writes $here/db.tc" ]
	# The directory as the kernel finds it: two names of one file agree.
	mkdir real
	ln -s real link
	run -0 ds-sink --check --file link/../real/./out
	[ "$output" = "writes $here/real/out" ]
	run -0 ds-sink --check --file "$PWD/link/out"
	[ "$output" = "writes $here/real/out" ]
	# Without --file or --tc nothing is written but standard output.
	run -0 ds-sink --check $(inst_opts out.0)
	[ -z "$output" ]
	[ ! -e out ]
	[ ! -e db.tc ]
	[ ! -e real/out ]
	[ ! -e xdg ]
}

@test "ds-sink: --check refuses what a run refuses: a misspelled option, exactly-once without --file (64)" {
	run -64 --separate-stderr ds-sink --check --fiel out
	[[ $stderr == "ds-sink: --fiel: unknown option"* ]]
	[ -z "$output" ]
	run -64 --separate-stderr ds-sink --check $(inst_opts out.0) \
	    --once exactly --journal "ipc://$PWD/j"
	[[ $stderr == "ds-sink: exactly-once needs --file or --tc"* ]]
	run -64 ds-sink --check --tc db --file out
	run -0 ds-sink --check $(inst_opts out.0) --once exactly \
	    --journal "ipc://$PWD/j" --file out
	[ ! -e out ]
}

@test "ds-sink: %i in --file and --tc is the instance index of --name NODE.I, 0 in pipe mode; %% is a %" {
	local here
	here=$(pwd -P)
	run -0 ds-sink --check --file 'out.%i' $(inst_opts sink.3)
	[ "$output" = "writes $here/out.3" ]
	run -0 ds-sink --check --tc 'db.%i.tc' $(inst_opts a.b.12)
	[ "$output" = "writes $here/db.12.tc" ]
	run -0 ds-sink --check --file '100%%-%i%i'
	[ "$output" = "writes $here/100%-00" ]
	# Without --name an instance is 0 too.
	run -0 ds-sink --check --file 'out.%i' --id 9 --master "ipc://$PWD/m" \
	    --pull "least:1@ipc://$PWD/up"
	[ "$output" = "writes $here/out.0" ]
	# A run writes there.
	ds-sink --file 'out.%i' < "$T_DATA/one.frames"
	run -0 cat out.0
	[ "$output" = "$(printf 'k1\thello')" ]
	[ ! -e 'out.%i' ]
}

@test "ds-sink: any other % in --file or --tc, or %i with a --name that is not NODE.I, is a usage error (64)" {
	run -64 --separate-stderr ds-sink --file 'out.%d' < /dev/null
	[[ $stderr == "ds-sink: --file: only %i and %% may follow a %: 'out.%d'"* ]]
	run -64 ds-sink --check --tc 'db%'
	run -64 ds-sink --check --file '50%'
	run -64 --separate-stderr ds-sink --check --file 'out.%i' $(inst_opts sink)
	[[ $stderr == "ds-sink: --file: %i needs --name NODE.I: 'sink'"* ]]
	run -64 ds-sink --check --file 'out.%i' $(inst_opts sink.x)
	[ ! -e out.d ]
	[ ! -e 'out.%d' ]
}

@test "ds-sink: a --file that cannot be opened exits 74 naming it" {
	run -74 --separate-stderr ds-sink --file "$BATS_TEST_TMPDIR/no/such" < "$T_DATA/one.frames"
	[ "$stderr" = "ds-sink: fatal: unable to open $BATS_TEST_TMPDIR/no/such: No such file or directory" ]
}

@test "ds-sink: a --file that cannot be written exits 74 naming it" {
	run -74 --separate-stderr ds-sink --file /dev/full < "$T_DATA/one.frames"
	[ "$stderr" = "ds-sink: fatal: unable to write /dev/full: No space left on device" ]
}

@test "ds-sink: a full disk on stdout exits 74" {
	run -74 --separate-stderr bash -c 'ds-sink > /dev/full < "$T_DATA/three.frames"'
	[ "$stderr" = "ds-sink: fatal: unable to write stdout: No space left on device" ]
}

@test "ds-sink: a closed stdout (EPIPE) exits 74 with one line" {
	seq 1 400000 > in
	run -0 bash -c 'ds-source --file in 2> /dev/null | ds-sink 2> err |
	    head -c 10 > /dev/null
	    echo "${PIPESTATUS[1]}"'
	[ "$output" = 74 ]
	run -0 cat err
	[ "$output" = "ds-sink: fatal: unable to write stdout: Broken pipe" ]
}

@test "ds-sink: a read error exits 74" {
	run -74 --separate-stderr ds-sink < /
	[ "$stderr" = "ds-sink: fatal: unable to read stdin: Is a directory" ]
}

@test "ds-sink: text instead of frames is refused with 76" {
	run -76 --separate-stderr ds-sink <<< 'hello world'
	[ "$stderr" = "ds-sink: fatal: stdin: bad frame at offset 0: bad magic (not a dstream frame stream)" ]
	[ -z "$output" ]
}

@test "ds-sink: a wrong frame version is refused with 76" {
	flip "$T_DATA/one.frames" 3 0x03 > bad
	run -76 --separate-stderr ds-sink < bad
	[[ $stderr == *"stdin: bad frame at offset 0: unsupported frame version" ]]
}

@test "ds-sink: a flipped payload byte is a checksum error (65) after the bundles before it" {
	printf 'l%s\n' 1 2 3 4 5 > in
	ds-source --bundle 2 --file in > frames
	ends=($(frame_ends frames))
	first=${ends[0]%%:*}
	flip frames $((first + 30)) 0x40 > bad
	run -65 --separate-stderr ds-sink --format %p < bad
	[ "$stderr" = "ds-sink: fatal: stdin: bad frame at offset $first: checksum mismatch" ]
	[ "$output" = "$(printf 'l1\nl2')" ]
}

@test "ds-sink: any flipped byte of a frame is refused (65 or 76) with nothing of that frame printed" {
	# one.frames: the bundle (bytes 0..63), then the END (64..107).
	size=$(stat -c %s "$T_DATA/one.frames")
	[ "$size" = 108 ]
	for ((i = 0; i < size; i++)); do
		flip "$T_DATA/one.frames" $i 0x40 > bad
		rc=0
		ds-sink < bad > got 2> err || rc=$?
		if [ $i -lt 64 ]; then at=0; else at=64; fi
		if [ $((i - at)) -lt 4 ]; then want=76; else want=65; fi
		[ "$rc" = "$want" ] || { echo "byte $i: exit $rc"; false; }
		if [ $at = 0 ]; then
			[ ! -s got ] || { echo "byte $i: printed output"; false; }
		else
			[ "$(cat got)" = "$(printf 'k1\thello')" ] ||
			    { echo "byte $i: printed $(cat got)"; false; }
		fi
		# A length flipped upwards reads as a frame cut short.
		grep -Eq "^ds-sink: fatal: stdin: (bad frame at offset $at: |stream cut: truncated frame payload at offset $at, )" err ||
		    { echo "byte $i: $(cat err)"; false; }
	done
}

@test "ds-sink: a stream cut at any byte prints whole bundles only (65)" {
	printf 'l%s\n' 1 2 3 4 5 > in
	ds-source --bundle 2 --file in > frames
	ends=($(frame_ends frames))
	[ "${#ends[@]}" = 4 ]	# three bundles and the END
	total=$(stat -c %s frames)
	run -0 ds-sink --format %p < frames
	[ "${#lines[@]}" = 5 ]
	for ((n = 0; n < total; n++)); do
		head -c $n frames > cut
		rc=0
		ds-sink --format %p < cut > got 2> err || rc=$?
		want=0 boundary=0 start=0
		for e in "${ends[@]}"; do
			if [ "${e%%:*}" -le $n ]; then
				want=$((want + ${e##*:}))
				start=${e%%:*}
				[ "${e%%:*}" -ne $n ] || boundary=1
			fi
		done
		[ "$(wc -l < got)" = $want ] || { echo "cut $n: $(wc -l < got) lines"; false; }
		[ $rc = 65 ] || { echo "cut $n: exit $rc"; false; }
		if [ $boundary = 1 ] || [ $n = 0 ]; then
			grep -Eq "^ds-sink: fatal: stdin: stream cut: end of input without an END frame at offset $n, (after $want tuples? \(last seq $want\)|before any tuple)$" err ||
			    { echo "cut $n: $(cat err)"; false; }
		else
			grep -Eq "^ds-sink: fatal: stdin: stream cut: truncated frame (header|payload) at offset $start, (after $want tuples? \(last seq $want\)|before any tuple)$" err ||
			    { echo "cut $n: $(cat err)"; false; }
		fi
	done
}

@test "ds-sink: a frame length over the limit is refused with 65" {
	python3 -c 'import sys, struct
sys.stdout.buffer.write(b"\0DS\x01" + struct.pack("<HHII", 1, 0, 0x7fffffff, 0))' > bad
	run -65 --separate-stderr ds-sink < bad
	[ "$stderr" = "ds-sink: fatal: stdin: bad frame at offset 0: frame length over the limit" ]
}

@test "ds-sink: --max-tuple refuses a larger tuple with 65 naming the limit" {
	printf 'short\n%s\n' "$(printf 'y%.0s' $(seq 100))" |
	    ds-source --bundle 1 > frames
	run -65 --separate-stderr ds-sink --format %p --max-tuple 50 < frames
	[[ $stderr == "ds-sink: fatal: stdin: bad frame at offset "*": tuple larger than the maximum tuple size (--max-tuple 50)" ]]
	[ "$output" = short ]
	run -0 ds-sink --format %p --max-tuple 100 < frames
	[ "${#lines[@]}" = 2 ]
}

@test "ds-sink: --max-tuple accepts suffixes and refuses 0 (64)" {
	run -0 ds-sink --max-tuple 1K < "$T_DATA/one.frames"
	run -64 --separate-stderr ds-sink --max-tuple 0 < /dev/null
	[[ $stderr == *"--max-tuple: 0 out of range"* ]]
}

@test "ds-sink: output is flushed before waiting for input" {
	mkfifo in mid
	ds-source --linger 0 < in > mid 3>&- &
	PIDS+=("$!")
	ds-sink --format '%s %p' < mid > out 3>&- &
	PIDS+=("$!")
	exec 7> in
	printf 'first\n' >&7
	wait_for '[ "$(cat out)" = "1 first" ]' 10
	printf 'second\n' >&7
	wait_for '[ "$(tail -1 out)" = "2 second" ]' 10
	exec 7>&-
	wait "${PIDS[0]}"
	wait "${PIDS[1]}"
}

@test "ds-sink: --notify-fd writes a newline once the output is open" {
	ds-sink --notify-fd 5 --file out 5> ready < "$T_DATA/empty.frames"
	run -0 od -An -c ready
	[ "$(echo $output)" = '\n' ]
	[ -e out ]
}

@test "ds-sink: --notify-fd must be an open descriptor (64)" {
	run -64 --separate-stderr ds-sink --notify-fd 9 9>&- < /dev/null
	[[ $stderr == *"--notify-fd: 9 is not open"* ]]
}

@test "ds-sink: NOTIFY_SOCKET receives READY=1" {
	python3 -c '
import socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("sock"); s.settimeout(30)
open("bound", "w").close()
open("msg", "w").write(s.recv(512).decode())
' 3>&- &
	PIDS+=("$!")
	wait_for '[ -e bound ]' 10
	NOTIFY_SOCKET="$BATS_TEST_TMPDIR/sock" ds-sink < "$T_DATA/empty.frames"
	wait "${PIDS[0]}"
	run -0 cat msg
	[[ $output == READY=1* ]]
}

@test "ds-sink: -q prints fatal errors only" {
	run -0 --separate-stderr env NOTIFY_SOCKET=relative ds-sink < "$T_DATA/empty.frames"
	[[ $stderr == "ds-sink: warning: unable to signal readiness"* ]]
	run -0 --separate-stderr env NOTIFY_SOCKET=relative ds-sink -q < "$T_DATA/empty.frames"
	[ -z "$stderr" ]
	run -76 --separate-stderr ds-sink -q <<< text
	[[ $stderr == "ds-sink: fatal: "* ]]
}

@test "ds-sink: -v reports the end of input" {
	run -0 --separate-stderr ds-sink -v < "$T_DATA/three.frames"
	[ "$stderr" = "ds-sink: info: end of input: 5 tuples" ]
}

@test "ds-sink: out of memory exits 71" {
	bash -c 'ulimit -v 40000 && ds-sink --version' > /dev/null 2>&1 ||
	    skip "cannot run under ulimit -v (sanitizer build?)"
	# A frame header announcing 60 MiB: the reader must hold it whole.
	python3 -c 'import sys, struct
sys.stdout.buffer.write(b"\0DS\x01" + struct.pack("<HHII", 1, 0, 60 << 20, 0))' > big
	run -71 --separate-stderr bash -c 'ulimit -v 40000 && exec ds-sink < big'
	[ "$stderr" = "ds-sink: fatal: out of memory reading stdin" ]
}

# --tc: the database's records as "key TAB value" lines, sorted.
tc_list() {
	command -v tchmgr > /dev/null || skip "tchmgr (tokyocabinet-bin) missing"
	tchmgr list -pv "$1" | LC_ALL=C sort
}

@test "ds-sink: --tc with --file, --format or --append is a usage error (64)" {
	run -64 --separate-stderr ds-sink --tc db --file out < /dev/null
	[[ $stderr == "ds-sink: --tc writes no text: it excludes --file,"* ]]
	run -64 --separate-stderr ds-sink --tc db --format %k < /dev/null
	[[ $stderr == *"usage: ds-sink "* ]]
	run -64 ds-sink --tc db --append < /dev/null
	[ ! -e db ] && [ ! -e out ]
}

@test "ds-sink: --tc puts key -> payload, the last value of a key wins" {
	printf 'b 1\na 2\nb 3\nc 4\na 5\n' | ds-source --key-field 1 |
	    ds-sink -v --tc db.tch 2> err
	run -0 tc_list db.tch
	[ "$output" = "$(printf 'a\ta 5\nb\tb 3\nc\tc 4')" ]
	grep -qx "ds-sink: info: db.tch: 3 records" err
}

@test "ds-sink: --tc is idempotent: the same input twice leaves the same database" {
	awk 'BEGIN { for (i = 1; i <= 20000; i++)
	    printf "k%d\tv%d\n", i % 997, i }' > in
	ds-source --key-field 1 --delimiter '\t' < in > in.frames
	ds-sink --tc once.tch < in.frames
	ds-sink --tc twice.tch < in.frames
	ds-sink --tc twice.tch < in.frames
	tc_list once.tch > once
	tc_list twice.tch > twice
	[ "$(wc -l < once)" = 997 ]
	cmp once twice
	# The same as the last line of each key in text mode.
	ds-sink < in.frames | awk -F '\t' '{ v[$1] = $0 }
	    END { for (k in v) print v[k] }' | LC_ALL=C sort > want
	cmp once want
}

@test "ds-sink: --tc refuses a tuple without a key (65), keeping the bundles before it" {
	run -65 --separate-stderr ds-sink --tc db.tch < "$T_DATA/three.frames"
	[ "$stderr" = "ds-sink: fatal: tuple 0:4 has no key, and --tc puts key -> payload" ]
	run -0 tc_list db.tch
	[ "$output" = "$(printf 'apple\tgreen\nbanana\tyellow')" ]
}

@test "ds-sink: --tc on a cut stream puts what came, then exits 65 (stream cut)" {
	printf 'b 1\na 2\nb 3\n' | ds-source --key-field 1 | head -c -44 > cut
	run -65 --separate-stderr ds-sink --tc db.tch < cut
	[ "$stderr" = "ds-sink: fatal: stdin: stream cut: end of input without an END frame at offset $(stat -c %s cut), after 3 tuples (last seq 3)" ]
	run -0 tc_list db.tch
	[ "$output" = "$(printf 'a\ta 2\nb\tb 3')" ]
}

@test "ds-sink: --tc on a database another process holds exits 69 at once" {
	mkfifo in
	ds-sink --tc db.tch < in 3>&- &
	PIDS+=($!)
	exec 7> in
	wait_for '[ -s db.tch ]'
	local t0=$SECONDS
	run -69 --separate-stderr ds-sink --tc db.tch < /dev/null
	[ $((SECONDS - t0)) -le 2 ]
	[[ $stderr == "ds-sink: fatal: unable to open db.tch: another process holds its lock"* ]]
	# A stopped holder keeps it too.
	kill -STOP "${PIDS[0]}"
	run -69 ds-sink --tc db.tch < /dev/null
	kill -CONT "${PIDS[0]}"
	cat "$T_DATA/empty.frames" >&7
	exec 7>&-
	wait "${PIDS[0]}"
	run -0 ds-sink --tc db.tch < "$T_DATA/empty.frames"
}

@test "ds-sink: --tc that cannot be opened exits 74 naming the path" {
	run -74 --separate-stderr ds-sink --tc nodir/db.tch < /dev/null
	[[ $stderr == "ds-sink: fatal: unable to open nodir/db.tch: No such file or directory"* ]]
	head -c 4096 /dev/urandom > notdb
	run -74 --separate-stderr ds-sink --tc notdb < /dev/null
	[[ $stderr == "ds-sink: fatal: unable to open notdb: "* ]]
	mkdir dir
	run -74 ds-sink --tc dir < /dev/null
}

@test "ds-sink: --tc on a file system filling up exits 74, never SIGBUS" {
	[ "$(id -u)" = 0 ] || skip "needs root to mount a small tmpfs"
	mkdir mnt
	mount -t tmpfs -o size=24m tmpfs mnt 2>/dev/null ||
	    skip "cannot mount a tmpfs here"
	TC_MNT=$PWD/mnt
	awk 'BEGIN { for (i = 1; i <= 100000; i++)
	    printf "k%d %0100d\n", i, i }' | ds-source --key-field 1 > in.frames
	run -74 --separate-stderr ds-sink --tc mnt/db.tch < in.frames
	[[ $stderr == "ds-sink: fatal: unable to write mnt/db.tch: only "*" bytes free"* ]]
}
