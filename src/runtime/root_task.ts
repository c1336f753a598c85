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
  /** Its arguments: structured-cloneable values (fds travel as numbers). */
  readonly args: readonly unknown[];
  /** The function itself, on the thread that built the task (for the export check). */
  readonly fn: ((...args: never[]) => Task<T>) | undefined;
}

/**
 * Builds the root task "call the exported generator function `fn` of the
 * module at `module` with `args`".
 *
 * Write it in the module that exports `fn`, or pass that module's URL:
 * `rootTask(import.meta.url, handle, fd)`. The task module is imported by
 * every worker that runs one of its tasks (and by the host to check the
 * export), so it should do nothing at its top level but declare.
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
  ...args: A
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
