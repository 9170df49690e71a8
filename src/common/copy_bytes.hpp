// A memcpy for the page-sized buffers of the fault path (frames, payloads).
//
// glibc 2.36 (Debian 12) copies 4 KiB and more with REP MOVSB (from its
// x86_rep_movsb_threshold on). On this host's AMD EPYC that is two to three
// times slower when the destination lies 1 to 31 bytes past a 4 KiB multiple
// of the source ((dst - src) mod 4096). In a loop over hot buffers 16-byte
// moves are no faster there (bench_copy, bench/copy_bench.cpp), but on the
// fault path they are: a Grant's page, copied from the frame just received
// into the message, took 2 to 3 us with memcpy and 0.1 to 0.2 us with them
// (amalgam-fault-bench's requester_decodes step, split further with
// temporary fault_trace marks).
#pragma once

#include <cstddef>

namespace amalgam {

// memcpy, except that a copy of 2 KiB or more whose (dst - src) mod 4096 is
// 1 to 31 is done with 16-byte SSE2 moves (baseline x86-64) instead.
// The ranges must not overlap.
void copy_bytes(void* dst, const void* src, size_t n);

}  // namespace amalgam
