/**
 * safetensors (https://github.com/huggingface/safetensors): read and write.
 *
 *   [u64 little-endian N][N bytes of JSON header][data]
 *   header: { name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: {str: str} }
 *   offsets are relative to the start of the data section.
 *
 * Reading validates everything before trusting it, so a truncated download or a wrong file
 * says what is wrong and what to do. Sharded checkpoints list their tensors in
 * `model.safetensors.index.json` ({ weight_map: { name: file } }).
 */
import { LabError } from '../../errors';
import type { Tensor } from '../model/weights';
import { bf16ArrayToF32, bytesAsF32, bytesAsU16, f32ArrayToF16, numel } from '../model/dtypes';
import { readJson, type FileSource, type ReadProgress } from './files';

/** Element sizes of every safetensors dtype, so unknown ones are told apart from unsupported ones. */
const DTYPE_BYTES: Record<string, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1,
  F8_E4M3: 1, F8_E5M2: 1,
};
export type SafetensorsDtype = keyof typeof DTYPE_BYTES;

export interface SafetensorsEntry {
  name: string;
  dtype: string;
  shape: number[];
  /** The tensor's raw little-endian bytes (a view into the file). */
  bytes: Uint8Array;
}

export interface SafetensorsFile {
  metadata: Record<string, string>;
  tensors: Map<string, SafetensorsEntry>;
}

const MAX_HEADER = 100 * 1024 * 1024;

function bad(file: string, what: string): LabError {
  return new LabError(
    'invalid-input',
    `${file} is not a valid safetensors file: ${what}. Download it again (an interrupted download leaves a truncated file), ` +
      'or choose the .safetensors file of a Hugging Face checkpoint.',
  );
}

/** One tensor of a safetensors header; begin/end are offsets into the data section. */
export interface SafetensorsHeaderEntry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  metadata: Record<string, string>;
  /** In header order. */
  tensors: SafetensorsHeaderEntry[];
  /** Bytes of the data section the tensors use (the largest end offset). */
  dataBytes: number;
}

/**
 * The header length N from a file's first 8 bytes, checked against the file's size when known:
 * a header longer than the file is a truncated file, said so.
 */
export function safetensorsHeaderLength(first8: Uint8Array, fileBytes: number | null, file: string): number {
  if (first8.byteLength < 8) throw bad(file, `it has only ${first8.byteLength} bytes`);
  const n = Number(new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true));
  if (n > MAX_HEADER || n < 2) throw bad(file, `its header length ${n} is implausible (wrong file type?)`);
  if (fileBytes !== null) checkHeaderFits(n, fileBytes - 8, file);
  return n;
}

/** A header of n bytes needs n bytes after the length; `available` is what the file has there. */
export function checkHeaderFits(n: number, available: number, file: string): void {
  if (n > available) throw bad(file, `the header needs ${n} bytes but the file has ${Math.max(0, available)} after the length (truncated)`);
}

/**
 * Validates a safetensors JSON header (the N bytes after the length): an object of tensors, each
 * with a known dtype, a shape, and data_offsets that match the shape, lie within `dataBytes`
 * (when known) and overlap no other tensor's.
 */
export function parseSafetensorsHeader(headerBytes: Uint8Array, file: string, dataBytes: number | null): SafetensorsHeader {
  if (headerBytes[0] !== 0x7b /* { */) throw bad(file, 'the header does not start with "{"');
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(headerBytes));
  } catch (e) {
    throw bad(file, `its header is not JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw bad(file, 'its header is not a JSON object');
  let metadata: Record<string, string> = {};
  const tensors: SafetensorsHeaderEntry[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (value !== null && (typeof value !== 'object' || Array.isArray(value))) throw bad(file, '"__metadata__" is not an object of strings');
      metadata = (value ?? {}) as Record<string, string>;
      continue;
    }
    if (typeof value !== 'object' || value === null) throw bad(file, `tensor "${name}" is ${JSON.stringify(value)}, not an object with dtype, shape and data_offsets`);
    const { dtype, shape, data_offsets: offsets } = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) throw bad(file, `tensor "${name}" has unknown dtype "${String(dtype)}"`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw bad(file, `tensor "${name}" has an invalid shape ${JSON.stringify(shape)}`);
    }
    if (offsets === undefined) throw bad(file, `tensor "${name}" has no data_offsets`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((d) => Number.isInteger(d) && d >= 0) || offsets[1] < offsets[0]) {
      throw bad(file, `tensor "${name}" has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    const expected = numel(shape) * DTYPE_BYTES[dtype];
    if (end - begin !== expected) {
      throw bad(file, `tensor "${name}" (${dtype} [${shape}]) should take ${expected} bytes but its offsets span ${end - begin}`);
    }
    if (dataBytes !== null && end > dataBytes) {
      throw bad(file, `tensor "${name}" ends at byte ${end} of the data but the file holds only ${dataBytes} data bytes (truncated)`);
    }
    tensors.push({ name, dtype, shape: shape as number[], begin, end });
  }
  const byOffset = tensors.filter((t) => t.end > t.begin).sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < byOffset.length; i++) {
    const [p, t] = [byOffset[i - 1], byOffset[i]];
    if (t.begin < p.end) throw bad(file, `tensors "${p.name}" [${p.begin}, ${p.end}) and "${t.name}" [${t.begin}, ${t.end}) overlap`);
  }
  return { metadata, tensors, dataBytes: tensors.reduce((a, t) => Math.max(a, t.end), 0) };
}

