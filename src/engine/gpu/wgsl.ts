/**
 * Small WGSL building blocks shared by the kernels: the params uniform (declared from one spec
 * so the struct and the bytes written can never disagree), storage declarations, the
 * workgroup-id folding for grids wider than 65535, and the sampling hash.
 */

export type ParamType = 'u32' | 'i32' | 'f32';
/** Ordered scalar parameters of a kernel; every field is 4 bytes. */
export type ParamSpec = Readonly<Record<string, ParamType>>;
export type ParamValues<S extends ParamSpec> = { [K in keyof S]: number };

/** `struct Params {…}` bound at group 0 binding 0 as `P`. */
export function paramsWgsl(spec: ParamSpec): string {
  const fields = Object.entries(spec).map(([n, t]) => `  ${n}: ${t},`);
  if (fields.length === 0) fields.push('  unused: u32,');
  return `struct Params {\n${fields.join('\n')}\n}\n@group(0) @binding(0) var<uniform> P: Params;\n`;
}

/** The bytes of a Params value, padded to 16. */
export function packParams<S extends ParamSpec>(spec: S, values: ParamValues<S>): Uint8Array {
  const names = Object.keys(spec);
  const buf = new ArrayBuffer(Math.max(16, Math.ceil((names.length * 4) / 16) * 16));
  const dv = new DataView(buf);
  names.forEach((n, i) => {
    const v = values[n];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`kernel param ${n} = ${v}`);
    if (spec[n] === 'f32') dv.setFloat32(i * 4, v, true);
    else if (spec[n] === 'i32') dv.setInt32(i * 4, v, true);
    else dv.setUint32(i * 4, v, true);
  });
  return new Uint8Array(buf);
}

export type Access = 'read' | 'read_write';

/** Storage bindings 1..n, in order: `[name, access, elementType]`. */
export function storageWgsl(bindings: readonly (readonly [string, Access, string])[]): string {
  return bindings.map(([name, access, type], i) => `@group(0) @binding(${i + 1}) var<storage, ${access}> ${name}: array<${type}>;`).join('\n') + '\n';
}

/**
 * Entry-point builtins giving a flat workgroup index `wg` for 2-D grids (see gridFor), plus the
 * local index `li`.
 */
export const FLAT_WG_ARGS =
  '@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32';
export const FLAT_WG = 'let wg = wid.x + wid.y * nwg.x;';

/** A grid of `n` workgroups as [x, y] with x within the 65535 per-dimension limit. */
export function gridFor(n: number, maxPerDim = 65535): [number, number] {
  if (n <= maxPerDim) return [Math.max(1, n), 1];
  const y = Math.ceil(n / maxPerDim);
  return [Math.ceil(n / y), y];
}

/** The counter hash of cpu/sample.ts (u32 arithmetic wraps in WGSL as in Math.imul). */
export const HASH_WGSL = /* wgsl */ `
fn hash32(x: u32) -> u32 {
  let state = x * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}
fn uniform01(seed: u32, step: u32) -> f32 {
  return f32(hash32(seed ^ hash32(step)) >> 8u) / 16777216.0;
}
`;

/** Joins lines produced per index (code generation for unrolled loops). */
export function unroll(n: number, line: (i: number) => string, sep = '\n'): string {
  return Array.from({ length: n }, (_, i) => line(i)).join(sep);
}

/**
 * Workgroup reductions over `WG` threads. Every thread writes its value, then one thread
 * combines them in order: two barriers instead of a log2(WG)-level tree (barriers are what
 * software adapters pay for; a 64..256-step loop in one thread is cheap everywhere).
 * Results come back through workgroupUniformLoad, so callers may branch and loop on them
 * around further barriers. Call from uniform control flow with every thread's local index.
 */
export function reduceWgsl(WG: number): string {
  return /* wgsl */ `
var<workgroup> red: array<f32, ${WG}>;
var<workgroup> redIdx: array<u32, ${WG}>;
var<workgroup> redOut: f32;
var<workgroup> redOutIdx: u32;
fn wgSum(v: f32, li: u32) -> f32 {
  red[li] = v;
  workgroupBarrier();
  if (li == 0u) {
    var s = 0.0;
    for (var i = 0u; i < ${WG}u; i++) { s += red[i]; }
    redOut = s;
  }
  return workgroupUniformLoad(&redOut);
}
fn wgMax(v: f32, li: u32) -> f32 {
  red[li] = v;
  workgroupBarrier();
  if (li == 0u) {
    var m = red[0];
    for (var i = 1u; i < ${WG}u; i++) { m = max(m, red[i]); }
    redOut = m;
  }
  return workgroupUniformLoad(&redOut);
}
// Index of the largest value, the lowest index among equals.
fn wgArgmax(v: f32, i: u32, li: u32) -> u32 {
  red[li] = v;
  redIdx[li] = i;
  workgroupBarrier();
  if (li == 0u) {
    var b = red[0];
    var bi = redIdx[0];
    for (var j = 1u; j < ${WG}u; j++) {
      let c = red[j];
      if (c > b || (c == b && redIdx[j] < bi)) { b = c; bi = redIdx[j]; }
    }
    redOutIdx = bi;
  }
  return workgroupUniformLoad(&redOutIdx);
}
`;
}
