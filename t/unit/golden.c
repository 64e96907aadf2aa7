/*
 * golden.c: writes and checks the golden frame files.  Run from the repo
 * top.  Without options it is a TAP test: t/data/{one,three,empty}.frames
 * (pipe streams: bundles, then the END frame), their
 * .hex twins (`od -An -tx1 -v` text) and the fuzzer seeds in
 * tools/fuzz/corpus must equal, byte for byte, what the encoder produces
 * from golden.h now.  With -w it (re)writes those files instead; do that
 * only on purpose, since other suites compare program output with them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/frame.h"
#include "golden.h"
#include "tap.h"
#include "core/tuple.h"

struct file {
	const char	*path;
	struct ds_buf	 want;
};

static struct file	 files[16];
static size_t		 nfiles;

static struct ds_buf *
add(const char *path)
{
	struct file *f = &files[nfiles++];

	f->path = path;
	return &f->want;
}

static void
die(const char *what)
{
	fprintf(stderr, "golden: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* A fuzzer seed: the 3-byte control prefix of fuzz-frame.c, then frames. */
static void
seed(const char *path, unsigned chunk, unsigned rnd, unsigned maxt,
    const struct ds_buf *frames, size_t n)
{
	struct ds_buf *b = add(path);
	unsigned char pre[3];

	pre[0] = (unsigned char)chunk;
	pre[1] = (unsigned char)rnd;
	pre[2] = (unsigned char)maxt;
	if (ds_buf_add(b, pre, 3) == -1 || ds_buf_add(b, frames->p, n) == -1)
		die("seed");
}

static void
build(void)
{
	struct ds_buf one = DS_BUF_INIT, three = DS_BUF_INIT;
	struct ds_buf empty = DS_BUF_INIT, odd = DS_BUF_INIT;
	struct ds_buf after = DS_BUF_INIT;
	static const unsigned char pay[] = "abc";

	if (golden_encode(&one, golden_one, GOLDEN_N(golden_one)) == -1 ||
	    golden_encode(&three, golden_three, GOLDEN_N(golden_three)) == -1 ||
	    golden_encode(&empty, NULL, 0) == -1)
		die("encode");
	if (ds_buf_add(add("t/data/one.frames"), one.p, one.len) == -1 ||
	    golden_hex(add("t/data/one.hex"), one.p, one.len) == -1 ||
	    ds_buf_add(add("t/data/three.frames"), three.p, three.len) == -1 ||
	    golden_hex(add("t/data/three.hex"), three.p, three.len) == -1 ||
	    ds_buf_add(add("t/data/empty.frames"), empty.p, empty.len) == -1 ||
	    golden_hex(add("t/data/empty.hex"), empty.p, empty.len) == -1)
		die("build");
	/* A whole stream, then a bundle after its END. */
	if (ds_buf_add(&after, three.p, three.len) == -1 ||
	    ds_buf_add(&after, one.p, one.len - DS_END_FRAME) == -1)
		die("build");
	/* Frames a reader must refuse although their CRC is right. */
	if (ds_frame_append(&odd, 2, 0, pay, 3) == -1 ||
	    ds_frame_append(&odd, DS_FRAME_BUNDLE, 1, pay, 3) == -1 ||
	    ds_frame_append(&odd, DS_FRAME_BUNDLE, 0, pay, 3) == -1)
		die("build");
	seed("tools/fuzz/corpus/one", 0, 0, 0, &one, one.len);
	seed("tools/fuzz/corpus/three", 0, 0, 0, &three, three.len);
	seed("tools/fuzz/corpus/three-chunked", 7, 1, 0, &three, three.len);
	seed("tools/fuzz/corpus/three-maxtuple", 0, 0, 8, &three, three.len);
	seed("tools/fuzz/corpus/truncated", 3, 2, 0, &three,
	    three.len - DS_END_FRAME - 5);
	seed("tools/fuzz/corpus/odd", 0, 0, 0, &odd, odd.len);
	seed("tools/fuzz/corpus/empty", 0, 0, 0, &empty, empty.len);
	seed("tools/fuzz/corpus/after-end", 5, 3, 0, &after, after.len);
	seed("tools/fuzz/corpus/no-end", 0, 0, 0, &three,
	    three.len - DS_END_FRAME);
	/* Bit 7: CRCs left alone; this one is wrong (a payload bit flipped). */
	one.p[40] ^= 0x04;
	seed("tools/fuzz/corpus/bad-crc", 0x80, 0, 0, &one, one.len);
	ds_buf_free(&one);
	ds_buf_free(&three);
	ds_buf_free(&empty);
	ds_buf_free(&after);
	ds_buf_free(&odd);
}

static int
slurp(const char *path, struct ds_buf *b)
{
	char tmp[4096];
	size_t n;
	FILE *fp;
	int rc = 0;

	if ((fp = fopen(path, "rb")) == NULL)
		return -1;
	while ((n = fread(tmp, 1, sizeof(tmp), fp)) > 0)
		if (ds_buf_add(b, tmp, n) == -1)
			rc = -1;
	if (ferror(fp))
		rc = -1;
	fclose(fp);
	return rc;
}

static void
write_all(void)
{
	FILE *fp;
	size_t i;

	for (i = 0; i < nfiles; i++) {
		if ((fp = fopen(files[i].path, "wb")) == NULL)
			die(files[i].path);
		if (fwrite(files[i].want.p, 1, files[i].want.len, fp) !=
		    files[i].want.len || fclose(fp) == EOF)
			die(files[i].path);
		printf("wrote %s (%zu bytes)\n", files[i].path,
		    files[i].want.len);
	}
}

int
main(int argc, char *argv[])
{
	struct ds_buf got = DS_BUF_INIT;
	size_t i;

	build();
	if (argc == 2 && strcmp(argv[1], "-w") == 0) {
		write_all();
		return 0;
	}
	if (argc != 1) {
		fprintf(stderr, "usage: t/unit/golden [-w]\n");
		return 64;
	}
	for (i = 0; i < nfiles; i++) {
		ds_buf_reset(&got);
		ok(slurp(files[i].path, &got) == 0, "golden: read %s",
		    files[i].path);
		ok(got.len == files[i].want.len && (got.len == 0 ||
		    memcmp(got.p, files[i].want.p, got.len) == 0),
		    "golden: %s equals the encoder's output (%zu bytes)",
		    files[i].path, files[i].want.len);
		ds_buf_free(&files[i].want);
	}
	ds_buf_free(&got);
	return done();
}
