#include "devices/uart16550.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using amalgam::devices::Uart16550;

namespace {
struct UartFixture : ::testing::Test {
  std::string out;
  std::vector<bool> irq_changes;
  Uart16550 uart{[this](uint8_t b) { out.push_back(static_cast<char>(b)); },
                 [this](bool level) { irq_changes.push_back(level); }};

  uint8_t rd(uint64_t off) {
    uint8_t v = 0;
    uart.read(off, {&v, 1});
    return v;
  }
  void wr(uint64_t off, uint8_t v) { uart.write(off, {&v, 1}); }
};
}  // namespace

TEST_F(UartFixture, TransmitsToTheSinkAndStaysReady) {
  for (char c : std::string("ok\n")) wr(0, static_cast<uint8_t>(c));
  EXPECT_EQ(out, "ok\n");
  EXPECT_EQ(rd(5) & 0x60, 0x60);  // THRE and TEMT
}

TEST_F(UartFixture, DivisorLatchHidesDataRegisters) {
  wr(3, 0x80);  // DLAB
  wr(0, 0x01);
  wr(1, 0x02);
  EXPECT_EQ(rd(0), 0x01);
  EXPECT_EQ(rd(1), 0x02);
  EXPECT_TRUE(out.empty());
  wr(3, 0x03);
  EXPECT_EQ(rd(1), 0x00);  // IER again
}

TEST_F(UartFixture, ReceivesBytesAndRaisesTheInterruptThroughOut2) {
  wr(4, 0x08);  // OUT2 gates the interrupt on a PC
  wr(1, 0x01);  // receive interrupt
  uint8_t in[] = {'a', 'b'};
  uart.receive(in);
  ASSERT_FALSE(irq_changes.empty());
  EXPECT_TRUE(irq_changes.back());
  EXPECT_EQ(rd(2) & 0x0F, 0x04);  // RX data available
  EXPECT_EQ(rd(5) & 1, 1);
  EXPECT_EQ(rd(0), 'a');
  EXPECT_EQ(rd(0), 'b');
  EXPECT_EQ(rd(5) & 1, 0);
  EXPECT_FALSE(irq_changes.back());
}

TEST_F(UartFixture, NoInterruptWithoutOut2) {
  wr(1, 0x01);
  uint8_t in[] = {'x'};
  uart.receive(in);
  EXPECT_TRUE(irq_changes.empty());
}

TEST_F(UartFixture, ThrEmptyInterruptClearsOnIirRead) {
  wr(4, 0x08);
  wr(1, 0x02);
  EXPECT_EQ(rd(2) & 0x0F, 0x02);
  EXPECT_EQ(rd(2) & 0x0F, 0x01);  // read once: gone
  wr(0, 'z');                     // sent at once: THR empty again
  EXPECT_EQ(rd(2) & 0x0F, 0x02);
}

TEST_F(UartFixture, LoopbackMirrorsModemControlAndData) {
  // The Linux 8250 probe: MCR loopback with OUT2|RTS|DTR... reads MSR back.
  wr(4, 0x10 | 0x0A);  // loop, OUT2, RTS
  EXPECT_EQ(rd(6) & 0xF0, 0x90);  // DCD (OUT2), CTS (RTS)
  wr(0, 'q');
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(rd(0), 'q');
  wr(7, 0x5A);
  EXPECT_EQ(rd(7), 0x5A);  // scratch
}
