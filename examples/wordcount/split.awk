# split.awk: split lines into words, as an operator program for
# `ds-op --exec 'awk -f examples/wordcount/split.awk'` (ds-op(1),
# OPERATOR PROTOCOL).  A request is "T <TAB> key <TAB> state <TAB>
# payload"; the payload is one line of text.  The answer is one E line
# per word, with the word (lower case, letters and inner apostrophes) as
# the new key and 1 as payload, then D and a flush.  It keeps no state.
# An escaped TAB, newline or carriage return in the payload counts as a
# blank.  Empty lines are padding and are skipped.  POSIX awk: mawk,
# gawk, busybox.
BEGIN { FS = OFS = "\t" }
$0 == "" { next }
$1 == "T" {
	line = tolower($4)
	gsub(/\\[tnr]/, " ", line)
	n = split(line, w, /[^a-z']+/)
	for (i = 1; i <= n; i++) {
		sub(/^'+/, "", w[i])
		sub(/'+$/, "", w[i])
		if (w[i] != "")
			print "E", w[i], 1
	}
	print "D"
	fflush()
	next
}
{ print "split.awk: unexpected line: " $0 > "/dev/stderr"; exit 1 }
