/**
 * The one check of every duration and instant strom takes in milliseconds
 * (`sleep`, `sleepUntil`, `timeout`, `connect`'s `timeoutMs`, ...): the type
 * first, then the range. A value that is not a number is a `TypeError`,
 * never coerced: `sleep("1000")` would otherwise wait 0 ms while an error
 * message claimed 1000.
 *
 * @module
 */

function shown(value: unknown): string {
  if (typeof value === "string") return `a string (${JSON.stringify(value.slice(0, 40))})`;
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "bigint") return `a bigint (${value}n)`;
  return `${typeof value === "object" ? "an" : "a"} ${typeof value}`;
}

/**
 * Returns `value` if it is a duration in ms: a number >= 0 (`Infinity`
 * allowed: no limit). Throws a `TypeError` for anything that is not a
 * number (strings, arrays, null, bigints, Number objects) and a `RangeError`
 * for a negative number or NaN, both naming `what` (for example
 * `"sleep: ms"` or `"connect: timeoutMs"`).
 */
export function checkDurationMs(what: string, value: unknown): number {
  if (typeof value !== "number") {
    throw new TypeError(`${what} must be a number of milliseconds, got ${shown(value)}`);
  }
  if (!(value >= 0)) throw new RangeError(`${what} must be a number >= 0, got ${value}`);
  return value;
}

/**
 * Returns `value` if it is an instant of the monotonic clock in ms (any
 * number but NaN: one in the past is due at once). Throws a `TypeError` for
 * anything that is not a number and a `RangeError` for NaN, naming `what`.
 */
export function checkInstantMs(what: string, value: unknown): number {
  if (typeof value !== "number") {
    throw new TypeError(
      `${what} must be a number (ms of the monotonic clock), got ${shown(value)}`,
    );
  }
  if (Number.isNaN(value)) throw new RangeError(`${what} must not be NaN`);
  return value;
}
