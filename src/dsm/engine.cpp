#include "dsm/engine.hpp"

#include <linux/userfaultfd.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <ctime>
#include <stdexcept>
#include <utility>

#include "common/copy_bytes.hpp"
#include "common/error.hpp"
#include "common/fault_trace.hpp"
#include "memory/populate.hpp"

namespace amalgam::dsm {

namespace {

constexpr uint64_t kPageMask = kPageSize - 1;

bool aligned(uint64_t v) { return (v & kPageMask) == 0; }

// A bug in the engine or the protocol (not a peer's fault): stops the fault thread.
struct EngineFault : std::logic_error {
  using std::logic_error::logic_error;
};

// The source of zero fills: as many pages as one run may have. Not const,
// which would put 2 MiB of zeros into the executable: in .bss it costs
// nothing, and as nothing writes it its pages stay the shared zero page.
constexpr size_t kZeroRunPages = 512;
std::array<std::byte, kZeroRunPages * kPageSize> g_zeros{};

// The longest a page stays held for a fault of this node that waits (the
// second rule of Progress, engine.hpp): a wait on a page whose home queues
// it behind another node's transaction can close a cycle that the order of
// node numbers alone does not prevent; this bounds it.
constexpr std::chrono::milliseconds kWaitingHoldLimit{50};
// How often the nodes' order of priority for that rule rotates.
constexpr std::chrono::milliseconds kPriorityPeriod{100};

// While the fault thread awaits an answer (AwaitFunction), how often it
// looks for new faults of other threads.
constexpr std::chrono::microseconds kFaultCheckInterval{10};

// Set while this thread runs some engine's protocol (a round, or an inline
// deliver()): a message it sends to another engine of this process is then
// queued there, not taken inline, so no thread holds two engines at once.
thread_local bool t_working = false;

struct Working {
  Working() { t_working = true; }
  ~Working() { t_working = false; }
};

}  // namespace

DsmEngine::DsmEngine(std::vector<memory::HostSlot> ranges, NodeProtocol protocol, SendFunction send,
                     ErrorFunction on_error, AwaitFunction await)
    : self_(protocol.self()),
      protocol_(std::move(protocol)),
      send_(std::move(send)),
      on_error_(std::move(on_error)),
      await_(std::move(await)) {
  if (!send_) throw std::invalid_argument("DSM engine: send function missing");
  std::sort(ranges.begin(), ranges.end(), [](const auto& a, const auto& b) { return a.gpa < b.gpa; });
  for (const auto& r : ranges) {
    auto host = reinterpret_cast<uint64_t>(r.host);
    if (!aligned(r.gpa) || !aligned(r.size) || !aligned(host) || r.size == 0)
      throw std::invalid_argument(fmt::format("DSM range {:#x}+{:#x} not page-aligned", r.gpa, r.size));
    if (!ranges_.empty() && ranges_.back().slot.gpa + ranges_.back().slot.size > r.gpa)
      throw std::invalid_argument(fmt::format("DSM range {:#x}+{:#x} overlaps another", r.gpa, r.size));
    ranges_.push_back({r, std::vector<uint8_t>(r.size / kPageSize, kNone)});
  }
  uffd_.api(UFFD_FEATURE_PAGEFAULT_FLAG_WP);
  const auto held = held_runs();
  uint64_t held_bytes = 0;
  for (const auto& run : held) held_bytes += (run.end - run.begin) * kPageSize;
  memory::check_can_populate(held_bytes, fmt::format("node {}", self_));
  for (auto& r : ranges_) {
    // Every page starts Invalid: nothing may be mapped there. Pages are
    // mapped one by one, so no transparent huge page may stand for 512 of
    // them (EINVAL: a host without THP, nothing to turn off).
    if (::madvise(r.slot.host, r.slot.size, MADV_NOHUGEPAGE) != 0 && errno != EINVAL)
      throw SystemError("madvise(MADV_NOHUGEPAGE)", errno);
    check_syscall(::madvise(r.slot.host, r.slot.size, MADV_DONTNEED), "madvise(MADV_DONTNEED)");
    for (const auto& run : held)
      if (run.range == &r) preallocate(run);
    uffd_.register_range(r.slot.host, r.slot.size, /*missing=*/true, /*wp=*/true);
  }
  wakeup_.reset(static_cast<int>(check_syscall(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), "eventfd")));
  published_ = stats_;
}

