/**
 * How the runtime names a value it refuses, in its error messages: "the
 * number 42", "the string \"2\"", "null", "an instance of the class Point".
 *
 * @module
 */

/** A short description of `value` for an error message. Total: never throws. */
export function describeValue(value: unknown): string {
  try {
    switch (typeof value) {
      case "string":
        return `the string ${
          JSON.stringify(value.length > 40 ? value.slice(0, 40) + "..." : value)
        }`;
      case "number":
      case "boolean":
      case "bigint":
        return `the ${typeof value} ${String(value)}${typeof value === "bigint" ? "n" : ""}`;
      case "undefined":
        return "undefined";
      case "symbol":
        return "a symbol";
      case "function":
        return value.name === "" ? "an anonymous function" : `the function ${value.name}`;
    }
    if (value === null) return "null";
    if (Array.isArray(value)) return "an array";
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto === Object.prototype || proto === null) return "an object";
    return `an instance of ${className(proto)}`;
  } catch {
    return "a value that cannot be inspected (a Proxy whose traps throw?)";
  }
}

/** "the class Point" for a prototype, or "an unnamed class". */
export function className(proto: unknown): string {
  const ctor = (proto as { constructor?: unknown } | null)?.constructor;
  return typeof ctor === "function" && ctor.name !== ""
    ? `the class ${ctor.name}`
    : "an unnamed class";
}
