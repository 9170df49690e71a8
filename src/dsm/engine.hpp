// The DSM engine of one node: drives its NodeProtocol for the node's real
// mapping of guest RAM, through userfaultfd.
//
// Thread model. One fault thread per engine does everything that changes the
// mapping or the protocol, except what deliver() does inline (below). It
// blocks in poll() on two fds: the userfaultfd (faults of any thread of this
// process, vCPU threads in KVM_RUN included, on the registered ranges) and an
// eventfd that deliver() signals when it queues a message from the transport
// (deliver() may be called from any thread). Each round it feeds the pending
// faults to on_fault() and the queued messages to on_message() and carries
// out the resulting Actions in order. When the fault thread is idle (not in
// a round), deliver() instead takes the message itself, on the caller's
// thread: one mutex makes the two take turns, and the hand-over to the fault
// thread (an eventfd wake-up, ~10 us on a busy VM) is saved on the fault
// path. When a round leaves a fault waiting for another node's answer, the
// fault thread may await it awake (AwaitFunction: its owner polls the
// transport on this thread for a while) rather than block: the answer then
// reaches the engine on a thread that is running already, and deliver()
// takes it inline there, so no thread has to be woken on that leg of the
// fault. The send and error callbacks are called on either thread; send must
// hand the message over and return (it must not wait for a reply), and the
// thread that calls deliver() must not hold what those callbacks need.
// The fault thread never touches a page that is not mapped locally: it reads
// bytes only for attach_page, which the protocol asks for only on a page this
// node holds, and the engine checks that against its own record of the
// mapping before reading (so a bug cannot hang the thread on its own fault).
//
// Mapping, per docs/design.md, The DSM: states and mapping (Invalid: not
// mapped, userfaultfd MISSING; Shared: mapped write-protected, userfaultfd
// WP; Exclusive: read-write):
//   MapPage Zero, read-write -> UFFDIO_COPY of zeros: the page is allocated
//                               now, on the fault thread. UFFDIO_ZEROPAGE
//                               would map the shared zero page, and the
//                               guest's first write would then replace it
//                               (copy-on-write), which invalidates KVM's
//                               mapping of it through the MMU notifier: a
//                               second, costlier fault per page. A run of
//                               such actions on consecutive pages (a first
//                               touch that claims pages, Options::claim) is
//                               one ioctl.
//   MapPage Zero, read-only  -> UFFDIO_COPY of a zero page with
//                               UFFDIO_COPY_MODE_WP (UFFDIO_ZEROPAGE has no
//                               WP mode, and ZEROPAGE + WRITEPROTECT would
//                               leave a window in which another thread could
//                               write the page)
//   MapPage Bytes            -> UFFDIO_COPY (MODE_WP when read-only)
//   MapPage Keep             -> UFFDIO_WRITEPROTECT clearing WP (upgrade)
//   WriteProtect             -> UFFDIO_WRITEPROTECT setting WP
//   DropPage                 -> madvise(MADV_DONTNEED): the next access
//                               faults MISSING again
//   WakeWaiters              -> UFFDIO_WAKE, skipped right after a MapPage of
//                               the same page (mapping wakes already)
// Downgrade (the protocol's supply(); docs/design.md, The DSM: states and
// mapping): the page is first write-protected (WriteProtect), only then are
// its bytes read into the payload (SendMessage with attach_page), and only
// then is the message sent; a write by another thread either happened before
// the protection (and is in the bytes) or faults and waits for the next
// transaction.
//
// Races. A fault whose access the page already permits (a thread that faulted
// just before the page was mapped) gives WakeWaiters: it is woken, not lost.
// Messages of other nodes are validated by the protocol; the engine also
// rejects pages outside this node's guest RAM. Rejections are reported to
// the error callback (ProtocolError names the peer) and otherwise ignored;
// the owner of the engine decides whether the machine stops.
//
// Progress. A page this node has just mapped could otherwise be taken away
// (Forward or Invalidate from its home; at the home, another node's
// Request) before the thread that faulted on it has made its access: that
// thread then faults again, and nodes that want the same pages can pass
// them back and forth without any getting on (docs/lab.md, "what the nested
// paging runs showed"). Two rules, on when a hold time is set (set_hold()):
// - A page mapped here less than the hold time ago stays until that time is
//   up (the time window of Mirage, Fleisch and Popek 1989).
// - While a fault here waits for another page, the pages this node holds
//   stay (up to 50 ms) for a requester that ranks after this node. One
//   access may need several pages at once: with nested paging (AMD NPT,
//   Intel EPT with A/D bits) the CPU's walk of the guest's page tables
//   treats each table page as written, so every node that walks the same
//   tables needs them all, Exclusive. Two nodes that each hold one and wait
//   for the other would otherwise swap them for ever, time window or not,
//   since both windows end together. Within one ranking the wait chains
//   only go down, so the first waiting node gets on. The ranking rotates
//   every 100 ms of the system clock (rank = (node + period) mod nodes), so
//   that no node waits behind the others for good; the 50 ms bound breaks
//   what a ranking cannot, such as a cycle through a home's queue.
// A held message waits in the engine and the fault thread wakes when it is
// due. The protocol allows any delay of any message, so this changes timing
// only.
//
// Failure and shutdown. A failing host call on the fault thread (an ioctl,
// madvise) is reported to the error callback as a ProtocolError naming this
// node, and the fault thread ends; faults stay blocked until stop(). stop()
// ends the fault thread, marks the engine stopped and unregisters the ranges
// from userfaultfd, which wakes every thread blocked on a fault; from then on
// the ranges are ordinary memory, no longer coherent with the other nodes.
// Threads that touch guest memory must check stopped() (or the machine's own
// stop flag) after their access and give up. The destructor calls stop().
//
// The ranges must be page-aligned, unused and not overlap, and stay mapped
// until the engine is stopped; the constructor drops whatever is mapped
// there (every page starts Invalid, as the protocol assumes), except, with
// Options::preallocate, the pages homed here: those it allocates and maps
// read-write before it registers the ranges (memory::populate()). Guest-
// physical page number = gpa >> 12.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "common/deadline_thread.hpp"
#include "common/unique_fd.hpp"
#include "dsm/page_heat.hpp"
#include "dsm/protocol.hpp"
#include "memory/guest_memory.hpp"
#include "memory/userfaultfd.hpp"

