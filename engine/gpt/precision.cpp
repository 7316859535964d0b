// Precision choice and loss scaling (see precision.h).
#include "engine/gpt/precision.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"

namespace alpha::gpt {

const char* precision_name(Precision precision) {
  return precision == Precision::fp16 ? "fp16" : "fp32";
}

std::string precision_choices() {
  return "fp32, fp16, bf16, auto";
}

Precision resolve_precision(std::string_view name, const vk::Context& context) {
  const bool cpu = context.info().type == VK_PHYSICAL_DEVICE_TYPE_CPU;
  if (name == "fp32") return Precision::fp32;
  if (name == "auto") return !cpu && context.fp16_enabled() ? Precision::fp16 : Precision::fp32;
  if (name == "fp16") {
    if (!context.fp16_enabled())
      fail(
          "--precision=fp16 needs fp16 arithmetic and 16-bit storage, which {} lacks{}: use "
          "--precision=fp32",
          context.info().name,
          context.switches().disable_fp16 ? " (ALPHA_DISABLE_FP16 is set)" : "");
    return Precision::fp16;
  }
  if (name == "bf16")
    fail(
        "--precision=bf16 is not built yet (Debian 12's glslang has no bfloat16 type): use fp16 or "
        "fp32");
  fail("unknown --precision '{}': the choices are {}", name, precision_choices());
}

void LossScaler::restore(float scale, int clean_steps) {
  if (!(scale > 0) || std::isinf(scale) || clean_steps < 0)
    fail("loss scale {} with {} clean steps: the scale must be finite and positive", scale,
         clean_steps);
  if (!enabled_) return;
  scale_ = scale;
  clean_steps_ = clean_steps;
}

void LossScaler::update(bool finite) {
  if (!enabled_) return;
  if (!finite) {
    scale_ = std::max(scale_ / 2, 1.0f);
    clean_steps_ = 0;
  } else if (++clean_steps_ >= kGrowthInterval) {
    scale_ = std::min(scale_ * 2, 16777216.0f);
    clean_steps_ = 0;
  }
}

}  // namespace alpha::gpt
