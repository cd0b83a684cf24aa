/**
 * Every op of the CPU reference (cpu/ops.ts, cpu/sample.ts) has its WGSL twin here, under the
 * same name. The table is typed from the CPU modules, so adding a CPU op (a backward pass, say)
 * without its GPU twin is a compile error. Tests walk this table.
 */
import type * as cpuOps from '../cpu/ops';
import type * as cpuSample from '../cpu/sample';
import { addForward } from './add';
import { attentionForward } from './attention';
import { embeddingForward } from './embedding';
import { loraForward } from './lora';
import { matmulForward } from './matmul';
import { rmsnormForward } from './rmsnorm';
import { ropeForward } from './rope';
import { sampleToken } from './sample';
import { logSoftmaxForward, softmaxForward } from './softmax';
import { swigluForward } from './swiglu';

type OpName = { [K in keyof typeof cpuOps]: (typeof cpuOps)[K] extends (...args: never[]) => unknown ? K : never }[keyof typeof cpuOps];
type TwinName = OpName | Extract<keyof typeof cpuSample, 'sampleToken'>;

export const GPU_OPS = {
  embeddingForward,
  rmsnormForward,
  matmulForward,
  loraForward,
  ropeForward,
  attentionForward,
  swigluForward,
  addForward,
  logSoftmaxForward,
  softmaxForward,
  sampleToken,
} satisfies Record<TwinName, unknown>;

export type GpuOpName = keyof typeof GPU_OPS;
