// The distributed-shared-memory protocol as a pure state machine.
//
// Sequentially consistent, 4 KiB pages, single writer / multiple readers,
// home-based directory (Li & Hudak 1989, "Memory Coherence in Shared Virtual
// Memory Systems"; the Ivy-like protocol of GiantVM). Each node runs one
// NodeProtocol for all pages: faults and messages go in, Actions come out;
// nothing here maps memory, sends bytes or reads a clock.
//
// Roles. Every page has a home node (home_of(page)) that keeps its directory:
// the set of nodes holding a valid copy and whether the one holder is
// Exclusive. A page nobody has touched has no holders and is all zeros; it is
// handed out as a "zero page" (UFFDIO_ZEROPAGE at the requester, no bytes on
// the wire, no message at all when the home faults on it itself).
//
// One transaction per page at a time. The home serialises the transactions
// on each page: a Request that finds the page busy waits in a FIFO queue; the
// page stays busy until the requester sends Done, which it sends only after it
// has received every message of the transaction. So when the home starts a
// transaction no message of an earlier one for that page is still in flight,
// the directory is exact, and every node's state for the page is what the
// directory says.
//
// Transactions. The requester R sends Request(access) to the home H. H
// answers with a Grant that says how the transaction will complete: the set
// of peers that will each send R one message (Data or Ack) and where the bytes
// come from (Zero, Inline in the Grant, a Peer's Data, or Keep: R's own
// Shared copy is current and only loses its write protection).
//   read,  untouched:           Grant(Zero)
//   read,  held by H:           H write-protects its copy if Exclusive, Grant(Inline)
//   read,  held by others:      Forward(Read) to one holder; it write-protects
//                               first when Exclusive, then sends Data; Grant(Peer)
//   write, untouched:           Grant(Zero)
//   write, R holds it Shared:   Invalidate to every other holder, each Acks R;
//                               Grant(Keep)
//   write, R holds nothing:     one holder (H itself if it can) supplies the
//                               bytes (Forward(Write): write-protect, send Data,
//                               drop), the rest are invalidated; Grant(Peer or
//                               Inline)
// R maps the page only when it has the Grant and one message from every peer
// named in it: by then every other copy is gone (write) or the bytes are the
// latest (read), which is what sequential consistency needs. Then R wakes its
// waiting threads and sends Done.
//
// Transport. Delivery must be reliable (no loss, no duplication) but may be in
// any order, even between one pair of nodes: no message depends on the order
// of another. Acks or Data that reach R before the Grant are remembered and
// checked against the Grant when it comes; a Done overtaken by the same
// node's next Request is handled by queueing that Request. Every message
// carries the requester's request id, and each is checked against the state it
// expects; anything else (unknown sender, wrong home, stale or duplicate
// request id, payload of the wrong size, a reply nobody asked for) produces a
// ProtocolError naming the peer and is otherwise ignored.
//
// Faults. A fault on a page that is already being fetched is coalesced; a
// write fault while a read is being fetched asks for write access as soon as
// the read completes. A fault the current state already permits (a thread
// that raced with the mapping) just wakes the waiters.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

namespace amalgam::dsm {

using NodeId = uint32_t;
using PageNumber = uint64_t;  // guest-physical frame number
using RequestId = uint64_t;   // unique per requester, increasing
using NodeSet = uint64_t;     // bit n stands for node n

inline constexpr size_t kPageSize = 4096;
inline constexpr uint32_t kMaxNodes = 64;  // NodeSet is one word

enum class Access : uint8_t { Read, Write };
enum class PageState : uint8_t { Invalid, Shared, Exclusive };

enum class MessageType : uint8_t {
  Request,     // requester -> home: grant me `access`
  Grant,       // home -> requester: how this transaction completes
  Forward,     // home -> holder: send your bytes to `requester` (Write: then drop them)
  Invalidate,  // home -> sharer: drop your copy, then Ack `requester`
  Data,        // holder -> requester: the page bytes (also this peer's ack)
  Ack,         // sharer -> requester: my copy is gone
  Done,        // requester -> home: the transaction is complete
};
inline constexpr uint8_t kLastMessageType = static_cast<uint8_t>(MessageType::Done);

// Where a granted page's bytes come from.
enum class DataSource : uint8_t {
  Keep,    // the requester's own Shared copy is current (upgrade)
  Zero,    // never written anywhere: zero-fill locally
  Inline,  // the Grant's payload
  Peer,    // the Data message of `supplier`
};
inline constexpr uint8_t kLastDataSource = static_cast<uint8_t>(DataSource::Peer);

struct Message {
  MessageType type = MessageType::Request;
  PageNumber page = 0;
  RequestId request = 0;      // the requester's id of the transaction
  NodeId sender = 0;
  NodeId destination = 0;
  NodeId requester = 0;       // the node the transaction is for
  Access access = Access::Read;          // Request, Grant, Forward
  DataSource source = DataSource::Keep;  // Grant
  NodeSet peers = 0;                     // Grant: who sends the requester Data or Ack
  NodeId supplier = 0;                   // Grant with source Peer: who sends the Data
  std::vector<std::byte> payload;        // Data and Grant(Inline): kPageSize bytes; else empty

