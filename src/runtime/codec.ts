/**
 * Encoding of root tasks, results and errors for the trip between threads.
 *
 * A queued root task travels as bytes in the shared queue (see
 * `shared_queue.ts`), so its arguments are serialized with the structured
 * clone algorithm (`node:v8` `serialize`, present on Deno and Bun). Most root
 * tasks take a few numbers or strings (an fd, an index, a path), and
 * `v8.serialize` costs ~10 µs a round trip on Deno against ~3 µs on Bun
 * (measured), so arguments that are all primitives take a JSON fast path.
 *
 * SharedArrayBuffers must stay shared (a board of counters, a ring), but
 * serializing copies them, and only postMessage can hand a SharedArrayBuffer
 * to another isolate. So an argument that is a SharedArrayBuffer, or a view
 * (TypedArray, DataView) on one, travels as a reference: the submitting side
 * gives the buffer an id and posts it once to every worker (see
 * `runtime.ts`), and the payload carries only `[argIndex, id, view kind,
 * byteOffset, length]`. Shared buffers nested inside an argument are copied
 * (a documented limit).
 *
 * Errors are sent as `{ name, message, stack }` and re-created on the other
 * side as an `Error` with the same three (and the same class when it is one
 * of JavaScript's own error classes).
 *
 * @module
 */

import { deserialize, serialize } from "node:v8";

const JSON_TAG = 0;
const CLONE_TAG = 1;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A root task as it travels: the module URL, the export's name and the arguments. */
export interface TaskPayload {
  module: string;
  name: string;
  args: unknown[];
  /** Whether the host holds a promise for the result. */
  reply: boolean;
  /** Arguments that are shared buffers: `[index, buffer id, kind, byteOffset, length]`. */
  shares?: SharedRef[];
}

/** A top-level argument passed by reference: `[index, buffer id, kind, byteOffset, length]`. */
export type SharedRef = [number, number, string, number, number];

const VIEWS: Record<string, new(b: SharedArrayBuffer, off: number, len: number) => unknown> = {
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
  DataView,
};

/**
 * Replaces the top-level arguments that are SharedArrayBuffers (or views on
 * one) by null and returns their references; `share` gives a buffer its id
 * (and makes sure every worker gets it).
 */
export function extractShared(
  args: unknown[],
  share: (buffer: SharedArrayBuffer) => number,
): SharedRef[] | undefined {
  let refs: SharedRef[] | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a instanceof SharedArrayBuffer) {
      (refs ??= []).push([i, share(a), "SharedArrayBuffer", 0, a.byteLength]);
      args[i] = null;
    } else if (ArrayBuffer.isView(a) && a.buffer instanceof SharedArrayBuffer) {
      const kind = a.constructor.name;
      if (VIEWS[kind] === undefined) continue; // an unknown view class: copied
      const length = a instanceof DataView
        ? a.byteLength
        : (a as unknown as { length: number }).length;
      (refs ??= []).push([i, share(a.buffer), kind, a.byteOffset, length]);
      args[i] = null;
    }
  }
  return refs;
}

/** Puts the shared arguments back, given the buffers by id. */
export function restoreShared(
  args: unknown[],
  refs: SharedRef[],
  buffers: Map<number, SharedArrayBuffer>,
): void {
  for (const [i, id, kind, offset, length] of refs) {
    const buffer = buffers.get(id)!;
    args[i] = kind === "SharedArrayBuffer" ? buffer : new VIEWS[kind](buffer, offset, length);
  }
}

function isPrimitive(v: unknown): boolean {
  const t = typeof v;
  return v === null || t === "string" || t === "boolean"
    || (t === "number" && Number.isFinite(v as number) && !Object.is(v, -0));
}

/**
 * Encodes a payload. Throws a `TypeError` naming the argument when an
 * argument cannot be structured-cloned (a function, a symbol, a class with
 * private state, ...).
 */
export function encodePayload(p: TaskPayload): Uint8Array {
  if (p.args.every(isPrimitive)) {
    const text = JSON.stringify([p.module, p.name, p.args, p.reply, p.shares ?? null]);
    const bytes = encoder.encode(text);
    const out = new Uint8Array(bytes.length + 1);
    out[0] = JSON_TAG;
    out.set(bytes, 1);
    return out;
  }
  for (let i = 0; i < p.args.length; i++) {
    try {
      serialize(p.args[i]);
    } catch (error) {
      throw new TypeError(
        `argument ${i} of root task ${p.name} cannot be cloned to another thread: ${
          error instanceof Error ? error.message : String(error)
        }`,
      );
    }
  }
  const bytes = serialize([p.module, p.name, p.args, p.reply, p.shares ?? null]);
  const out = new Uint8Array(bytes.length + 1);
  out[0] = CLONE_TAG;
  out.set(bytes, 1);
  return out;
}

/** Decodes what {@linkcode encodePayload} made. */
export function decodePayload(bytes: Uint8Array): TaskPayload {
  const body = bytes.subarray(1);
  const [module, name, args, reply, shares] = (bytes[0] === JSON_TAG
    ? JSON.parse(decoder.decode(body))
    : deserialize(body)) as [string, string, unknown[], boolean, SharedRef[] | null];
  return { module, name, args, reply, shares: shares ?? undefined };
}

/** An error as it crosses threads. */
export interface ErrorShape {
  name: string;
  message: string;
  stack: string | undefined;
}

/**
 * Describes `error` (any thrown value) for another thread. Total: it never
 * throws, whatever was thrown (a null-prototype object, an error whose
 * getters throw or whose fields are not strings), since it runs where a
 * failure would take the worker down with it.
 */
export function errorShape(error: unknown): ErrorShape {
  if (error instanceof Error) {
    return {
      name: field(error, "name") ?? "Error",
      message: field(error, "message") ?? "",
      stack: field(error, "stack"),
    };
  }
  return {
    name: "Error",
    message: `a non-Error value was thrown: ${describe(error)}`,
    stack: undefined,
  };
}

// A string field of `error`, or undefined if it is missing, not a string or
// its getter throws.
function field(error: Error, key: "name" | "message" | "stack"): string | undefined {
  try {
    const value: unknown = error[key];
    return typeof value === "string" ? value : undefined;
  } catch {
    return undefined;
  }
}

function describe(value: unknown): string {
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

const BUILTIN: Record<string, ErrorConstructor> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

/** Re-creates an error from {@linkcode errorShape}: same name, message and stack. */
export function reviveError(shape: ErrorShape): Error {
  // Own keys only: a name like "constructor" must not find Object's.
  const Ctor = Object.hasOwn(BUILTIN, shape.name) ? BUILTIN[shape.name] : Error;
  const error = new Ctor(shape.message);
  if (error.name !== shape.name) {
    Object.defineProperty(error, "name", { value: shape.name, configurable: true, writable: true });
  }
  if (shape.stack !== undefined) {
    Object.defineProperty(error, "stack", {
      value: shape.stack,
      configurable: true,
      writable: true,
    });
  }
  return error;
}
