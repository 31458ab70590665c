// The hand-written protobuf encodings of Struct, Metadata and Node, and property paths into
// them, against bytes worked out from the wire format.
#include "common/proto_struct.h"

#include <gtest/gtest.h>

#include <cstring>

namespace weir::common {
namespace {

ProtoValue str(std::string s) {
  ProtoValue v;
  v.kind = ProtoValue::Kind::String;
  v.string = std::move(s);
  return v;
}

TEST(ProtoStruct, StructEncodesMapEntriesInKeyOrder) {
  ProtoValue s = ProtoValue::empty_struct();
  s.fields["b"] = str("c");
  ProtoValue n;
  n.kind = ProtoValue::Kind::Bool;
  n.boolean = true;
  s.fields["a"] = n;
  std::string out;
  encode_struct(s, out);
  // {1: {1: "a", 2: Value{4: true}}}, {1: {1: "b", 2: Value{3: "c"}}}
  EXPECT_EQ(out, std::string("\x0a\x07\x0a\x01"
                             "a"
                             "\x12\x02\x20\x01"
                             "\x0a\x08\x0a\x01"
                             "b"
                             "\x12\x03\x1a\x01"
                             "c",
                             19));
}

TEST(ProtoStruct, MetadataAndPathsAsEnvoysCel) {
  Metadata m;
  ProtoValue ns = ProtoValue::empty_struct();
  ns.fields["k"] = str("v");
  ProtoValue num;
  num.kind = ProtoValue::Kind::Number;
  num.number = 1.5;
  ns.fields["n"] = num;
  ns.fields["null"] = ProtoValue{};
  m.filter_metadata["envoy.lb"] = ns;
  std::string out;
  ASSERT_TRUE(metadata_property(m, std::string_view("filter_metadata\0envoy.lb\0k", 26), out));
  EXPECT_EQ(out, "v");
  ASSERT_TRUE(metadata_property(m, std::string_view("filter_metadata\0envoy.lb\0n", 26), out));
  double d = 0;
  ASSERT_EQ(out.size(), 8u);
  memcpy(&d, out.data(), 8);
  EXPECT_EQ(d, 1.5);
  EXPECT_FALSE(metadata_property(m, std::string_view("filter_metadata\0envoy.lb\0null", 29), out));
  EXPECT_FALSE(metadata_property(m, std::string_view("filter_metadata\0nope", 20), out));
  EXPECT_FALSE(metadata_property(m, "filter_metadataX", out));
  EXPECT_FALSE(metadata_property(m, std::string_view("filter_metadata\0envoy.lb\0k\0x", 28), out));
  ASSERT_TRUE(metadata_property(m, "", out));
  EXPECT_EQ(out.substr(0, 2), "\x0a\x32");  // one filter_metadata entry of 50 bytes
}

TEST(ProtoStruct, NodeFields) {
  NodeInfo n;
  n.id = "i";
  n.cluster = "c";
  n.zone = "z";
  std::string out;
  ASSERT_TRUE(node_property(n, "", out));
  EXPECT_EQ(out, std::string("\x0a\x01i\x12\x01"
                             "c"
                             "\x22\x03\x12\x01z",
                             11));
  ASSERT_TRUE(node_property(n, std::string_view("locality\0zone", 13), out));
  EXPECT_EQ(out, "z");
  EXPECT_FALSE(node_property(n, std::string_view("id\0x", 4), out));
  EXPECT_FALSE(node_property(n, "idx", out));
}

}  // namespace
}  // namespace weir::common