  bool zero_page() const { return type == MessageType::Grant && source == DataSource::Zero; }
};

enum class Protection : uint8_t { ReadOnly, ReadWrite };

// What the engine must do, in order.
struct SendMessage {
  Message message;
  // Read the page's current bytes (after the actions before this one, e.g. a
  // WriteProtect) into message.payload before sending.
  bool attach_page = false;
};
struct MapPage {
  enum class Fill : uint8_t {
    Zero,   // UFFDIO_ZEROPAGE
    Bytes,  // UFFDIO_COPY of `bytes`
    Keep,   // the page is mapped already: only change its protection (clear WP)
  };
  PageNumber page = 0;
  Protection protection = Protection::ReadOnly;
  Fill fill = Fill::Zero;
  std::vector<std::byte> bytes;
};
struct WriteProtect { PageNumber page = 0; };  // UFFDIO_WRITEPROTECT: from now on read-only
struct DropPage { PageNumber page = 0; };      // MADV_DONTNEED
struct WakeWaiters { PageNumber page = 0; };   // wake threads blocked on the page
struct ProtocolError {
  NodeId peer = 0;  // who sent what was rejected (self for local misuse)
  std::string what;  // one line that starts by naming that node: "node 2 page 0x1000: ..."
};
using Action = std::variant<SendMessage, MapPage, WriteProtect, DropPage, WakeWaiters, ProtocolError>;

struct Counters {
  uint64_t read_faults = 0;
  uint64_t write_faults = 0;
  uint64_t coalesced_faults = 0;  // the page was already being fetched
  uint64_t spurious_faults = 0;   // the access was already permitted
  uint64_t zero_fills = 0;
  uint64_t transactions = 0;      // started at this node as home
  uint64_t queued_requests = 0;   // found their page busy at the home
  uint64_t early_replies = 0;     // Data or Ack that came before the Grant
  uint64_t invalidations_sent = 0;      // Invalidate and Forward(Write), as home
  uint64_t invalidations_received = 0;  // the same, as holder
  uint64_t pages_sent = 0;
  uint64_t pages_received = 0;
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  uint64_t messages_sent = 0;  // to other nodes; a node's messages to itself stay inside
  uint64_t messages_received = 0;
  uint64_t protocol_errors = 0;
  uint64_t prefetches = 0;  // read requests sent ahead of a read miss (Options::prefetch)
  uint64_t claims = 0;      // untouched pages of this home taken after a first touch (Options::claim)

  Counters& operator+=(const Counters& o);
};

// Deliberate bugs, so that tests can show the simulator's checks fail.
enum class Mutation : uint8_t {
  None,
  SkipOneInvalidationAck,  // a writer counts one sharer's Ack before it comes
  NoDowngradeOnForward,    // an Exclusive owner sends its bytes but stays writable
};

struct Options {
  Mutation mutation = Mutation::None;
  // Read-ahead: a read miss also asks for up to this many following pages
  // (page + 1, page + 2, ...) with the same home, each an ordinary read
  // transaction that no thread waits for; pages this node holds or is
  // fetching already are skipped, and it stops at the first page whose home
  // differs (home_of() may name no node, >= node_count, for a page that does
  // not exist). Also when this node is the home: the bytes may be elsewhere,
  // and untouched pages then cost no message. A write miss on a page homed
  // here likewise takes the following pages of this home that nobody has
  // touched (its own directory says so) for writing: zero-filled here, no
  // message, no other node's copy taken. 0: off.
  uint32_t prefetch = 0;
  // First touch: a fault on a page homed here that no node has touched takes
  // it Exclusive even for a read (nobody else can hold a copy to downgrade,
  // as with MESI's E state), and takes the following pages up to this many
  // while they are untouched and homed here too: zero-filled locally, no
  // message, one fault for a run of pages instead of one per page. A guest
  // that keeps its data on its own NUMA node then pays the fault path once
  // per run. 0: off (each page on its own fault, reads Shared).
  uint32_t claim = 0;
  // Home memory allocated up front (amalgam --preallocate): every page homed
  // here starts mapped read-write at its home, all zeros (the engine
  // populates them before the guest runs), so the home never faults on a
  // page until another node has taken it. Such a page is held by its home
  // Exclusive from the start: another node's first Request is served like any
  // page the home holds (write-protect or drop, bytes inline), never with a
  // zero Grant, since the home may have written it without a fault. claim
  // then finds nothing to claim.
  bool preallocate = false;
};

class NodeProtocol {
 public:
  using HomeFunction = std::function<NodeId(PageNumber)>;

