/**
 * The types every strom operation is written in.
 *
 * @module
 */

/**
 * The one value a strom leaf operation yields to the scheduler when it must
 * wait. It is private to strom: user code never yields it itself, it reaches
 * the scheduler only through `yield*` on a strom operation. Anything else a
 * task yields breaks the usage model (see `usage.ts`).
 */
export const SUSPEND: Suspend = Object.freeze({ strom: "suspend" }) as unknown as Suspend;

/**
 * The type of {@linkcode SUSPEND}: a branded object type, so a generator's
 * inferred yield type stays `Suspend` (a unique symbol would widen to `symbol`) and no other value fits it.
 */
export interface Suspend {
  /** The brand; no value but {@linkcode SUSPEND} carries it at run time. */
  readonly __stromSuspend: true;
}

/**
 * What a leaf operation that is not a generator (an iterator object, on the
 * hot paths: sleep, join, awaitAll, channel waits...) returns from `next()`
 * when it must wait: `yield*` passes it to the scheduler as a generator's
 * own `yield SUSPEND` would. One frozen object for all: `yield*` only reads
 * it.
 */
export const SUSPENDED: IteratorYieldResult<Suspend> = Object.freeze({
  value: SUSPEND,
  done: false,
});

/**
 * An operation: what calling a strom generator function returns. Compose
 * operations with `yield*`; the value of `yield* op` is the operation's
 * result.
 */
export type Operation<T> = Generator<Suspend, T, unknown>;

/**
 * A task: a generator that strom drives to completion. Every
 * {@linkcode Operation} is a task, and so is any `function*` whose body only
 * uses `yield*` on strom operations.
 */
export type Task<T> = Generator<Suspend, T, unknown>;

/** The results of a tuple of tasks, in order. */
export type TaskResults<T extends readonly Task<unknown>[]> = {
  -readonly [K in keyof T]: T[K] extends Task<infer R> ? R : never;
};
