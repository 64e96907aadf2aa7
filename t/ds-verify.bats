#!/usr/bin/env bats
# t/ds-verify.bats: the golden keyed count verifier (tools/ds-verify) must
# accept right outputs and catch every kind of wrong one, in each mode.

load helper

setup() {
	seq 1 1000 | awk '{print "k" $1 % 7, $1}' > "$BATS_TEST_TMPDIR/in"
	awk '{ c[$1]++; print $1 "\t" c[$1] }' "$BATS_TEST_TMPDIR/in" \
	    > "$BATS_TEST_TMPDIR/right"
}

@test "ds-verify: a right output passes in every mode" {
	for m in exactly least most; do
		run ds-verify -m "$m" "$BATS_TEST_TMPDIR/in" "$BATS_TEST_TMPDIR/right"
		[ "$status" -eq 0 ]
		[[ "$output" == *"7 keys, 1000 lines, 0 missing, 0 duplicates: ok" ]]
	done
}

@test "ds-verify: a duplicate fails exactly and most, passes least" {
	{ cat "$BATS_TEST_TMPDIR/right"; sed -n 10p "$BATS_TEST_TMPDIR/right"; } \
	    > "$BATS_TEST_TMPDIR/dup"
	run ds-verify "$BATS_TEST_TMPDIR/in" "$BATS_TEST_TMPDIR/dup"
	[ "$status" -eq 1 ]
	[[ "$output" == *"appears 2 times"* ]]
	run ds-verify -m most "$BATS_TEST_TMPDIR/in" "$BATS_TEST_TMPDIR/dup"
	[ "$status" -eq 1 ]
	run ds-verify -m least "$BATS_TEST_TMPDIR/in" "$BATS_TEST_TMPDIR/dup"
	[ "$status" -eq 0 ]
}

@test "ds-verify: a missing count fails exactly and least, passes most" {
	sed 5d "$BATS_TEST_TMPDIR/right" > "$BATS_TEST_TMPDIR/gap"
	run ds-verify "$BATS_TEST_TMPDIR/in" "$BATS_TEST_TMPDIR/gap"
	[ "$status" -eq 1 ]
	[[ "$output" == *"missing"* ]]
	run ds-verify -m least "$BATS_TEST_TMPDIR/in" "$BATS_TEST_TMPDIR/gap"
	[ "$status" -eq 1 ]
	run ds-verify -m most "$BATS_TEST_TMPDIR/in" "$BATS_TEST_TMPDIR/gap"
	[ "$status" -eq 0 ]
}

@test "ds-verify: out-of-range counts, unknown keys and bad lines fail" {
	printf 'k1\t999\n' > "$BATS_TEST_TMPDIR/big"
	run ds-verify -m most "$BATS_TEST_TMPDIR/in" "$BATS_TEST_TMPDIR/big"
	[ "$status" -eq 1 ]
	[[ "$output" == *"count 999 outside 1..143"* ]]
	printf 'nokey\t1\n' > "$BATS_TEST_TMPDIR/unk"
	run ds-verify -m most "$BATS_TEST_TMPDIR/in" "$BATS_TEST_TMPDIR/unk"
	[ "$status" -eq 1 ]
	[[ "$output" == *"unknown key nokey"* ]]
	printf 'k1 1\n' > "$BATS_TEST_TMPDIR/notab"
	run ds-verify -m most "$BATS_TEST_TMPDIR/in" "$BATS_TEST_TMPDIR/notab"
	[ "$status" -eq 1 ]
	[[ "$output" == *"no tab"* ]]
}

@test "ds-verify: bad usage exits 64, unreadable files 66" {
	run ds-verify -m sometimes "$BATS_TEST_TMPDIR/in" "$BATS_TEST_TMPDIR/right"
	[ "$status" -eq 64 ]
	run ds-verify "$BATS_TEST_TMPDIR/in"
	[ "$status" -eq 64 ]
	run ds-verify -x "$BATS_TEST_TMPDIR/in" "$BATS_TEST_TMPDIR/right"
	[ "$status" -eq 64 ]
	run ds-verify "$BATS_TEST_TMPDIR/in" "$BATS_TEST_TMPDIR/nope"
	[ "$status" -eq 66 ]
	[[ "$output" == *"cannot read"* ]]
}

@test "ds-verify: least allows counts over n (a tuple processed twice), the others do not" {
	printf 'k1\t144\n' >> "$BATS_TEST_TMPDIR/right"
	run ds-verify -m least "$BATS_TEST_TMPDIR/in" "$BATS_TEST_TMPDIR/right"
	[ "$status" -eq 0 ]
	[[ "$output" == *"1 over n: ok"* ]]
	run ds-verify -m exactly "$BATS_TEST_TMPDIR/in" "$BATS_TEST_TMPDIR/right"
	[ "$status" -eq 1 ]
	[[ "$output" == *"count 144 outside 1..143"* ]]
	run ds-verify -m most "$BATS_TEST_TMPDIR/in" "$BATS_TEST_TMPDIR/right"
	[ "$status" -eq 1 ]
}
