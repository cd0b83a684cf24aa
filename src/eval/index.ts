/**
 * IFEval-compatible evaluation, the lab's measuring stick: the 25 instruction checkers (strict
 * and loose, matching the official checker), accuracies, result files, instruction sets for
 * self-play (generator and loaders) and judge accuracy. Pure TypeScript: runs in Node, the
 * worker and the page. Language instructions need `loadLanguageProfiles()` (or `prepareFor`)
 * to have finished first.
 */
export {
  INSTRUCTION_IDS,
  INSTRUCTION_CONFLICTS,
  LANGUAGE_NAMES,
  RELATIONS,
  checkInstruction,
  conflicts,
  describeInstruction,
  instructionArgs,
  isInstructionId,
  usesLanguageDetection,
  validateKwargs,
  type InstructionId,
  type Kwargs,
  type Relation,
} from './instructions';
export {
  accuracy,
  evaluate,
  evaluateLoose,
  evaluateResponses,
  evaluateStrict,
  looseVariants,
  prepareFor,
  type Accuracy,
  type EvalMode,
  type EvalOutput,
  type IfevalRecord,
  type IfevalReport,
} from './evaluate';
export { detectLanguage, loadLanguageProfiles, languageProfilesLoaded, DETECTABLE_LANGUAGES } from './langdetect';
export { countCapitalWords, countSentences, countWords, splitSentences, wordTokenize } from './text';
export {
  fetchText,
  loadPromptSetFromUrl,
  parseIfevalJsonl,
  parsePromptSet,
  parseResponsesJsonl,
  parseSparPrompts,
  responseMap,
  toIfevalRecord,
  type LineError,
  type LoadResult,
  type PromptFormat,
  type ResponseRecord,
} from './loaders';
export { formatReport, pyJsonDumps, resultLine, resultsJsonl } from './results-file';
export { generateInstructions, type GeneratorOptions } from './generator';
export { SEED_QUESTIONS, SEED_TASKS } from './seed-tasks';
export { checkerVerdict, judgeAccuracy, type JudgeAccuracy, type JudgedItem, type Verdict } from './judge';
