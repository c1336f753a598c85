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
 * Before encoding, the arguments are checked ({@linkcode cloneRefusal}): a
 * clone keeps only plain data, so what would arrive changed (a class
 * instance arrives as a plain object, its private fields as nothing) is
 * refused with a `TypeError` instead of being sent.
 *
 * Two kinds of top-level argument do not travel in the bytes:
 * - A SharedArrayBuffer, or a view (TypedArray, DataView) on one, must stay
 *   shared, but serializing copies it and only postMessage can hand one to
 *   another isolate. The payload carries `[argIndex, bufferIndex, view kind,
 *   byteOffset, length]` and the task's buffers are handed over by
 *   postMessage to the one worker that takes the task (see `runtime.ts`).
 * - An {@linkcode OwnedFd} travels as its number, and the payload lists the
 *   indices of such arguments, so that whoever drops the task closes them.
 *
 * Errors are sent as `{ name, message, stack }` and re-created on the other
 * side as an `Error` with the same three (and the same class when it is one
 * of JavaScript's own error classes).
 *
 * @module
 */

import { deserialize, serialize } from "node:v8";
import { className } from "./describe.ts";
import { OwnedFd } from "./root_task.ts";

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
  /** Arguments that are shared buffers (delivered apart from the payload). */
  shares?: SharedRef[];
  /** The ids of the task's distinct shared buffers (the same buffer has the same id on its submitting thread). */
  bufferIds?: number[];
  /** Indices of the arguments that are owned fds (plain numbers in `args`). */
  fds?: number[];
}

/** A top-level argument passed by reference: `[argIndex, index in the task's buffers, kind, byteOffset, length]`. */
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

/** The arguments of a task made ready to travel (see {@linkcode prepareArgs}). */
export interface PreparedArgs {
  /** The arguments, with shared buffers replaced by null and owned fds by their numbers. */
  args: unknown[];
  /** The task's distinct shared buffers, in the order `shares` refers to them. */
  buffers: SharedArrayBuffer[];
  /** Their ids (given by `idOf`). */
  bufferIds: number[] | undefined;
  shares: SharedRef[] | undefined;
  fds: number[] | undefined;
}

/**
 * The most `ownedFd` arguments of one root task: a worker records the fds of
 * each task it took in shared memory until the task starts (a fixed number
 * of words per slot), so the host can close them if the worker dies first.
 */
export const MAX_OWNED_FDS = 4;

/**
 * Takes the top-level shared buffers and owned fds out of `args` (a copy);
 * `idOf` names each shared buffer (the same buffer, the same id). Throws a
 * `RangeError` for more than {@linkcode MAX_OWNED_FDS} owned fds; checks
 * nothing else ({@linkcode encodePayload} checks the rest).
 */
export function prepareArgs(
  args: readonly unknown[],
  idOf: (buffer: SharedArrayBuffer) => number,
): PreparedArgs {
  const out = [...args];
  const buffers: SharedArrayBuffer[] = [];
  let shares: SharedRef[] | undefined;
  let fds: number[] | undefined;
  const bufferIndex = (b: SharedArrayBuffer): number => {
    const at = buffers.indexOf(b);
    return at >= 0 ? at : buffers.push(b) - 1;
  };
  for (let i = 0; i < out.length; i++) {
    const a = out[i];
    if (a instanceof OwnedFd) {
      (fds ??= []).push(i);
      out[i] = a.fd;
    } else if (a instanceof SharedArrayBuffer) {
      (shares ??= []).push([i, bufferIndex(a), "SharedArrayBuffer", 0, a.byteLength]);
      out[i] = null;
    } else if (ArrayBuffer.isView(a) && a.buffer instanceof SharedArrayBuffer) {
      const kind = a.constructor.name;
      if (VIEWS[kind] === undefined || Object.getPrototypeOf(a) !== VIEWS[kind].prototype) {
        continue; // a subclass: refused by the check
      }
      const length = a instanceof DataView
        ? a.byteLength
        : (a as unknown as { length: number }).length;
      (shares ??= []).push([i, bufferIndex(a.buffer), kind, a.byteOffset, length]);
      out[i] = null;
    }
  }
  if (fds !== undefined && fds.length > MAX_OWNED_FDS) {
    throw new RangeError(
      `a root task takes at most ${MAX_OWNED_FDS} ownedFd arguments, got ${fds.length}`,
    );
  }
  const bufferIds = buffers.length > 0 ? buffers.map(idOf) : undefined;
  return { args: out, buffers, bufferIds, shares, fds };
}

