// Reference ids from gpt-3-encoder's own Encoder.js (data/gpt2/Encoder.js, unmodified except
// one line: its quadratic `bpe_tokens = bpe_tokens.concat(...)` becomes a push loop so that
// multi-megabyte inputs finish). Usage: node gpt2_reference.js ENCODER_JS INPUT > ids
// With INPUT "--random=SEED:N" it instead writes N random Unicode lines (for edge coverage).
'use strict';
const fs = require('fs');
const path = require('path');

const [encoderJs, input] = process.argv.slice(2);
if (!encoderJs || !input) {
  console.error('usage: node gpt2_reference.js ENCODER_JS INPUT|--random=SEED:N');
  process.exit(2);
}

if (input.startsWith('--random=')) {
  // mulberry32: a small seeded PRNG so the random text is the same on every run.
  let [seed, n] = input.slice(9).split(':').map(Number);
  const rand = () => {
    seed = (seed + 0x6D2B79F5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pools = [
    ' ', ' ', '  ', '\n', '\t', '\r\n', '\u00a0', '\u3000', '\u2028', '\u0085', '\ufeff', '\u200b',
    "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL", "'", ',', '.', '!?', '...', '"',
    '0', '7', '42', '1234567', '3.14', '½', '²', '٣', '১',
    'a', 'the', 'The', 'DON', 'naïve', 'é', 'e\u0301', 'ß', 'Ω', 'ж', 'мир', 'λόγος', 'שלום',
    'مرحبا', 'नमस्ते', '日本', '語', '中文字', '한국어', 'ไทย', '😀', '👍🏽', '👨‍👩‍👧', '🇫🇷', '∑', '→',
    '\u{10348}', '\u{1F9EA}', '$', '€', '_', '#', '@', '<|endoftext|>', '<', '|', '\\', '/',
  ];
  const lines = [];
  for (let i = 0; i < n; i++) {
    let line = '';
    const len = 1 + Math.floor(rand() * 30);
    for (let k = 0; k < len; k++) line += pools[Math.floor(rand() * pools.length)];
    lines.push(line);
  }
  process.stdout.write(lines.join('\n') + '\n');
  process.exit(0);
}

let src = fs.readFileSync(encoderJs, 'utf8');
const slow = 'bpe_tokens = bpe_tokens.concat(new_tokens)';
if (!src.includes(slow)) {
  console.error('gpt2_reference.js: Encoder.js is not the expected gpt-3-encoder source');
  process.exit(2);
}
src = src.replace(slow, 'for (const t of new_tokens) bpe_tokens.push(t)');
const mod = { exports: {} };
new Function('require', '__dirname', 'module', 'exports', src)(
    require, path.dirname(path.resolve(encoderJs)), mod, mod.exports);

const text = fs.readFileSync(input, 'utf8');
const ids = mod.exports.encode(text);
for (const id of ids) {
  if (typeof id !== 'number') {
    console.error('gpt2_reference.js: the reference produced a non-number id: ' + id);
    process.exit(3);
  }
}
process.stdout.write(ids.join(' ') + '\n');
