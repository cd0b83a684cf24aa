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
 * Accumulation is in f64 (JS numbers), rounded to the buffer's type on store. Buffers are
 * Float32Array in the engine; the same functions run on Float64Array for the finite-difference
 * checks of the backward pass (an f32 forward is too noisy for central differences).
 *
 * Backward functions reverse one forward call: they take the forward's inputs and what it saved,
 * and the gradient of its output (dout), and ADD into the gradients of its inputs (+=), so a
 * tensor used twice (the residual stream, a normed input read by q, k and v) gets both
 * contributions. Base weights are frozen: only activations get gradients, plus LoRA's A and B.
 */

/** The element type of every buffer: f32 in the engine, f64 in the gradient checks. */
export type FloatArray = Float32Array | Float64Array;

/** out[t,:] = wte[tokens[t],:].   out [T,C], wte [V,C] */
export function embeddingForward(out: FloatArray, tokens: ArrayLike<number>, wte: FloatArray, C: number): void {
  for (let t = 0; t < tokens.length; t++) out.set(wte.subarray(tokens[t] * C, tokens[t] * C + C), t * C);
}

/**
 * out = x / rms(x) * w, per row.   out, x [T,C], w [C], rstd [T] (saved for backward)
 * rms(x) = sqrt(mean(x²) + eps)
 */
