/**
 * web-llm's failures as LabErrors. Errors reach us in two shapes: Error objects (web-llm's own
 * classes in lib/error.ts, each with a distinctive `name`, or the browser's TypeError /
 * DOMException) when the engine runs in the same thread, and plain strings when it runs in a
 * worker — WebWorkerMLCEngineHandler sends `err.toString()`, i.e. "DeviceLostError: The WebGPU
 * device was lost…". Both are read as a name and a message and mapped by name first, then by
 * the message's wording (for errors the runtime raises as plain Error).
 *
 * Every message says what to do next, and none of these failures stops the rest of the lab:
 * the lab engine and OpenAI-compatible endpoints keep working.
 */
import { LabError, type ErrorKind } from '../errors';
import { WEBGPU_ADVICE } from '../engine/gpu/report';

/** What was going on, for the message. */
export type WebLlmActivity = 'load' | 'generate' | 'readout';

interface Parsed {
  name: string;
  message: string;
}

function parse(e: unknown): Parsed {
  if (e instanceof Error || (typeof DOMException !== 'undefined' && e instanceof DOMException)) {
    return { name: (e as Error).name || 'Error', message: (e as Error).message };
  }
  const s = typeof e === 'string' ? e : e && typeof e === 'object' && 'message' in e ? String((e as { message: unknown }).message) : String(e);
  // "Name: message" as Error.prototype.toString writes it (the name is one identifier).
  const m = /^([A-Za-z_$][\w$]*(?:Error|Exception)|AbortError|QuotaExceededError): ?([\s\S]*)$/.exec(s);
  return m ? { name: m[1], message: m[2] } : { name: 'Error', message: s };
}

const NAME_KIND: Record<string, ErrorKind> = {
  WebGPUNotAvailableError: 'no-webgpu',
  WebGPUNotFoundError: 'no-webgpu',
  ShaderF16SupportError: 'unsupported',
  FeatureSupportError: 'unsupported',
  DeviceLostError: 'device-lost',
  QuotaExceededError: 'quota',
  AbortError: 'cancelled',
  ModelNotFoundError: 'not-found',
  ModelNotLoadedError: 'not-found',
  WorkerEngineModelNotLoadedError: 'not-found',
  EngineNotLoadedError: 'not-found',
  SpecifiedModelNotFoundError: 'not-found',
  ContextWindowSizeExceededError: 'invalid-input',
  IntegrityError: 'network',
  MissingModelError: 'unsupported',
  UnsupportedTokenizerFilesError: 'unsupported',
  ArtifactManifestError: 'unsupported',
};

/** web-llm's request-validation errors: a setting or message the engine refuses. */
const INVALID_INPUT = new Set([
  'ConfigValueError',
  'MinValueError',
  'RangeError',
  'NonNegativeError',
  'InvalidNumberStringError',
  'DependencyError',
  'MessageOrderError',
  'SystemMessageOrderError',
  'ContentTypeError',
  'UnsupportedRoleError',
  'SeedTypeError',
  'StreamingCountError',
  'UnsupportedFieldsError',
  'TextCompletionExpectsKVEmptyError',
  'UnclearModelToUseError',
]);

const OOM = /out of memory|outofmemory|allocation failed|could not allocate|cannot allocate|failed to allocate|memory access out of bounds/i;
const NETWORK = /failed to fetch|networkerror|network error|request failed|load failed|cannot fetch|err_[a-z_]+|the internet connection/i;
/** A request that got no answer at all (offline, DNS, refused), as Chrome, Firefox and Safari word it: nothing of it was downloaded. */
const NO_ANSWER = /failed to fetch|load failed|networkerror when attempting to fetch|err_internet_disconnected|err_name_not_resolved|err_connection_refused|err_address_unreachable/i;
const LIMITS = /requested (maxBufferSize|maxStorageBufferBindingSize|maxComputeWorkgroupStorageSize|maxStorageBuffersPerShaderStage) exceeds limit/i;