namespace amalgam::dsm {

// How long stop() waits for the fault thread to end.
inline constexpr std::chrono::milliseconds kFaultThreadStopLimit{10'000};

// The order of priority between nodes for the hold rule (Progress, above)
// in a given period: node a ranks before node b when
// (a + period) mod nodes < (b + period) mod nodes.
inline bool ranks_before(NodeId a, NodeId b, uint32_t nodes, uint64_t period) {
  return (a + period) % nodes < (b + period) % nodes;
}

struct EngineStats {
  Counters protocol;  // faults, invalidations, pages and bytes in/out, ...
  // userfaultfd events read: page missing, write-protected
  uint64_t missing_faults = 0;
  uint64_t wp_faults = 0;
  uint64_t messages_delivered = 0;  // from other nodes through deliver()
  // Operations on the mapping.
  uint64_t preallocated_pages = 0;  // mapped read-write up front (Options::preallocate)
  uint64_t zero_maps = 0;   // MapPage Zero
  uint64_t copy_maps = 0;   // MapPage Bytes
  uint64_t upgrades = 0;    // MapPage Keep
  uint64_t write_protects = 0;
  uint64_t drops = 0;
  uint64_t wakes = 0;       // explicit UFFDIO_WAKE
  uint64_t held_messages = 0;  // Forward or Invalidate held back for a page just mapped (set_hold())
  uint64_t rounds = 0;      // wake-ups of the fault thread
};

class DsmEngine {
 public:
  using SendFunction = std::function<void(NodeId destination, const Message& message)>;
  using ErrorFunction = std::function<void(const ProtocolError& error)>;
  // Called on the fault thread after a round that left a fault of this node
  // waiting for another node's answer, instead of blocking at once: it may
  // take in frames and deliver() them (on this thread, so the answer is taken
  // inline, with no thread to wake), until answered() says so or its own
  // time budget is spent. answered() also turns true when the fault thread
  // has something else to do (a new fault, a queued message, stop()).
  using AwaitFunction = std::function<void(const std::function<bool()>& answered)>;

  // Registers the ranges (MISSING and WP); starts no thread. Throws
  // SystemError naming the failing call, std::invalid_argument for a bad range.
  DsmEngine(std::vector<memory::HostSlot> ranges, NodeProtocol protocol, SendFunction send,
            ErrorFunction on_error, AwaitFunction await = {});
  ~DsmEngine();
  DsmEngine(const DsmEngine&) = delete;
  DsmEngine& operator=(const DsmEngine&) = delete;

  // Progress (above): keep a page mapped here at least this long before a
  // Forward or Invalidate takes it. Before start(); 0 (the default): off.
  void set_hold(std::chrono::nanoseconds hold) { hold_ = hold; }
  // Count faults per page (PageHeat) from now on. Before start().
  void count_faults_per_page();
  // The n pages with most faults here (empty unless counted), any thread.
  std::vector<std::pair<PageNumber, uint32_t>> hottest_pages(size_t n) const;

  // Starts the fault thread (once).
  void start();
  // Ends the fault thread and releases the ranges (see above). Idempotent,
  // and safe from several threads at once (the later ones wait for the
  // first). Called on the fault thread (from the error callback, or from
  // what its AwaitFunction delivers) it only asks the
  // thread to end; the release needs a call from another thread. Throws
  // StuckThreadError, releasing nothing, when the fault thread has not
  // ended within kFaultThreadStopLimit.
  void stop();
  bool stopped() const { return stopped_.load(std::memory_order_acquire); }

  // A message from another node; any thread. Ignored after stop().
  void deliver(Message message);

  // A snapshot, published by the fault thread after each round.
  EngineStats stats() const;
  // Waits until the fault thread has finished a round that began after this
  // call (or has ended): every fault and message that reached the engine
  // before the call is then handled and in stats(). Not on the fault thread.
  void sync();
  NodeId self() const { return self_; }

 private:
  // A Forward or Invalidate held back (Progress, above).
  using Clock = std::chrono::steady_clock;
  struct Held {
    Clock::time_point window_end;  // the page's time window (now, if it had none)
    Clock::time_point wait_end;    // how long a wait of this node may keep it
    Message message;
  };
  struct Range {
    memory::HostSlot slot;
    std::vector<uint8_t> mapped;  // per page: Mapped value, this engine's record
  };
  enum Mapped : uint8_t { kNone, kReadOnly, kReadWrite };
  struct Located {
    Range* range;
    uint64_t index;  // page within the range
    uint8_t* host() const { return range->slot.host + index * kPageSize; }
    uint8_t& mapped() const { return range->mapped[index]; }
  };

  // Pages of a range that start held here (Options::preallocate): [begin, end).
  struct HeldRun {
    Range* range;
    uint64_t begin, end;
  };
  std::vector<HeldRun> held_runs();
  void preallocate(const HeldRun& run);
  void signal();  // wakes the fault thread
  // For await_: true once the pages in awaited_ are answered or the fault
  // thread has other work.
  bool answered();
  bool queue_is_empty();
  void run();
  void round();
  // The part of a round under work_mutex_: the queued messages, then the
  // faults (if `faults` or a sync() is waiting).
  void work_round(bool faults, bool signalled);
  void handle(Message m);
  // Progress (above): true when m must wait, and then it is kept in held_.
  bool hold(Message& m);
  void release_held();  // handles the held messages that may go now
  void update_next_release();
  Clock::time_point release_time(const Held& h) const;
  bool outranks_now(NodeId requester) const;  // this node before the requester, for now
  void execute();
  void execute(SendMessage& a);
  void execute(MapPage& a);
  // From actions_[first], a MapPage Zero read-write: maps it and the run of
  // such MapPages on the following pages that comes after it with one ioctl.
  void map_zero_run(size_t first);
  void execute(const WriteProtect& a);
  void execute(const DropPage& a);
  void execute(const WakeWaiters& a);
  void execute(const ProtocolError& a);
  void report(NodeId peer, const std::string& what);
  void publish_stats();

  // nullptr range if the page is not in this node's guest RAM.
  Located locate_page(PageNumber page);
  Located locate_address(uint64_t host_address);
  Located mapped_page(PageNumber page, const char* action);

  NodeId self_;
  std::vector<Range> ranges_;  // sorted by gpa
  NodeProtocol protocol_;
  SendFunction send_;
  ErrorFunction on_error_;
  AwaitFunction await_;
  memory::Userfaultfd uffd_;
  UniqueFd wakeup_;  // eventfd: messages queued or stop requested

  // Whoever runs the protocol and changes the mapping holds it: the fault
  // thread for a round, or deliver() taking a message inline.
  std::mutex work_mutex_;
  std::atomic<bool> running_{false};  // start() has run

  // Under work_mutex_.
  std::vector<Action> actions_;
  std::vector<memory::Userfaultfd::FaultEvent> faults_;
  std::vector<Message> messages_;
  EngineStats stats_;
  std::unique_ptr<PageHeat> heat_;  // set before start(), counted by the fault thread
  PageNumber just_mapped_ = ~PageNumber{0};  // mapped (and woken) by the last MapPage
  // Progress (above): when each page was last mapped here, for the pages
  // mapped less than hold_ ago (older entries are pruned, oldest first); the
  // pages local faults wait for; and the messages held back, in arrival
  // order.
  std::chrono::nanoseconds hold_{0};
  std::unordered_map<PageNumber, Clock::time_point> mapped_at_;
  std::deque<std::pair<Clock::time_point, PageNumber>> mapped_order_;
  std::unordered_set<PageNumber> waiting_;
  std::vector<Held> held_;
  // When the first held message may go (Clock's count; INT64_MAX: none, or
  // only ones that wait for this node's faults), for round() and answered().
  std::atomic<int64_t> next_release_ns_{INT64_MAX};
  // Pages [run_begin_, run_end_) were mapped ahead by map_zero_run(); their
  // own MapPage actions only record that.
  PageNumber run_begin_ = 0, run_end_ = 0;

  uint64_t sync_taken_ = 0;  // the last sync() ticket a round took

  // The fault thread's own, for await_: pages whose faults in the last round
  // wait for another node (pruned under work_mutex_), the maps_ value it last
  // checked them at, and when it last looked for new faults.
  std::vector<PageNumber> awaited_;
  uint64_t maps_seen_ = 0;
  std::chrono::steady_clock::time_point last_fault_check_{};
  std::atomic<uint64_t> maps_{0};    // MapPage actions carried out, by either thread
  std::atomic<bool> queued_{false};  // queue_ is not empty

  std::mutex queue_mutex_;
  std::vector<Message> queue_;
  uint64_t sync_requested_ = 0;  // sync() tickets handed out

  mutable std::mutex stats_mutex_;
  std::condition_variable round_done_;
  EngineStats published_;
  uint64_t sync_done_ = 0;  // tickets whose round is complete
  bool started_ = false;
  bool thread_ended_ = false;

  DeadlineThread thread_;
  std::atomic<std::thread::id> fault_thread_{};  // thread_'s id, readable while another thread joins it
  std::mutex stop_mutex_;                        // stop() from threads other than the fault thread
  std::atomic<bool> stopping_{false};
  std::atomic<bool> stopped_{false};
  bool released_ = false;
};

}  // namespace amalgam::dsm
