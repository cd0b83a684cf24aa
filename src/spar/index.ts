/** The public surface of src/spar: the SPaR algorithm, pure TypeScript over `ModelBackend`. */
export { defaultSparConfig, parseSparConfig, type SamplingSettings, type SparConfig, type SparConfigInput, type VerdictMode } from './config';
export { DEFAULT_TEMPLATES, judgeMessages, judgePrompt, refineMessages, type SparTemplates, templateProblems } from './templates';
export { parseVerdict, readoutLabels, readoutPrefix, readoutVerdict, toReadout } from './verdict';
export { judgeResponses, type JudgeSettings } from './judge';
export { extractRefined, refineBranches, type BranchRefinement, type RefineSettings } from './refine';
export { bestNode, critiqueCandidates, randSelect, searchTree, type SearchInput } from './search';
export {
  agreeingCritique,
  assembleRftDataset,
  extractPairs,
  extractRft,
  firstUserMessage,
  REFERENCE_RFT_CAPS,
  type PairDraft,
  type RftCaps,
  type RftDraft,
} from './extract';
export { InstructionFailure, processInstruction, type InstructionInput, type InstructionResult, type Models } from './instruction';
export {
  checkModels,
  runIteration,
  treeId,
  type FinishedInstruction,
  type PromptInput,
  type RunIterationOptions,
  type SparProgress,
} from './pipeline';
export { MemoryPersistence, type SparPersistence } from './persist';
export { llamaFactoryDatasetInfo, pairsToLlamaFactoryJsonl, pairsToTrlJsonl, rftToJsonl, treesToJson } from './export';
export { hash32, PyRandom, requestSeed, streamSeeds, type StreamName } from './rng';
export type { CallPurpose, ModelCtx } from './calls';
export * from './types';
