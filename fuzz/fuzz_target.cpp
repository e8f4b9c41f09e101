// A libFuzzer target, built once per parser: ASICMON_FUZZ_FEED names the
// feeds.h function it runs (see fuzz/CMakeLists.txt).
#include <cstddef>
#include <cstdint>

#include "feeds.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  asicmon::fuzz::FeedOrAbort(asicmon::fuzz::ASICMON_FUZZ_FEED, data, size);
  return 0;
}
