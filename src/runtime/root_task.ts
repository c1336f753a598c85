/**
 * Root tasks that travel between threads: named by module URL and export.
 *
 * Functions cannot cross isolates, so a root task given to a runtime is the
 * URL of a module, the name of a generator function that module exports, and
 * arguments that survive structured clone. {@linkcode rootTask} builds one
 * from the function itself, so the name and the argument types come from the
 * compiler and cannot be misspelt; the function is kept (on the submitting
 * thread only) so that the export can be checked against it.
 *
 * @module
 */

import type { Task } from "../sched/types.ts";
import { halt, Rule } from "../sched/usage.ts";
import { describeValue } from "./describe.ts";

const GeneratorFunction = Object.getPrototypeOf(function*() {}).constructor;

/** Whether `fn` is a generator function (`function*`). */
export function isGeneratorFunction(fn: unknown): boolean {
  return typeof fn === "function" && fn instanceof GeneratorFunction;
}

/**
 * A root task for a runtime: `module`'s export `name`, called with `args` on
 * the worker that takes it. `T` is its result type.
 */
export interface RootTask<T = unknown> {
  /** The absolute URL of the module (usually `import.meta.url`). */
  readonly module: string;
  /** The name of the generator function the module exports. */
  readonly name: string;
  /** Its arguments: plain data (see {@linkcode rootTask}); an {@linkcode OwnedFd} arrives as its number. */
  readonly args: readonly unknown[];
  /** The function itself, on the thread that built the task (for the export check). */
  readonly fn: ((...args: never[]) => Task<T>) | undefined;
}

/**
 * A file descriptor handed over with a root task: made by
 * {@linkcode ownedFd}, it arrives in the task as its plain number, and the
 * runtime closes it on every path where the task does not start.
 */
export class OwnedFd {
  /** Use {@linkcode ownedFd}. */
  constructor(readonly fd: number) {}
}

/**
 * Hands `fd` over to a root task: `rootTask(url, serve, ownedFd(fd))`. The
 * task receives the fd as a plain number (it owns it from its start: close
 * it, or adopt it with `TcpStream.fromFd`).
 *
 * The caller gives the fd up when it passes the task to `spawn`,
 * `trySpawn`, `submit` or `trySubmit`, whatever happens next: if the task
 * never starts (refused as `"full"` or `"shutting-down"`, a bad argument,
 * failed in the queue at shutdown or when no worker is left, its module
 * failed to load on the worker, its worker crashed or its thread died
 * abruptly, e.g. `process.exit()` in another task, before starting it), the
 * runtime closes the fd. Nothing leaks and nothing is closed twice: after
 * the call, the caller must not close it. It must be a top-level argument,
 * and a root task takes at most 4 (a `RangeError` from the submit, which
 * closes them all).
 *
 * Throws a `RangeError` for a number that is not an fd (an integer in
 * [0, 2^31 - 1]) and a `TypeError` for a value that is not a number; such a
 * value is not closed.
 *
 * @example
 * ```ts
 * const fd = conn.intoFd();
 * yield* submit(rootTask(import.meta.url, serve, ownedFd(fd))); // no close on failure
 * ```
 */
export function ownedFd(fd: number): OwnedFd {
  if (typeof fd !== "number") {
    throw new TypeError(`ownedFd expects an fd (an integer >= 0), got ${describeValue(fd)}`);
  }
  if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) {
    throw new RangeError(`ownedFd expects an fd (an integer >= 0), got ${fd}`);
  }
  return new OwnedFd(fd);
}

/** The arguments `rootTask` takes for a function of `A`: a number may be an {@linkcode OwnedFd}. */
export type RootTaskArgs<A extends unknown[]> = {
  [K in keyof A]: number extends A[K] ? A[K] | OwnedFd : A[K];
};

