// Per-event cost of the DSM protocol: an event is one on_fault or on_message
// call (items_per_second below). The ModelCluster's model of the engines (copying
// 4 KiB pages in and out of messages) is included where a ModelCluster is used.
#include <benchmark/benchmark.h>

#include <vector>

#include "dsm/model_cluster.hpp"
#include "dsm/protocol.hpp"
#include "dsm/simulator.hpp"

using namespace amalgam::dsm;

namespace {

NodeId home_is_zero(PageNumber) { return 0; }

// Runs `round` (which faults and delivers) and reports events per second and
// messages per round.
template <typename Round>
void run_rounds(benchmark::State& state, ModelCluster& c, Round round) {
  uint64_t events = c.events();
  uint64_t messages = c.totals().messages_sent;
  for (auto _ : state) round();
  state.SetItemsProcessed(static_cast<int64_t>(c.events() - events));
  state.counters["messages/round"] = benchmark::Counter(
      static_cast<double>(c.totals().messages_sent - messages) / static_cast<double>(state.iterations()));
}

}  // namespace

// The home touches a page nobody has: zero-filled, no message.
void BM_HomeZeroFault(benchmark::State& state) {
  constexpr PageNumber kPages = 1 << 16;
  NodeProtocol node(0, 2, home_is_zero);
  std::vector<Action> out;
  PageNumber page = 0;
  for (auto _ : state) {
    out.clear();
    node.on_fault(page, Access::Write, out);
    benchmark::DoNotOptimize(out.data());
    if (++page == kPages) {
      state.PauseTiming();
      node = NodeProtocol(0, 2, home_is_zero);
      page = 0;
      state.ResumeTiming();
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HomeZeroFault);

// Two nodes take turns writing one page: each round moves ownership and the
// bytes (Request, Forward, Data, Grant, Done).
void BM_WritePingPong(benchmark::State& state) {
  ModelCluster c(3, 1, home_is_zero);
  NodeId writer = 1;
  run_rounds(state, c, [&] {
    writer = writer == 1 ? 2 : 1;
    c.fault(writer, 0, Access::Write);
    c.deliver_all();
  });
}
BENCHMARK(BM_WritePingPong);

// Every node reads the page, then one writes: the home invalidates n-2
// sharers (and its own copy) and the writer collects the acks.
void BM_ShareThenInvalidate(benchmark::State& state) {
  const auto nodes = static_cast<uint32_t>(state.range(0));
  ModelCluster c(nodes, 1, home_is_zero);
  NodeId writer = 0;
  run_rounds(state, c, [&] {
    for (NodeId n = 0; n < nodes; ++n) {
      if (c.mapping(n, 0) == ModelCluster::Mapping::None) c.fault(n, 0, Access::Read);
    }
    c.deliver_all();
    writer = (writer + 1) % nodes;
    c.fault(writer, 0, Access::Write);
    c.deliver_all();
  });
}
BENCHMARK(BM_ShareThenInvalidate)->Arg(2)->Arg(4)->Arg(8)->Arg(32);

// The simulator: protocol, engine model and every check after every step.
void BM_Simulator(benchmark::State& state) {
  const auto nodes = static_cast<uint32_t>(state.range(0));
  uint64_t events = 0;
  uint64_t seed = 1;
  for (auto _ : state) {
    SimResult r = simulate(SimConfig{.seed = seed++, .nodes = nodes, .pages = 4, .events = 20'000});
    if (!r.passed()) state.SkipWithError(r.detail.c_str());
    events += r.events;
  }
  state.SetItemsProcessed(static_cast<int64_t>(events));
}
BENCHMARK(BM_Simulator)->Arg(2)->Arg(8)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
