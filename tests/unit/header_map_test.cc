#include "http/header_map.h"

#include <gtest/gtest.h>

namespace weir::http {
namespace {

using Fields = std::vector<HeaderMap::Entry>;

TEST(HeaderMapTest, NamesAreStoredLowerCaseAndFoundInAnyCase) {
  HeaderMap map;
  map.add("X-Request-ID", "a");
  map.add_lower_case("content-type", "text/plain");
  EXPECT_EQ(map.entries(), (Fields{{"x-request-id", "a"}, {"content-type", "text/plain"}}));
  EXPECT_EQ(map.get("x-request-id"), "a");
  EXPECT_EQ(map.get("X-REQUEST-ID"), "a");
  EXPECT_EQ(map.get("Content-Type"), "text/plain");
  EXPECT_FALSE(map.get("x-request-i"));
  EXPECT_FALSE(map.get("x-request-idd"));
  EXPECT_FALSE(map.get(""));
}

TEST(HeaderMapTest, GetReturnsTheFirstOfRepeatedFields) {
  HeaderMap map;
  map.add("x-dup", "1");
  map.add("X-Dup", "2");
  EXPECT_EQ(map.get("x-dup"), "1");
}

TEST(HeaderMapTest, SetReplacesEveryFieldOfTheNameInPlace) {
  HeaderMap map;
  map.add("a", "1");
  map.add("x-dup", "1");
  map.add("b", "2");
  map.add("X-DUP", "2");
  map.add("x-dup", "3");
  map.set("X-Dup", "new");
  EXPECT_EQ(map.entries(), (Fields{{"a", "1"}, {"x-dup", "new"}, {"b", "2"}}));
  map.set("C", "3");  // absent: appended, lower-cased
  EXPECT_EQ(map.entries().back(), (HeaderMap::Entry{"c", "3"}));
}

TEST(HeaderMapTest, RemoveTakesEveryFieldOfTheName) {
  HeaderMap map;
  map.add("a", "1");
  map.add("x", "1");
  map.add("b", "2");
  map.add("X", "2");
  EXPECT_EQ(map.remove("X"), 2u);
  EXPECT_EQ(map.entries(), (Fields{{"a", "1"}, {"b", "2"}}));
  EXPECT_EQ(map.remove("x"), 0u);
}

TEST(HeaderMapTest, RemoveIfKeepsOrder) {
  HeaderMap map;
  for (const char* name : {"a", "drop", "b", "drop", "c"}) map.add(name, name);
  EXPECT_EQ(map.remove_if([](std::string_view name) { return name == "drop"; }), 2u);
  EXPECT_EQ(map.entries(), (Fields{{"a", "a"}, {"b", "b"}, {"c", "c"}}));
}

TEST(HeaderMapTest, ByteSize) {
  HeaderMap map;
  map.add("ab", "cde");
  map.add("f", "");
  EXPECT_EQ(map.byte_size(), 6u);
}

}  // namespace
}  // namespace weir::http
