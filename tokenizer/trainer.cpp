// Training in three steps: (1) pre-tokenise every document on all threads and count distinct
// pieces; (2) turn the pieces into words of byte ids with their counts and count all adjacent
// pairs; (3) repeatedly take the most frequent pair from a lazy heap, merge it in the words that
// hold it (found through a pair -> words index) and update only the counts that change.
#include "tokenizer/trainer.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <queue>
#include <thread>
#include <unordered_map>

#include "common/error.h"

namespace alpha::tok {
namespace {

using PieceCounts = std::unordered_map<std::string_view, uint64_t>;

// Step 1: distinct pieces and their counts. Large documents are cut at safe points.
PieceCounts count_pieces(const std::vector<std::string_view>& documents, PatternKind pattern,
                         unsigned threads) {
  std::vector<std::string_view> chunks;
  constexpr size_t kChunk = 1 << 20;
  for (std::string_view doc : documents) Pretokenizer::append_safe_chunks(doc, kChunk, chunks);
  Pretokenizer pre(pattern);
  threads = std::max<unsigned>(1, std::min<size_t>(resolve_threads(threads), chunks.size()));
  std::vector<PieceCounts> partial(threads);
  std::atomic<size_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto work = [&](unsigned t) {
    try {
      std::vector<uint32_t> ends;
      PieceCounts& counts = partial[t];
      for (size_t i; (i = next.fetch_add(1)) < chunks.size();) {
        ends.clear();
        pre.split(chunks[i], ends);
        uint32_t start = 0;
        for (uint32_t end : ends) {
          ++counts[chunks[i].substr(start, end - start)];
          start = end;
        }
      }
    } catch (...) {
      std::lock_guard lock(error_mutex);
      error = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work, t);
  work(0);
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
  PieceCounts all = std::move(partial[0]);
  for (unsigned t = 1; t < threads; ++t)
    for (auto& [piece, n] : partial[t]) all[piece] += n;
  return all;
}

struct HeapEntry {
  uint64_t count;
  uint64_t pair;
  // priority_queue pops the largest: more frequent first, then the smaller pair.
  bool operator<(const HeapEntry& o) const {
    return count != o.count ? count < o.count : pair > o.pair;
  }
};

// Steps 2 and 3: the words, pair counts, the pair -> words index and the merge loop.
class MergeLearner {
 public:
  explicit MergeLearner(const PieceCounts& pieces) {
    // Sort pieces so that word order (and thus everything after) is deterministic.
    std::vector<std::pair<std::string_view, uint64_t>> sorted(pieces.begin(), pieces.end());
    std::sort(sorted.begin(), sorted.end());
    for (auto& [piece, n] : sorted) {
      if (piece.size() < 2) continue;  // no pairs inside
      start_.push_back(uint32_t(symbols_.size()));
      length_.push_back(uint32_t(piece.size()));
      count_.push_back(n);
      for (char c : piece) symbols_.push_back(uint8_t(c));
    }
    for (uint32_t w = 0; w < count_.size(); ++w) {
      const uint32_t* s = &symbols_[start_[w]];
      for (uint32_t i = 0; i + 1 < length_[w]; ++i) {
        uint64_t key = pair_key(s[i], s[i + 1]);
        pair_count_.get(key) += count_[w];
        words_of(key).push_back(w);
      }
    }
    pair_count_.for_each([&](uint64_t key, uint64_t n) { heap_.push({n, key}); });
    seen_.assign(count_.size(), UINT32_MAX);
  }

  // Finds the next merge (or false when no pair reaches min_frequency) and applies it.
  bool next(uint32_t new_id, uint64_t min_frequency, uint64_t& merged_pair) {
    while (!heap_.empty()) {
      HeapEntry top = heap_.top();
      heap_.pop();
      const uint64_t* current = pair_count_.find(top.pair);
      if (!current || *current != top.count) continue;  // stale
      if (top.count < min_frequency || top.count == 0) return false;
      apply(top.pair, new_id);
      merged_pair = top.pair;
      return true;
    }
    return false;
  }

 private:
  std::vector<uint32_t>& words_of(uint64_t key) {
    uint64_t& slot = where_index_.get(key, PairMap::kEmpty);
    if (slot == PairMap::kEmpty) {
      slot = where_.size();
      where_.emplace_back();
    }
    return where_[slot];
  }

  void change(uint64_t key, int64_t delta) {
    pair_count_.get(key) += uint64_t(delta);
    changed_.push_back(key);
  }

  void apply(uint64_t pair, uint32_t new_id) {
    const uint32_t a = pair_left(pair), b = pair_right(pair);
    std::vector<uint32_t> words = std::move(words_of(pair));
    words_of(pair).clear();
    changed_.clear();
    for (uint32_t w : words) {
      if (seen_[w] == new_id) continue;  // listed twice
      seen_[w] = new_id;
      uint32_t* s = &symbols_[start_[w]];
      uint32_t len = length_[w], out = 0;
      const int64_t c = int64_t(count_[w]);
      for (uint32_t i = 0; i < len;) {
        if (i + 1 < len && s[i] == a && s[i + 1] == b) {
          // s[out-1] is the already-rewritten left neighbour (possibly a merged symbol).
          if (out > 0) {
            change(pair_key(s[out - 1], a), -c);
            change(pair_key(s[out - 1], new_id), c);
            words_of(pair_key(s[out - 1], new_id)).push_back(w);
          }
          if (i + 2 < len) {
            change(pair_key(b, s[i + 2]), -c);
            change(pair_key(new_id, s[i + 2]), c);
            words_of(pair_key(new_id, s[i + 2])).push_back(w);
          }
          change(pair, -c);
          s[out++] = new_id;
          i += 2;
        } else {
          s[out++] = s[i++];
        }
      }
      length_[w] = out;
    }
    std::sort(changed_.begin(), changed_.end());
    changed_.erase(std::unique(changed_.begin(), changed_.end()), changed_.end());
    for (uint64_t key : changed_) {
      uint64_t n = *pair_count_.find(key);
      if (n > 0 && key != pair) heap_.push({n, key});
    }
  }

  std::vector<uint32_t> symbols_, start_, length_;
  std::vector<uint64_t> count_;
  PairMap pair_count_{1 << 16};
  PairMap where_index_{1 << 16};
  std::vector<std::vector<uint32_t>> where_;
  std::priority_queue<HeapEntry> heap_;
  std::vector<uint64_t> changed_;
  std::vector<uint32_t> seen_;
};

}  // namespace

std::vector<std::string> default_special_tokens() {
  return {"<|bos|>",      "<|endoftext|>",       "<|user_start|>",
          "<|user_end|>", "<|assistant_start|>", "<|assistant_end|>"};
}

Tokenizer train_tokenizer(const std::vector<std::string_view>& documents,
                          const TrainOptions& options) {
  const size_t specials = options.special_tokens.size();
  if (options.vocab_size < 256 + specials)
    fail("vocab size {} is smaller than 256 byte tokens + {} special tokens = {}",
         options.vocab_size, specials, 256 + specials);
  if (options.vocab_size > (size_t(1) << 31))
    fail("vocab size {} is too large", options.vocab_size);
  uint64_t bytes = 0;
  for (auto d : documents) bytes += d.size();
  if (bytes == 0) fail("no training text (all inputs are empty)");

  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.push_back(std::string(1, char(b)));
  std::vector<Merge> merges;
  const size_t target_merges = options.vocab_size - 256 - specials;
  {
    MergeLearner learner(count_pieces(documents, options.pattern, options.threads));
    uint64_t pair;
    while (merges.size() < target_merges &&
           learner.next(uint32_t(tokens.size()), options.min_frequency, pair)) {
      uint32_t a = pair_left(pair), b = pair_right(pair);
      merges.push_back({a, b, uint32_t(tokens.size()), uint32_t(merges.size())});
      tokens.push_back(tokens[a] + tokens[b]);
    }
  }
  std::vector<bool> special(tokens.size(), false);
  for (const auto& s : options.special_tokens) {
    if (s.empty()) fail("a special token cannot be empty");
    tokens.push_back(s);
    special.push_back(true);
  }
  return Tokenizer(options.pattern, std::move(tokens), std::move(special), std::move(merges));
}

}  // namespace alpha::tok
