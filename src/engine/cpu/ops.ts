/**
 * The CPU reference of every transformer op, in plain TypeScript over Float32Array: the ground
 * truth the WGSL kernels are tested against, and runnable in Node. llm.c style: one plain
 * function per op and direction, shapes in comments, forward saves what backward needs,
 * backward functions (added next to their forward) accumulate into gradients with +=.
 *
 * Shapes (row-major):
 *   T   tokens in this call        C   hidden size        V  vocabulary
 *   NH  query heads   NKV  key/value heads   D  head dim  I  SwiGLU width
 *   S   positions held in the KV cache (past + these T)
 * Linear weights use the Hugging Face layout [out, in]: y = x · Wᵀ + b.
 * Accumulation is in f64 (JS numbers), rounded to f32 on store.
 */

/** out[t,:] = wte[tokens[t],:].   out [T,C], wte [V,C] */
export function embeddingForward(out: Float32Array, tokens: ArrayLike<number>, wte: Float32Array, C: number): void {
  for (let t = 0; t < tokens.length; t++) out.set(wte.subarray(tokens[t] * C, tokens[t] * C + C), t * C);
}

/**
 * out = x / rms(x) * w, per row.   out, x [T,C], w [C], rstd [T] (saved for backward)
 * rms(x) = sqrt(mean(x²) + eps)
 */
export function rmsnormForward(
  out: Float32Array,
  rstd: Float32Array | null,
  x: Float32Array,
  w: Float32Array,
  T: number,
  C: number,
  eps: number,
): void {
  for (let t = 0; t < T; t++) {
    const o = t * C;
    let ss = 0;
    for (let i = 0; i < C; i++) ss += x[o + i] * x[o + i];
    const r = 1 / Math.sqrt(ss / C + eps);
    if (rstd) rstd[t] = r;
    for (let i = 0; i < C; i++) out[o + i] = x[o + i] * r * w[i];
  }
}

/** out = x · Wᵀ (+ bias).   out [T,OC], x [T,IC], w [OC,IC], bias [OC] | null */
export function matmulForward(
  out: Float32Array,
  x: Float32Array,
  w: Float32Array,
  bias: Float32Array | null,
  T: number,
  IC: number,
  OC: number,
): void {
  for (let t = 0; t < T; t++) {
    const xo = t * IC;
    for (let o = 0; o < OC; o++) {
      const wo = o * IC;
      let acc = bias ? bias[o] : 0;
      for (let i = 0; i < IC; i++) acc += x[xo + i] * w[wo + i];
      out[t * OC + o] = acc;
    }
  }
}

/**
 * LoRA update of a linear's output, in place: out += scale · (x · Aᵀ) · Bᵀ.
 *   out [T,OC], xa [T,r] (x · Aᵀ, saved for backward), x [T,IC], a [r,IC], b [OC,r]
 */
export function loraForward(
  out: Float32Array,
  xa: Float32Array,
  x: Float32Array,
  a: Float32Array,
  b: Float32Array,
  scale: number,
  T: number,
  IC: number,
  OC: number,
  r: number,
): void {
  matmulForward(xa, x, a, null, T, IC, r);
  for (let t = 0; t < T; t++) {
    for (let o = 0; o < OC; o++) {
      let acc = 0;
      for (let j = 0; j < r; j++) acc += xa[t * r + j] * b[o * r + j];
      out[t * OC + o] += scale * acc;
    }
  }
}

/**
 * Rotary position embedding, in place, "rotate half" convention (Hugging Face Llama/Qwen2):
 * for each head, pairs (j, j + D/2) are rotated by angle pos · invFreq[j].
 *   x [T, nHeads*D], positions [T], invFreq [D/2]
 */
export function ropeForward(
  x: Float32Array,
  positions: ArrayLike<number>,
  invFreq: Float32Array,
  T: number,
  nHeads: number,
  D: number,
): void {
  const half = D / 2;
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < half; j++) {
      // f32 angle like the GPU, so long positions agree.
      const angle = Math.fround(positions[t] * invFreq[j]);
      const cos = Math.cos(angle);
      const sin = Math.sin(angle);
      for (let h = 0; h < nHeads; h++) {
        const o = (t * nHeads + h) * D;
        const a = x[o + j];
        const b = x[o + j + half];
        x[o + j] = a * cos - b * sin;
        x[o + j + half] = b * cos + a * sin;
      }
    }
  }
}

