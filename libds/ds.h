/*
 * ds.h: the libds umbrella header.  libds is mechanism (codecs, buffers,
 * readers); bin/ is policy.  Only opt.c and log.c's ds_die* print or exit.
 */
#ifndef DS_H
#define DS_H

#include "core/buf.h"
#include "core/crc32c.h"
#include "core/exit.h"
#include "core/frame.h"
#include "core/pipein.h"
#include "core/io.h"
#include "node/log.h"
#include "node/notify.h"
#include "node/opt.h"
#include "core/tuple.h"
#include "core/wire.h"

#endif
