/**
 * LoRA training, engine-agnostic: the public surface of src/engine/train. An engine (the CPU
 * reference in cpu/train-engine.ts, the WebGPU one in model/gpu-train-engine.ts) implements
 * TrainEngine; everything else here is plain TypeScript that runs in Node, the page and the
 * worker.
 */
export type { Floats, LossFn, LoraTensors, MicroBatchLoss, TrainEngine, TrainSequence } from './engine';
export { maskedCount, targetRows } from './engine';
export {
  DEFAULT_LORA,
  PROJ_NAMES,
  adapterParamCount,
  adapterSettings,
  adapterTensors,
  cloneAdapter,
  createAdapter,
  linearDims,
  loraScale,
  loraSettings,
  parsePeftKey,
  parseTargets,
  peftKey,
  zeroGrads,
  type CreateAdapterOptions,
  type LoraSettings,
  type LoraTensorRef,
} from './lora';
export {
  chatsFromRecords,
  checkLength,
  encodeChat,
  encodePair,
  pairsFromRecords,
  parseChatsJsonl,
  parsePairsJsonl,
  toChat,
  toPreferencePair,
  type EncodedPair,
  type LineError,
  type Parsed,
  type PreferencePair,
} from './data';
export { dpoLossFn, dpoPairLoss, emptyDpoStats, logSigmoid, sftLossFn, sigmoid, type DpoPairLogps, type DpoPairResult, type DpoStats } from './losses';
export { AdamW, DEFAULT_ADAMW, clipGradNorm, globalNorm, learningRate, warmupSteps, type AdamWSettings, type Schedule, type ScheduleSettings } from './optim';
export {
  MemoryTrainPersistence,
  checkpointId,
  recordToState,
  stateToRecord,
  trainLogId,
  type TrainPersistence,
  type TrainPut,
  type TrainRole,
  type TrainState,
} from './checkpoint';
export { DEFAULT_DPO, DEFAULT_SFT, Trainer, type StepMetrics, type TrainResult, type TrainSettings, type TrainTask, type TrainerOptions } from './trainer';
export { PEFT_CONFIG, PEFT_WEIGHTS, exportPeft, importPeft, parsePeft, peftConfig, readPeftConfig, type PeftConfigFacts, type PeftExportOptions } from './peft';
export { defaultMergeDtype, hfConfigJson, mergeLinear, mergedCheckpoint, type MergeDtype } from './merge';