/**
 * Causal grouped-query attention over a KV cache.
 *   q     [T, NH*D]    queries of the T new tokens, already rotated
 *   k, v  [S, NKV*D]   keys (rotated) and values for positions 0..S-1
 *   qPos  [T]          position of each query; it sees keys at positions <= qPos[t]
 *   out   [T, NH*D]
 *   att   [NH, T, S]   softmax probabilities, saved for backward (null to skip)
 * Query head h reads KV head floor(h / (NH / NKV)). Scale 1/sqrt(D).
 */
export function attentionForward(
  out: Float32Array,
  att: Float32Array | null,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  qPos: ArrayLike<number>,
  T: number,
  S: number,
  NH: number,
  NKV: number,
  D: number,
): void {
  const group = NH / NKV;
  const scale = 1 / Math.sqrt(D);
  const scores = new Float64Array(S);
  for (let h = 0; h < NH; h++) {
    const kvh = Math.floor(h / group);
    for (let t = 0; t < T; t++) {
      const qo = (t * NH + h) * D;
      const last = qPos[t]; // inclusive
      let max = -Infinity;
      for (let s = 0; s <= last; s++) {
        const ko = (s * NKV + kvh) * D;
        let dot = 0;
        for (let d = 0; d < D; d++) dot += q[qo + d] * k[ko + d];
        scores[s] = dot * scale;
        if (scores[s] > max) max = scores[s];
      }
      let sum = 0;
      for (let s = 0; s <= last; s++) {
        scores[s] = Math.exp(scores[s] - max);
        sum += scores[s];
      }
      const acc = new Float64Array(D);
      for (let s = 0; s <= last; s++) {
        const p = scores[s] / sum;
        if (att) att[(h * T + t) * S + s] = p;
        const vo = (s * NKV + kvh) * D;
        for (let d = 0; d < D; d++) acc[d] += p * v[vo + d];
      }
      if (att) for (let s = last + 1; s < S; s++) att[(h * T + t) * S + s] = 0;
      for (let d = 0; d < D; d++) out[qo + d] = acc[d];
    }
  }
}

/** out = silu(gate) * up, silu(x) = x / (1 + e^-x).   out, gate, up [T,I] */
export function swigluForward(out: Float32Array, gate: Float32Array, up: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const g = gate[i];
    out[i] = (g / (1 + Math.exp(-g))) * up[i];
  }
}

/** out = a + b, elementwise (residual connections). */
export function addForward(out: Float32Array, a: Float32Array, b: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) out[i] = a[i] + b[i];
}

/** Row-wise log-softmax.   out, logits [T,V] */
export function logSoftmaxForward(out: Float32Array, logits: Float32Array, T: number, V: number): void {
  for (let t = 0; t < T; t++) {
    const o = t * V;
    let max = -Infinity;
    for (let i = 0; i < V; i++) if (logits[o + i] > max) max = logits[o + i];
    let sum = 0;
    for (let i = 0; i < V; i++) sum += Math.exp(logits[o + i] - max);
    const lse = max + Math.log(sum);
    for (let i = 0; i < V; i++) out[o + i] = logits[o + i] - lse;
  }
}

/** Row-wise softmax with temperature.   out, logits [T,V] */
export function softmaxForward(out: Float32Array, logits: Float32Array, T: number, V: number, temperature = 1): void {
  for (let t = 0; t < T; t++) {
    const o = t * V;
    let max = -Infinity;
    for (let i = 0; i < V; i++) if (logits[o + i] > max) max = logits[o + i];
    let sum = 0;
    for (let i = 0; i < V; i++) sum += Math.exp((logits[o + i] - max) / temperature);
    for (let i = 0; i < V; i++) out[o + i] = Math.exp((logits[o + i] - max) / temperature) / sum;
  }
}