std::vector<DsmEngine::HeldRun> DsmEngine::held_runs() {
  std::vector<HeldRun> runs;
  if (!protocol_.options().preallocate) return runs;  // no page-by-page walk of a large guest for nothing
  for (auto& r : ranges_) {
    const uint64_t pages = r.slot.size / kPageSize;
    const PageNumber first = r.slot.gpa / kPageSize;
    for (uint64_t i = 0; i < pages; ++i) {
      if (!protocol_.starts_held(first + i)) continue;
      if (!runs.empty() && runs.back().range == &r && runs.back().end == i) ++runs.back().end;
      else runs.push_back({&r, i, i + 1});
    }
  }
  return runs;
}

// Options::preallocate: the pages the protocol says start held here are
// allocated and mapped read-write now, before userfaultfd watches the range
// (huge pages where a run covers whole 2 MiB extents).
void DsmEngine::preallocate(const HeldRun& run) {
  memory::populate(run.range->slot.host + run.begin * kPageSize, (run.end - run.begin) * kPageSize,
                   fmt::format("node {}", self_));
  std::fill(run.range->mapped.begin() + static_cast<ptrdiff_t>(run.begin),
            run.range->mapped.begin() + static_cast<ptrdiff_t>(run.end), kReadWrite);
  stats_.preallocated_pages += run.end - run.begin;
}

DsmEngine::~DsmEngine() {
  try {
    stop();
  } catch (const std::exception& e) {
    spdlog::error("DSM node {}: stopping the engine: {}", self_, e.what());
  }
}

void DsmEngine::start() {
  if (thread_.joinable() || stopped()) throw std::logic_error("DSM engine started twice");
  {
    std::lock_guard lock(stats_mutex_);
    started_ = true;
  }
  std::lock_guard stop(stop_mutex_);
  thread_ = DeadlineThread([this] { run(); });
  fault_thread_.store(thread_.id(), std::memory_order_release);
  running_.store(true, std::memory_order_release);
}

void DsmEngine::stop() {
  stopping_.store(true, std::memory_order_release);
  // From the fault thread itself (the error callback): it ends after this
  // round; the owner calls stop() again from another thread to release.
  if (std::this_thread::get_id() == fault_thread_.load(std::memory_order_acquire)) return;
  signal();
  std::lock_guard stop(stop_mutex_);
  if (!thread_.join_within(kFaultThreadStopLimit))
    throw StuckThreadError(fmt::format("node {}: the DSM fault thread", self_));
  std::lock_guard work(work_mutex_);  // a deliver() taking a message inline finishes first
  stopped_.store(true, std::memory_order_release);
  if (released_) return;
  released_ = true;
  // Wakes every thread blocked on a fault in the ranges; they find ordinary
  // memory and must check stopped().
  for (const auto& r : ranges_) uffd_.unregister_range(r.slot.host, r.slot.size);
}

void DsmEngine::deliver(Message message) {
  // The fault thread idle (blocked in poll()): take the message here, which
  // saves waking it, one thread hand-over per message on the fault path.
  // Only with nothing queued: an earlier message still waiting for the fault
  // thread must be handled first, so messages keep their arrival order.
  std::unique_lock work(work_mutex_, std::defer_lock);
  if (!t_working && work.try_lock() && running_.load(std::memory_order_acquire) &&
      !stopping_.load(std::memory_order_acquire) && queue_is_empty()) {
    try {
      Working working;
      handle(std::move(message));
      publish_stats();
    } catch (const std::exception& e) {
      // As on the fault thread: report, and the engine ends.
      report(self_, fmt::format("node {}: DSM engine stopped: {}", self_, e.what()));
      stopping_.store(true, std::memory_order_release);
      signal();
    }
    return;
  }
  if (work.owns_lock()) work.unlock();
  bool was_empty;
  {
    std::lock_guard lock(queue_mutex_);
    was_empty = queue_.empty();
    queue_.push_back(std::move(message));
    queued_.store(true, std::memory_order_release);
  }
  // The fault thread empties the whole queue after it reads the eventfd, so
  // only the first message after an emptying needs to signal.
  if (was_empty) signal();
}

