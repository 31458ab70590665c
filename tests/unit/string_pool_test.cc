#include "common/string_pool.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/recycled.h"

namespace weir {
namespace {

TEST(StringPoolTest, AStringTakenIsEmptyWhateverWasGivenBack) {
  give_back_pooled_string(std::string(1000, 's'));  // an earlier response's head and body
  const std::string s = take_pooled_string();
  EXPECT_TRUE(s.empty());
#if WEIR_RECYCLE_BLOCKS
  EXPECT_GE(s.capacity(), 1000u);  // its buffer, not a new one
#endif
}

TEST(StringPoolTest, LargeStringsAreFreedNotKept) {
  while (take_pooled_string().capacity() > std::string().capacity()) {
  }
  give_back_pooled_string(std::string(1 << 20, 'x'));
  EXPECT_LT(take_pooled_string().capacity(), size_t{1} << 20);
}

TEST(StringPoolTest, ThePoolIsBounded) {
  while (take_pooled_string().capacity() > std::string().capacity()) {
  }
  for (int i = 0; i < 1000; ++i) give_back_pooled_string(std::string(100, 'x'));
  int kept = 0;
  while (take_pooled_string().capacity() > std::string().capacity()) ++kept;
  EXPECT_LE(kept, 32);
#if WEIR_RECYCLE_BLOCKS
  EXPECT_GT(kept, 0);
#else
  EXPECT_EQ(kept, 0);
#endif
}

}  // namespace
}  // namespace weir
