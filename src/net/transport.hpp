// Moves whole frames (frame.hpp) between the nodes of one machine.
//
// Delivery is reliable between live nodes; frames from one peer arrive whole
// but not necessarily in the order they were sent (the DSM protocol does not
// depend on it, and the in-process transport can shuffle them on purpose).
// Frames are opaque here: the receiver decodes them with the sender the
// transport reports, which is the authenticated end of the connection, not
// what the frame claims.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "net/frame.hpp"

namespace amalgam::net {

// A transport failure (connection, time-out, peer gone); names the peer.
class TransportError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

using FrameHandler = std::function<void(NodeId from, std::span<const uint8_t> frame)>;

class Transport {
 public:
  virtual ~Transport();

  virtual NodeId self() const = 0;
  virtual uint32_t node_count() const = 0;

  // Queues `frame` for node `to` (not self, below node_count()). The frame is
  // the transport's to keep until it is sent: a caller that still needs the
  // bytes passes a copy, one that built them for this send moves them in,
  // which saves a copy of up to a page per message (encode() returns one).
  // Thread-safe, from any thread, including from inside a poll() handler.
  // Throws TransportError if this transport is closed or the peer is known to
  // be gone, std::invalid_argument for a bad `to` or a frame over kMaxFrame.
  virtual void send(NodeId to, std::vector<uint8_t> frame) = 0;

  // Waits up to `timeout` for incoming frames and calls on_frame for each that
  // has arrived (the bytes are valid during the call only). Returns false once
  // the transport is closed, true otherwise (also after a time-out or a
  // wakeup() with nothing received). One thread polls at a time; a zero
  // timeout never waits, not even for a spin() in another thread.
  virtual bool poll(std::chrono::milliseconds timeout, const FrameHandler& on_frame) = 0;

  // Polls without sleeping until done() is true or `budget` has passed,
  // calling on_frame for each frame as poll() does: for a thread that expects
  // an answer within microseconds, and is awake already. It may run while
  // another thread is in poll(); each frame goes to one of the two. Returns
  // false once the transport is closed.
  virtual bool spin(std::chrono::microseconds budget, const FrameHandler& on_frame,
                    const std::function<bool()>& done);

  // Makes a blocked poll() return soon. Thread-safe.
  virtual void wakeup() = 0;

  // Stops sending and receiving; a blocked poll() returns false. Idempotent.
  virtual void close() = 0;

 protected:
  // Throws std::invalid_argument unless `to` is a peer and the frame fits.
  void check_send(NodeId to, std::span<const uint8_t> frame) const;
};

}  // namespace amalgam::net
