# t/helper.bash: loaded by every bats file.  Puts the freshly built
# binaries first on PATH and gives helpers shared by the suites.
bats_require_minimum_version 1.5.0
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$TOP/bin:$TOP/tools:$PATH"
export T_DATA="$TOP/t/data"
export TOP
: "${BATS_TEST_TIMEOUT:=60}"
export BATS_TEST_TIMEOUT
export LC_ALL=C

# The SYNOPSIS of man page $1 as one line of words.
man_synopsis() {
	mandoc -T ascii "$TOP/man/$1" | sed 's/.\x08//g' |
	    awk '/^SYNOPSIS/ { on = 1; next } /^[A-Z]/ { on = 0 } on' |
	    tr -s ' \t\n' '   ' | sed 's/^ //; s/ $//'
}

# The usage block of "$1 --help" (lines up to the first blank) as words,
# without the leading "usage:".
help_synopsis() {
	"$1" --help | awk 'NF == 0 { exit } { print }' |
	    sed '1s/^usage: //' | tr -s ' \t\n' '   ' | sed 's/^ //; s/ $//'
}

# Fail unless --help's usage equals the man page SYNOPSIS, word for word.
assert_help_matches_synopsis() {	# $1: program, $2: page file name
	local h m
	h=$(help_synopsis "$1")
	m=$(man_synopsis "$2")
	if [ "$h" != "$m" ]; then
		printf 'help:     %s\nsynopsis: %s\n' "$h" "$m" >&2
		return 1
	fi
}

# Wait up to $2 seconds (default 5) for command $1 (a string) to succeed.
wait_for() {
	local deadline=$((SECONDS + ${2:-5}))
	until eval "$1"; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.05
	done
}

# setup/teardown for suites that start processes in the background: run
# each test in its own directory, record background pids in PIDS; kill
# them afterwards and close fd 7 (the writer of a test's fifo).
pids_setup() {
	cd "$BATS_TEST_TMPDIR"
	PIDS=()
}

pids_teardown() {
	exec 7>&- 2>/dev/null || true
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
}