/** The fds a prepared task owns (its `OwnedFd` arguments). */
export function ownedFdsOf(p: { args: unknown[]; fds?: number[] }): number[] {
  return p.fds === undefined ? [] : p.fds.map((i) => p.args[i] as number);
}

/** Puts the shared arguments back, given the task's buffers. */
export function restoreShared(
  args: unknown[],
  refs: SharedRef[],
  buffers: SharedArrayBuffer[],
): void {
  for (const [i, at, kind, offset, length] of refs) {
    const buffer = buffers[at]!;
    args[i] = kind === "SharedArrayBuffer" ? buffer : new VIEWS[kind]!(buffer, offset, length);
  }
}

function isPrimitive(v: unknown): boolean {
  const t = typeof v;
  return v === null || t === "string" || t === "boolean"
    || (t === "number" && Number.isFinite(v as number) && !Object.is(v, -0));
}

// Prototypes whose instances a structured clone re-creates as themselves.
const CLONEABLE_PROTOTYPES = new Set<unknown>([
  Date.prototype,
  RegExp.prototype,
  ArrayBuffer.prototype,
  Boolean.prototype,
  Number.prototype,
  String.prototype,
  Error.prototype,
  TypeError.prototype,
  RangeError.prototype,
  SyntaxError.prototype,
  ReferenceError.prototype,
  EvalError.prototype,
  URIError.prototype,
  ...Object.values(VIEWS).map((v) => v.prototype),
]);

/**
 * Why `value` cannot cross to another thread faithfully, or null if it can
 * (see `rootTask`'s JSDoc for the list). `path` locates it inside the
 * argument (".a[1].f"); `seen` guards against cycles (which clone keeps).
 */
export function cloneRefusal(value: unknown, path = "", seen = new Set<object>()): string | null {
  const is = (what: string) => path === "" ? what : `${path} is ${what}`;
  try {
    switch (typeof value) {
      case "function":
        return is("a function (functions cannot cross threads)");
      case "symbol":
        return is("a symbol (symbols cannot cross threads)");
      case "object":
        break;
      default:
        return null; // string, number, boolean, bigint, undefined
    }
    if (value === null || seen.has(value)) return null;
    seen.add(value);
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto === Object.prototype || proto === null) {
      if (Object.getOwnPropertySymbols(value).length > 0) {
        return is("an object with a symbol key (a clone drops symbol keys)");
      }
      const record = value as Record<string, unknown>;
      for (const key of Object.keys(record)) {
        const name = /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
        const r = cloneRefusal(record[key], path + name, seen);
        if (r !== null) return r;
      }
      return null;
    }
    if (proto === Array.prototype) {
      const array = value as unknown[];
      for (let i = 0; i < array.length; i++) {
        const r = cloneRefusal(array[i], `${path}[${i}]`, seen);
        if (r !== null) return r;
      }
      return null;
    }
    if (proto === Map.prototype) {
      for (const [k, v] of value as Map<unknown, unknown>) {
        const r = cloneRefusal(k, `${path}<key>`, seen) ?? cloneRefusal(v, `${path}<value>`, seen);
        if (r !== null) return r;
      }
      return null;
    }
    if (proto === Set.prototype) {
      for (const v of value as Set<unknown>) {
        const r = cloneRefusal(v, `${path}<element>`, seen);
        if (r !== null) return r;
      }
      return null;
    }
    if (value instanceof SharedArrayBuffer) {
      return is(
        "a SharedArrayBuffer inside an argument (it would arrive as a copy: pass it as an argument of its own to share it)",
      );
    }
    if (ArrayBuffer.isView(value) && value.buffer instanceof SharedArrayBuffer) {
      return is(
        "a view on a SharedArrayBuffer inside an argument (it would arrive as a copy: pass it as an argument of its own to share it)",
      );
    }
    if (value instanceof OwnedFd) {
      return is("an ownedFd inside an argument (pass it as an argument of its own)");
    }
    if (CLONEABLE_PROTOTYPES.has(proto)) return null;
    return is(
      `an instance of ${
        className(proto)
      } (a clone keeps only plain data: its class, methods, getters and private fields would be lost; pass plain data)`,
    );
  } catch {
    return is("a value that cannot be inspected (a Proxy whose traps throw?)");
  }
}

