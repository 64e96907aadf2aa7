/*
 * ds.h: the libds umbrella header.  libds is mechanism (codecs, buffers,
 * readers); bin/ is policy.  Only opt.c and log.c's ds_die* print or exit.
 */
#ifndef DS_H
#define DS_H

#include "buf.h"
#include "crc32c.h"
#include "exit.h"
#include "frame.h"
#include "input.h"
#include "io.h"
#include "log.h"
#include "notify.h"
#include "opt.h"
#include "tuple.h"
#include "wire.h"

#endif
