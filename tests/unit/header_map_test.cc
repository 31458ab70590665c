#include "http/header_map.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace weir::http {
namespace {

using Fields = std::vector<HeaderMap::Entry>;

Fields fields_of(const HeaderMap& map) { return {map.entries().begin(), map.entries().end()}; }

TEST(HeaderMapTest, NamesAreStoredLowerCaseAndFoundInAnyCase) {
  HeaderMap map;
  map.add("X-Request-ID", "a");
  map.add_lower_case("content-type", "text/plain");
  EXPECT_EQ(fields_of(map), (Fields{{"x-request-id", "a"}, {"content-type", "text/plain"}}));
  EXPECT_EQ(map.get("x-request-id"), "a");
  EXPECT_EQ(map.get("X-REQUEST-ID"), "a");
  EXPECT_EQ(map.get("Content-Type"), "text/plain");
  EXPECT_FALSE(map.get("x-request-i"));
  EXPECT_FALSE(map.get("x-request-idd"));
  EXPECT_FALSE(map.get(""));
}

// Names are lower-cased 8 bytes at a time (the last bytes as an overlapping or a partial
// word): every byte value, at every position of names of every length up to three words,
// comes out as a byte-by-byte ASCII fold would make it.
TEST(HeaderMapTest, LowerCasesEveryByteValueAsAsciiFold) {
  for (size_t size = 1; size <= 24; ++size) {
    for (size_t at = 0; at < size; ++at) {
      for (int c = 0; c < 256; ++c) {
        std::string name(size, 'Q');
        name[at] = static_cast<char>(c);
        std::string expected = name;
        for (char& ch : expected) {
          if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch + 32);
        }
        HeaderMap map;
        map.add(name, "v");
        ASSERT_EQ(map.entries()[0].first, expected) << "byte " << c << " at " << at;
      }
    }
  }
}

// A name looked up with one upper-case letter anywhere is found (whether a name has an
// upper-case letter is also decided a word at a time).
TEST(HeaderMapTest, FindsANameWithAnUpperCaseLetterAtAnyPosition) {
  const std::string lower = "abcdefghijklmnopqrstuvwx";
  for (size_t size = 1; size <= lower.size(); ++size) {
    HeaderMap map;
    map.add(lower.substr(0, size), "v");
    for (size_t at = 0; at < size; ++at) {
      std::string probe = lower.substr(0, size);
      probe[at] = static_cast<char>(probe[at] - 32);
      ASSERT_EQ(map.get(probe), "v") << probe;
    }
  }
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
  EXPECT_EQ(fields_of(map), (Fields{{"a", "1"}, {"x-dup", "new"}, {"b", "2"}}));
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
  EXPECT_EQ(fields_of(map), (Fields{{"a", "1"}, {"b", "2"}}));
  EXPECT_EQ(map.remove("x"), 0u);
}

TEST(HeaderMapTest, RemoveIfKeepsOrder) {
  HeaderMap map;
  for (const char* name : {"a", "drop", "b", "drop", "c"}) map.add(name, name);
  EXPECT_EQ(map.remove_if([](std::string_view name) { return name == "drop"; }), 2u);
  EXPECT_EQ(fields_of(map), (Fields{{"a", "a"}, {"b", "b"}, {"c", "c"}}));
}

// Field storage goes back to a per-thread pool and the next map is built on it: nothing of
// the earlier map may show through, whatever the sizes of its fields.
TEST(HeaderMapTest, AMapBuiltOnAnEarlierMapsStorageHasOnlyItsOwnFields) {
  for (int round = 0; round < 3; ++round) {
    {
      HeaderMap earlier;
      for (int i = 0; i < 40; ++i) {
        earlier.add("X-Earlier-" + std::to_string(i), std::string(i * 20, 'v'));  // up to 780 B
      }
      earlier.set("date", "Sun, 29 Nov 2026 14:00:00 GMT");
    }
    HeaderMap later;
    later.add("Host", "a");
    later.add("x-b", "bb");
    EXPECT_EQ(fields_of(later), (Fields{{"host", "a"}, {"x-b", "bb"}}));
    EXPECT_EQ(later.byte_size(), 10u);
    EXPECT_FALSE(later.get("x-earlier-1"));
    EXPECT_FALSE(later.get(KnownHeader::kDate));
    const HeaderMap copy = later;
    EXPECT_EQ(fields_of(copy), fields_of(later));
  }
}

