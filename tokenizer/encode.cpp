// Encoding: pre-tokenise, then BPE each piece through a per-thread cache of piece -> ids.
// Large inputs are cut at safe points (Pretokenizer::safe_cut) into chunks that worker
// threads take in turn; the chunks' ids are concatenated in order.
#include <algorithm>
#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "common/error.h"
#include "tokenizer/tokenizer.h"

namespace alpha::tok {
namespace {

constexpr size_t kMinParallelBytes = 1 << 18;  // below this, one chunk on one thread
constexpr size_t kMaxChunkBytes = 1 << 28;     // the pre-tokeniser takes < 4 GiB at once
constexpr size_t kCacheLimit = 1 << 20;        // pieces; the cache is cleared when full

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

}  // namespace

// Per-thread state: the piece cache and the pre-tokeniser's output buffer.
class EncodeSession {
 public:
  explicit EncodeSession(const Tokenizer& tok) : tok_(tok) {}

  void encode(std::string_view text, std::vector<uint32_t>& out) {
    ends_.clear();
    tok_.pretokenizer_->split(text, ends_);
    uint32_t start = 0;
    for (uint32_t end : ends_) {
      piece(text.substr(start, end - start), out);
      start = end;
    }
  }

 private:
  void piece(std::string_view p, std::vector<uint32_t>& out) {
    if (p.size() == 1) {
      out.push_back(tok_.byte_token_[uint8_t(p[0])]);
      return;
    }
    auto it = cache_.find(p);
    if (it != cache_.end()) {
      out.insert(out.end(), store_.begin() + it->second.first,
                 store_.begin() + it->second.first + it->second.second);
      return;
    }
    size_t before = out.size();
    tok_.merge_piece(p, out);
    if (cache_.size() >= kCacheLimit) {
      cache_.clear();
      store_.clear();
    }
    cache_.emplace(std::string(p), std::pair<uint32_t, uint32_t>(uint32_t(store_.size()),
                                                                 uint32_t(out.size() - before)));
    store_.insert(store_.end(), out.begin() + before, out.end());
  }

  const Tokenizer& tok_;
  std::vector<uint32_t> ends_;
  std::unordered_map<std::string, std::pair<uint32_t, uint32_t>, StringHash, std::equal_to<>>
      cache_;
  std::vector<uint32_t> store_;
};

// Runs task(session, i, results[i]) for every i < count on up to `threads` threads (one session
// each, tasks taken in turn), rethrows the first error, and appends the results to `out` in order.
template <typename Task>
static void encode_in_parallel(const Tokenizer& tokenizer, size_t count, unsigned threads,
                               std::vector<uint32_t>& out, Task task) {
  std::vector<std::vector<uint32_t>> results(count);
  std::atomic<size_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto work = [&] {
    try {
      EncodeSession session(tokenizer);
      for (size_t i; (i = next.fetch_add(1)) < count;) task(session, i, results[i]);
    } catch (...) {
      std::lock_guard lock(error_mutex);
      error = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < std::min<size_t>(threads, count); ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
  size_t total = out.size();
  for (auto& r : results) total += r.size();
  out.reserve(total);
  for (auto& r : results) out.insert(out.end(), r.begin(), r.end());
}

void Tokenizer::encode_ordinary(std::string_view text, unsigned threads,
                                std::vector<uint32_t>& out) const {
  threads = resolve_threads(threads);
  if (text.size() < kMinParallelBytes) {
    EncodeSession(*this).encode(text, out);
    return;
  }
  // Cut into ~4 chunks per thread so that uneven chunks still balance.
  std::vector<std::string_view> chunks;
  size_t target = std::clamp<size_t>(text.size() / (threads * 4), 1 << 16, kMaxChunkBytes);
  Pretokenizer::append_safe_chunks(text, target, chunks);
  encode_in_parallel(*this, chunks.size(), threads, out,
                     [&](EncodeSession& session, size_t i, std::vector<uint32_t>& result) {
                       result.reserve(chunks[i].size() / 3);
                       session.encode(chunks[i], result);
                     });
}

std::vector<uint32_t> Tokenizer::encode(std::string_view text, const EncodeOptions& options) const {
  std::vector<uint32_t> out;
  out.reserve(text.size() / 4 + 16);
  if (!options.allow_special || specials_.empty()) {
    encode_ordinary(text, options.threads, out);
    return out;
  }
  // Split at the earliest (then longest) special token text, encode the ordinary text between.
  size_t start = 0;
  while (start < text.size()) {
    size_t best = std::string_view::npos, best_len = 0;
    uint32_t best_id = 0;
    for (const auto& [name, id] : specials_) {
      size_t at = text.find(name, start);
      if (at < best || (at == best && at != std::string_view::npos && name.size() > best_len)) {
        best = at;
        best_len = name.size();
        best_id = id;
      }
    }
    if (best == std::string_view::npos) break;
    encode_ordinary(text.substr(start, best - start), options.threads, out);
    out.push_back(best_id);
    start = best + best_len;
  }
  encode_ordinary(text.substr(start), options.threads, out);
  return out;
}

std::vector<uint32_t> Tokenizer::encode_documents(const std::vector<std::string_view>& docs,
                                                  uint32_t separator, unsigned threads) const {
  if (separator >= tokens_.size())
    fail("internal: document separator {} is not a token", separator);
  threads = resolve_threads(threads);
  // Tasks of roughly equal bytes: runs of small documents, or safe-cut chunks of a large one.
  struct Segment {
    std::string_view text;
    bool starts_document;
  };
  size_t total_bytes = 0;
  for (auto d : docs) total_bytes += d.size();
  const size_t target =
      std::clamp<size_t>(total_bytes / (threads * 4 + 1), 1 << 16, kMaxChunkBytes);
  std::vector<std::vector<Segment>> tasks(1);
  size_t acc = 0;
  auto close_task = [&] {
    if (!tasks.back().empty()) tasks.emplace_back();
    acc = 0;
  };
  for (std::string_view doc : docs) {
    if (doc.size() <= target) {
      tasks.back().push_back({doc, true});
      if ((acc += doc.size()) >= target) close_task();
      continue;
    }
    close_task();
    for (size_t start = 0; start < doc.size();) {
      size_t cut =
          start + target >= doc.size() ? doc.size() : Pretokenizer::safe_cut(doc, start + target);
      tasks.back().push_back({doc.substr(start, cut - start), start == 0});
      close_task();
      start = cut;
    }
  }
  if (tasks.back().empty()) tasks.pop_back();
  std::vector<uint32_t> out;
  encode_in_parallel(*this, tasks.size(), threads, out,
                     [&](EncodeSession& session, size_t t, std::vector<uint32_t>& result) {
                       for (const Segment& seg : tasks[t]) {
                         if (seg.starts_document) result.push_back(separator);
                         session.encode(seg.text, result);
                       }
                     });
  return out;
}

}  // namespace alpha::tok