/**
 * Builds the root task "call the exported generator function `fn` of the
 * module at `module` with `args`".
 *
 * Write it in the module that exports `fn`, or pass that module's URL:
 * `rootTask(import.meta.url, handle, fd)`. The task module is imported by
 * every worker that runs one of its tasks (and by the host to check the
 * export), so it should do nothing at its top level but declare.
 *
 * The arguments are copied to the worker (structured clone), and only plain
 * data crosses faithfully, so `spawn`/`trySpawn`/`submit`/`trySubmit`
 * refuse with a `TypeError` (naming the argument, the path inside it and
 * why; nothing is queued) what would arrive changed or not at all:
 * - functions and symbols (they cannot be cloned);
 * - class instances, i.e. any object whose prototype is not `Object.prototype`,
 *   `null`, or one of the built-in cloneable classes (Array, Map, Set, Date,
 *   RegExp, ArrayBuffer, typed arrays, DataView, the Boolean/Number/String
 *   wrappers, JavaScript's own Error classes): a clone keeps only own
 *   enumerable data, so methods, getters, private fields and the class are
 *   lost (an instance with private fields would arrive as `{}`); WeakMap,
 *   WeakSet, Promise, Proxy-wrapped and host objects cannot be cloned at all;
 * - objects with symbol keys (a clone drops them);
 * - a SharedArrayBuffer, a view on one, or an {@linkcode OwnedFd} nested
 *   inside an argument (it would arrive as a copy; pass it as an argument of
 *   its own: then a SharedArrayBuffer stays shared and an fd changes owner).
 * Getters of plain objects are read once and their values copied.
 *
 * Halts (`root-task-not-named-export`) when `fn` is not a generator function
 * or has no name (an arrow, an anonymous `function*`): it cannot be an
 * export a worker could find. Whether the module really exports it under
 * that name is checked when the task is submitted (see `Runtime.spawn`).
 * Throws a `TypeError` when `module` is not an absolute URL.
 *
 * @example
 * ```ts
 * export function* square(n: number): Task<number> {
 *   return n * n;
 * }
 * const nine = await runtime.spawn(rootTask(import.meta.url, square, 3));
 * ```
 */
export function rootTask<A extends unknown[], T>(
  module: string | URL,
  fn: (...args: A) => Task<T>,
  ...args: NoInfer<RootTaskArgs<A>>
): RootTask<T> {
  if (!isGeneratorFunction(fn)) {
    halt(
      Rule.UnnamedRootTask,
      `a root task must be an exported generator function (function*), got ${describeFn(fn)}`,
    );
  }
  if (fn.name === "") {
    halt(
      Rule.UnnamedRootTask,
      "a root task must be a named, exported function*, got an anonymous one",
    );
  }
  return { module: moduleUrl(module), name: fn.name, args, fn: fn as unknown as RootTask<T>["fn"] };
}

/** The module URL as a string; throws a `TypeError` unless it is absolute. */
export function moduleUrl(module: string | URL): string {
  const text = String(module);
  try {
    return new URL(text).href;
  } catch {
    throw new TypeError(
      `a root task's module must be an absolute URL (use import.meta.url), got "${text}"`,
    );
  }
}

function describeFn(fn: unknown): string {
  if (typeof fn !== "function") return `a ${fn === null ? "null" : typeof fn} value`;
  return fn.name === ""
    ? "an anonymous non-generator function"
    : `the non-generator function ${fn.name}`;
}

/**
 * Throws a `TypeError` unless `task` has the shape {@linkcode rootTask}
 * gives (a module URL string, an export name, an array of arguments);
 * `where` names the caller ("runtime.spawn").
 */
export function checkRootTask(task: unknown, where: string): asserts task is RootTask<unknown> {
  let problem: string | null = null;
  if (task === null || typeof task !== "object") problem = describeValue(task);
  else {
    const t = task as Partial<Record<keyof RootTask, unknown>>;
    if (typeof t.module !== "string") problem = "an object whose module is not a string";
    else if (typeof t.name !== "string") problem = "an object whose name is not a string";
    else if (!Array.isArray(t.args)) problem = "an object whose args is not an array";
  }
  if (problem !== null) {
    throw new TypeError(
      `${where}: expected a root task (rootTask(moduleUrl, fn, ...args)), got ${problem}`,
    );
  }
}

/**
 * Checks that the module namespace `ns` exports `task.name` as a generator
 * function (the very function the task was built from, if known). Halts
 * (`root-task-not-named-export`) otherwise.
 */
export function checkExport(task: RootTask<unknown>, ns: Record<string, unknown>): void {
  const exported = ns[task.name];
  if (task.fn !== undefined ? exported !== task.fn : !isGeneratorFunction(exported)) {
    halt(
      Rule.UnnamedRootTask,
      `${task.module} does not export the generator function ${task.name} ${
        exported === undefined ? "(no such export)" : "(the export is another value)"
      }`,
    );
  }
}

// Module namespaces this thread imported for root tasks, by URL.
const modules = new Map<string, Record<string, unknown>>();

/** The namespace of `url` if this thread already imported it for a root task. */
export function cachedModule(url: string): Record<string, unknown> | undefined {
  return modules.get(url);
}

/** Imports `url` once per thread (later calls return the cached namespace). */
export async function importModule(url: string): Promise<Record<string, unknown>> {
  let ns = modules.get(url);
  if (ns === undefined) {
    ns = (await import(url)) as Record<string, unknown>;
    modules.set(url, ns);
  }
  return ns;
}
