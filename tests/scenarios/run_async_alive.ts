// runAsync keeps the process alive while its only wait is in the kernel (a
// strom timer, off the JS thread) or on a promise; then the process ends by
// itself (nothing of strom keeps the event loop alive afterwards).
import { runAsync, sleep, until } from "../../mod.ts";
const value = await runAsync(function*() {
  yield* sleep(150);
  const v = yield* until(new Promise<string>((resolve) => setTimeout(() => resolve("ok"), 50)));
  yield* sleep(50);
  return v;
}());
console.log(`done ${value}`);
