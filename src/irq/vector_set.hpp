// A set of the 256 interrupt vectors, laid out like the LAPIC's IRR, ISR and
// TMR: eight 32-bit words, vector v in bit v % 32 of word v / 32 (SDM 11.8.4).
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <optional>

namespace amalgam::irq {

class VectorSet {
 public:
  static constexpr unsigned kWords = 8;

  bool test(uint8_t v) const { return (words_[v / 32] >> (v % 32)) & 1; }
  void set(uint8_t v) { words_[v / 32] |= 1u << (v % 32); }
  void clear(uint8_t v) { words_[v / 32] &= ~(1u << (v % 32)); }
  void assign(uint8_t v, bool on) { on ? set(v) : clear(v); }
  void clear_all() { words_ = {}; }
  uint32_t word(unsigned i) const { return words_[i]; }

  // The highest vector in the set: the one with the highest priority.
  std::optional<uint8_t> highest() const {
    for (unsigned i = kWords; i-- > 0;) {
      if (words_[i] != 0) {
        return static_cast<uint8_t>(i * 32 + 31 - std::countl_zero(words_[i]));
      }
    }
    return std::nullopt;
  }

 private:
  std::array<uint32_t, kWords> words_{};
};

}  // namespace amalgam::irq
