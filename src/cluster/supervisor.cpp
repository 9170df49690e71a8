#include "cluster/supervisor.hpp"

#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/error.hpp"
#include "common/stop_signals.hpp"

namespace amalgam::cluster {

namespace {
int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }
}  // namespace

Supervisor::Supervisor(std::vector<std::vector<std::string>> node_commands, std::chrono::milliseconds grace)
    : nodes_(node_commands.size()), grace_(grace) {
  // Block the stop signals before any child exists: they are read from a
  // signalfd in wait(), and children unblock them for themselves after fork.
  block_stop_signals();
  for (size_t i = 0; i < node_commands.size(); ++i) spawn(i, node_commands[i]);
}

Supervisor::~Supervisor() {
  // Never leave a node behind, whatever happened.
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (nodes_[i].pid > 0 && !nodes_[i].ended) {
      ::kill(nodes_[i].pid, SIGKILL);
      ::waitpid(nodes_[i].pid, nullptr, 0);
    }
}

void Supervisor::spawn(size_t index, const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int pipe_fds[2];
  check_syscall(::pipe2(pipe_fds, O_CLOEXEC), "pipe2");
  UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) throw SystemError("fork", errno);
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the launcher died before prctl
    sigset_t set = stop_signal_set();
    pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
    ::dup2(write_end.get(), kReportFd);  // dup2 clears close-on-exec on the copy
    ::execv(args[0], args.data());
    ::dprintf(STDERR_FILENO, "amalgam: node %zu: exec %s: %s\n", index, args[0], std::strerror(errno));
    ::_exit(127);
  }
  nodes_[index].pid = pid;
  nodes_[index].report = std::move(read_end);
  int fd = pidfd_open(pid);
  if (fd < 0) throw SystemError("pidfd_open", errno);
  nodes_[index].pidfd.reset(fd);
}

void Supervisor::signal_all(int sig) {
  for (auto& n : nodes_)
    if (!n.ended) {
      ::kill(n.pid, sig);
      ::kill(n.pid, SIGCONT);  // a stopped node must run to see it
    }
}

bool Supervisor::reap(size_t index) {
  Node& n = nodes_[index];
  if (n.ended) return true;
  int status = 0;
  pid_t r = ::waitpid(n.pid, &status, WNOHANG);
  if (r == n.pid) {
    n.ended = true;
    n.wait_status = status;
    // The node has exited: its report, if any, is all in the pipe.
    char buf[1024];
    ssize_t len = ::read(n.report.get(), buf, sizeof buf);
    if (len > 0) {
      n.report_line.assign(buf, static_cast<size_t>(len));
      auto newline = n.report_line.find('\n');
      if (newline != std::string::npos) n.report_line.resize(newline);
    }
  }
  return n.ended;
}

std::string Supervisor::describe(int wait_status) {
  if (WIFSIGNALED(wait_status)) {
    const char* name = sigabbrev_np(WTERMSIG(wait_status));
    return fmt::format("was killed by SIG{}", name ? name : std::to_string(WTERMSIG(wait_status)));
  }
  return fmt::format("exited with status {}", WEXITSTATUS(wait_status));
}

SupervisorResult Supervisor::wait() {
  sigset_t set = stop_signal_set();
  UniqueFd signals(static_cast<int>(check_syscall(::signalfd(-1, &set, SFD_CLOEXEC), "signalfd")));
  SupervisorResult result;
  bool decided = false;  // result fixed; now only waiting for the rest to end
  auto deadline = std::chrono::steady_clock::time_point::max();
  auto decide = [&](int status, std::string failure) {
    if (decided) return;
    decided = true;
    result.status = status;
    result.failure = std::move(failure);
    signal_all(SIGTERM);
    deadline = std::chrono::steady_clock::now() + grace_;
  };

  for (;;) {
    bool all_ended = true;
    for (size_t i = 0; i < nodes_.size(); ++i) {
      bool was_ended = nodes_[i].ended;
      if (!reap(i)) {
        all_ended = false;
        continue;
      }
      if (was_ended) continue;
      int ws = nodes_[i].wait_status;
      bool clean = WIFEXITED(ws);
      const std::string& report = nodes_[i].report_line;
      if (i == 0 && clean) {
        decide(WEXITSTATUS(ws), report);  // node 0 holds the guest's status
      } else if (!clean) {
        std::string what = fmt::format("node {} (pid {}) {}", i, nodes_[i].pid, describe(ws));
        if (!decided) {
          decide(1, what);
        } else if (WTERMSIG(ws) != SIGTERM && WTERMSIG(ws) != SIGKILL && result.status == 0) {
          // Not the supervisor's own signals: a node that crashed while it
          // stopped. The guest's run may have succeeded; the machine's did not.
          result.status = 1;
          result.failure = what + " while the machine stopped";
        }
      } else if (WEXITSTATUS(ws) != 0) {
        decide(WEXITSTATUS(ws),
               report.empty() ? fmt::format("node {} (pid {}) {}", i, nodes_[i].pid, describe(ws)) : report);
      }
    }
    if (all_ended) return result;

    auto now = std::chrono::steady_clock::now();
    if (decided && now >= deadline) {
      signal_all(SIGKILL);
      deadline = std::chrono::steady_clock::time_point::max();
    }
    std::vector<pollfd> fds;
    fds.push_back({signals.get(), POLLIN, 0});
    for (auto& n : nodes_)
      if (!n.ended) fds.push_back({n.pidfd.get(), POLLIN, 0});
    int timeout_ms = -1;
    if (deadline != std::chrono::steady_clock::time_point::max())
      timeout_ms = static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1);
    if (::poll(fds.data(), fds.size(), timeout_ms) < 0 && errno != EINTR) throw SystemError("poll", errno);
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo info{};
      if (::read(signals.get(), &info, sizeof info) == sizeof info) {
        int sig = static_cast<int>(info.ssi_signo);
        const char* name = sigabbrev_np(sig);
        decide(128 + sig, fmt::format("stopped by {}", name ? name : "signal"));
      }
    }
  }
}

}  // namespace amalgam::cluster
