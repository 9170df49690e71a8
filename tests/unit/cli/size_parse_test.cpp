#include "cli/size_parse.hpp"

#include <gtest/gtest.h>

#include "common/error.hpp"

using amalgam::cli::parse_size;

TEST(ParseSize, AcceptsBinaryUnits) {
  EXPECT_EQ(parse_size("65536", "--memory"), 65536u);
  EXPECT_EQ(parse_size("512M", "--memory"), 512ull << 20);
  EXPECT_EQ(parse_size("4G", "--memory"), 4ull << 30);
  EXPECT_EQ(parse_size("64GiB", "--memory"), 64ull << 30);
  EXPECT_EQ(parse_size("2gb", "--memory"), 2ull << 30);
  EXPECT_EQ(parse_size("1T", "--memory"), 1ull << 40);
  EXPECT_EQ(parse_size("100B", "--memory"), 100u);
}

TEST(ParseSize, RejectsGarbageNamingTheFlag) {
  for (const char* bad : {"", "G", "12X", "-1", "4GG", "99999999999999999999", "17179869184T", "1BiB"}) {
    try {
      parse_size(bad, "--memory");
      ADD_FAILURE() << bad;
    } catch (const amalgam::UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("--memory"), std::string::npos);
    }
  }
}
