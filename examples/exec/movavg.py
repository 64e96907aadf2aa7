#!/usr/bin/env python3
"""movavg.py: a moving average per key, as an operator program for
`ds-op --exec 'python3 examples/exec/movavg.py FIELD N'` (ds-op(1),
OPERATOR PROTOCOL).

For each tuple it emits the tuple's key and the mean, with one decimal,
of field FIELD of the key's last N payloads (fewer while the key has
had fewer).  Fields are split on blanks and numbered from 1, as
`ds-op --builtin sum` numbers them: the payload ds-source(1) makes is
the whole line.  A payload whose field is missing or not a number is
skipped: no output, the state unchanged.  The state of a key is its
last N values, blank-separated, so in a topology the window survives a
restart.  It works on bytes and copies the key through still escaped;
stdout is flushed after every D, since ds-op waits for each answer.

The mean response size of each path of an nginx access log over its
last 5 requests (field 10, the body bytes):

    ds-source --key-field 7 < access.log |
        ds-op --exec 'python3 examples/exec/movavg.py 10 5' | ds-sink
"""
import re
import sys

DECIMAL = re.compile(rb"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)")
UNESCAPE = {b"\\\\": b"\\", b"\\t": b"\t", b"\\n": b"\n", b"\\r": b"\r"}


def unescape(field):
    """A protocol field as the bytes it stands for."""
    if b"\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        two = field[i:i + 2]
        if two in UNESCAPE:
            out.append(UNESCAPE[two])
            i += 2
        else:
            out.append(field[i:i + 1])
            i += 1
    return b"".join(out)


def number(b):
    """A decimal number, as sum reads it (12, -3.5, +.25), or None."""
    return float(b) if DECIMAL.fullmatch(b) else None


def main():
    if len(sys.argv) != 3 or not all(a.isdigit() and int(a) > 0
                                     for a in sys.argv[1:]):
        sys.exit("usage: movavg.py FIELD N")
    field, n = int(sys.argv[1]), int(sys.argv[2])
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        if line == b"\n":
            continue  # padding
        f = line.rstrip(b"\n").split(b"\t")
        if f[0] != b"T" or len(f) != 4:
            sys.exit("movavg.py: unexpected line: %r" % line)
        words = unescape(f[3]).split()
        x = number(words[field - 1]) if len(words) >= field else None
        if x is not None:
            window = (f[2].split() + [words[field - 1]])[-n:]
            mean = sum(float(v) for v in window) / len(window)
            out.write(b"S\t%s\nE\t%s\t%.1f\n" % (b" ".join(window), f[1],
                                                  mean))
        out.write(b"D\n")
        out.flush()


main()