bool DsmEngine::queue_is_empty() {
  std::lock_guard lock(queue_mutex_);
  return queue_.empty();
}

void DsmEngine::signal() {
  uint64_t one = 1;
  if (::write(wakeup_.get(), &one, sizeof one) < 0 && errno != EAGAIN)
    throw SystemError("write(eventfd)", errno);
}

void DsmEngine::count_faults_per_page() {
  if (running_.load()) throw std::logic_error("DSM engine: count_faults_per_page() after start()");
  PageNumber end = ranges_.empty() ? 0 : (ranges_.back().slot.gpa + ranges_.back().slot.size) / kPageSize;
  heat_ = std::make_unique<PageHeat>(end);
}

std::vector<std::pair<PageNumber, uint32_t>> DsmEngine::hottest_pages(size_t n) const {
  return heat_ ? heat_->hottest(n) : std::vector<std::pair<PageNumber, uint32_t>>{};
}

EngineStats DsmEngine::stats() const {
  std::lock_guard lock(stats_mutex_);
  return published_;
}

void DsmEngine::sync() {
  uint64_t ticket;
  {
    std::lock_guard lock(queue_mutex_);
    ticket = ++sync_requested_;
  }
  // The round that takes the ticket takes the queue with it (under the same
  // lock) and reads the fault events after that.
  signal();
  std::unique_lock lock(stats_mutex_);
  round_done_.wait(lock, [&] { return sync_done_ >= ticket || thread_ended_ || !started_; });
}

// ---------------------------------------------------------------------------
// The fault thread.

void DsmEngine::run() {
  // Before anything that could call stop() on this thread (start() stores it too).
  fault_thread_.store(std::this_thread::get_id(), std::memory_order_release);
  try {
    while (!stopping_.load(std::memory_order_acquire)) round();
  } catch (const std::exception& e) {
    report(self_, fmt::format("node {}: DSM engine stopped: {}", self_, e.what()));
  }
  publish_stats();
  std::lock_guard lock(stats_mutex_);
  thread_ended_ = true;
  round_done_.notify_all();
}

void DsmEngine::round() {
  std::array<pollfd, 2> fds{pollfd{uffd_.fd(), POLLIN, 0}, pollfd{wakeup_.get(), POLLIN, 0}};
  // Until the first held message is due (Progress, engine.hpp), or forever.
  timespec timeout{};
  timespec* limit = nullptr;
  if (int64_t due = next_release_ns_.load(std::memory_order_acquire); due != INT64_MAX) {
    int64_t left = std::max<int64_t>(due - Clock::now().time_since_epoch().count(), 0);
    timeout = {static_cast<time_t>(left / 1'000'000'000), static_cast<long>(left % 1'000'000'000)};
    limit = &timeout;
  }
  if (::ppoll(fds.data(), fds.size(), limit, nullptr) < 0) {
    if (errno == EINTR) return;
    throw SystemError("ppoll(userfaultfd)", errno);
  }
  fault_trace::mark(fault_trace::Step::FaultThreadWakes);
  {
    std::lock_guard work(work_mutex_);
    Working working;
    work_round(fds[0].revents & POLLIN, fds[1].revents & POLLIN);
  }
  if (!awaited_.empty() && await_) await_([this] { return answered(); });
}

bool DsmEngine::answered() {
  if (stopping_.load(std::memory_order_acquire) || queued_.load(std::memory_order_acquire)) return true;
  if (next_release_ns_.load(std::memory_order_acquire) <= Clock::now().time_since_epoch().count()) return true;
  // Check the protocol (which takes work_mutex_, and would make deliver()
  // on another thread queue instead of taking the answer inline) only after
  // a page was mapped.
  uint64_t maps = maps_.load(std::memory_order_acquire);
  if (maps != maps_seen_) {
    maps_seen_ = maps;
    std::lock_guard work(work_mutex_);
    std::erase_if(awaited_, [this](PageNumber p) { return !protocol_.pending(p); });
    if (awaited_.empty()) return true;
  }
  // A fault of another thread: a system call, so not on every check.
  auto now = std::chrono::steady_clock::now();
  if (now - last_fault_check_ >= kFaultCheckInterval) {
    last_fault_check_ = now;
    pollfd fd{uffd_.fd(), POLLIN, 0};
    if (::poll(&fd, 1, 0) > 0) return true;
  }
  return false;
}

