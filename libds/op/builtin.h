/*
 * builtin.h: ds-op's built-in operators (identity, filter, count, sum,
 * distinct, topk).  Each is an operator table like a plugin's and runs in
 * struct ds_oprun, which it needs for its options (--match, --every) and
 * for reporting bad operands as usage errors (code 64).
 */
#ifndef DS_BUILTIN_H
#define DS_BUILTIN_H

#include "op/ds_op.h"

/* The built-in called name, or NULL.  The table is static. */
const struct ds_op_plugin *ds_builtin_find(const char *name);
/* The built-in names, space separated, for messages. */
extern const char ds_builtin_names[];

#endif
