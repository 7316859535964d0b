// Continuous batching: requests share one GptDecoder with several slots (each its own KV cache).
// One thread owns the decoder; it prefills a request as soon as a slot is free, then every decode
// step runs the next token of all active requests together (GptDecoder::step). A finished or
// cancelled request leaves its slot at the next step and a queued one takes it. Text, stop strings
// and HTTP are the callers' (serve/reply_text.h, serve/openai_routes.h).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "engine/gpt/decoder.h"
#include "engine/gpt/sampler.h"

namespace alpha::serve {

struct GenerationRequest {
  std::vector<int32_t> prompt;  // 1 .. context - 1 tokens
  int max_tokens = 1;           // 1 .. context - prompt size
  gpt::SamplingOptions sampling;
  uint64_t seed = 1;
  std::vector<int32_t> stop_tokens;  // end the reply; drawn and counted, never pushed as text
};

enum class Finish { stop, length, cancelled, error };

// One request's progress: the scheduler thread pushes tokens and the end, the request's owner waits
// for them (and may cancel).
class Generation {
 public:
  struct Update {
    std::vector<int32_t> tokens;   // drawn since the last update
    std::optional<Finish> finish;  // set once: the generation is over
    std::string error;             // with Finish::error
    int completion_tokens = 0;     // drawn so far, a stop token included
  };
  // Blocks until there is something new or `timeout` passes.
  Update wait(std::chrono::milliseconds timeout);
  // The owner is done with it (client gone, stop string seen): the slot is freed at the next step.
  void cancel() { cancelled_ = true; }
  bool cancelled() const { return cancelled_; }

 private:
  friend class Scheduler;
  void push(int32_t token);
  void count() {
    std::lock_guard lock(mutex_);
    ++drawn_;
  }
  void end(Finish finish, std::string error = {});

  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<int32_t> tokens_;
  std::optional<Finish> finish_;
  std::string error_;
  int drawn_ = 0;
  std::atomic<bool> cancelled_ = false;
};

// submit() when max_queue requests already wait for a slot.
struct QueueFull : Error {
  using Error::Error;
};

class Scheduler {
 public:
  // decoder.slots() requests run at once; at most max_queue more wait for a slot.
  Scheduler(gpt::GptDecoder& decoder, int max_queue);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a request (alpha::Error when it does not fit the context, QueueFull when the queue is).
  std::shared_ptr<Generation> submit(GenerationRequest request);
  // Ends every queued and running generation with Finish::error "the server is shutting down" and
  // stops the decode thread; later submits fail. Called by the destructor too.
  void shutdown();

  struct Status {
    int slots = 0, busy = 0, queued = 0;
    long long steps = 0;  // decode steps run so far
  };
  Status status() const;

 private:
  struct Active {
    std::shared_ptr<Generation> generation;
    GenerationRequest request;
    gpt::Rng rng{1};
    int32_t last = 0;  // the token to run next
    int drawn = 0;
  };
  void run();
  void prefill(int slot);
  // Draws the slot's next token from its logits; frees the slot when the generation is over.
  void take(int slot, std::span<const float> logits);
  void release(int slot, Finish finish, std::string error = {});

  gpt::GptDecoder& decoder_;
  int max_queue_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::pair<std::shared_ptr<Generation>, GenerationRequest>> queue_;
  std::vector<std::optional<Active>> slots_;  // touched by the decode thread only
  int busy_ = 0;                              // slots holding a generation (under mutex_)
  long long steps_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

const char* finish_name(Finish finish);  // "stop", "length", "cancelled", "error"

}  // namespace alpha::serve
