import { afterAll, describe, it } from 'vitest';
import * as cpu from '../../../../src/engine/cpu/ops';
import { attentionForward, kvcacheWrite, type KvIndex } from '../../../../src/engine/gpu/attention';
import { expectClose, printMeasured, rand, randInt, run, upload, withGpu, zeros } from '../../../helpers/gpu';

afterAll(printMeasured);

/**
 * Two sequences in one batch over a paged cache whose pages are shuffled: sequence 0 prefills
 * T0 tokens, sequence 1 decodes one token after a history written earlier.
 */
describe('attentionForward (GQA over a paged KV cache) against the CPU reference', () => {
  for (const [NH, NKV] of [[4, 2], [6, 1], [3, 3], [14, 2]]) for (const subgroups of [true, false]) {
    it(`NH ${NH}, NKV ${NKV}${subgroups ? ' (quads)' : ' (without subgroups)'}: prefill and decode rows in one batch`, async () => {
      await withGpu(async (gpu) => {
        const D = 4 * randInt(2, 5);
        const PAGE = 4;
        const maxPages = 6;
        const QW = (NH + 2 * NKV) * D; // fused q|k|v row
        const KVW = NKV * D;
        const pages = [5, 2, 9, 0, 7, 3, 11, 1, 8, 4, 6, 10]; // a shuffled pool of 12 pages
        const pageTable = Uint32Array.from(pages);
        const kc = zeros(gpu, 12 * PAGE * KVW);
        const vc = zeros(gpu, 12 * PAGE * KVW);
        const kv = { k: kc, v: vc };

        // History of sequence 1 (positions 0..H-1), written through the same kernel.
        const H = randInt(9, 17);
        const hist = rand(H * QW);
        const idxFor = (rowSeq: Uint32Array, positions: Uint32Array): KvIndex => ({
          pageTable: upload(gpu, pageTable),
          maxPages,
          pageSize: PAGE,
          rowSeq: upload(gpu, rowSeq),
          positions: upload(gpu, positions),
        });
        const layout = { width: KVW, stride: QW, kOff: NH * D, vOff: NH * D + KVW };
        await run(gpu, (rec) =>
          kvcacheWrite(rec, kv, upload(gpu, hist), idxFor(new Uint32Array(H).fill(1), Uint32Array.from({ length: H }, (_, i) => i)), H, layout),
        );

        // Batch: T0 prefill rows of sequence 0 (positions 0..T0-1) + 1 decode row of sequence 1 (position H).
        const T0 = randInt(5, 11);
        const T = T0 + 1;
        const rowSeq = Uint32Array.from({ length: T }, (_, i) => (i < T0 ? 0 : 1));
        const positions = Uint32Array.from({ length: T }, (_, i) => (i < T0 ? i : H));
        const qkv = rand(T * QW);
        const idx = idxFor(rowSeq, positions);
        const out = zeros(gpu, T * NH * D);
        const qkvBuf = upload(gpu, qkv);
        await run(gpu, (rec) => {
          kvcacheWrite(rec, kv, qkvBuf, idx, T, layout);
          attentionForward(rec, out, qkvBuf, kv, idx, T, NH, NKV, D, { qStride: QW, qOff: 0 });
        });
        const got = await gpu.readF32(out.buffer, 0, T * NH * D);

        const cols = (src: Float32Array, rows: number, off: number, w: number) => {
          const o = new Float32Array(rows * w);
          for (let r = 0; r < rows; r++) o.set(src.subarray(r * QW + off, r * QW + off + w), r * w);
          return o;
        };
        // Sequence 0: plain causal prefill.
        const want0 = new Float32Array(T0 * NH * D);
        const s0 = qkv.subarray(0, T0 * QW);
        cpu.attentionForward(want0, null, cols(s0, T0, 0, NH * D), cols(s0, T0, NH * D, KVW), cols(s0, T0, NH * D + KVW, KVW), positions.subarray(0, T0), T0, T0, NH, NKV, D);
        // Sequence 1: one query over history + itself.
        const all1 = new Float32Array((H + 1) * QW);
        all1.set(hist);
        all1.set(qkv.subarray(T0 * QW), H * QW);
        const want1 = new Float32Array(NH * D);
        cpu.attentionForward(want1, null, cols(qkv.subarray(T0 * QW), 1, 0, NH * D), cols(all1, H + 1, NH * D, KVW), cols(all1, H + 1, NH * D + KVW, KVW), [H], 1, H + 1, NH, NKV, D);
        const want = new Float32Array(T * NH * D);
        want.set(want0);
        want.set(want1, T0 * NH * D);
        // Outputs are averages of values in [-1, 1]; near-zero ones come from cancellation, where
        // f32 rounding of the terms (~6e-8) is the honest resolution: relative to a floor of 0.1.
        expectClose('attention', got, want, { floor: 0.1 });
      }, { subgroups });
    });
  }
});
