#include "http/http1_syntax.h"

#include <gtest/gtest.h>

#include <string>

namespace weir::http::syntax {
namespace {

bool reference_value_byte(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }
bool reference_target_byte(unsigned char c) { return c > 0x20 && c != 0x7f; }

// The word-at-a-time checks against a byte-at-a-time reference: every byte value at every
// position of strings of every length up to three words (so in short strings, full words
// and the overlapping last word), in a run of allowed bytes.
TEST(Http1SyntaxTest, ValueAndTargetChecksAgreeWithAByteByByteReference) {
  for (size_t size = 1; size <= 24; ++size) {
    for (size_t at = 0; at < size; ++at) {
      for (int c = 0; c < 256; ++c) {
        std::string s(size, 'v');
        s[at] = static_cast<char>(c);
        ASSERT_EQ(valid_field_value(s.data(), s.size()), reference_value_byte(c))
            << "byte " << c << " at " << at << " of " << size;
        ASSERT_EQ(valid_target(s.data(), s.size()), reference_target_byte(c))
            << "byte " << c << " at " << at << " of " << size;
      }
    }
  }
  EXPECT_TRUE(valid_field_value("", 0));
  EXPECT_TRUE(valid_target("", 0));
}

TEST(Http1SyntaxTest, TabsAreAllowedInValuesOnlyAndDelNowhere) {
  const std::string tabbed = "a\tb\tc\td\te\tf";
  EXPECT_TRUE(valid_field_value(tabbed.data(), tabbed.size()));
  EXPECT_FALSE(valid_target(tabbed.data(), tabbed.size()));
  const std::string del = "0123456789abcdef\x7f";
  EXPECT_FALSE(valid_field_value(del.data(), del.size()));
  const std::string obs_text = "caf\xc3\xa9 \xff\x80";
  EXPECT_TRUE(valid_field_value(obs_text.data(), obs_text.size()));
}

}  // namespace
}  // namespace weir::http::syntax
