#version 450
// Token + position embedding, one variant per define (N = B*T rows of C channels):
//   EMBEDDING_FORWARD:  out[n, c] = wte[tokens[n], c] + wpe[n % T, c]; a token outside [0, V) gives a
//                       NaN row, so the loss shows it instead of reading out of bounds. With
//                       NO_POSITIONS (rotary models) there is no wpe: out[n, c] = wte[tokens[n], c].
//   EMBEDDING_DWTE:     dwte[v, c] += sum over n with tokens[n] == v of dout[n, c]   (d out / d wte)
//   EMBEDDING_DWPE:     dwpe[t, c] += sum over b of dout[b*T + t, c]                  (d out / d wpe)
// ROWS (with EMBEDDING_FORWARD; GptDecoder::step): tokens holds N rows of (token, position, slot,
// 0) and row n's position is its own: out[n, c] = wte[token, c] + wpe[position, c].
// Backward sums run in ascending n (resp. b) inside one invocation: no atomics, bit-reproducible.
// DWTE: invocation (c, vocabulary part y) owns dwte[v, c] for v in part y and walks all N tokens, so
// the result does not depend on how many parts the launcher picks (same additions, same order);
// tokens outside the bound rows are skipped. A table larger than one binding is bound in row blocks
// (vocab_offset), one dispatch each; every position's row comes from exactly one block.

layout(push_constant) uniform Push {
  uint N;             // B*T positions
  uint T;
  uint C;
  uint V;             // rows of the bound wte/dwte: token ids [vocab_offset, vocab_offset + V)
  uint vocab_chunk;   // DWTE: workgroup row y owns local ids [y*vocab_chunk, (y+1)*vocab_chunk)
  uint vocab_offset;  // the bound table is a block of rows of the whole table (binding-size limits)
  uint vocab_total;   // rows of the whole table: tokens at or past it are out of range
} p;

layout(local_size_x_id = 0) in;

#if defined(EMBEDDING_FORWARD)
layout(binding = 0) readonly buffer Tokens { int tokens[]; };
layout(binding = 1) readonly buffer Wte { float wte[]; };
#ifdef NO_POSITIONS
layout(binding = 2) writeonly buffer Out { float out_[]; };
#define POSITION(n, c) 0.0
#else
layout(binding = 2) readonly buffer Wpe { float wpe[]; };
layout(binding = 3) writeonly buffer Out { float out_[]; };
#ifdef ROWS
#define POSITION(n, c) wpe[uint(tokens[(n) * 4 + 1]) * p.C + (c)]
#else
#define POSITION(n, c) wpe[((n) % p.T) * p.C + (c)]
#endif
#endif
#ifdef ROWS
#define TOKEN(n) tokens[(n) * 4]
#else
#define TOKEN(n) tokens[n]
#endif
#elif defined(EMBEDDING_DWTE)
layout(binding = 0) readonly buffer Tokens { int tokens[]; };
layout(binding = 1) readonly buffer DOut { float dout[]; };
layout(binding = 2) buffer DWte { float dwte[]; };
#elif defined(EMBEDDING_DWPE)
layout(binding = 0) readonly buffer DOut { float dout[]; };
layout(binding = 1) buffer DWpe { float dwpe[]; };
#else
#error "embedding.comp needs EMBEDDING_FORWARD, EMBEDDING_DWTE or EMBEDDING_DWPE"
#endif

void main() {
#if defined(EMBEDDING_FORWARD)
  const uint total = p.N * p.C;
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint i = gl_GlobalInvocationID.x; i < total; i += stride) {
    const uint n = i / p.C, c = i - n * p.C;
    const uint token = uint(TOKEN(n));  // negative ids wrap to >= vocab_total
    const uint local = token - p.vocab_offset;
    if (token >= p.vocab_total)
      out_[i] = uintBitsToFloat(0x7fc00000u);
    else if (local < p.V)  // else another block of the table writes this row
      out_[i] = wte[local * p.C + c] + POSITION(n, c);
  }
#elif defined(EMBEDDING_DWTE)
  const uint c = gl_GlobalInvocationID.x;
  if (c >= p.C) return;
  const uint first = gl_WorkGroupID.y * p.vocab_chunk;
  const uint last = min(first + p.vocab_chunk, p.V);
  for (uint n = 0; n < p.N; ++n) {
    const uint local = uint(tokens[n]) - p.vocab_offset;  // ids outside the bound rows wrap past V
    if (local >= first && local < last) dwte[local * p.C + c] += dout[n * p.C + c];
  }
#else  // EMBEDDING_DWPE
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint i = gl_GlobalInvocationID.x; i < p.T * p.C; i += stride) {  // i = t*C + c
    float sum = 0.0;
    for (uint j = i; j < p.N * p.C; j += p.T * p.C) sum += dout[j];  // j = (b*T + t)*C + c
    dwpe[i] += sum;
  }
#endif
}
