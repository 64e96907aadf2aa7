# count.awk: the keyed running count as an operator program for
# `ds-op --exec 'awk -f examples/exec/count.awk'` (ds-op(1), OPERATOR
# PROTOCOL).  A request is "T <TAB> key <TAB> state <TAB> payload"; the
# state is the key's count so far (empty the first time).  The answer:
# the new state (S), one output tuple (E), done (D), then a flush.  The
# key is copied through still escaped, so it needs no decoding.  Empty
# lines are padding (mawk reads 4 KiB blocks; ds-op pads when it sees a
# program waiting for one) and are skipped.  POSIX awk: mawk, gawk, busybox.
BEGIN { FS = OFS = "\t" }
$0 == "" { next }
$1 == "T" {
	n = $3 + 1
	print "S", n
	print "E", $2, n
	print "D"
	fflush()
	next
}
{ print "count.awk: unexpected line: " $0 > "/dev/stderr"; exit 1 }
