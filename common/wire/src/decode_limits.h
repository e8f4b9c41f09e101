// The msgpack caps every decoder of bus bytes applies (records, inventory,
// poll jobs, events): private to wire.
#pragma once

#include <msgpack.hpp>

namespace asicmon::wire {

// Caps for hostile bytes: no message has anywhere near these many elements.
inline msgpack::unpack_limit DecodeLimits() {
  return msgpack::unpack_limit(/*array=*/4096, /*map=*/256, /*str=*/64 * 1024, /*bin=*/64 * 1024,
                               /*ext=*/1024, /*depth=*/8);
}

}  // namespace asicmon::wire
