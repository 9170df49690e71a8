#include "cluster/supervisor.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

using amalgam::cluster::Supervisor;

namespace {
std::vector<std::string> sh(const std::string& script) { return {"/bin/sh", "-c", script}; }

bool alive(pid_t pid) { return ::kill(pid, 0) == 0; }
}  // namespace

TEST(Supervisor, NodeZeroStatusIsTheResultAndTheOthersAreStopped) {
  Supervisor s({sh("sleep 0.2; exit 7"), sh("exec sleep 30")}, std::chrono::milliseconds(500));
  pid_t other = s.pid(1);
  auto start = std::chrono::steady_clock::now();
  auto r = s.wait();
  EXPECT_EQ(r.status, 7);
  EXPECT_EQ(r.failure, "");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_FALSE(alive(other));
}

TEST(Supervisor, ADeadNodeStopsTheMachineAndIsNamed) {
  Supervisor s({sh("exec sleep 30"), sh("sleep 0.2; kill -9 $$")}, std::chrono::milliseconds(500));
  pid_t dead = s.pid(1);
  pid_t zero = s.pid(0);
  auto start = std::chrono::steady_clock::now();
  auto r = s.wait();
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.failure, "node 1 (pid " + std::to_string(dead) + ") was killed by SIGKILL");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_FALSE(alive(zero));
}

TEST(Supervisor, ANodeThatIgnoresSigtermIsKilledAfterTheGracePeriod) {
  Supervisor s({sh("exit 0"), sh("trap '' TERM; while :; do sleep 0.05; done")}, std::chrono::milliseconds(300));
  pid_t stubborn = s.pid(1);
  auto r = s.wait();
  EXPECT_EQ(r.status, 0);
  EXPECT_FALSE(alive(stubborn));
}

TEST(Supervisor, ANodeThatCrashesAfterNodeZeroEndedIsNamed) {
  // Node 0 succeeds once node 1 ignores SIGTERM; node 1 outlives its SIGTERM
  // and then crashes, as a crash while the machine shuts down would.
  std::string ready = ::testing::TempDir() + "supervisor_crash_ready_" + std::to_string(::getpid());
  std::remove(ready.c_str());
  Supervisor s({sh("while [ ! -e " + ready + " ]; do sleep 0.01; done; exit 0"),
                sh("trap '' TERM; touch " + ready + "; sleep 0.3; kill -SEGV $$")},
               std::chrono::milliseconds(3000));
  pid_t crashed = s.pid(1);
  auto r = s.wait();
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.failure, "node 1 (pid " + std::to_string(crashed) + ") was killed by SIGSEGV while the machine stopped");
  std::remove(ready.c_str());
}

TEST(Supervisor, ANodeFailingWithAStatusIsNamed) {
  Supervisor s({sh("exec sleep 30"), sh("exit 3")}, std::chrono::milliseconds(500));
  auto r = s.wait();
  EXPECT_EQ(r.status, 3);
  EXPECT_NE(r.failure.find("node 1"), std::string::npos);
  EXPECT_NE(r.failure.find("exited with status 3"), std::string::npos);
}

TEST(Supervisor, ANodesReportLineIsTheFailure) {
  Supervisor s({sh("exec sleep 30"), sh("echo 'vCPU 3: triple fault at RIP 0x1000' >&3; exit 1")},
               std::chrono::milliseconds(500));
  auto r = s.wait();
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.failure, "vCPU 3: triple fault at RIP 0x1000");
}

TEST(Supervisor, NodeZeroReportsTheMachinesEnd) {
  Supervisor s({sh("echo 'node 1 stopped answering' >&3; exit 1"), sh("exec sleep 30")},
               std::chrono::milliseconds(500));
  auto r = s.wait();
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.failure, "node 1 stopped answering");
}
