// Framing of Redis replies for Higress's proxy_redis_call (resp_reply.h).
#include "extensions/common/wasm/resp_reply.h"

#include <gtest/gtest.h>

#include <string>

namespace weir::extensions::wasm {
namespace {

TEST(RespReply, CompleteRepliesOfEveryType) {
  EXPECT_EQ(resp_reply_size("+OK\r\n"), 5);
  EXPECT_EQ(resp_reply_size("-WRONGPASS invalid password\r\n+OK\r\n"), 29);
  EXPECT_EQ(resp_reply_size(":42\r\nmore"), 5);
  EXPECT_EQ(resp_reply_size("$5\r\nhello\r\n"), 11);
  EXPECT_EQ(resp_reply_size("$0\r\n\r\n"), 6);
  EXPECT_EQ(resp_reply_size("$-1\r\n"), 5);
  EXPECT_EQ(resp_reply_size("*-1\r\n"), 5);
  EXPECT_EQ(resp_reply_size("*2\r\n$1\r\na\r\n:1\r\n"), 15);
  EXPECT_EQ(resp_reply_size("*2\r\n*1\r\n+x\r\n$-1\r\n"), 17);
  EXPECT_EQ(resp_reply_size("%1\r\n+k\r\n:1\r\n"), 12);  // RESP3 map: pairs
  EXPECT_EQ(resp_reply_size("_\r\n"), 3);
  // A bulk string may hold CRLF.
  EXPECT_EQ(resp_reply_size("$4\r\na\r\nb\r\n"), 10);
}

TEST(RespReply, IncompleteRepliesWaitForMore) {
  for (std::string partial : {"", "+O", "+OK\r", "$5\r\nhel", "$5\r\nhello\r", "*2\r\n:1\r\n",
                              "*3\r\n$1\r\na\r\n", "$100000000\r\nabc"}) {
    EXPECT_EQ(resp_reply_size(partial), 0) << partial;
  }
}

TEST(RespReply, MalformedRepliesAreRefused) {
  for (std::string bad : {"hello\r\n", "+OK\rX", "$abc\r\n", "$5\r\nhelloXX", "*-2\r\n", "$-5\r\n",
                          "*99999999999999999999\r\n"}) {
    EXPECT_EQ(resp_reply_size(bad), -1) << bad;
  }
  // Nesting past the bound.
  std::string deep;
  for (int i = 0; i < kMaxRespDepth + 2; ++i) deep += "*1\r\n";
  deep += ":1\r\n";
  EXPECT_EQ(resp_reply_size(deep), -1);
  // A line that never ends, past 64 KiB, is not a reply.
  EXPECT_EQ(resp_reply_size("+" + std::string(70000, 'x')), -1);
}

}  // namespace
}  // namespace weir::extensions::wasm
