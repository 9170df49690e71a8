// dsm_sim: runs the DSM protocol simulator for one seed or a sweep of seeds.
//
//   dsm_sim --seed S --nodes N --pages P --events E    one run (replays a failure)
//   dsm_sim --seed S --sweep K --events E              K runs, seeds S..S+K-1,
//                                                      nodes 2..8 and pages 1..16 by turns
//   --mutation skip-ack|no-downgrade                   run a deliberately broken protocol
//   --prefetch N                                       read N pages ahead on a remote read miss
//   --claim N                                          first touch takes N untouched home pages after the faulting one
//   --preallocate                                      every home starts holding its pages read-write
//   --drop P, --duplicate P                            lose, or deliver twice, each message with probability P
//   --expect-failure                                   succeed only if some run fails
// Exit status 0 when every run passed (or, with --expect-failure, when one failed).
// With faults on, a run passes also when it ends with a protocol error (the
// fault was detected) or stuck (a lost message), and fails only when
// incoherent or the engine was misused; a sweep that injected no fault at all
// fails too, as it tested nothing.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <array>
#include <chrono>
#include <cstdio>

#include "dsm/simulator.hpp"

using namespace amalgam::dsm;

int main(int argc, char** argv) {
  CLI::App app{"Deterministic simulator of the Amalgam DSM protocol"};
  SimConfig config;
  uint64_t sweep = 0;
  bool expect_failure = false;
  std::string mutation = "none";
  app.add_option("--seed", config.seed, "seed (first seed of a sweep)");
  app.add_option("--nodes", config.nodes, "nodes, 2..64")->check(CLI::Range(2u, kMaxNodes));
  app.add_option("--pages", config.pages, "pages, at least 1")->check(CLI::Range(1u, 1u << 20));
  app.add_option("--events", config.events, "protocol events per run");
  app.add_option("--sweep", sweep, "run this many seeds, varying nodes and pages");
  app.add_option("--mutation", mutation, "break the protocol on purpose")
      ->check(CLI::IsMember({"none", "skip-ack", "no-downgrade"}));
  app.add_option("--prefetch", config.prefetch, "read-ahead pages on a remote read miss (0: off)")
      ->check(CLI::Range(0u, 64u));
  app.add_option("--claim", config.claim, "untouched home pages taken after a first touch (0: off)")
      ->check(CLI::Range(0u, 512u));
  app.add_flag("--preallocate", config.preallocate, "every home starts holding its own pages read-write");
  app.add_option("--drop", config.drop, "probability that a message is lost")->check(CLI::Range(0.0, 1.0));
  app.add_option("--duplicate", config.duplicate, "probability that a message is delivered twice")
      ->check(CLI::Range(0.0, 1.0));
  app.add_flag("--expect-failure", expect_failure, "succeed only if a run fails");
  CLI11_PARSE(app, argc, argv);
  config.mutation = mutation == "skip-ack"       ? Mutation::SkipOneInvalidationAck
                    : mutation == "no-downgrade" ? Mutation::NoDowngradeOnForward
                                                 : Mutation::None;

  constexpr std::array<uint32_t, 6> kPages = {1, 2, 3, 4, 8, 16};
  uint64_t runs = sweep ? sweep : 1;
  uint64_t ran = 0, events = 0, reads = 0, writes = 0, failures = 0;
  uint64_t dropped = 0, duplicated = 0, reordered = 0, runs_with_faults = 0;
  std::array<uint64_t, kLastMessageType + 1> dropped_by_type{}, duplicated_by_type{};
  std::array<uint64_t, static_cast<size_t>(SimResult::Outcome::EngineMisuse) + 1> outcomes{};
  Counters totals;
  auto start = std::chrono::steady_clock::now();
  for (uint64_t i = 0; i < runs; ++i) {
    SimConfig c = config;
    if (sweep) {
      c.seed = config.seed + i;
      c.nodes = 2 + static_cast<uint32_t>(i % 7);
      c.pages = kPages[(i / 7) % kPages.size()];
    }
    SimResult r = simulate(c);
    ++ran;
    totals += r.totals;
    events += r.events;
    reads += r.reads;
    writes += r.writes;
    dropped += r.dropped;
    duplicated += r.duplicated;
    reordered += r.reordered;
    for (uint8_t t = 0; t <= kLastMessageType; ++t) {
      dropped_by_type[t] += r.dropped_by_type[t];
      duplicated_by_type[t] += r.duplicated_by_type[t];
    }
    runs_with_faults += r.faults() != 0;
    ++outcomes[static_cast<size_t>(r.outcome)];
    // A detection (protocol error) or a lost message's wait (stuck) is what
    // a fault may cause; only corruption or engine misuse is a failure.
    bool tolerated = config.faults() && (r.outcome == SimResult::Outcome::ProtocolError ||
                                         r.outcome == SimResult::Outcome::Stuck);
    if (config.faults() && !sweep)
      fmt::print("seed {}: {}{}{}; {} dropped, {} duplicated, {} reordered\n", c.seed, to_string(r.outcome),
                 r.passed() ? "" : ": ", r.detail, r.dropped, r.duplicated, r.reordered);
    if (!r.passed() && !tolerated) {
      ++failures;
      fmt::print("FAILED seed {} ({}): {}\n  replay: {}\n", c.seed, to_string(r.outcome), r.detail,
                 replay_command(c));
      if (expect_failure) break;
    }
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print("{} run(s), {} failed; {} protocol events, {} reads, {} writes checked in {:.2f} s ({:.0f} events/s)\n",
             ran, failures, events, reads, writes, seconds, events / (seconds > 0 ? seconds : 1));
  fmt::print("transactions {}, queued behind a busy page {}, replies before their grant {}, coalesced faults {}, "
             "zero fills {}, invalidations {}, pages moved {}\n",
             totals.transactions, totals.queued_requests, totals.early_replies, totals.coalesced_faults,
             totals.zero_fills, totals.invalidations_sent, totals.pages_sent);
  fmt::print("deliveries out of send order between two nodes {}\n", reordered);
  if (config.faults()) {
    auto count = [&](SimResult::Outcome o) { return outcomes[static_cast<size_t>(o)]; };
    fmt::print("faults: {} run(s), {} with faults, {} faults injected ({} dropped, {} duplicated); outcomes: "
               "{} passed, {} protocol error, {} stuck, {} incoherent, {} engine misuse\n",
               ran, runs_with_faults, dropped + duplicated, dropped, duplicated,
               count(SimResult::Outcome::Passed), count(SimResult::Outcome::ProtocolError),
               count(SimResult::Outcome::Stuck), count(SimResult::Outcome::Incoherent),
               count(SimResult::Outcome::EngineMisuse));
    std::string by_type;
    for (uint8_t t = 0; t <= kLastMessageType; ++t)
      if (dropped_by_type[t] + duplicated_by_type[t])
        by_type += fmt::format(" {} {}/{}", to_string(static_cast<MessageType>(t)), dropped_by_type[t],
                               duplicated_by_type[t]);
    fmt::print("faults by message type (dropped/duplicated):{}\n", by_type.empty() ? " none" : by_type);
    if (sweep && dropped + duplicated == 0 && !expect_failure) {
      fmt::print("no fault was injected: raise --drop or --duplicate\n");
      return 1;
    }
  }
  if (expect_failure) {
    if (failures) fmt::print("the checker caught the broken protocol, as expected\n");
    else fmt::print("expected a failure, but every run passed\n");
    return failures ? 0 : 1;
  }
  return failures ? 1 : 0;
}
