/**
 * Every op of the CPU reference (cpu/ops.ts, cpu/sample.ts) has its WGSL twin here, under the
 * same name. The table is typed from the CPU modules, so adding a CPU op (a backward pass, say)
 * without its GPU twin is a compile error. Tests walk this table.
 */
import type * as cpuOps from '../cpu/ops';
import type * as cpuSample from '../cpu/sample';
import { addBackward, addForward } from './add';
import { attentionBackward, attentionForward } from './attention';
import { crossEntropyBackward, crossEntropyForward } from './cross-entropy';
import { embeddingForward } from './embedding';
import { loraBackward, loraForward } from './lora';
import { matmulBackward, matmulForward } from './matmul';
import { rmsnormBackward, rmsnormForward } from './rmsnorm';
import { ropeBackward, ropeForward } from './rope';
import { sampleToken } from './sample';
import { logSoftmaxForward, softmaxForward } from './softmax';
import { swigluBackward, swigluForward } from './swiglu';

type OpName = { [K in keyof typeof cpuOps]: (typeof cpuOps)[K] extends (...args: never[]) => unknown ? K : never }[keyof typeof cpuOps];
type TwinName = OpName | Extract<keyof typeof cpuSample, 'sampleToken'>;

export const GPU_OPS = {
  embeddingForward,
  rmsnormForward,
  rmsnormBackward,
  matmulForward,
  matmulBackward,
  loraForward,
  loraBackward,
  ropeForward,
  ropeBackward,
  attentionForward,
  attentionBackward,
  swigluForward,
  swigluBackward,
  addForward,
  addBackward,
  logSoftmaxForward,
  softmaxForward,
  crossEntropyForward,
  crossEntropyBackward,
  sampleToken,
} satisfies Record<TwinName, unknown>;

export type GpuOpName = keyof typeof GPU_OPS;
