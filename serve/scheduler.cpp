// The continuous-batching decode loop (see scheduler.h).
#include "serve/scheduler.h"

#include <algorithm>

namespace alpha::serve {

const char* finish_name(Finish finish) {
  switch (finish) {
    case Finish::stop:
      return "stop";
    case Finish::length:
      return "length";
    case Finish::cancelled:
      return "cancelled";
    case Finish::error:
      return "error";
  }
  return "error";
}

Generation::Update Generation::wait(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, timeout, [&] { return !tokens_.empty() || finish_; });
  Update update;
  update.tokens.swap(tokens_);
  update.finish = finish_;
  update.error = error_;
  update.completion_tokens = drawn_;
  return update;
}

void Generation::push(int32_t token) {
  {
    std::lock_guard lock(mutex_);
    tokens_.push_back(token);
  }
  changed_.notify_all();
}

void Generation::end(Finish finish, std::string error) {
  {
    std::lock_guard lock(mutex_);
    if (finish_) return;
    finish_ = finish;
    error_ = std::move(error);
  }
  changed_.notify_all();
}

Scheduler::Scheduler(gpt::GptDecoder& decoder, int max_queue)
    : decoder_(decoder), max_queue_(max_queue), slots_(decoder.slots()) {
  if (max_queue < 0) fail("the queue bound must not be negative, not {}", max_queue);
  thread_ = std::thread([this] { run(); });
}

Scheduler::~Scheduler() {
  shutdown();
}

std::shared_ptr<Generation> Scheduler::submit(GenerationRequest request) {
  const int context = decoder_.capacity(), prompt = static_cast<int>(request.prompt.size());
  if (prompt < 1 || prompt >= context)
    fail("a prompt of {} tokens does not fit the context of {} (one token must be left)", prompt,
         context);
  if (request.max_tokens < 1 || request.max_tokens > context - prompt)
    fail("{} new tokens after a prompt of {} do not fit the context of {}", request.max_tokens,
         prompt, context);
  request.sampling.validate();
  auto generation = std::make_shared<Generation>();
  {
    std::lock_guard lock(mutex_);
    if (stopping_) fail("the server is shutting down");
    std::erase_if(queue_, [](const auto& queued) { return queued.first->cancelled(); });
    // a request may wait when a slot is free but the decode thread has not taken it yet
    if (static_cast<int>(queue_.size()) >= max_queue_ + decoder_.slots() - busy_)
      throw QueueFull(fmt::format("all {} slots are busy and {} requests wait", decoder_.slots(),
                                  queue_.size()));
    queue_.emplace_back(generation, std::move(request));
  }
  wake_.notify_all();
  return generation;
}

void Scheduler::shutdown() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Scheduler::Status Scheduler::status() const {
  std::lock_guard lock(mutex_);
  return {decoder_.slots(), busy_, static_cast<int>(queue_.size()), steps_};
}

void Scheduler::prefill(int slot) {
  decoder_.reset(slot);
  take(slot, decoder_.append(slot, slots_[slot]->request.prompt));
}

void Scheduler::release(int slot, Finish finish, std::string error) {
  const auto generation = std::move(slots_[slot]->generation);
  slots_[slot].reset();
  {
    std::lock_guard lock(mutex_);
    --busy_;  // before the owner hears of the end, so that its next request finds the slot free
  }
  generation->end(finish, std::move(error));
}

void Scheduler::take(int slot, std::span<const float> logits) {
  Active& active = *slots_[slot];
  const int32_t token = gpt::sample_token(logits, active.request.sampling, active.rng);
  ++active.drawn;
  active.generation->count();
  const auto& stops = active.request.stop_tokens;
  if (std::find(stops.begin(), stops.end(), token) != stops.end())
    return release(slot, Finish::stop);
  active.generation->push(token);
  if (active.drawn == active.request.max_tokens) return release(slot, Finish::length);
  active.last = token;
}

void Scheduler::run() {
  const int V = decoder_.config().vocab_size;
  for (;;) {
    std::vector<int> admitted;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty() || busy_ > 0; });
      if (stopping_) break;
      for (int s = 0; s < static_cast<int>(slots_.size()) && !queue_.empty(); ++s) {
        if (slots_[s]) continue;
        auto [generation, request] = std::move(queue_.front());
        queue_.pop_front();
        if (generation->cancelled()) {
          generation->end(Finish::cancelled);
          --s;  // the slot is still free
          continue;
        }
        slots_[s] = Active{std::move(generation), std::move(request)};
        slots_[s]->rng = gpt::Rng(slots_[s]->request.seed);
        ++busy_;
        admitted.push_back(s);
      }
    }
    // a device error ends the generations it touched; the server goes on with the others
    for (const int slot : admitted) {
      try {
        prefill(slot);
      } catch (const std::exception& e) {
        if (slots_[slot]) release(slot, Finish::error, e.what());
      }
    }
    std::vector<gpt::GptDecoder::Row> rows;
    for (int s = 0; s < static_cast<int>(slots_.size()); ++s) {
      if (!slots_[s]) continue;
      if (slots_[s]
              ->generation->cancelled()) {  // freed at once: no more work for a client that left
        release(s, Finish::cancelled);
        continue;
      }
      rows.push_back({s, slots_[s]->last});
    }
    if (rows.empty()) continue;
    try {
      const auto logits = decoder_.step(rows);
      for (size_t r = 0; r < rows.size(); ++r)
        take(rows[r].slot, std::span(logits).subspan(r * V, V));
    } catch (const std::exception& e) {
      for (const auto& row : rows)
        if (slots_[row.slot]) release(row.slot, Finish::error, e.what());
    }
    std::lock_guard lock(mutex_);
    ++steps_;
  }
  // shutting down: nothing more is decoded
  for (int s = 0; s < static_cast<int>(slots_.size()); ++s)
    if (slots_[s]) release(s, Finish::error, "the server is shutting down");
  std::lock_guard lock(mutex_);
  for (auto& [generation, request] : queue_)
    generation->end(Finish::error, "the server is shutting down");
  queue_.clear();
}

}  // namespace alpha::serve
