#include "proxy/request_id.h"

#include <gtest/gtest.h>

#include <set>

namespace weir::proxy {
namespace {

TEST(RequestIdTest, FormatsUuidDigitsInOrder) {
  char out[kUuidLength];
  format_uuid(0x0123456789abcdefULL, 0xfedcba9876543210ULL, out);
  EXPECT_EQ(std::string(out, kUuidLength), "01234567-89ab-cdef-fedc-ba9876543210");
}

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

TEST(RequestIdTest, IsARandomVersion4Uuid) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string id(make_request_id().view());
    ASSERT_EQ(id.size(), 36u);
    for (size_t j = 0; j < id.size(); ++j) {
      if (j == 8 || j == 13 || j == 18 || j == 23) {
        EXPECT_EQ(id[j], '-') << id;
      } else {
        EXPECT_TRUE(is_hex(id[j])) << id;
      }
    }
    EXPECT_EQ(id[14], '4') << id;                                          // version
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;  // variant
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

}  // namespace
}  // namespace weir::proxy
