// Native tests of the host-independent part of the C++ plugin SDK (sdk/cpp/weir/codec.h,
// sdk/cpp/weir/config.h):
// the code plugins run, compiled for the build machine instead of wasm32.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../../sdk/cpp/weir/codec.h"
#include "../../sdk/cpp/weir/config.h"

namespace {

using weir::HeaderPair;
using weir::sdk::parse_header_map;
using weir::sdk::serialize_header_map;
using namespace std::string_view_literals;

std::string bytes(std::initializer_list<int> v) {
  std::string s;
  for (int b : v) s.push_back(static_cast<char>(b));
  return s;
}

TEST(SdkCppMapCodec, SerializesTheSpecExample) {
  // The spec's example: {{"a": "1"}, {"b": "22"}}.
  std::string got = serialize_header_map({{"a", "1"}, {"b", "22"}});
  std::string want =
      bytes({2,   0, 0,   0, 1,   0, 0,   0,   1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0,  //
             'a', 0, '1', 0, 'b', 0, '2', '2', 0});
  EXPECT_EQ(got, want);
}

TEST(SdkCppMapCodec, SerializesEmptyMapAsZeroCount) {
  EXPECT_EQ(serialize_header_map(std::vector<HeaderPair>()), bytes({0, 0, 0, 0}));
}

TEST(SdkCppMapCodec, SerializesOwningPairsAndLargeLengths) {
  std::vector<std::pair<std::string, std::string>> pairs = {{"x-long", std::string(300, 'v')},
                                                            {"", ""}};
  std::string s = serialize_header_map(pairs);
  ASSERT_EQ(s.size(), 4u + 16 + 6 + 1 + 300 + 1 + 2);
  EXPECT_EQ(weir::sdk::get_u32le(s.data() + 8), 300u);  // 0x2c 0x01: little-endian
  EXPECT_EQ(static_cast<unsigned char>(s[8]), 0x2cu);
  EXPECT_EQ(static_cast<unsigned char>(s[9]), 0x01u);
}

TEST(SdkCppMapCodec, RoundTrips) {
  std::vector<HeaderPair> in = {{":method", "GET"}, {":path", "/a?b=c"}, {"x-empty", ""},
                                {"x-dup", "1"},     {"x-dup", "2"},      {"bin", "a\0b"sv}};
  std::string raw = serialize_header_map(in);
  std::vector<HeaderPair> out;
  ASSERT_TRUE(parse_header_map(raw, out));
  EXPECT_EQ(out, in);
}

TEST(SdkCppMapCodec, ParsesBothEmptyForms) {
  std::vector<HeaderPair> out = {{"stale", "x"}};
  EXPECT_TRUE(parse_header_map("", out));
  EXPECT_TRUE(out.empty());
  out = {{"stale", "x"}};
  EXPECT_TRUE(parse_header_map(bytes({0}), out));
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(parse_header_map(bytes({0, 0, 0, 0}), out));
  EXPECT_TRUE(out.empty());
}

TEST(SdkCppMapCodec, ViewsPointIntoTheInput) {
  std::string raw = serialize_header_map({{"k", "v"}});
  std::vector<HeaderPair> out;
  ASSERT_TRUE(parse_header_map(raw, out));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_GE(out[0].first.data(), raw.data());
  EXPECT_LT(out[0].second.data(), raw.data() + raw.size());
}

TEST(SdkCppMapCodec, RejectsMalformedInput) {
  std::vector<HeaderPair> out;
  const std::string good = serialize_header_map({{"ab", "cd"}, {"e", "f"}});
  // Every truncation of a valid map is rejected (sizes 0 and 1 are the empty forms).
  for (size_t n = 2; n < good.size(); ++n) {
    EXPECT_FALSE(parse_header_map(std::string_view(good).substr(0, n), out)) << n;
    EXPECT_TRUE(out.empty());
  }
  EXPECT_FALSE(parse_header_map(bytes({1, 0}), out));  // shorter than the count
  // A count far larger than the data (would overflow count*8 on 32-bit).
  EXPECT_FALSE(parse_header_map(bytes({0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}), out));
  // A key length pointing past the end.
  EXPECT_FALSE(
      parse_header_map(bytes({1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0}), out));
  // Missing NUL separators.
  std::string bad = good;
  bad[4 + 16 + 2] = 'X';  // NUL after "ab"
  EXPECT_FALSE(parse_header_map(bad, out));
  bad = good;
  bad.back() = 'X';  // NUL after "f"
  EXPECT_FALSE(parse_header_map(bad, out));
  EXPECT_TRUE(out.empty());
}

TEST(SdkCppMapCodec, IgnoresTrailingBytes) {
  std::string raw = serialize_header_map({{"a", "b"}}) + "junk";
  std::vector<HeaderPair> out;
  ASSERT_TRUE(parse_header_map(raw, out));
  EXPECT_EQ(out, (std::vector<HeaderPair>{{"a", "b"}}));
}

TEST(SdkCppProperties, PathsAreNulSeparated) {
  EXPECT_EQ(weir::sdk::property_path({"plugin_root_id"}), "plugin_root_id");
  EXPECT_EQ(weir::sdk::property_path({"request", "path"}), "request\0path"sv);
  EXPECT_EQ(weir::sdk::property_path({}), "");
}

TEST(SdkCppProperties, Int64AndBool) {
  EXPECT_EQ(weir::sdk::decode_int64(bytes({5, 0, 0, 0, 0, 0, 0, 0})), 5);
  EXPECT_EQ(weir::sdk::decode_int64(bytes({0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})), -2);
  EXPECT_EQ(weir::sdk::decode_int64(bytes({0, 0, 0, 0, 0, 0, 0, 0x80})), INT64_MIN);
  EXPECT_FALSE(weir::sdk::decode_int64(bytes({5, 0, 0, 0})).has_value());
  EXPECT_FALSE(weir::sdk::decode_int64("").has_value());
  for (int64_t v : {int64_t{0}, int64_t{1}, int64_t{-1}, int64_t{1} << 40, INT64_MAX, INT64_MIN}) {
    std::string e = weir::sdk::encode_int64(v);
    EXPECT_EQ(e.size(), 8u);
    EXPECT_EQ(weir::sdk::decode_int64(e), v);
  }
  EXPECT_EQ(weir::sdk::decode_bool(bytes({1})), true);
  EXPECT_EQ(weir::sdk::decode_bool(bytes({0})), false);
  EXPECT_FALSE(weir::sdk::decode_bool("").has_value());
  EXPECT_FALSE(weir::sdk::decode_bool(bytes({1, 0})).has_value());
}

TEST(SdkCppParse, UnsignedDecimal) {
  EXPECT_EQ(weir::sdk::parse_uint("200"), 200u);
  EXPECT_EQ(weir::sdk::parse_uint("0"), 0u);
  EXPECT_EQ(weir::sdk::parse_uint("18446744073709551615"), UINT64_MAX);
  EXPECT_FALSE(weir::sdk::parse_uint("18446744073709551616").has_value());
  EXPECT_FALSE(weir::sdk::parse_uint("").has_value());
  EXPECT_FALSE(weir::sdk::parse_uint("-1").has_value());
  EXPECT_FALSE(weir::sdk::parse_uint("20x").has_value());
  EXPECT_FALSE(weir::sdk::parse_uint(" 20").has_value());
}

TEST(SdkCppMetricNames, Validity) {
  EXPECT_TRUE(weir::sdk::valid_metric_name("stat_filter.custom_metric.num_of_request"));
  EXPECT_TRUE(weir::sdk::valid_metric_name("x"));
  EXPECT_FALSE(weir::sdk::valid_metric_name(""));
  EXPECT_FALSE(weir::sdk::valid_metric_name(".a"));
  EXPECT_FALSE(weir::sdk::valid_metric_name("a."));
  EXPECT_FALSE(weir::sdk::valid_metric_name("a..b"));
  EXPECT_FALSE(weir::sdk::valid_metric_name("a\0b"sv));
}

TEST(SdkCppMetricNames, TagsBecomeSegments) {
  EXPECT_EQ(weir::sdk::metric_name("http.requests", {}), "http.requests");
  EXPECT_EQ(weir::sdk::metric_name("http.requests", {{"method", "GET"}, {"code", "200"}}),
            "http.requests.method.GET.code.200");
  // Values cannot add segments or control characters; empty values stay visible.
  EXPECT_EQ(weir::sdk::metric_name("m", {{"host", "a.example.com"}}), "m.host.a_example_com");
  EXPECT_EQ(weir::sdk::metric_name("m", {{"v", "a\nb\0c"sv}}), "m.v.a_b_c");
  EXPECT_EQ(weir::sdk::metric_name("m", {{"v", ""}}), "m.v._");
  // Invalid base or tag names give "".
  EXPECT_EQ(weir::sdk::metric_name("", {{"a", "b"}}), "");
  EXPECT_EQ(weir::sdk::metric_name("m.", {}), "");
  EXPECT_EQ(weir::sdk::metric_name("m", {{"", "b"}}), "");
  EXPECT_EQ(weir::sdk::metric_name("m", {{"a..b", "c"}}), "");
}

TEST(SdkCppStrCat, FormatsParts) {
  EXPECT_EQ(weir::str_cat(), "");
  EXPECT_EQ(weir::str_cat("path ", std::string("/x"), " took ", 12, " ms"), "path /x took 12 ms");
  EXPECT_EQ(weir::str_cat(INT64_MIN, ' ', UINT64_MAX), "-9223372036854775808 18446744073709551615");
  EXPECT_EQ(weir::str_cat(true, "/", false), "true/false");
  EXPECT_EQ(weir::str_cat(weir::Status::CasMismatch, " ", weir::Status::Ok), "cas_mismatch ok");
  EXPECT_EQ(weir::str_cat(weir::LogLevel::Warn), "3");
  EXPECT_EQ(weir::str_cat("nul\0inside"sv), "nul\0inside"sv);
}

TEST(SdkCppTypes, AbiValues) {
  // Values fixed by the ABI 0.2.1 spec.
  EXPECT_EQ(static_cast<uint32_t>(weir::Status::InvalidMemoryAccess), 6u);
  EXPECT_EQ(static_cast<uint32_t>(weir::Status::Unimplemented), 12u);
  EXPECT_EQ(static_cast<uint32_t>(weir::BufferType::PluginConfiguration), 7u);
  EXPECT_EQ(static_cast<uint32_t>(weir::MapType::HttpCallResponseHeaders), 6u);
  EXPECT_EQ(static_cast<uint32_t>(weir::MetricType::Histogram), 2u);
  EXPECT_EQ(static_cast<uint32_t>(weir::LogLevel::Critical), 5u);
  EXPECT_STREQ(weir::status_name(static_cast<weir::Status>(99)), "unknown");
}

TEST(SdkCppTrim, SpacesTabsAndCarriageReturns) {
  EXPECT_EQ(weir::sdk::trim("  a b \t\r"), "a b");
  EXPECT_EQ(weir::sdk::trim(" \t "), "");
  EXPECT_EQ(weir::sdk::trim(""), "");
  EXPECT_EQ(weir::sdk::trim("x"), "x");
}

TEST(SdkCppConfigLines, ParsesKeyValueLines) {
  auto config = weir::ConfigLines::parse(
      "# a comment\n"
      "capacity: 3\n"
      "\n"
      "  header :  x-a: 1  \r\n"
      "header: x-b: 2\n"
      "empty:\n"
      "capacity: 4");  // no final newline; the last value wins
  ASSERT_TRUE(config.ok()) << config.error();
  ASSERT_EQ(config.entries().size(), 5u);
  EXPECT_EQ(config.entries()[1].key, "header");
  EXPECT_EQ(config.entries()[1].value, "x-a: 1");
  EXPECT_EQ(config.entries()[1].line, 4u);
  EXPECT_EQ(config.get("capacity"), "4");
  EXPECT_EQ(config.get("empty"), "");
  EXPECT_EQ(config.get("missing"), std::nullopt);
  EXPECT_EQ(config.get_or("missing", "dflt"), "dflt");
  EXPECT_EQ(config.all("header"), (std::vector<std::string_view>{"x-a: 1", "x-b: 2"}));
  EXPECT_TRUE(config.all("missing").empty());
}

TEST(SdkCppConfigLines, NumbersAndFallbacks) {
  auto config = weir::ConfigLines::parse("n: 42\nbad: 4x\nneg: -1\n");
  EXPECT_EQ(config.get_uint("n", 7), 42u);
  EXPECT_EQ(config.get_uint("absent", 7), 7u);
  EXPECT_EQ(config.get_uint("bad", 7), std::nullopt);
  EXPECT_EQ(config.get_uint("neg", 7), std::nullopt);
}

TEST(SdkCppConfigLines, ReportsTheBadLineAndUnknownKeys) {
  auto bad = weir::ConfigLines::parse("a: 1\nno colon here\n");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.error(), "line 2: expected 'key: value', got 'no colon here'");
  EXPECT_TRUE(bad.entries().empty());
  EXPECT_FALSE(weir::ConfigLines::parse(": value").ok());

  auto config = weir::ConfigLines::parse("a: 1\n\ntypo: 2\n");
  EXPECT_EQ(config.check_keys({"a", "typo"}), "");
  EXPECT_EQ(config.check_keys({"a"}), "line 3: unknown key 'typo'");

  auto empty = weir::ConfigLines::parse("");
  EXPECT_TRUE(empty.ok());
  EXPECT_TRUE(empty.entries().empty());
}

}  // namespace
