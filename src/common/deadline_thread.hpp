// A thread that its owner joins with a time limit (docs/teardown.md): a
// teardown never waits for ever on a thread stuck in the kernel or in a
// library. The body runs as with std::thread; join_within() joins it if it
// ends in time and otherwise leaves it running and says so.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

namespace amalgam {

class DeadlineThread {
 public:
  DeadlineThread() = default;
  template <class F>
  explicit DeadlineThread(F&& body) : state_(std::make_shared<State>()) {
    thread_ = std::thread([state = state_, body = std::forward<F>(body)]() mutable {
      body();
      std::lock_guard lock(state->mu);
      state->ended = true;
      state->cv.notify_all();
    });
  }
  DeadlineThread(DeadlineThread&&) noexcept = default;
  DeadlineThread& operator=(DeadlineThread&& other) noexcept {
    if (this != &other) {
      abandon();
      thread_ = std::move(other.thread_);
      state_ = std::move(other.state_);
    }
    return *this;
  }
  // A thread never joined (its owner gave up on it) is detached: the
  // process is about to end.
  ~DeadlineThread() { abandon(); }

  bool joinable() const { return thread_.joinable(); }
  std::thread::id id() const { return thread_.get_id(); }

  // Joins the thread if it ends within `limit` (or has ended, or was never
  // started) and returns true; returns false, leaving it running, if not.
  bool join_within(std::chrono::milliseconds limit) {
    if (!thread_.joinable()) return true;
    {
      std::unique_lock lock(state_->mu);
      if (!state_->cv.wait_for(lock, limit, [this] { return state_->ended; })) return false;
    }
    thread_.join();
    return true;
  }
  // The teardown's join: join_within(limit), or exit_on_stuck_thread(what,
  // limit, status) when the thread has not ended by then.
  void join_or_exit(std::chrono::milliseconds limit, const std::string& what, int status);

 private:
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    bool ended = false;
  };
  void abandon() {
    if (thread_.joinable()) thread_.detach();
  }

  std::thread thread_;
  std::shared_ptr<State> state_;
};

// What a component throws when a thread it stops does not end in time;
// the owner of the teardown answers with exit_on_stuck_thread().
struct StuckThreadError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The teardown's answer to a thread that did not end in time: one line
// naming it and the node, then the process ends at once with `status`
// (destructors would free what that thread still uses).
[[noreturn]] void exit_on_stuck_thread(const std::string& what, std::chrono::milliseconds limit, int status);

}  // namespace amalgam
