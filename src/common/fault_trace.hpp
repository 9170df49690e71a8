// Timestamps at the steps of a DSM fault, for the fault benchmark's
// breakdown of where a remote miss spends its time (bench/fault_latency.cpp).
// Off unless a process calls enable(); then each point costs one
// clock_gettime (CLOCK_MONOTONIC, comparable between processes) and one
// atomic increment, and off it costs one load of a flag. The engine and the
// transport mark their steps; they know nothing of who reads them.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace amalgam::fault_trace {

// What bench/fault_steps.hpp needs to split a read miss, and no more.
enum class Step : uint8_t {
  FaultThreadWakes,  // the fault thread woke up with work (DsmEngine::round)
  FramesArrived,     // a thread took frames from the transport
  WriteProtectEnd,   // UFFDIO_WRITEPROTECT of a page this node shares out done
  MapBegin,          // UFFDIO_COPY of a page (bytes or zeros) into place begins
};

struct Event {
  int64_t ns;  // CLOCK_MONOTONIC
  Step step;
};

namespace detail {
extern std::atomic<bool> enabled;
void record(Step step);
}  // namespace detail

// Starts recording, keeping at most `capacity` events (later ones are lost).
// Once per process, before the threads that mark steps start.
void enable(size_t capacity);
// The events recorded, in the order they were recorded. Call it once the
// threads that mark steps have stopped.
std::vector<Event> events();

inline void mark(Step step) {
  if (detail::enabled.load(std::memory_order_acquire)) detail::record(step);
}

}  // namespace amalgam::fault_trace