void DsmEngine::work_round(bool faults, bool signalled) {
  ++stats_.rounds;
  awaited_.clear();
  if (signalled) {
    uint64_t count;
    if (::read(wakeup_.get(), &count, sizeof count) < 0 && errno != EAGAIN)
      throw SystemError("read(eventfd)", errno);
  }
  // Messages first: they may complete fetches that pending faults wait for;
  // the held ones came before the queued ones.
  release_held();
  uint64_t ticket;
  {
    std::lock_guard lock(queue_mutex_);
    messages_.swap(queue_);
    queued_.store(false, std::memory_order_release);
    ticket = sync_requested_;
  }
  for (Message& m : messages_) handle(std::move(m));
  messages_.clear();

  if (faults || ticket != sync_taken_) {
    faults_.clear();
    uffd_.read_events(faults_);
    for (const auto& f : faults_) {
      ++(f.wp ? stats_.wp_faults : stats_.missing_faults);
      Located at = locate_address(f.address);
      PageNumber page = (at.range->slot.gpa >> 12) + at.index;
      if (heat_) heat_->count(page);
      protocol_.on_fault(page, f.write ? Access::Write : Access::Read, actions_);
      execute();
      if (protocol_.pending(page)) {
        awaited_.push_back(page);
        if (hold_.count() != 0) waiting_.insert(page);
      }
    }
    // A fault answered here (a zero fill) may have ended this node's wait.
    if (!held_.empty()) release_held();
  }
  sync_taken_ = ticket;
  publish_stats();
}

void DsmEngine::handle(Message m) {
  ++stats_.messages_delivered;
  if (!locate_page(m.page).range) {
    report(m.sender, fmt::format("node {} page {:#x}: {} for a page outside guest RAM", m.sender, m.page,
                                 to_string(m.type)));
    return;
  }
  if (hold(m)) return;
  protocol_.on_message(std::move(m), actions_);
  execute();
  // A page mapped just now may end this node's wait (hold()).
  if (!held_.empty() && waiting_.empty()) release_held();
}

bool DsmEngine::hold(Message& m) {
  if (hold_.count() == 0) return false;
  // What takes a page from this node: Forward and Invalidate from its home,
  // or, at the home, a Request while the home holds the page itself (the
  // home then takes its own copy without a message).
  if (m.type == MessageType::Request) {
    Located at = locate_page(m.page);
    if (at.mapped() == kNone) return false;
  } else if (m.type != MessageType::Forward && m.type != MessageType::Invalidate) {
    return false;
  }
  const auto now = Clock::now();
  while (!mapped_order_.empty() && mapped_order_.front().first + hold_ <= now) {
    auto [at, page] = mapped_order_.front();
    mapped_order_.pop_front();
    if (auto it = mapped_at_.find(page); it != mapped_at_.end() && it->second == at) mapped_at_.erase(it);
  }
  auto it = mapped_at_.find(m.page);
  // Not a page this node itself waits for (an upgrade): its own request
  // may be queued behind the transaction that needs this message.
  const bool outranks = outranks_now(m.requester) && !waiting_.contains(m.page);
  if (it == mapped_at_.end() && !(outranks && !waiting_.empty())) return false;
  held_.push_back({it == mapped_at_.end() ? now : it->second + hold_, outranks ? now + kWaitingHoldLimit : now,
                   std::move(m)});
  ++stats_.held_messages;
  update_next_release();
  // Taken inline by deliver(): the fault thread must wake when it is due.
  if (std::this_thread::get_id() != fault_thread_.load(std::memory_order_acquire)) signal();
  return true;
}

// The ranking rotates every kPriorityPeriod of the system clock (the same
// on every host that keeps time), so that no node waits behind the others
// for good.
bool DsmEngine::outranks_now(NodeId requester) const {
  const auto period = static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch() / kPriorityPeriod);
  return ranks_before(self_, requester, protocol_.node_count(), period);
}

