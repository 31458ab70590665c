// proxy_set_property values are bounded per context: a root context lives as long as its
// VM, so a plugin setting ever new properties from its ticks would grow the host forever.
#include <gtest/gtest.h>

#include <string>

#include "proxy_wasm/vm.h"

namespace weir::proxy_wasm {
namespace {

TEST(PropertyBoundTest, PathsAndValuesOfOneContextAreBounded) {
  RootContext root(nullptr, 1, std::make_shared<PluginSpec>());
  const std::string value(1000, 'v');
  size_t stored = 0;
  for (int i = 0; i < 10000; ++i) {
    if (!root.set_property("key" + std::to_string(i), value)) break;
    ++stored;
  }
  EXPECT_GT(stored, 900u);
  EXPECT_LT(stored, 1024u);  // 1 MiB of paths, values and 64 bytes each
  // Nothing stored past the bound; what was stored is intact and can shrink or be
  // replaced within the bound.
  EXPECT_EQ(root.find_property("key" + std::to_string(stored)), nullptr);
  ASSERT_NE(root.find_property("key0"), nullptr);
  EXPECT_EQ(*root.find_property("key0"), value);
  EXPECT_FALSE(root.set_property("key0", std::string(ContextBase::kMaxPropertyBytes, 'x')));
  EXPECT_TRUE(root.set_property("key0", "small"));
  EXPECT_TRUE(root.set_property("new", value));  // room again
  EXPECT_EQ(*root.find_property("key0"), "small");
}

}  // namespace
}  // namespace weir::proxy_wasm
