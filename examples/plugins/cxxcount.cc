/*
 * cxxcount.cc: examples/plugins/count.c in C++, to show that <ds_op.h>
 * serves C++ plugins too: the same keyed running count with the same state
 * bytes, so its output equals `ds-op --builtin count`.  ds-op is C: an
 * exception must not leave a callback, so each one catches them and
 * fails (non-zero: ds-op stops, exit 70).  `make` builds
 * examples/plugins/cxxcount.so; against an installed dstream:
 *
 *	c++ -shared -fPIC $(pkg-config --cflags dstream) \
 *	    -o cxxcount.so cxxcount.cc
 *	ds-source --key-field 1 < log | ds-op --plugin ./cxxcount.so
 */
#include <cstdlib>
#include <string>

#include <ds_op.h>

namespace {

int
on_tuple(struct ds_op_ctx *c, const struct ds_op_tuple *t)
{
	const void *v;
	size_t len;
	unsigned long long n = 0;

	try {
		if (ds_state_get(c, &v, &len) == 1) {
			std::string old(static_cast<const char *>(v), len);
			n = std::strtoull(old.c_str(), nullptr, 10);
		}
		std::string s = std::to_string(n + 1);
		if (ds_state_put(c, s.data(), s.size()) == -1)
			return -1;
		return ds_emit(c, t->key, t->keylen, s.data(), s.size(), 0);
	} catch (...) {
		return -1;
	}
}

}	// namespace

DS_OP_PLUGIN("cxxcount", nullptr, on_tuple, nullptr, nullptr, nullptr);