function classify({ name, message }: Parsed): ErrorKind {
  if (NAME_KIND[name]) return NAME_KIND[name];
  if (/device (was )?lost/i.test(message)) return 'device-lost';
  if (/quota/i.test(name + ' ' + message)) return 'quota';
  // Before the name test: web-llm's config RangeError shares its name with the one a failed wasm allocation throws.
  if (OOM.test(message)) return 'out-of-memory';
  if (INVALID_INPUT.has(name)) return 'invalid-input';
  if (/unable to find a compatible gpu|webgpu is not supported|navigator\.gpu/i.test(message)) return 'no-webgpu';
  if (LIMITS.test(message) || /requires (webgpu extension )?shader-f16|requires feature/i.test(message)) return 'unsupported';
  if (NETWORK.test(message) || (name === 'TypeError' && /fetch|cache/i.test(message))) return 'network';
  return 'internal';
}

function advice(kind: ErrorKind, p: Parsed, activity: WebLlmActivity, model: string): string {
  const what = model ? `web-llm (${model})` : 'web-llm';
  const detail = p.message.trim();
  switch (kind) {
    case 'no-webgpu':
      return `${what} needs WebGPU, and this browser offers none (${detail}). ${WEBGPU_ADVICE} Meanwhile an OpenAI-compatible endpoint can serve the roles.`;
    case 'unsupported':
      if (/shader-f16/i.test(detail) || p.name === 'ShaderF16SupportError') {
        return `This build of ${model || 'the model'} needs the WebGPU feature shader-f16, which this GPU lacks. Pick the q4f32_1 (or q0f32) build of the same model.`;
      }
      if (LIMITS.test(detail)) return `This GPU's limits are below what web-llm needs (${detail}). Use the lab engine or an OpenAI-compatible endpoint instead.`;
      return `${what} cannot use this model here: ${detail}`;
    case 'device-lost':
      return `The GPU device was lost while ${what} was ${activity === 'load' ? 'loading the model' : 'generating'} (usually out of GPU memory). Load the model again; if it happens again, pick a smaller model, a 4-bit build or a -1k variant, and close other GPU-heavy tabs.`;
    case 'out-of-memory':
      return `${what} ran out of memory ${activity === 'load' ? 'loading the model' : 'while generating'} (${detail}). Pick a smaller model, a 4-bit build (q4f16_1/q4f32_1) or a -1k (short context) variant, close other GPU-heavy tabs, then try again.`;
    case 'quota':
      return `Browser storage is full, so the model files could not be stored (${detail}). Delete cached models you no longer need or free disk space, then load again: the files already stored are kept and the download continues with the missing ones.`;
    case 'network':
      if (p.name === 'IntegrityError') return `A downloaded file of ${model || 'the model'} is corrupt (${detail.split('\n')[0]}). Delete the cached model and download it again.`;
      if (NO_ANSWER.test(detail)) {
        return `${what} could not download the model: this browser is offline or the download server cannot be reached (${detail}). Check the connection and load again: web-llm keeps every file it already stored and downloads only the missing ones.`;
      }
      return `The download for ${what} broke off (${detail}). Check the connection and load again: web-llm keeps every file it already stored and downloads only the missing ones.`;
    case 'not-found':
      if (p.name === 'ModelNotFoundError') return `web-llm does not know the model "${model}" (${detail}). Pick one from the model list.`;
      return `No web-llm model is loaded${model ? ` for ${model}` : ''}. Load the model first (${detail}).`;
    case 'invalid-input':
      if (p.name === 'ContextWindowSizeExceededError') {
        return `The prompt is longer than ${model || 'the model'}'s context window (${detail.split('\n')[0]}). Shorten the prompt or pick a variant with a longer context (ids without -1k).`;
      }
      return `${what} refused the request: ${detail}`;
    case 'cancelled':
      return activity === 'load' ? 'Model loading cancelled.' : 'Cancelled.';
    default:
      return `${what} failed${activity === 'load' ? ' to load the model' : ''}: ${p.name !== 'Error' ? `${p.name}: ` : ''}${detail}`;
  }
}

/** Any failure of web-llm (Error, DOMException or the string a worker sends) as a LabError. */
export function webLlmError(e: unknown, activity: WebLlmActivity = 'generate', model = ''): LabError {
  if (e instanceof LabError) return e;
  const p = parse(e);
  const kind = classify(p);
  return new LabError(kind, advice(kind, p, activity, model), { cause: e });
}