/**
 * Encodes a payload (arguments as {@linkcode prepareArgs} left them).
 * Throws a `TypeError` naming the argument, and the path inside it, when an
 * argument cannot cross faithfully ({@linkcode cloneRefusal}) or cannot be
 * structured-cloned at all.
 */
export function encodePayload(p: TaskPayload): Uint8Array {
  const record = [
    p.module,
    p.name,
    p.args,
    p.reply,
    p.shares ?? null,
    p.fds ?? null,
    p.bufferIds ?? null,
  ];
  if (p.args.every(isPrimitive)) {
    const bytes = encoder.encode(JSON.stringify(record));
    const out = new Uint8Array(bytes.length + 1);
    out[0] = JSON_TAG;
    out.set(bytes, 1);
    return out;
  }
  for (let i = 0; i < p.args.length; i++) {
    const why = cloneRefusal(p.args[i]);
    if (why !== null) throw new TypeError(`argument ${i} of root task ${p.name}: ${why}`);
  }
  let bytes: Uint8Array;
  try {
    bytes = serialize(record);
  } catch (error) {
    const i = p.args.findIndex((a) => {
      try {
        serialize(a);
        return false;
      } catch {
        return true;
      }
    });
    throw new TypeError(
      `argument ${i} of root task ${p.name} cannot be cloned to another thread: ${
        error instanceof Error ? error.message : String(error)
      }`,
    );
  }
  const out = new Uint8Array(bytes.length + 1);
  out[0] = CLONE_TAG;
  out.set(bytes, 1);
  return out;
}

/** Decodes what {@linkcode encodePayload} made. */
export function decodePayload(bytes: Uint8Array): TaskPayload {
  const body = bytes.subarray(1);
  const [module, name, args, reply, shares, fds, bufferIds] = (bytes[0] === JSON_TAG
    ? JSON.parse(decoder.decode(body))
    : deserialize(body)) as [
      string,
      string,
      unknown[],
      boolean,
      SharedRef[] | null,
      number[] | null,
      number[] | null,
    ];
  return {
    module,
    name,
    args,
    reply,
    shares: shares ?? undefined,
    fds: fds ?? undefined,
    bufferIds: bufferIds ?? undefined,
  };
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
 * getters throw or whose fields are not strings, a Proxy whose every trap
 * throws, so that even `instanceof` on it throws), since it runs where a
 * failure would take the worker down with it.
 */
export function errorShape(error: unknown): ErrorShape {
  let isError: boolean;
  try {
    isError = error instanceof Error;
  } catch {
    return {
      name: "Error",
      message: "a value was thrown that cannot be inspected (a Proxy whose traps throw?)",
      stack: undefined,
    };
  }
  if (isError) {
    const e = error as Error;
    return {
      name: field(e, "name") ?? "Error",
      message: field(e, "message") ?? "",
      stack: field(e, "stack"),
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
    try {
      return Object.prototype.toString.call(value);
    } catch {
      return "a value that cannot be inspected (a Proxy whose traps throw?)";
    }
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
  const Ctor = Object.hasOwn(BUILTIN, shape.name) ? BUILTIN[shape.name]! : Error;
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
