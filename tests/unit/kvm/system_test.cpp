// kvm::System's refusals, on any host: a missing device is Unavailable (the
// CLI then points at the lab); a device that is there but is not KVM is a
// plain SystemError naming the failing call.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "kvm/system.hpp"

namespace amalgam::kvm {
namespace {

class KvmDevice : public ::testing::Test {
 protected:
  void TearDown() override { ::unsetenv("AMALGAM_KVM_DEVICE"); }
};

TEST_F(KvmDevice, DefaultsToDevKvm) {
  ::unsetenv("AMALGAM_KVM_DEVICE");
  EXPECT_STREQ(device_path(), "/dev/kvm");
  ::setenv("AMALGAM_KVM_DEVICE", "", 1);
  EXPECT_STREQ(device_path(), "/dev/kvm");
}

TEST_F(KvmDevice, AMissingDeviceIsUnavailable) {
  ::setenv("AMALGAM_KVM_DEVICE", "/nonexistent/kvm", 1);
  try {
    System system;
    FAIL() << "System() opened /nonexistent/kvm";
  } catch (const Unavailable& e) {
    EXPECT_EQ(std::string(e.what()), "open(/nonexistent/kvm): No such file or directory");
  }
}

TEST_F(KvmDevice, ADeviceThatIsNotKvmFailsWithTheIoctl) {
  ::setenv("AMALGAM_KVM_DEVICE", "/dev/null", 1);
  try {
    System system;
    FAIL() << "System() took /dev/null for KVM";
  } catch (const Unavailable&) {
    FAIL() << "/dev/null is there: not Unavailable";
  } catch (const SystemError& e) {
    EXPECT_NE(std::string(e.what()).find("KVM_GET_API_VERSION"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace amalgam::kvm
