#include "dsm/protocol.hpp"

#include <fmt/format.h>

#include <bit>
#include <stdexcept>
#include <utility>

namespace amalgam::dsm {

namespace {

NodeSet bit(NodeId n) { return NodeSet{1} << n; }
bool has(NodeSet set, NodeId n) { return (set >> n) & 1; }
NodeId lowest(NodeSet set) { return static_cast<NodeId>(std::countr_zero(set)); }
NodeId highest(NodeSet set) { return static_cast<NodeId>(63 - std::countl_zero(set)); }

bool permits(PageState state, Access access) {
  return state == PageState::Exclusive || (state == PageState::Shared && access == Access::Read);
}

const char* to_string(Access a) { return a == Access::Read ? "read" : "write"; }

Message make(MessageType type, PageNumber page, RequestId request, NodeId destination, NodeId requester,
             Access access = Access::Read) {
  Message m;
  m.type = type;
  m.page = page;
  m.request = request;
  m.destination = destination;
  m.requester = requester;
  m.access = access;
  return m;
}

}  // namespace

const char* to_string(MessageType type) {
  switch (type) {
    case MessageType::Request: return "Request";
    case MessageType::Grant: return "Grant";
    case MessageType::Forward: return "Forward";
    case MessageType::Invalidate: return "Invalidate";
    case MessageType::Data: return "Data";
    case MessageType::Ack: return "Ack";
    case MessageType::Done: return "Done";
  }
  return "unknown";
}

Counters& Counters::operator+=(const Counters& o) {
  read_faults += o.read_faults;
  write_faults += o.write_faults;
  coalesced_faults += o.coalesced_faults;
  spurious_faults += o.spurious_faults;
  zero_fills += o.zero_fills;
  transactions += o.transactions;
  queued_requests += o.queued_requests;
  early_replies += o.early_replies;
  invalidations_sent += o.invalidations_sent;
  invalidations_received += o.invalidations_received;
  pages_sent += o.pages_sent;
  pages_received += o.pages_received;
  bytes_sent += o.bytes_sent;
  bytes_received += o.bytes_received;
  messages_sent += o.messages_sent;
  messages_received += o.messages_received;
  protocol_errors += o.protocol_errors;
  prefetches += o.prefetches;
  claims += o.claims;
  return *this;
}

NodeProtocol::NodeProtocol(NodeId self, uint32_t node_count, HomeFunction home_of, Options options)
    : self_(self), node_count_(node_count), home_of_(std::move(home_of)), options_(options) {
  if (node_count == 0 || node_count > kMaxNodes)
    throw std::invalid_argument(fmt::format("DSM node count {} not in 1..{}", node_count, kMaxNodes));
  if (self >= node_count)
    throw std::invalid_argument(fmt::format("DSM node {} of {} nodes", self, node_count));
  if (!home_of_) throw std::invalid_argument("DSM home function missing");
}

bool NodeProtocol::starts_held(PageNumber page) const { return options_.preallocate && home_of_(page) == self_; }

// A local entry is forgotten only while Invalid and idle (forget_if_idle),
// and a preallocated page gets its directory entry together with its local
// one (directory_entry), so a page without a local entry is Invalid unless
// it started held and no Request has created its directory entry since.
bool NodeProtocol::held_since_start(PageNumber page) const {
  return starts_held(page) && !directory_.contains(page);
}

PageState NodeProtocol::state(PageNumber page) const {
  auto it = local_.find(page);
  if (it != local_.end()) return it->second.state;
  return held_since_start(page) ? PageState::Exclusive : PageState::Invalid;
}

NodeProtocol::Local& NodeProtocol::local_entry(PageNumber page) {
  auto [it, fresh] = local_.try_emplace(page);
  if (fresh && held_since_start(page)) it->second.state = PageState::Exclusive;
  return it->second;
}

NodeProtocol::Directory& NodeProtocol::directory_entry(PageNumber page) {
  auto d = directory_.find(page);
  if (d != directory_.end()) return d->second;
  const bool held = starts_held(page);
  if (held) local_entry(page);  // Exclusive: read before the directory exists
  Directory& fresh = directory_[page];
  if (held) {
    fresh.holders = bit(self_);
    fresh.exclusive = true;
  }
  return fresh;
}

bool NodeProtocol::pending(PageNumber page) const {
  auto it = local_.find(page);
  return it != local_.end() && it->second.pending;
}

std::optional<NodeProtocol::DirectoryView> NodeProtocol::directory(PageNumber page) const {
  auto it = directory_.find(page);
  if (it == directory_.end()) {
    if (starts_held(page)) return DirectoryView{bit(self_), true, false, 0};
    return std::nullopt;
  }
  const Directory& d = it->second;
  return DirectoryView{d.holders, d.exclusive, d.active.has_value(), d.queue.size()};
}

// ---------------------------------------------------------------------------
// Entry points and plumbing.

void NodeProtocol::on_fault(PageNumber page, Access access, std::vector<Action>& out) {
  ++(access == Access::Read ? counters_.read_faults : counters_.write_faults);
  if (home_of_(page) >= node_count_) {
    error(self_, page, "home_of() names no node", out);
    return;
  }
  Local& e = local_entry(page);
  if (permits(e.state, access)) {
    ++counters_.spurious_faults;
    out.emplace_back(std::in_place_type<WakeWaiters>, page);
  } else if (e.pending) {
    ++counters_.coalesced_faults;
    if (access == Access::Write && e.want == Access::Read) e.upgrade_after = true;
  } else {
    bool first_touch = options_.claim && untouched_here(page);
    request(page, e, first_touch ? Access::Write : access, out);
    if (first_touch) claim_after(page, out);
    if (options_.prefetch) prefetch_after(page, access, out);
  }
  drain(out);
}

void NodeProtocol::on_message(Message m, std::vector<Action>& out) {
  ++counters_.messages_received;
  if (auto why = malformed(m)) {
    error(m.sender, m.page, *why, out);
    return;
  }
  if (!m.payload.empty()) {
    ++counters_.pages_received;
    counters_.bytes_received += m.payload.size();
  }
  dispatch(m, out);
  drain(out);
}

// Checks that need no page state. Messages to self never come this way.
std::optional<std::string> NodeProtocol::malformed(const Message& m) const {
  if (m.sender >= node_count_) return fmt::format("sender {} is no node", m.sender);
  if (m.sender == self_) return std::string("message claims to come from this node");
  if (m.destination != self_) return fmt::format("message for node {}", m.destination);
  if (static_cast<uint8_t>(m.type) > kLastMessageType) return std::string("unknown message type");
  if (static_cast<uint8_t>(m.access) > static_cast<uint8_t>(Access::Write))
    return std::string("unknown access");
  if (static_cast<uint8_t>(m.source) > kLastDataSource) return std::string("unknown data source");
  if (m.requester >= node_count_) return fmt::format("requester {} is no node", m.requester);
  if (home_of_(m.page) >= node_count_) return std::string("page has no home");
  bool carries = m.type == MessageType::Data ||
                 (m.type == MessageType::Grant && m.source == DataSource::Inline);
  if (m.payload.size() != (carries ? kPageSize : 0))
    return fmt::format("{} with a payload of {} bytes", to_string(m.type), m.payload.size());
  if (m.type == MessageType::Grant) {
    NodeSet all = node_count_ == 64 ? ~NodeSet{0} : bit(node_count_) - 1;
    if ((m.peers & ~all) != 0 || has(m.peers, self_)) return std::string("Grant names bad peers");
    if (m.source == DataSource::Peer && !has(m.peers, m.supplier))
      return std::string("Grant's supplier is not among its peers");
  }
  return std::nullopt;
}

void NodeProtocol::dispatch(Message& m, std::vector<Action>& out) {
  switch (m.type) {
    case MessageType::Request: on_request(m, out); break;
    case MessageType::Grant: on_grant(m, out); break;
    case MessageType::Forward: on_forward(m, out); break;
    case MessageType::Invalidate: on_invalidate(m, out); break;
    case MessageType::Data:
    case MessageType::Ack: on_reply(m, out); break;
    case MessageType::Done: on_done(m, out); break;
  }
}

void NodeProtocol::drain(std::vector<Action>& out) {
  while (!loopback_.empty()) {
    Message m = std::move(loopback_.front());
    loopback_.pop_front();
    dispatch(m, out);
  }
}

void NodeProtocol::send(Message m, std::vector<Action>& out, bool attach_page) {
  m.sender = self_;
  if (m.type == MessageType::Invalidate ||
      (m.type == MessageType::Forward && m.access == Access::Write))
    ++counters_.invalidations_sent;
  if (m.destination == self_) {
    // Handled after the current message; never carries bytes (the home
    // supplies the bytes to itself by keeping them).
    if (attach_page) error(self_, m.page, "would send page bytes to itself", out);
    else loopback_.push_back(std::move(m));
    return;
  }
  if (attach_page) {
    ++counters_.pages_sent;
    counters_.bytes_sent += kPageSize;
  }
  ++counters_.messages_sent;
  out.emplace_back(std::in_place_type<SendMessage>, std::move(m), attach_page);
}

void NodeProtocol::error(NodeId peer, PageNumber page, const std::string& what,
                         std::vector<Action>& out) {
  ++counters_.protocol_errors;
  out.emplace_back(std::in_place_type<ProtocolError>, peer, fmt::format("node {} page {:#x}: {}", peer, page, what));
}

// ---------------------------------------------------------------------------
// Node role: faults, and the replies to this node's requests.

void NodeProtocol::request(PageNumber page, Local& e, Access access, std::vector<Action>& out) {
  e.pending = true;
  e.upgrade_after = false;
  e.want = access;
  e.request = next_request_++;
  e.granted = false;
  e.heard = 0;
  e.have_data = false;
  e.data.clear();
  send(make(MessageType::Request, page, e.request, home_of_(page), self_, access), out);
}

void NodeProtocol::prefetch_after(PageNumber page, Access access, std::vector<Action>& out) {
  // Reads: also when this node is the home, as the bytes may be on another
  // node. Writes: only pages of this node's own directory that nobody has
  // touched, which it zero-fills without a message and takes from no one.
  NodeId home = home_of_(page);
  if (access == Access::Write && home != self_) return;
  for (uint32_t k = 1; k <= options_.prefetch; ++k) {
    PageNumber next = page + k;
    if (next < page || home_of_(next) != home) break;
    if (state(next) != PageState::Invalid || pending(next)) continue;
    if (access == Access::Write && !untouched_here(next)) continue;
    ++counters_.prefetches;
    request(next, local_entry(next), access, out);
  }
}

bool NodeProtocol::untouched_here(PageNumber page) const {
  // A preallocated page is held by its home from the start: never untouched.
  if (home_of_(page) != self_ || options_.preallocate) return false;
  auto d = directory_.find(page);
  return d == directory_.end() || (d->second.holders == 0 && !d->second.active && d->second.queue.empty());
}

void NodeProtocol::claim_after(PageNumber page, std::vector<Action>& out) {
  // A contiguous run: it ends at the first page another home has, or that
  // this node or any other has touched or asked for.
  for (uint32_t k = 1; k <= options_.claim; ++k) {
    PageNumber next = page + k;
    if (next < page || !untouched_here(next)) break;
    Local& e = local_entry(next);
    if (e.state != PageState::Invalid || e.pending) break;
    ++counters_.claims;
    request(next, e, Access::Write, out);
  }
}

void NodeProtocol::on_grant(Message& m, std::vector<Action>& out) {
  auto it = local_.find(m.page);
  if (m.sender != home_of_(m.page)) return error(m.sender, m.page, "Grant from a node that is not the home", out);
  if (it == local_.end() || !it->second.pending || it->second.request != m.request ||
      it->second.granted || m.requester != self_)
    return error(m.sender, m.page, fmt::format("unexpected Grant for request {}", m.request), out);
  Local& e = it->second;
  if (m.access != e.want) return error(m.sender, m.page, "Grant for the wrong access", out);
  if (m.source == DataSource::Keep && (m.access != Access::Write || e.state != PageState::Shared))
    return error(m.sender, m.page, "Grant keeps a copy this node does not hold", out);
  if ((e.heard & ~m.peers) != 0)
    return error(lowest(e.heard & ~m.peers), m.page, "replied to a request it was no peer of", out);
  if (e.have_data && (m.source != DataSource::Peer || m.supplier != e.data_from))
    return error(e.data_from, m.page, "sent Data the Grant did not ask of it", out);
  if (e.heard != 0 && m.source == DataSource::Peer && has(e.heard, m.supplier) && !e.have_data)
    return error(m.supplier, m.page, "supplier sent an Ack instead of Data", out);
  e.granted = true;
  e.source = m.source;
  e.peers = m.peers;
  e.supplier = m.supplier;
  if (m.source == DataSource::Inline) {
    e.data = std::move(m.payload);
    e.have_data = true;
    e.data_from = m.sender;
  }
  if (options_.mutation == Mutation::SkipOneInvalidationAck && m.access == Access::Write) {
    NodeSet acks_only = m.peers & ~(m.source == DataSource::Peer ? bit(m.supplier) : 0);
    if (acks_only != 0) e.heard |= bit(highest(acks_only));
  }
  try_complete(m.page, e, out);
}

void NodeProtocol::on_reply(Message& m, std::vector<Action>& out) {
  bool mutant = options_.mutation == Mutation::SkipOneInvalidationAck && m.type == MessageType::Ack;
  auto it = local_.find(m.page);
  if (it == local_.end() || !it->second.pending || it->second.request != m.request ||
      m.requester != self_) {
    if (mutant) return;  // the ack it counted too early
    return error(m.sender, m.page, fmt::format("unexpected {} for request {}", to_string(m.type), m.request), out);
  }
  Local& e = it->second;
  bool is_data = m.type == MessageType::Data;
  if (has(e.heard, m.sender)) {
    if (mutant) return;
    return error(m.sender, m.page, "replied twice", out);
  }
  if (e.granted) {
    if (!has(e.peers, m.sender)) return error(m.sender, m.page, "replied but is no peer of this request", out);
    bool should_be_data = e.source == DataSource::Peer && e.supplier == m.sender;
    if (is_data != should_be_data)
      return error(m.sender, m.page, fmt::format("sent {} where the Grant expects the other", to_string(m.type)), out);
  } else if (is_data && e.have_data) {
    return error(m.sender, m.page, "second Data for one request", out);
  }
  e.heard |= bit(m.sender);
  if (!e.granted) ++counters_.early_replies;
  if (is_data) {
    e.data = std::move(m.payload);
    e.have_data = true;
    e.data_from = m.sender;
  }
  try_complete(m.page, e, out);
}

void NodeProtocol::try_complete(PageNumber page, Local& e, std::vector<Action>& out) {
  if (!e.granted || e.heard != e.peers) return;
  MapPage map;
  map.page = page;
  map.protection = e.want == Access::Write ? Protection::ReadWrite : Protection::ReadOnly;
  switch (e.source) {
    case DataSource::Zero:
      map.fill = MapPage::Fill::Zero;
      ++counters_.zero_fills;
      break;
    case DataSource::Inline:
    case DataSource::Peer:
      map.fill = MapPage::Fill::Bytes;
      map.bytes = std::move(e.data);
      break;
    case DataSource::Keep:
      if (e.state != PageState::Shared)
        return error(home_of_(page), page, "Grant keeps a copy that was invalidated", out);
      map.fill = MapPage::Fill::Keep;
      break;
  }
  out.emplace_back(std::in_place_type<MapPage>, std::move(map));
  e.state = e.want == Access::Write ? PageState::Exclusive : PageState::Shared;
  e.pending = false;
  e.granted = false;
  e.have_data = false;
  e.data.clear();
  out.emplace_back(std::in_place_type<WakeWaiters>, page);

  send(make(MessageType::Done, page, e.request, home_of_(page), self_), out);

  if (e.upgrade_after && e.state == PageState::Shared) request(page, e, Access::Write, out);
}

NodeProtocol::Local* NodeProtocol::holder_entry(const Message& m, std::vector<Action>& out) {
  if (m.sender != home_of_(m.page)) {
    error(m.sender, m.page, fmt::format("{} from a node that is not the home", to_string(m.type)), out);
    return nullptr;
  }
  if (m.requester == self_) {
    error(m.sender, m.page, fmt::format("{} on behalf of this node itself", to_string(m.type)), out);
    return nullptr;
  }
  auto it = local_.find(m.page);
  if (it == local_.end() || it->second.state == PageState::Invalid) {
    error(m.sender, m.page, fmt::format("{} for a page this node does not hold", to_string(m.type)), out);
    return nullptr;
  }
  return &it->second;
}

void NodeProtocol::on_forward(const Message& m, std::vector<Action>& out) {
  Local* e = holder_entry(m, out);
  if (!e) return;
  if (m.access == Access::Write) ++counters_.invalidations_received;
  supply(m.page, *e, m.access, make(MessageType::Data, m.page, m.request, m.requester, m.requester), out);
  forget_if_idle(m.page);
}

// Hands this node's copy over: write-protect it first so that the bytes sent
// are final, then send them, then drop the copy if the requester will write.
void NodeProtocol::supply(PageNumber page, Local& e, Access access, Message reply,
                          std::vector<Action>& out) {
  bool skip_downgrade = options_.mutation == Mutation::NoDowngradeOnForward && access == Access::Read;
  if (e.state == PageState::Exclusive && !skip_downgrade) {
    out.emplace_back(std::in_place_type<WriteProtect>, page);
    e.state = PageState::Shared;
  }
  send(std::move(reply), out, /*attach_page=*/true);
  if (access == Access::Write) {
    out.emplace_back(std::in_place_type<DropPage>, page);
    e.state = PageState::Invalid;
  }
}

void NodeProtocol::on_invalidate(const Message& m, std::vector<Action>& out) {
  Local* e = holder_entry(m, out);
  if (!e) return;
  if (e->state != PageState::Shared)
    return error(m.sender, m.page, "Invalidate for a page held Exclusive", out);
  drop_copy(m.page, *e, out);
  send(make(MessageType::Ack, m.page, m.request, m.requester, m.requester), out);
  forget_if_idle(m.page);
}

void NodeProtocol::drop_copy(PageNumber page, Local& e, std::vector<Action>& out) {
  ++counters_.invalidations_received;
  out.emplace_back(std::in_place_type<DropPage>, page);
  e.state = PageState::Invalid;
}

void NodeProtocol::forget_if_idle(PageNumber page) {
  auto it = local_.find(page);
  if (it != local_.end() && it->second.state == PageState::Invalid && !it->second.pending)
    local_.erase(it);
}

// ---------------------------------------------------------------------------
// Home role: the directory and the per-page transaction queue.

void NodeProtocol::on_request(const Message& m, std::vector<Action>& out) {
  if (home_of_(m.page) != self_) return error(m.sender, m.page, "Request to a node that is not the home", out);
  if (m.requester != m.sender) return error(m.sender, m.page, "Request on behalf of another node", out);
  Directory& d = directory_entry(m.page);
  NodeId r = m.requester;
  // A requester has at most one request queued; a new one may overtake the
  // Done of its previous one, but never repeat it.
  if (has(d.queued, r)) return error(r, m.page, "second Request while one is queued", out);
  if (d.active && d.active->requester == r && m.request <= d.active->request)
    return error(r, m.page, fmt::format("stale or repeated Request {}", m.request), out);
  Txn t{r, m.request, m.access};
  if (d.active) {
    d.queue.push_back(t);
    d.queued |= bit(r);
    ++counters_.queued_requests;
  } else if (!start(m.page, d, t, out)) {
    start_next(m.page, d, out);
  }
}

void NodeProtocol::on_done(const Message& m, std::vector<Action>& out) {
  auto it = directory_.find(m.page);
  if (home_of_(m.page) != self_ || it == directory_.end() || !it->second.active ||
      it->second.active->requester != m.sender || it->second.active->request != m.request)
    return error(m.sender, m.page, fmt::format("unexpected Done for request {}", m.request), out);
  it->second.active.reset();
  start_next(m.page, it->second, out);
}

void NodeProtocol::start_next(PageNumber page, Directory& d, std::vector<Action>& out) {
  while (!d.active && !d.queue.empty()) {
    Txn t = d.queue.front();
    d.queue.erase(d.queue.begin());
    d.queued &= ~bit(t.requester);
    start(page, d, t, out);
  }
}

// Starts a transaction on an idle page; false if the request makes no sense
// for the page as the directory knows it.
bool NodeProtocol::start(PageNumber page, Directory& d, const Txn& t, std::vector<Action>& out) {
  NodeId r = t.requester;
  if (has(d.holders, r) && (t.access == Access::Read || d.exclusive)) {
    error(r, page, fmt::format("{} Request for a page it holds", to_string(t.access)), out);
    return false;
  }
  d.active = t;
  ++counters_.transactions;

  Message grant = make(MessageType::Grant, page, t.request, r, r, t.access);

  auto order = [&](MessageType type, NodeId to) { send(make(type, page, t.request, to, r, t.access), out); };

  NodeSet others = d.holders & ~bit(r);
  bool self_supplies = false;
  if (d.holders == 0) {
    grant.source = DataSource::Zero;
  } else if (t.access == Access::Write && has(d.holders, r)) {
    grant.source = DataSource::Keep;
  } else {
    // Someone must send the bytes: this node if it can (no extra message),
    // else the lowest holder.
    NodeId supplier = has(others, self_) ? self_ : lowest(others);
    if (supplier == self_) {
      self_supplies = true;
      grant.source = DataSource::Inline;
    } else {
      grant.source = DataSource::Peer;
      grant.supplier = supplier;
      grant.peers = bit(supplier);
      order(MessageType::Forward, supplier);
    }
  }
  if (t.access == Access::Write) {
    // Every other copy goes; the supplier's goes with its Forward/Grant, the
    // home's own right now (dropping early is always safe).
    NodeSet invalidate = others & ~grant.peers & ~(self_supplies ? bit(self_) : 0);
    if (has(invalidate, self_)) {
      invalidate &= ~bit(self_);
      ++counters_.invalidations_sent;
      drop_copy(page, local_entry(page), out);
      forget_if_idle(page);
    }
    for (NodeSet s = invalidate; s != 0; s &= s - 1) order(MessageType::Invalidate, lowest(s));
    grant.peers |= invalidate;
    d.holders = bit(r);
    d.exclusive = true;
  } else {
    d.holders |= bit(r);
    d.exclusive = false;
  }

  if (self_supplies) {
    if (t.access == Access::Write) {  // supply() drops the home's copy
      ++counters_.invalidations_sent;
      ++counters_.invalidations_received;
    }
    supply(page, local_entry(page), t.access, std::move(grant), out);
    forget_if_idle(page);
  } else {
    send(std::move(grant), out);
  }
  return true;
}

}  // namespace amalgam::dsm