export function rmsnormForward(
  out: FloatArray,
  rstd: FloatArray | null,
  x: FloatArray,
  w: FloatArray,
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

/**
 * Backward of rmsnormForward, w frozen (no dw).   dx [T,C] (+=), dout [T,C], x [T,C], w [C], rstd [T]
 *   out_i = x_i·r·w_i with r = (mean(x²) + eps)^-½, and dr/dx_i = -r³·x_i / C, so
 *   dx_i = r·w_i·dout_i - x_i · r³/C · Σ_j dout_j·w_j·x_j
 */
export function rmsnormBackward(
  dx: FloatArray,
  dout: FloatArray,
  x: FloatArray,
  w: FloatArray,
  rstd: FloatArray,
  T: number,
  C: number,
): void {
  for (let t = 0; t < T; t++) {
    const o = t * C;
    const r = rstd[t];
    let dot = 0; // Σ_j dout_j·w_j·x_j
    for (let i = 0; i < C; i++) dot += dout[o + i] * w[i] * x[o + i];
    const k = (r * r * r * dot) / C;
    for (let i = 0; i < C; i++) dx[o + i] += r * w[i] * dout[o + i] - k * x[o + i];
  }
}

/** out = x · Wᵀ (+ bias).   out [T,OC], x [T,IC], w [OC,IC], bias [OC] | null */
export function matmulForward(
  out: FloatArray,
  x: FloatArray,
  w: FloatArray,
  bias: FloatArray | null,
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
 * Backward of matmulForward.   dx [T,IC] (+=) | null, dw [OC,IC] (+=) | null, dout [T,OC],
 * x [T,IC], w [OC,IC]. Frozen base weights pass dw = null (and never need a bias gradient);
 * LoRA's A and B are the only weights that get one (loraBackward).
 *   out[t,o] = Σ_i x[t,i]·w[o,i]  ⇒  dx[t,i] += Σ_o dout[t,o]·w[o,i],  dw[o,i] += Σ_t dout[t,o]·x[t,i]
 */
export function matmulBackward(
  dx: FloatArray | null,
  dw: FloatArray | null,
  dout: FloatArray,
  x: FloatArray,
  w: FloatArray,
  T: number,
  IC: number,
  OC: number,
): void {
  if (dx) {
    const acc = new Float64Array(IC);
    for (let t = 0; t < T; t++) {
      acc.fill(0);
      for (let o = 0; o < OC; o++) {
        const g = dout[t * OC + o];
        if (g === 0) continue;
        const wo = o * IC;
        for (let i = 0; i < IC; i++) acc[i] += g * w[wo + i];
      }
      const xo = t * IC;
      for (let i = 0; i < IC; i++) dx[xo + i] += acc[i];
    }
  }
  if (dw) {
    const acc = new Float64Array(IC);
    for (let o = 0; o < OC; o++) {
      acc.fill(0);
      for (let t = 0; t < T; t++) {
        const g = dout[t * OC + o];
        if (g === 0) continue;
        const xo = t * IC;
        for (let i = 0; i < IC; i++) acc[i] += g * x[xo + i];
      }
      const wo = o * IC;
      for (let i = 0; i < IC; i++) dw[wo + i] += acc[i];
    }
  }
}

/**
 * LoRA update of a linear's output, in place: out += scale · (x · Aᵀ) · Bᵀ.
 *   out [T,OC], xa [T,r] (x · Aᵀ, saved for backward), x [T,IC], a [r,IC], b [OC,r]
 */
export function loraForward(
  out: FloatArray,
  xa: FloatArray,
  x: FloatArray,
  a: FloatArray,
  b: FloatArray,
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
 * Backward of loraForward.   dx [T,IC] (+=), da [r,IC] (+=) | null, db [OC,r] (+=) | null,
 * dout [T,OC] (the gradient of the whole linear's output), x [T,IC], xa [T,r] (saved), a [r,IC], b [OC,r]
 * (da = db = null: an adapter that is applied but not trained still passes dx on.)
 */
export function loraBackward(
  dx: FloatArray,
  da: FloatArray | null,
  db: FloatArray | null,
  dout: FloatArray,
  x: FloatArray,
  xa: FloatArray,
  a: FloatArray,
  b: FloatArray,
  scale: number,
  T: number,
  IC: number,
  OC: number,
  r: number,
): void {
  // out[t,o] += scale · Σ_j xa[t,j]·b[o,j]
  //   ⇒ dxa[t,j] = scale · Σ_o dout[t,o]·b[o,j],  db[o,j] += scale · Σ_t dout[t,o]·xa[t,j]
  const dxa = new Float64Array(T * r);
  for (let t = 0; t < T; t++) {
    for (let o = 0; o < OC; o++) {
      const g = scale * dout[t * OC + o];
      if (g === 0) continue;
      for (let j = 0; j < r; j++) dxa[t * r + j] += g * b[o * r + j];
    }
  }
  if (db) {
    for (let o = 0; o < OC; o++) {
      for (let j = 0; j < r; j++) {
        let acc = 0;
        for (let t = 0; t < T; t++) acc += dout[t * OC + o] * xa[t * r + j];
        db[o * r + j] += scale * acc;
      }
    }
  }
  // xa = x · Aᵀ (matmulForward(xa, x, a, null, T, IC, r))
  matmulBackward(dx, da, dxa, x, a, T, IC, r);
}

/**
 * Rotary position embedding, in place, "rotate half" convention (Hugging Face Llama/Qwen2):
 * for each head, pairs (j, j + D/2) are rotated by angle pos · invFreq[j].
 *   x [T, nHeads*D], positions [T], invFreq [D/2]
 */
export function ropeForward(
  x: FloatArray,
  positions: ArrayLike<number>,
  invFreq: FloatArray,
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
 * Backward of ropeForward, in place on the gradient: the rotation is orthogonal, so the
 * gradient is rotated back by the same angle (Rᵀ = R(-angle)).   dx [T, nHeads*D]
 *   x[j]' = a·cos - b·sin, x[j+D/2]' = b·cos + a·sin
 *   ⇒ da = da'·cos + db'·sin,  db = db'·cos - da'·sin
 */
export function ropeBackward(
  dx: FloatArray,
  positions: ArrayLike<number>,
  invFreq: FloatArray,
  T: number,
  nHeads: number,
  D: number,
): void {
  const half = D / 2;
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < half; j++) {
      const angle = Math.fround(positions[t] * invFreq[j]); // the forward's f32 angle
      const cos = Math.cos(angle);
      const sin = Math.sin(angle);
      for (let h = 0; h < nHeads; h++) {
        const o = (t * nHeads + h) * D;
        const da = dx[o + j];
        const db = dx[o + j + half];
        dx[o + j] = da * cos + db * sin;
        dx[o + j + half] = db * cos - da * sin;
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
  out: FloatArray,
  att: FloatArray | null,
  q: FloatArray,
  k: FloatArray,
  v: FloatArray,
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

/**
 * Backward of attentionForward, with the probabilities it saved.
 *   dq [T, NH*D] (+=), dk, dv [S, NKV*D] (+=; the query heads of a group add into their shared
 *   KV head), dout [T, NH*D], q [T, NH*D], k, v [S, NKV*D], att [NH, T, S]
 * Gradients reach only keys and values inside the given arrays: in training the whole sequence
 * is one forward call (past 0, S = T).
 */
export function attentionBackward(
  dq: FloatArray,
  dk: FloatArray,
  dv: FloatArray,
  dout: FloatArray,
  q: FloatArray,
  k: FloatArray,
  v: FloatArray,
  att: FloatArray,
  qPos: ArrayLike<number>,
  T: number,
  S: number,
  NH: number,
  NKV: number,
  D: number,
): void {
  const group = NH / NKV;
  const scale = 1 / Math.sqrt(D);
  const dp = new Float64Array(S);
  for (let h = 0; h < NH; h++) {
    const kvh = Math.floor(h / group);
    for (let t = 0; t < T; t++) {
      const qo = (t * NH + h) * D;
      const ao = (h * T + t) * S;
      const last = qPos[t];
      // out[d] = Σ_s p[s]·v[s,d]  ⇒  dp[s] = Σ_d dout[d]·v[s,d],  dv[s,d] += p[s]·dout[d]
      let pdp = 0; // Σ_s p[s]·dp[s]
      for (let s = 0; s <= last; s++) {
        const vo = (s * NKV + kvh) * D;
        const p = att[ao + s];
        let acc = 0;
        for (let d = 0; d < D; d++) {
          acc += dout[qo + d] * v[vo + d];
          dv[vo + d] += p * dout[qo + d];
        }
        dp[s] = acc;
        pdp += p * acc;
      }
      // p = softmax(scores)  ⇒  dscore[s] = p[s]·(dp[s] - Σ_s' p[s']·dp[s'])
      // scores[s] = scale · Σ_d q[d]·k[s,d]  ⇒  dq[d] += scale·Σ_s dscore[s]·k[s,d],  dk[s,d] += scale·dscore[s]·q[d]
      for (let s = 0; s <= last; s++) {
        const ds = att[ao + s] * (dp[s] - pdp) * scale;
        if (ds === 0) continue;
        const ko = (s * NKV + kvh) * D;
        for (let d = 0; d < D; d++) {
          dq[qo + d] += ds * k[ko + d];
          dk[ko + d] += ds * q[qo + d];
        }
      }
    }
  }
}

/** out = silu(gate) * up, silu(x) = x / (1 + e^-x).   out, gate, up [T,I] */
export function swigluForward(out: FloatArray, gate: FloatArray, up: FloatArray, n: number): void {
  for (let i = 0; i < n; i++) {
    const g = gate[i];
    out[i] = (g / (1 + Math.exp(-g))) * up[i];
  }
}

/**
 * Backward of swigluForward.   dgate, dup (+=), dout, gate, up [n]
 *   out = silu(g)·u, silu(g) = g·σ(g), silu'(g) = σ(g)·(1 + g·(1 - σ(g)))
 */
export function swigluBackward(dgate: FloatArray, dup: FloatArray, dout: FloatArray, gate: FloatArray, up: FloatArray, n: number): void {
  for (let i = 0; i < n; i++) {
    const g = gate[i];
    const sig = 1 / (1 + Math.exp(-g));
    dgate[i] += dout[i] * up[i] * sig * (1 + g * (1 - sig));
    dup[i] += dout[i] * g * sig;
  }
}

/** out = a + b, elementwise (residual connections). */
export function addForward(out: FloatArray, a: FloatArray, b: FloatArray, n: number): void {
  for (let i = 0; i < n; i++) out[i] = a[i] + b[i];
}

/** Backward of addForward: both inputs get the output's gradient.   da, db (+=), dout [n] */
export function addBackward(da: FloatArray, db: FloatArray, dout: FloatArray, n: number): void {
  for (let i = 0; i < n; i++) {
    da[i] += dout[i];
    db[i] += dout[i];
  }
}

/** Row-wise log-softmax.   out, logits [T,V] */
export function logSoftmaxForward(out: FloatArray, logits: FloatArray, T: number, V: number): void {
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
export function softmaxForward(out: FloatArray, logits: FloatArray, T: number, V: number, temperature = 1): void {
  for (let t = 0; t < T; t++) {
    const o = t * V;
    let max = -Infinity;
    for (let i = 0; i < V; i++) if (logits[o + i] > max) max = logits[o + i];
    let sum = 0;
    for (let i = 0; i < V; i++) sum += Math.exp((logits[o + i] - max) / temperature);
    for (let i = 0; i < V; i++) out[o + i] = Math.exp((logits[o + i] - max) / temperature) / sum;
  }
}

/**
 * Cross-entropy of selected rows: losses[n] = -log softmax(logits[n,:])[targets[n]], the negative
 * log-probability of each row's target token (only the rows that are trained on are computed).
 *   losses [N], lse [N] (log-sum-exp per row, saved for backward), logits [N,V], targets [N]
 */
export function crossEntropyForward(
  losses: FloatArray,
  lse: FloatArray,
  logits: FloatArray,
  targets: ArrayLike<number>,
  N: number,
  V: number,
): void {
  for (let n = 0; n < N; n++) {
    const o = n * V;
    let max = -Infinity;
    for (let i = 0; i < V; i++) if (logits[o + i] > max) max = logits[o + i];
    let sum = 0;
    for (let i = 0; i < V; i++) sum += Math.exp(logits[o + i] - max);
    const l = max + Math.log(sum);
    lse[n] = l;
    losses[n] = l - logits[o + targets[n]];
  }
}

/**
 * Backward of crossEntropyForward.   dlogits [N,V] (+=), dlosses [N], logits [N,V], lse [N], targets [N]
 *   loss = lse - logits[target]  ⇒  dlogits[i] += dloss · (softmax_i - [i = target])
 */
export function crossEntropyBackward(
  dlogits: FloatArray,
  dlosses: FloatArray,
  logits: FloatArray,
  lse: FloatArray,
  targets: ArrayLike<number>,
  N: number,
  V: number,
): void {
  for (let n = 0; n < N; n++) {
    const g = dlosses[n];
    if (g === 0) continue;
    const o = n * V;
    for (let i = 0; i < V; i++) dlogits[o + i] += g * Math.exp(logits[o + i] - lse[n]);
    dlogits[o + targets[n]] -= g;
  }
}
