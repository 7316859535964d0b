// Token sampling (see sampler.h).
#include "engine/gpt/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "common/error.h"

namespace alpha::gpt {

void SamplingOptions::validate() const {
  if (!(temperature >= 0) || !std::isfinite(temperature))
    fail("--temperature must be 0 (greedy) or positive, not {}", temperature);
  if (top_k < 0) fail("--top-k must be 0 (all tokens) or positive, not {}", top_k);
  if (!(top_p > 0 && top_p <= 1)) fail("--top-p must be in (0, 1], not {}", top_p);
}

int32_t sample_token(std::span<const float> logits, const SamplingOptions& options, Rng& rng) {
  if (logits.empty()) fail("sample_token: no logits");
  for (const float x : logits)
    if (!std::isfinite(x)) fail("the model produced a non-finite logit: the checkpoint is broken");
  // Most likely first; equal logits keep index order.
  std::vector<int32_t> order(logits.size());
  std::iota(order.begin(), order.end(), 0);
  const size_t k = options.top_k > 0 ? std::min<size_t>(options.top_k, order.size()) : order.size();
  auto more_likely = [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); };
  std::partial_sort(order.begin(), order.begin() + k, order.end(), more_likely);
  if (options.temperature == 0) return order[0];
  order.resize(k);

  // Softmax over the top k at the temperature, in double.
  std::vector<double> p(k);
  const double top = logits[order[0]];
  double sum = 0;
  for (size_t i = 0; i < k; ++i) sum += p[i] = std::exp((logits[order[i]] - top) / options.temperature);
  // Nucleus: the shortest prefix whose mass reaches top_p (at least one token).
  size_t keep = 0;
  double mass = 0;
  while (keep < k && (keep == 0 || mass < options.top_p * sum)) mass += p[keep++];
  double u = rng.uniform() * mass;
  for (size_t i = 0; i < keep; ++i) {
    if (u < p[i]) return order[i];
    u -= p[i];
  }
  return order[keep - 1];  // rounding left u just past the end
}

}  // namespace alpha::gpt