/** Parses and validates a whole safetensors file held in memory. */
export function parseSafetensors(bytes: Uint8Array, file = 'model.safetensors'): SafetensorsFile {
  const n = safetensorsHeaderLength(bytes.subarray(0, 8), bytes.byteLength, file);
  const dataStart = 8 + n;
  const header = parseSafetensorsHeader(bytes.subarray(8, dataStart), file, bytes.byteLength - dataStart);
  const tensors = new Map<string, SafetensorsEntry>();
  for (const t of header.tensors) {
    tensors.set(t.name, { name: t.name, dtype: t.dtype, shape: t.shape, bytes: bytes.subarray(dataStart + t.begin, dataStart + t.end) });
  }
  return { metadata: header.metadata, tensors };
}

export interface ToTensorOptions {
  /** bf16 has no GPU storage type: widen to f32 (exact, default) or narrow to f16. */
  bf16To?: 'f32' | 'f16';
}

/** A float safetensors entry as an engine Tensor (F32 → f32, F16 → f16, BF16 → f32 or f16). */
export function entryToTensor(e: SafetensorsEntry, file: string, opts: ToTensorOptions = {}): Tensor {
  switch (e.dtype) {
    case 'F32':
      return { dtype: 'f32', shape: e.shape, data: bytesAsF32(e.bytes) };
    case 'F16':
      return { dtype: 'f16', shape: e.shape, data: bytesAsU16(e.bytes) };
    case 'BF16': {
      const f = bf16ArrayToF32(bytesAsU16(e.bytes));
      return opts.bf16To === 'f16' ? { dtype: 'f16', shape: e.shape, data: f32ArrayToF16(f) } : { dtype: 'f32', shape: e.shape, data: f };
    }
    default:
      throw new LabError(
        'unsupported',
        `${file}: tensor "${e.name}" is ${e.dtype}; SPaR Lab reads F32, F16 and BF16 checkpoints. ` +
          'Quantized safetensors (GPTQ/AWQ/FP8) are not supported: use the original checkpoint or an MLC q4 build.',
      );
  }
}

/** Tensor data for the writer: raw bytes in a safetensors dtype. */
export interface SafetensorsInput {
  dtype: SafetensorsDtype;
  shape: number[];
  data: Float32Array | Uint16Array | Uint32Array | Uint8Array | Int32Array;
}

/** Writes a safetensors file: tensors in the given order, header padded with spaces to 8 bytes. */
export function writeSafetensors(tensors: Record<string, SafetensorsInput>, metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  const parts: Uint8Array[] = [];
  for (const [name, t] of Object.entries(tensors)) {
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    const expected = numel(t.shape) * DTYPE_BYTES[t.dtype];
    if (bytes.byteLength !== expected) throw new Error(`writeSafetensors: "${name}" ${t.dtype} [${t.shape}] needs ${expected} bytes, got ${bytes.byteLength}`);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes.byteLength] };
    parts.push(bytes);
    offset += bytes.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + new TextEncoder().encode(json).byteLength) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let p = 8 + headerBytes.byteLength;
  for (const part of parts) {
    out.set(part, p);
    p += part.byteLength;
  }
  return out;
}

export const SAFETENSORS_INDEX = 'model.safetensors.index.json';
export const SAFETENSORS_SINGLE = 'model.safetensors';

/** The shard files of a checkpoint: the index's files in order, or the single model.safetensors. */
export async function checkpointFiles(source: FileSource): Promise<string[]> {
  if (await source.exists(SAFETENSORS_INDEX)) {
    const index = (await readJson(source, SAFETENSORS_INDEX)) as { weight_map?: Record<string, string> };
    if (!index || typeof index.weight_map !== 'object' || index.weight_map === null || Array.isArray(index.weight_map)) {
      throw new LabError('invalid-input', `${source.label}: ${SAFETENSORS_INDEX} has no "weight_map"; download it again.`);
    }
    for (const [name, file] of Object.entries(index.weight_map as Record<string, unknown>)) {
      // A shard is a plain file name beside the index; anything else is a broken or hostile index.
      if (typeof file !== 'string' || !/^[^/\\]+\.safetensors$/.test(file) || file.startsWith('.')) {
        throw new LabError('invalid-input', `${source.label}: ${SAFETENSORS_INDEX} maps "${name}" to ${JSON.stringify(file)}; a shard must be a .safetensors file name beside the index.`);
      }
    }
    return [...new Set(Object.values(index.weight_map))];
  }
  if (await source.exists(SAFETENSORS_SINGLE)) return [SAFETENSORS_SINGLE];
  throw new LabError(
    'not-found',
    `${source.label}: no ${SAFETENSORS_SINGLE} or ${SAFETENSORS_INDEX}. SPaR Lab loads safetensors checkpoints ` +
      '(PyTorch .bin files are not supported: convert them with safetensors first).',
  );
}

/** Every tensor of a (possibly sharded) checkpoint, by name. A name found in two shards is an error. */
export async function readCheckpoint(source: FileSource, onProgress?: ReadProgress): Promise<Map<string, { entry: SafetensorsEntry; file: string }>> {
  const all = new Map<string, { entry: SafetensorsEntry; file: string }>();
  for (const file of await checkpointFiles(source)) {
    const parsed = parseSafetensors(await source.read(file, onProgress), file);
    for (const [name, entry] of parsed.tensors) {
      if (all.has(name)) throw new LabError('invalid-input', `${source.label}: tensor "${name}" appears in both ${all.get(name)!.file} and ${file}.`);
      all.set(name, { entry, file });
    }
  }
  return all;
}
