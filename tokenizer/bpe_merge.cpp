// The BPE merge of one pre-token: start from its byte tokens and repeatedly merge the adjacent
// pair with the lowest rank, leftmost first (the GPT-2 / tiktoken rule). Short pieces use a
// linear scan over a small array; long ones a heap over a linked list, O(n log n).
#include <algorithm>
#include <queue>

#include "tokenizer/tokenizer.h"

namespace alpha::tok {
namespace {

constexpr uint64_t kNone = PairMap::kEmpty;
constexpr size_t kShortPiece = 64;

}  // namespace

void Tokenizer::merge_piece(std::string_view piece, std::vector<uint32_t>& out) const {
  const size_t n = piece.size();
  if (n == 0) return;
  if (n == 1) {
    out.push_back(byte_token_[uint8_t(piece[0])]);
    return;
  }
  auto lookup = [&](uint32_t a, uint32_t b) {
    const uint64_t* v = pair_ranks_.find(pair_key(a, b));
    return v ? *v : kNone;
  };
  if (n <= kShortPiece) {
    uint32_t sym[kShortPiece];
    uint64_t rank[kShortPiece];  // rank[i]: (rank << 32 | result) of pair (i, i+1)
    size_t m = n;
    for (size_t i = 0; i < n; ++i) sym[i] = byte_token_[uint8_t(piece[i])];
    for (size_t i = 0; i + 1 < m; ++i) rank[i] = lookup(sym[i], sym[i + 1]);
    while (m > 1) {
      size_t best = 0;
      for (size_t i = 1; i + 1 < m; ++i)
        if ((rank[i] >> 32) < (rank[best] >> 32)) best = i;
      if (rank[best] == kNone) break;
      sym[best] = uint32_t(rank[best]);
      std::copy(sym + best + 2, sym + m, sym + best + 1);
      if (best + 3 <= m) std::copy(rank + best + 2, rank + m - 1, rank + best + 1);
      --m;
      if (best + 1 < m) rank[best] = lookup(sym[best], sym[best + 1]);
      if (best > 0) rank[best - 1] = lookup(sym[best - 1], sym[best]);
    }
    out.insert(out.end(), sym, sym + m);
    return;
  }
  // Long piece: symbols in a doubly linked list over the original positions; a min-heap of
  // (rank << 32 | position) entries, validated against the current pair when popped.
  std::vector<uint32_t> sym(n), next(n), prev(n);
  std::vector<bool> alive(n, true);
  for (size_t i = 0; i < n; ++i) {
    sym[i] = byte_token_[uint8_t(piece[i])];
    next[i] = uint32_t(i + 1);
    prev[i] = uint32_t(i) - 1;  // UINT32_MAX for the first
  }
  std::priority_queue<uint64_t, std::vector<uint64_t>, std::greater<>> heap;
  auto push = [&](uint32_t pos) {
    if (next[pos] >= n) return;
    uint64_t v = lookup(sym[pos], sym[next[pos]]);
    if (v != kNone) heap.push(((v >> 32) << 32) | pos);
  };
  for (uint32_t i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    uint64_t top = heap.top();
    heap.pop();
    uint32_t pos = uint32_t(top);
    if (!alive[pos] || next[pos] >= n) continue;
    uint64_t v = lookup(sym[pos], sym[next[pos]]);
    if (v == kNone || (v >> 32) != (top >> 32)) continue;  // stale entry
    uint32_t right = next[pos];
    sym[pos] = uint32_t(v);
    alive[right] = false;
    next[pos] = next[right];
    if (next[pos] < n) prev[next[pos]] = pos;
    push(pos);
    if (prev[pos] != UINT32_MAX) push(prev[pos]);
  }
  for (uint32_t i = 0; i < n; i = next[i]) out.push_back(sym[i]);
}

}  // namespace alpha::tok
