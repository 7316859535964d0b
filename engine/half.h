// Host-side conversion between f32 and the 16-bit float formats (IEEE f16, bfloat16), rounding to
// nearest even, for uploading to and downloading from f16/bf16 tensors.
#pragma once

#include <cstdint>

namespace alpha {

uint16_t f32_to_f16(float value);
float f16_to_f32(uint16_t bits);
uint16_t f32_to_bf16(float value);
float bf16_to_f32(uint16_t bits);

}  // namespace alpha