// When a held message may go: the end of its page's time window, or, while
// this node waits for a page, the end of the longest wait (hold()).
DsmEngine::Clock::time_point DsmEngine::release_time(const Held& h) const {
  return waiting_.empty() ? h.window_end : std::max(h.window_end, h.wait_end);
}

void DsmEngine::release_held() {
  if (held_.empty()) return;
  const auto now = Clock::now();
  // In arrival order; each one that may go now goes.
  for (size_t i = 0; i < held_.size();) {
    if (release_time(held_[i]) > now) {
      ++i;
      continue;
    }
    Message m = std::move(held_[i].message);
    held_.erase(held_.begin() + static_cast<ptrdiff_t>(i));
    protocol_.on_message(std::move(m), actions_);
    execute();
  }
  update_next_release();
}

void DsmEngine::update_next_release() {
  int64_t next = INT64_MAX;
  for (const Held& h : held_) next = std::min<int64_t>(next, release_time(h).time_since_epoch().count());
  next_release_ns_.store(next, std::memory_order_release);
}

void DsmEngine::execute() {
  for (size_t i = 0; i < actions_.size(); ++i) {
    if (auto* map = std::get_if<MapPage>(&actions_[i]);
        map && map->fill == MapPage::Fill::Zero && map->protection == Protection::ReadWrite &&
        !(map->page >= run_begin_ && map->page < run_end_)) {
      map_zero_run(i);
    }
    std::visit([this](auto& a) { execute(a); }, actions_[i]);
  }
  actions_.clear();
  run_begin_ = run_end_ = 0;
  just_mapped_ = ~PageNumber{0};  // a later WakeWaiters (a spurious fault) must wake
}

void DsmEngine::execute(SendMessage& a) {
  if (a.attach_page) {
    Located at = mapped_page(a.message.page, "send the bytes of");
    // Read-only by now (WriteProtect came first), so the bytes are final.
    if (at.mapped() != kReadOnly)
      throw EngineFault(fmt::format("page {:#x}: bytes read from a writable page", a.message.page));
    const auto* bytes = reinterpret_cast<const std::byte*>(at.host());
    a.message.payload.resize(kPageSize);
    copy_bytes(a.message.payload.data(), bytes, kPageSize);
  }
  send_(a.message.destination, a.message);
}

void DsmEngine::map_zero_run(size_t first) {
  const auto& head = std::get<MapPage>(actions_[first]);
  Located at = locate_page(head.page);
  if (!at.range || at.mapped() != kNone) return;  // execute(MapPage) reports it
  // The protocol emits a run as MapPage p, WakeWaiters p, MapPage p + 1, ...
  uint64_t pages = 1;
  for (size_t i = first + 1; i < actions_.size() && pages < kZeroRunPages; ++i) {
    if (auto* wake = std::get_if<WakeWaiters>(&actions_[i])) {
      if (wake->page == head.page + pages - 1) continue;
      break;
    }
    auto* next = std::get_if<MapPage>(&actions_[i]);
    if (!next || next->page != head.page + pages || next->fill != MapPage::Fill::Zero ||
        next->protection != Protection::ReadWrite || at.index + pages >= at.range->mapped.size() ||
        at.range->mapped[at.index + pages] != kNone)
      break;
    ++pages;
  }
  fault_trace::mark(fault_trace::Step::MapBegin);
  bool done = uffd_.copy(at.host(), g_zeros.data(), pages * kPageSize, /*write_protect=*/false);
  if (!done)
    throw EngineFault(fmt::format("page {:#x}: already populated when mapped", head.page));
  run_begin_ = head.page;
  run_end_ = head.page + pages;
}

