// The userfaultfd wrapper on anonymous memory: faults from another thread,
// each way of resolving them, the race answers and the errors.
#include <gtest/gtest.h>
#include <linux/userfaultfd.h>
#include <poll.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "common/error.hpp"
#include "common/mapping.hpp"
#include "memory/userfaultfd.hpp"

using amalgam::Mapping;
using amalgam::SystemError;
using amalgam::memory::Userfaultfd;

namespace {

constexpr size_t kPage = 4096;

// A userfaultfd with write-protect faults over 8 fresh pages.
struct Fixture {
  Userfaultfd uffd;
  Mapping mem = Mapping::anonymous(8 * kPage);
  Fixture() {
    uffd.api(UFFD_FEATURE_PAGEFAULT_FLAG_WP);
    uffd.register_range(mem.data(), mem.size(), true, true);
  }
  uint8_t* page(size_t i) const { return mem.data() + i * kPage; }

  // Waits (up to 5 s) for the next fault event.
  Userfaultfd::FaultEvent next_fault() {
    std::vector<Userfaultfd::FaultEvent> events;
    pollfd p{uffd.fd(), POLLIN, 0};
    while (events.empty()) {
      if (::poll(&p, 1, 5000) != 1) throw std::runtime_error("no fault event");
      uffd.read_events(events);
    }
    EXPECT_EQ(events.size(), 1u);
    return events[0];
  }
};

bool userfaultfd_available() {
  try {
    Userfaultfd probe;
    return true;
  } catch (const SystemError&) {
    return false;
  }
}

#define REQUIRE_USERFAULTFD() \
  if (!userfaultfd_available()) GTEST_SKIP() << "userfaultfd not permitted here"

TEST(Userfaultfd, KernelSupportsWriteProtectOnAnonymousMemory) {
  REQUIRE_USERFAULTFD();
  uint64_t features = Userfaultfd::supported_features();
  std::cout << "userfaultfd features: " << amalgam::memory::feature_names(features) << "\n";
  EXPECT_TRUE(features & UFFD_FEATURE_PAGEFAULT_FLAG_WP);
}

TEST(Userfaultfd, MissingFaultResolvedByCopyThenWriteProtectFault) {
  REQUIRE_USERFAULTFD();
  Fixture f;
  std::vector<uint8_t> bytes(kPage, 0x5a);
  std::atomic<int> step{0};
  std::thread toucher([&] {
    uint8_t v = f.page(1)[7];  // missing: blocks until copied
    EXPECT_EQ(v, 0x5a);
    step = 1;
    f.page(1)[7] = 1;  // write-protected: blocks until cleared
    step = 2;
  });
  auto miss = f.next_fault();
  EXPECT_EQ(miss.address, reinterpret_cast<uint64_t>(f.page(1)));
  EXPECT_FALSE(miss.write);
  EXPECT_FALSE(miss.wp);
  EXPECT_TRUE(f.uffd.copy(f.page(1), bytes.data(), kPage, /*write_protect=*/true));
  auto wp = f.next_fault();
  EXPECT_EQ(step.load(), 1);
  EXPECT_TRUE(wp.write);
  EXPECT_TRUE(wp.wp);
  f.uffd.write_protect(f.page(1), kPage, false);
  toucher.join();
  EXPECT_EQ(f.page(1)[7], 1);
  // A second copy onto a populated page is refused, not an error.
  EXPECT_FALSE(f.uffd.copy(f.page(1), bytes.data(), kPage, false));
  EXPECT_EQ(f.page(1)[7], 1);
}

TEST(Userfaultfd, WriteToMissingPageIsAWriteFaultAndZeroPageResolvesIt) {
  REQUIRE_USERFAULTFD();
  Fixture f;
  std::thread toucher([&] { f.page(2)[0] = 9; });
  auto miss = f.next_fault();
  EXPECT_TRUE(miss.write);
  EXPECT_FALSE(miss.wp);
  EXPECT_TRUE(f.uffd.zeropage(f.page(2), kPage));
  toucher.join();
  EXPECT_EQ(f.page(2)[0], 9);
  EXPECT_EQ(f.page(2)[1], 0);
  EXPECT_FALSE(f.uffd.zeropage(f.page(2), kPage));
}

TEST(Userfaultfd, DontWakeLeavesTheThreadBlockedUntilWake) {
  REQUIRE_USERFAULTFD();
  Fixture f;
  std::atomic<bool> done{false};
  std::thread toucher([&] {
    (void)*reinterpret_cast<volatile uint8_t*>(f.page(3));
    done = true;
  });
  f.next_fault();
  std::vector<uint8_t> zeros(kPage);
  EXPECT_TRUE(f.uffd.copy(f.page(3), zeros.data(), kPage, false, /*wake=*/false));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(done.load());
  f.uffd.wake(f.page(3), kPage);
  toucher.join();
}

TEST(Userfaultfd, UnregisterReleasesABlockedThread) {
  REQUIRE_USERFAULTFD();
  Fixture f;
  std::thread toucher([&] { f.page(4)[0] = 3; });
  f.next_fault();
  f.uffd.unregister_range(f.mem.data(), f.mem.size());
  toucher.join();
  EXPECT_EQ(f.page(4)[0], 3);
}

TEST(Userfaultfd, FailedIoctlsNameTheCall) {
  REQUIRE_USERFAULTFD();
  Fixture f;
  try {
    f.uffd.register_range(f.page(0) + 1, kPage, true, false);
    FAIL() << "unaligned range registered";
  } catch (const SystemError& e) {
    EXPECT_NE(std::string(e.what()).find("UFFDIO_REGISTER"), std::string::npos) << e.what();
    EXPECT_EQ(e.code(), EINVAL);
  }
  EXPECT_THROW(f.uffd.api(0), SystemError);  // the handshake is done once
  try {
    f.uffd.write_protect(f.page(0) + 8 * kPage * 64, kPage, true);
    FAIL() << "write protection outside the registration";
  } catch (const SystemError& e) {
    EXPECT_NE(std::string(e.what()).find("UFFDIO_WRITEPROTECT"), std::string::npos) << e.what();
  }
}

}  // namespace