// A value read from the map itself and added to it: growing the map moves short strings
// (they live inside the slots), so the value must be read before that.
TEST(HeaderMapTest, AFieldCopiedFromTheSameMapSurvivesItsGrowth) {
  HeaderMap map;
  map.add("a", "short");
  for (int i = 0; i < 100; ++i) {
    map.add("x-" + std::to_string(i), *map.get("a"));
    map.add(map.entries()[0].first, "again");
  }
  ASSERT_EQ(map.size(), 201u);
  for (const auto& [name, value] : map.entries()) {
    if (name == "a") {
      EXPECT_TRUE(value == "short" || value == "again") << value;
    } else {
      EXPECT_EQ(value, "short") << name;
    }
  }
}

// A name passed as a view into the map itself: set() and remove() move short strings
// between slots as they drop repeats, so they must compare against a copy.
TEST(HeaderMapTest, SetAndRemoveTakeANameViewedInTheMapItself) {
  HeaderMap set_map;
  for (const auto& [name, value] :
       Fields{{"x", "1"}, {"y", "2"}, {"x", "3"}, {"z", "4"}, {"z", "5"}}) {
    set_map.add(name, value);
  }
  set_map.set(set_map.entries()[2].first, "new");  // the second "x", dropped as a repeat
  EXPECT_EQ(fields_of(set_map), (Fields{{"x", "new"}, {"y", "2"}, {"z", "4"}, {"z", "5"}}));

  HeaderMap remove_map;
  for (const char* name : {"a", "b", "a", "c", "c", "c"}) remove_map.add(name, name);
  EXPECT_EQ(remove_map.remove(remove_map.entries()[2].first), 2u);
  EXPECT_EQ(fields_of(remove_map), (Fields{{"b", "b"}, {"c", "c"}, {"c", "c"}, {"c", "c"}}));
  EXPECT_EQ(remove_map.byte_size(), 8u);
}

// Removed fields stay behind the live ones as spare slots: they are never seen again, and a
// copy or a move carries only the live fields.
TEST(HeaderMapTest, RemovedFieldsNeverShowThroughLaterOnes) {
  HeaderMap map;
  for (const char* name : {"a", "b", "c", "d"}) map.add(name, std::string(30, *name));
  EXPECT_EQ(map.remove("b"), 1u);
  EXPECT_EQ(map.remove("d"), 1u);
  map.add("e", "1");
  EXPECT_EQ(fields_of(map),
            (Fields{{"a", std::string(30, 'a')}, {"c", std::string(30, 'c')}, {"e", "1"}}));
  EXPECT_FALSE(map.get("b"));
  EXPECT_FALSE(map.get("d"));
  HeaderMap copy(map);
  EXPECT_EQ(fields_of(copy), fields_of(map));
  HeaderMap moved(std::move(map));
  EXPECT_EQ(fields_of(moved), fields_of(copy));
  EXPECT_TRUE(map.empty());  // NOLINT(bugprone-use-after-move): a moved-from map is empty
  map.add("f", "2");
  EXPECT_EQ(fields_of(map), (Fields{{"f", "2"}}));
  copy = moved;
  copy.clear();
  EXPECT_TRUE(copy.empty());
  EXPECT_FALSE(copy.get("a"));
}

TEST(HeaderMapTest, ByteSize) {
  HeaderMap map;
  map.add("ab", "cde");
  map.add("f", "");
  EXPECT_EQ(map.byte_size(), 6u);
}

