#include <gtest/gtest.h>

#include "boot/aml.hpp"

using namespace amalgam::boot;

TEST(Aml, PkgLengthEncodings) {
  EXPECT_EQ(aml::pkg_length(0), (Bytes{0x01}));
  EXPECT_EQ(aml::pkg_length(62), (Bytes{0x3F}));
  // 63 + 2 = 65 = 0x41: lead byte 0b01 << 6 | 0x1, then 0x41 >> 4.
  EXPECT_EQ(aml::pkg_length(63), (Bytes{0x41, 0x04}));
  EXPECT_EQ(aml::pkg_length(0xFFD), (Bytes{0x4F, 0xFF}));        // 0xFFF total
  EXPECT_EQ(aml::pkg_length(0xFFE), (Bytes{0x81, 0x00, 0x01}));  // 0x1001 total
  EXPECT_THROW(aml::pkg_length(1u << 28), std::length_error);
}

TEST(Aml, IntegersUseTheSmallestEncoding) {
  EXPECT_EQ(aml::integer(0), (Bytes{0x00}));
  EXPECT_EQ(aml::integer(1), (Bytes{0x01}));
  EXPECT_EQ(aml::integer(5), (Bytes{0x0A, 0x05}));
  EXPECT_EQ(aml::integer(0x3F8), (Bytes{0x0B, 0xF8, 0x03}));
  EXPECT_EQ(aml::integer(0x12345678), (Bytes{0x0C, 0x78, 0x56, 0x34, 0x12}));
  EXPECT_EQ(aml::integer(1ull << 32).size(), 9u);
}

TEST(Aml, NamesArePaddedAndChecked) {
  EXPECT_EQ(aml::name_string("_S5"), (Bytes{'_', 'S', '5', '_'}));
  EXPECT_EQ(aml::name_string("\\_SB"), (Bytes{'\\', '_', 'S', 'B', '_'}));
  EXPECT_THROW(aml::name_string("TOOLONG"), std::invalid_argument);
  EXPECT_THROW(aml::name_string("1ABC"), std::invalid_argument);
  EXPECT_THROW(aml::name_string("a"), std::invalid_argument);
}

TEST(Aml, EisaIdMatchesIasl) {
  // iasl encodes EisaId("PNP0501") as DWord 0x0105D041.
  EXPECT_EQ(aml::eisa_id("PNP0501"), (Bytes{0x0C, 0x41, 0xD0, 0x05, 0x01}));
  EXPECT_THROW(aml::eisa_id("pnp0501"), std::invalid_argument);
  EXPECT_THROW(aml::eisa_id("PNP05"), std::invalid_argument);
}

TEST(Aml, S5PackageAndCom1MatchHandAssembly) {
  EXPECT_EQ(aml::name("\\_S5", aml::package({aml::integer(5), aml::integer(5)})),
            (Bytes{0x08, '\\', '_', 'S', '5', '_', 0x12, 0x06, 0x02, 0x0A, 0x05, 0x0A, 0x05}));
  EXPECT_EQ(aml::resource_template({aml::io_port(0x3F8, 0x3F8, 1, 8), aml::irq_no_flags(4)}),
            (Bytes{0x11, 0x10, 0x0A, 0x0D,                                 // Buffer(13)
                   0x47, 0x01, 0xF8, 0x03, 0xF8, 0x03, 0x01, 0x08,         // IO
                   0x22, 0x10, 0x00,                                       // IRQNoFlags {4}
                   0x79, 0x00}));                                          // End tag
  EXPECT_EQ(aml::device("COM1", {}), (Bytes{0x5B, 0x82, 0x05, 'C', 'O', 'M', '1'}));
  EXPECT_EQ(aml::scope("\\_SB", {}), (Bytes{0x10, 0x06, '\\', '_', 'S', 'B', '_'}));
  EXPECT_THROW(aml::irq_no_flags(16), std::invalid_argument);
}
