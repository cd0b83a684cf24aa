/**
 * The one small interface through which the SPaR algorithm talks to language models. Every
 * backend implements it: the lab engine (WebGPU, LoRA-aware), web-llm (fast frozen models),
 * transformers.js (frozen ONNX models on WebGPU or WebAssembly), an OpenAI-compatible endpoint,
 * and scripted test doubles. A backend instance is bound to one role's model: the lab engine
 * hands out one view per adapter ("actor", "refiner"), so requests never name adapters.
 *
 * Batched by design: every method takes many requests at once, and a backend is free to run
 * them together (one decode batch sharing a prompt's KV cache across its n samples).
 */

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface SamplingParams {
  /** 0 means greedy. */
  temperature: number;
  topP: number;
  maxTokens: number;
  /** Generation ends before the first occurrence of any of these strings (not included). */
  stop?: string[];
  /**
   * Seed for this request. Sample i of a request with seed s is drawn as if with seed s + i, so
   * the same seed and model give the same samples however requests are batched.
   */
  seed?: number;
}

export interface GenerateRequest {
  messages: ChatMessage[];
  /** Number of independent samples. */
  n: number;
  sampling: SamplingParams;
}

export interface Generation {
  text: string;
  finishReason: 'stop' | 'length';
  /** Generated tokens (the backend's own count). */
  tokens: number;
}

export interface ScoreRequest {
  /** The conversation before the response (the chat template's generation prompt is added). */
  messages: ChatMessage[];
  /** The assistant response whose tokens are scored. */
  response: string;
}

export interface ScoreResult {
  /** Sum of log p(token) over the response's tokens. */
  logprob: number;
  tokens: number;
}

/**
 * Verdict read-out: the model has written `prefix` as the start of its assistant turn (a
 * critique ending just before the verdict word); how likely is each label to come next?
 */
export interface VerdictRequest {
  messages: ChatMessage[];
  prefix: string;
  /**
   * The continuations to compare, exactly as they would follow `prefix` (SPaR sends
   * [' Yes', ' No'] after a prefix ending in "...the Prompt):").
   */
  labels: string[];
}

export interface VerdictResult {
  /**
   * log p(first token of each label | messages, prefix), in the order asked; -Infinity where the
   * backend cannot see a label (e.g. outside an API's top log-probs).
   */
  logprobs: number[];
}

export interface CallOptions {
  signal?: AbortSignal;
  /** Streaming: called with each new piece of text of sample `sample` of request `request`. */
  onText?: (request: number, sample: number, delta: string) => void;
}

export interface BackendInfo {
  /** Shown to the user, e.g. "lab engine · SmolLM2-135M · actor adapter". */
  label: string;
  kind: 'lab' | 'webllm' | 'transformers' | 'openai' | 'scripted';
}

export interface ModelBackend {
  readonly info: BackendInfo;
  /** For each request, its n samples, in order. */
  generate(requests: GenerateRequest[], opts?: CallOptions): Promise<Generation[][]>;
  /** Log-probabilities of given responses. Absent where the backend cannot score (web-llm). */
  score?(requests: ScoreRequest[], opts?: CallOptions): Promise<ScoreResult[]>;
  /** Verdict read-out. Absent where the backend cannot provide it. */
  verdict?(requests: VerdictRequest[], opts?: CallOptions): Promise<VerdictResult[]>;
}
