#include "dsm/model_cluster.hpp"

#include <fmt/format.h>

#include <cstring>
#include <stdexcept>
#include <utility>

namespace amalgam::dsm {

namespace {
// What a dropped page reads as in the model: anything mapped afterwards
// without new bytes would show it.
constexpr std::byte kPoison{0xA5};
}  // namespace

ModelCluster::ModelCluster(uint32_t nodes, uint32_t pages, const NodeProtocol::HomeFunction& home_of,
                           Options options)
    : pages_(pages), nodes_(nodes), payloads_in_flight_(pages), is_touched_(pages) {
  if (pages == 0) throw std::invalid_argument("a cluster needs pages");
  for (NodeId n = 0; n < nodes; ++n) {
    Node& node = nodes_[n];
    node.protocol = std::make_unique<NodeProtocol>(n, nodes, home_of, options);
    node.mapping.assign(pages, Mapping::None);
    node.memory.resize(pages);
    for (Page& page : node.memory) page.fill(kPoison);
    node.holds_payload.assign(pages, 0);
  }
  // Options::preallocate: each home's engine maps its pages read-write, zero-filled, before anything runs.
  for (PageNumber p = 0; p < pages; ++p) {
    NodeId home = home_of(p);
    if (home < nodes && nodes_[home].protocol->starts_held(p)) {
      nodes_[home].mapping[p] = Mapping::ReadWrite;
      nodes_[home].memory[p].fill(std::byte{0});
    }
  }
}

void ModelCluster::store(NodeId n, PageNumber p, size_t offset, uint64_t value) {
  if (mapping(n, p) != Mapping::ReadWrite) return violation(n, p, "store to a page that is not writable");
  std::memcpy(nodes_[n].memory[p].data() + offset, &value, sizeof value);
  touch(p);
}

void ModelCluster::fault(NodeId n, PageNumber p, Access access) {
  ++events_;
  scratch_.clear();
  nodes_[n].protocol->on_fault(p, access, scratch_);
  execute(n, scratch_);
}

void ModelCluster::deliver(size_t index) {
  for (size_t i = 0; i < network_.size(); ++i)
    if (sent_at_[i] < sent_at_[index] && network_[i].sender == network_[index].sender &&
        network_[i].destination == network_[index].destination) {
      ++reordered_;
      break;
    }
  Message m = take(index);
  ++events_;
  bool payload = !m.payload.empty();
  if (payload) ++payloads_delivered_;
  const NodeId to = m.destination;
  const PageNumber page = m.page;
  Node& node = nodes_[to];
  scratch_.clear();
  node.protocol->on_message(std::move(m), scratch_);
  execute(to, scratch_);
  if (payload && node.mapping[page] == Mapping::None) node.holds_payload[page] = 1;
}

void ModelCluster::deliver_all(size_t limit) {
  for (size_t i = 0; i < limit && !network_.empty(); ++i) deliver(0);
}

void ModelCluster::drop(size_t index) { take(index); }

void ModelCluster::duplicate(size_t index) { post(Message(network_[index])); }

void ModelCluster::post(Message m) {
  if (!m.payload.empty()) ++payloads_in_flight_[m.page];
  network_.push_back(std::move(m));
  sent_at_.push_back(sends_++);
}

Message ModelCluster::take(size_t index) {
  Message m = std::move(network_[index]);
  network_.erase(network_.begin() + static_cast<ptrdiff_t>(index));
  sent_at_.erase(sent_at_.begin() + static_cast<ptrdiff_t>(index));
  if (!m.payload.empty()) --payloads_in_flight_[m.page];
  return m;
}

size_t ModelCluster::find(MessageType type, NodeId destination) const {
  for (size_t i = 0; i < network_.size(); ++i)
    if (network_[i].type == type && network_[i].destination == destination) return i;
  return npos;
}

std::vector<ModelCluster::Wake> ModelCluster::take_wakes() { return std::exchange(wakes_, {}); }

void ModelCluster::clear_touched() {
  for (PageNumber p : touched_) is_touched_[p] = 0;
  touched_.clear();
}

void ModelCluster::touch(PageNumber p) {
  if (!is_touched_[p]) {
    is_touched_[p] = 1;
    touched_.push_back(p);
  }
}

uint32_t ModelCluster::copies_in_transit(PageNumber p) const {
  uint32_t copies = payloads_in_flight_[p];
  for (const Node& node : nodes_) copies += node.holds_payload[p];
  return copies;
}

Counters ModelCluster::totals() const {
  Counters sum;
  for (const Node& node : nodes_) sum += node.protocol->counters();
  return sum;
}

void ModelCluster::violation(NodeId n, PageNumber p, const std::string& what) {
  violations_.push_back(fmt::format("node {} page {}: {}", n, p, what));
}

void ModelCluster::execute(NodeId n, std::vector<Action>& actions) {
  Node& node = nodes_[n];
  for (Action& action : actions) {
    if (auto* send = std::get_if<SendMessage>(&action)) {
      Message& m = send->message;
      if (m.sender != n || m.destination >= nodes() || m.destination == n || m.page >= pages_) {
        violation(n, m.page, fmt::format("bad {} from {} to {}", to_string(m.type), m.sender, m.destination));
        continue;
      }
      if (send->attach_page) {
        // The bytes must be final: the page must be write-protected first.
        if (node.mapping[m.page] != Mapping::ReadOnly)
          violation(n, m.page, node.mapping[m.page] == Mapping::None ? "sends bytes of a page it does not map"
                                                                     : "sends bytes of a page still writable");
        const Page& bytes = node.memory[m.page];
        m.payload.assign(bytes.begin(), bytes.end());
      }
      post(std::move(m));
    } else if (auto* map = std::get_if<MapPage>(&action)) {
      PageNumber p = map->page;
      if (p >= pages_) {
        violation(n, p, "maps a page outside the cluster");
        continue;
      }
      switch (map->fill) {
        case MapPage::Fill::Zero: node.memory[p].fill(std::byte{0}); break;
        case MapPage::Fill::Bytes:
          if (map->bytes.size() != kPageSize) violation(n, p, "maps a short page");
          else std::memcpy(node.memory[p].data(), map->bytes.data(), kPageSize);
          break;
        case MapPage::Fill::Keep:
          if (node.mapping[p] == Mapping::None) violation(n, p, "keeps a page it does not map");
          break;
      }
      node.mapping[p] = map->protection == Protection::ReadWrite ? Mapping::ReadWrite : Mapping::ReadOnly;
      node.holds_payload[p] = 0;
      touch(p);
    } else if (auto* wp = std::get_if<WriteProtect>(&action)) {
      if (wp->page >= pages_ || node.mapping[wp->page] == Mapping::None) {
        violation(n, wp->page, "write-protects a page it does not map");
        continue;
      }
      node.mapping[wp->page] = Mapping::ReadOnly;
    } else if (auto* drop = std::get_if<DropPage>(&action)) {
      if (drop->page >= pages_) {
        violation(n, drop->page, "drops a page outside the cluster");
        continue;
      }
      node.mapping[drop->page] = Mapping::None;
      node.memory[drop->page].fill(kPoison);
      touch(drop->page);
    } else if (auto* wake = std::get_if<WakeWaiters>(&action)) {
      wakes_.push_back(Wake{n, wake->page});
    } else if (auto* err = std::get_if<ProtocolError>(&action)) {
      errors_.push_back(std::move(*err));
    }
  }
}

}  // namespace amalgam::dsm
