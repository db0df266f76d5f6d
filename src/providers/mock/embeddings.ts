// The mock's embeddings: a deterministic unit vector per input, derived from its text (or its tokens) alone — a
// 32-bit FNV-1a hash seeds a mulberry32 generator whose values, centred, are normalised to length 1. Same input, same
// vector, on every run and every replica; a shorter `dimensions` is the same sequence cut short and renormalised.

/** What the mock answers without `dimensions` (text-embedding-3-small's size). */
export const MOCK_DIMENSIONS = 1536;
/** At most this many numbers in one answer (2,048 inputs × 1,536): an answer stays a few dozen MB at worst. */
export const MOCK_MAX_VALUES = 2048 * 1536;

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A unit vector of `dims` float32 values (as numbers) derived from `key`. */
export function mockVector(key: string, dims: number): number[] {
  let a = fnv1a(key);
  const v = new Float64Array(dims);
  let sum = 0;
  for (let i = 0; i < dims; i++) {
    // mulberry32
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    const x = ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
    v[i] = x;
    sum += x * x;
  }
  const norm = Math.sqrt(sum) || 1;
  // Float32 values, so the floats and the base64 an encoder makes of them are the same numbers.
  return Array.from(new Float32Array(v.map((x) => x / norm)));
}

/** The key a token array is embedded by: its ids, so the same tokens always give the same vector. */
export const tokensKey = (tokens: readonly number[]) => `\u0000tokens:${tokens.join(",")}`;