// The index of known headers against a plain model: random adds, sets and removes of known
// and other names, in any case, and every lookup agrees with a linear scan.
TEST(HeaderMapTest, KnownHeaderIndexAgreesWithAScan) {
  const std::vector<std::string> names = {
      ":method",      ":path",           "Host",           "te",
      "x-request-id", "X-Forwarded-For", "content-length", "date",
      "user-agent",   "X-Custom",        "accept",         "x-envoy-upstream-service-time"};
  HeaderMap map;
  Fields model;
  uint32_t seed = 12345;
  const auto next = [&] {
    seed = seed * 1103515245u + 12345u;
    return seed >> 16;
  };
  for (int step = 0; step < 20000; ++step) {
    const std::string& name = names[next() % names.size()];
    const std::string lower = to_lower(name);
    const std::string value = std::to_string(step);
    switch (next() % 5) {
      case 0:
      case 1:
        map.add(name, value);
        model.emplace_back(lower, value);
        break;
      case 2: {
        map.set(name, value);
        auto it = std::find_if(model.begin(), model.end(),
                               [&](const HeaderMap::Entry& e) { return e.first == lower; });
        if (it == model.end()) {
          model.emplace_back(lower, value);
        } else {
          it->second = value;
          auto rest = std::remove_if(it + 1, model.end(),
                                     [&](const HeaderMap::Entry& e) { return e.first == lower; });
          model.erase(rest, model.end());
        }
        break;
      }
      case 3: {
        const size_t removed =
            std::erase_if(model, [&](const HeaderMap::Entry& e) { return e.first == lower; });
        EXPECT_EQ(map.remove(name), removed);
        break;
      }
      case 4: {
        if (next() % 20 == 0) {
          HeaderMap moved = std::move(map);
          map = moved;  // a copy keeps the index; the moved-from map was emptied
          EXPECT_TRUE(moved.get(name) == map.get(name));
        }
        break;
      }
    }
    ASSERT_EQ(fields_of(map), model) << "step " << step;
    size_t bytes = 0;
    for (const auto& [name, value] : model) bytes += name.size() + value.size();
    ASSERT_EQ(map.byte_size(), bytes) << "step " << step;
    for (const std::string& probe : names) {
      auto it = std::find_if(model.begin(), model.end(),
                             [&](const HeaderMap::Entry& e) { return e.first == to_lower(probe); });
      const auto got = map.get(probe);
      ASSERT_EQ(got.has_value(), it != model.end()) << probe << " at step " << step;
      if (got) ASSERT_EQ(*got, it->second) << probe << " at step " << step;
    }
  }
}

TEST(HeaderMapTest, ClassifiesKnownNamesInAnyCase) {
  EXPECT_EQ(classify_header("X-Request-Id"), KnownHeader::kXRequestId);
  EXPECT_EQ(classify_header(":METHOD"), KnownHeader::kMethod);
  EXPECT_EQ(classify_header(":status"), KnownHeader::kStatus);
  EXPECT_EQ(classify_header("x-forwarded-client-cert"), KnownHeader::kXForwardedClientCert);
  EXPECT_EQ(classify_header("x-request-ie"), KnownHeader::kNone);
  EXPECT_EQ(classify_header(""), KnownHeader::kNone);
  for (size_t i = 0; i < static_cast<size_t>(KnownHeader::kCount); ++i) {
    const auto header = static_cast<KnownHeader>(i);
    EXPECT_EQ(classify_header(known_header_name(header)), header);
  }
}

TEST(HeaderMapTest, MovedFromMapIsEmptyAndUsable) {
  HeaderMap map;
  map.add(":status", "200");
  map.add("date", "x");
  HeaderMap taken = std::move(map);
  EXPECT_TRUE(map.empty());  // NOLINT(bugprone-use-after-move): the documented state
  EXPECT_FALSE(map.get(KnownHeader::kStatus));
  map.add("server", "s");
  EXPECT_EQ(map.get("server"), "s");
  EXPECT_FALSE(map.get("date"));
  EXPECT_EQ(taken.get(KnownHeader::kDate), "x");
}

}  // namespace
}  // namespace weir::http
