// The parsers behind code.remote and oci:// code: references, URLs, JSON from registries.
#include <gtest/gtest.h>

#include <string>

#include "extensions/common/wasm/blocking_http_client.h"
#include "extensions/common/wasm/json_value.h"
#include "extensions/common/wasm/oci_registry.h"
#include "extensions/common/wasm/oci_wasm_image.h"

namespace weir::extensions::wasm {
namespace {

TEST(OciReference, TagsDigestsPortsAndNestedRepositories) {
  auto r = parse_oci_reference("oci://ghcr.io/acme/plugins/add-header:1.2");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->registry, "ghcr.io");
  EXPECT_EQ(r->repository, "acme/plugins/add-header");
  EXPECT_EQ(r->tag, "1.2");
  EXPECT_EQ(r->reference(), "1.2");

  r = parse_oci_reference("oci://127.0.0.1:5000/p");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->registry, "127.0.0.1:5000");
  EXPECT_EQ(r->tag, "latest");

  const std::string digest = "sha256:" + std::string(64, 'a');
  r = parse_oci_reference("oci://localhost:5000/a/b@" + digest);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->repository, "a/b");
  EXPECT_EQ(r->digest, digest);
  EXPECT_EQ(r->reference(), digest);
  EXPECT_EQ(r->to_string(), "localhost:5000/a/b@" + digest);
}

TEST(OciReference, MalformedReferencesAreRefused) {
  for (const char* bad : {"oci://registry", "oci:///repo:tag", "http://r/p:t", "oci://r/Upper:t",
                          "oci://r/p@sha256:abc", "oci://r/p@md5:" /* not sha256 */,
                          "oci://r/p:ta/g", "oci://r/p:", "oci://r/p:t@sha256:"}) {
    EXPECT_FALSE(parse_oci_reference(bad).ok()) << bad;
  }
}

TEST(HttpUrl, SchemesPortsAndIpv6) {
  auto u = parse_http_url("https://example.com/a/b?c=d");
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE(u->https);
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->path_and_query, "/a/b?c=d");
  EXPECT_EQ(u->authority(), "example.com");
  u = parse_http_url("http://[::1]:8080");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->path_and_query, "/");
  EXPECT_EQ(u->authority(), "[::1]:8080");
  EXPECT_FALSE(parse_http_url("http://user:pw@host/").ok());  // no credentials in URLs
  EXPECT_FALSE(parse_http_url("http://host:99999/").ok());
  EXPECT_FALSE(parse_http_url("ftp://host/").ok());
}

TEST(JsonValue, ManifestsEscapesAndBounds) {
  auto j = parse_json(
      R"({"schemaVersion":2,"layers":[{"mediaType":"application/wasm","size":12}],"s":"a\"\u00e9\ud83d\ude00"})");
  ASSERT_TRUE(j.ok()) << j.error();
  const JsonValue* layers = j->get("layers");
  ASSERT_TRUE(layers && layers->array.size() == 1);
  EXPECT_EQ(layers->array[0].get_string("mediaType"), "application/wasm");
  EXPECT_EQ(layers->array[0].get("size")->number, 12);
  EXPECT_EQ(j->get_string("s"), "a\"\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_FALSE(parse_json(std::string(40, '[') + std::string(40, ']')).ok());  // too deep
  EXPECT_FALSE(parse_json(std::string(100000, '[')).ok());
  EXPECT_FALSE(parse_json("{\"a\":1,}").ok());
  EXPECT_FALSE(parse_json("{\"a\":1} x").ok());
  EXPECT_EQ(json_quote("a\"b\n"), "\"a\\\"b\\n\"");
}

TEST(WasmLayer, RawModulesAndRefusals) {
  const std::string wasm("\0asm\1\0\0\0", 8);
  auto out = wasm_from_layer("application/wasm", wasm);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out.value(), wasm);
  EXPECT_FALSE(wasm_from_layer("application/wasm", "not wasm").ok());
  auto bad = wasm_from_layer("application/vnd.oci.image.layer.v1.tar+gzip", "\x1f\x8b garbage");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("gzip"), std::string::npos);
  bad = wasm_from_layer("application/vnd.oci.image.layer.v1.tar", std::string(1024, '\0'));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("no plugin.wasm"), std::string::npos);
}

}  // namespace
}  // namespace weir::extensions::wasm
