// FLOPs of a GPT config (see flops.h): the parameter count comes from the model's own size table.
#include "engine/gpt/flops.h"

#include "engine/gpt/parameters.h"

namespace alpha::gpt {

int64_t flops_parameter_count(const GptConfig& config) {
  ParameterLayout layout(config);
  int64_t n = layout.count();
  if (layout.wpe != kAbsent) n -= layout.params[layout.wpe].numel;                     // a lookup
  if (layout.lm_head != layout.wte) n -= layout.params[layout.wte].numel;              // untied: wte is a lookup
  return n;
}

double train_flops_per_token(const GptConfig& config, int seq) {
  return train_flops_per_token(flops_parameter_count(config), config.n_layer, config.n_head, config.head_size(), seq);
}

}  // namespace alpha::gpt