void DsmEngine::execute(MapPage& a) {
  Located at = locate_page(a.page);
  if (!at.range) throw EngineFault(fmt::format("page {:#x}: mapped outside guest RAM", a.page));
  bool read_only = a.protection == Protection::ReadOnly;
  bool done = true;
  switch (a.fill) {
    case MapPage::Fill::Zero:
    case MapPage::Fill::Bytes:
      if (at.mapped() != kNone) throw EngineFault(fmt::format("page {:#x}: mapped twice", a.page));
      if (a.page >= run_begin_ && a.page < run_end_) {
        // Mapped (and its waiters woken) by map_zero_run().
      } else {
        const void* src = a.fill == MapPage::Fill::Zero ? g_zeros.data() : a.bytes.data();
        if (a.fill == MapPage::Fill::Bytes && a.bytes.size() != kPageSize)
          throw EngineFault(fmt::format("page {:#x}: {} bytes to map", a.page, a.bytes.size()));
        fault_trace::mark(fault_trace::Step::MapBegin);
        done = uffd_.copy(at.host(), src, kPageSize, read_only);
      }
      ++(a.fill == MapPage::Fill::Zero ? stats_.zero_maps : stats_.copy_maps);
      break;
    case MapPage::Fill::Keep:
      if (at.mapped() != kReadOnly || read_only)
        throw EngineFault(fmt::format("page {:#x}: upgrade of a page not held read-only", a.page));
      uffd_.write_protect(at.host(), kPageSize, false);
      ++stats_.upgrades;
      break;
  }
  // Only this thread maps pages, and it maps only unmapped ones.
  if (!done) throw EngineFault(fmt::format("page {:#x}: already populated when mapped", a.page));
  at.mapped() = read_only ? kReadOnly : kReadWrite;
  just_mapped_ = a.page;
  if (hold_.count() != 0) {
    const auto now = Clock::now();
    waiting_.erase(a.page);
    mapped_at_[a.page] = now;
    mapped_order_.emplace_back(now, a.page);
  }
  maps_.fetch_add(1, std::memory_order_release);
}

void DsmEngine::execute(const WriteProtect& a) {
  Located at = mapped_page(a.page, "write-protect");
  uffd_.write_protect(at.host(), kPageSize, true);
  fault_trace::mark(fault_trace::Step::WriteProtectEnd);
  at.mapped() = kReadOnly;
  ++stats_.write_protects;
}

void DsmEngine::execute(const DropPage& a) {
  Located at = mapped_page(a.page, "drop");
  check_syscall(::madvise(at.host(), kPageSize, MADV_DONTNEED), "madvise(MADV_DONTNEED)");
  at.mapped() = kNone;
  ++stats_.drops;
}

void DsmEngine::execute(const WakeWaiters& a) {
  if (std::exchange(just_mapped_, ~PageNumber{0}) == a.page) return;  // the mapping woke them
  Located at = locate_page(a.page);
  if (!at.range) throw EngineFault(fmt::format("page {:#x}: wake outside guest RAM", a.page));
  uffd_.wake(at.host(), kPageSize);
  ++stats_.wakes;
}

void DsmEngine::execute(const ProtocolError& a) { report(a.peer, a.what); }

void DsmEngine::report(NodeId peer, const std::string& what) {
  if (on_error_) on_error_(ProtocolError{peer, what});
  else spdlog::error("DSM: {}", what);
}

void DsmEngine::publish_stats() {
  stats_.protocol = protocol_.counters();
  std::lock_guard lock(stats_mutex_);
  published_ = stats_;
  sync_done_ = sync_taken_;
  round_done_.notify_all();
}

DsmEngine::Located DsmEngine::locate_page(PageNumber page) {
  if (page > (~uint64_t{0} >> 12)) return {nullptr, 0};
  uint64_t gpa = page << 12;
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), gpa,
                             [](uint64_t g, const Range& r) { return g < r.slot.gpa; });
  if (it == ranges_.begin()) return {nullptr, 0};
  --it;
  if (gpa - it->slot.gpa >= it->slot.size) return {nullptr, 0};
  return {&*it, (gpa - it->slot.gpa) / kPageSize};
}

DsmEngine::Located DsmEngine::locate_address(uint64_t host_address) {
  for (Range& r : ranges_) {
    auto base = reinterpret_cast<uint64_t>(r.slot.host);
    if (host_address >= base && host_address - base < r.slot.size) return {&r, (host_address - base) / kPageSize};
  }
  throw EngineFault(fmt::format("fault at {:#x} outside the registered ranges", host_address));
}

DsmEngine::Located DsmEngine::mapped_page(PageNumber page, const char* action) {
  Located at = locate_page(page);
  if (!at.range || at.mapped() == kNone)
    throw EngineFault(fmt::format("page {:#x}: asked to {} a page that is not mapped here", page, action));
  return at;
}

}  // namespace amalgam::dsm