  // Throws std::invalid_argument unless 0 < node_count <= kMaxNodes and
  // self < node_count.
  NodeProtocol(NodeId self, uint32_t node_count, HomeFunction home_of, Options options = {});

  // A local access hit a page whose mapping does not permit it.
  void on_fault(PageNumber page, Access access, std::vector<Action>& out);
  // A message from another node. Validated; never trusted. Taken by value:
  // a caller that moves it in saves a copy of the page it carries.
  void on_message(Message message, std::vector<Action>& out);

  PageState state(PageNumber page) const;
  // Whether the page starts mapped read-write here (Options::preallocate and
  // this node is its home).
  bool starts_held(PageNumber page) const;
  bool pending(PageNumber page) const;  // a request of this node is in progress

  // The home's directory entry of a page (nullopt if this node is not its
  // home or nobody has asked for it yet).
  struct DirectoryView {
    NodeSet holders = 0;
    bool exclusive = false;
    bool busy = false;
    size_t queued = 0;
  };
  // A preallocated page nobody has asked for shows as held by its home.
  std::optional<DirectoryView> directory(PageNumber page) const;

  const Counters& counters() const { return counters_; }
  const Options& options() const { return options_; }
  NodeId self() const { return self_; }
  uint32_t node_count() const { return node_count_; }

 private:
  // This node's view of a page it has or wants.
  struct Local {
    PageState state = PageState::Invalid;
    bool pending = false;        // a Request is out
    bool upgrade_after = false;  // a write fault came while a read was out
    Access want = Access::Read;
    RequestId request = 0;
    // Filled in as the Grant and the peers' replies arrive, in any order.
    bool granted = false;
    DataSource source = DataSource::Keep;
    NodeSet peers = 0;
    NodeId supplier = 0;
    NodeSet heard = 0;  // peers whose Data or Ack has come
    bool have_data = false;
    NodeId data_from = 0;
    std::vector<std::byte> data;
  };
  struct Txn {
    NodeId requester = 0;
    RequestId request = 0;
    Access access = Access::Read;
  };
  // The home's record of a page.
  struct Directory {
    NodeSet holders = 0;  // empty: never touched, all zeros
    bool exclusive = false;
    std::optional<Txn> active;
    std::vector<Txn> queue;  // FIFO; at most one entry per node (a deque costs an allocation up front)
    NodeSet queued = 0;      // requesters in `queue`
  };

  // The entries of a page, created on first use with the page's starting
  // state (Invalid and untouched, or held by the home: Options::preallocate).
  Local& local_entry(PageNumber page);
  bool held_since_start(PageNumber page) const;  // starts held, and nobody has asked for it yet
  Directory& directory_entry(PageNumber page);

  void dispatch(Message& m, std::vector<Action>& out);
  void drain(std::vector<Action>& out);
  void send(Message m, std::vector<Action>& out, bool attach_page = false);
  void error(NodeId peer, PageNumber page, const std::string& what, std::vector<Action>& out);
  std::optional<std::string> malformed(const Message& m) const;

  // Node role.
  void request(PageNumber page, Local& e, Access access, std::vector<Action>& out);
  void prefetch_after(PageNumber page, Access access, std::vector<Action>& out);
  void claim_after(PageNumber page, std::vector<Action>& out);
  bool untouched_here(PageNumber page) const;
  void on_grant(Message& m, std::vector<Action>& out);  // takes m's payload
  void on_reply(Message& m, std::vector<Action>& out);  // takes m's payload
  void on_forward(const Message& m, std::vector<Action>& out);
  void on_invalidate(const Message& m, std::vector<Action>& out);
  void supply(PageNumber page, Local& e, Access access, Message reply, std::vector<Action>& out);
  void try_complete(PageNumber page, Local& e, std::vector<Action>& out);
  Local* holder_entry(const Message& m, std::vector<Action>& out);
  void drop_copy(PageNumber page, Local& e, std::vector<Action>& out);
  void forget_if_idle(PageNumber page);

  // Home role.
  void on_request(const Message& m, std::vector<Action>& out);
  void on_done(const Message& m, std::vector<Action>& out);
  void start_next(PageNumber page, Directory& d, std::vector<Action>& out);
  bool start(PageNumber page, Directory& d, const Txn& t, std::vector<Action>& out);

  NodeId self_;
  uint32_t node_count_;
  HomeFunction home_of_;
  Options options_;
  RequestId next_request_ = 1;
  std::unordered_map<PageNumber, Local> local_;
  std::unordered_map<PageNumber, Directory> directory_;
  std::deque<Message> loopback_;  // messages to self, handled before returning
  Counters counters_;
};

const char* to_string(MessageType type);

}  // namespace amalgam::dsm
