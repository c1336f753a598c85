// awaitAll/timeout cancel children whose finally blocks throw: those errors
// reach nobody through the group, so they are reported on stderr.
import { awaitAll, run, sleep, type Task, timeout } from "../../mod.ts";

function* stubborn(name: string): Task<void> {
  try {
    yield* sleep(60_000);
  } finally {
    // deno-lint-ignore no-unsafe-finally -- the failing cleanup under test
    throw new Error(`cleanup of ${name} failed`);
  }
}

function* failer(): Task<void> {
  yield* sleep(1);
  throw new Error("first failure");
}

run(function*() {
  try {
    yield* awaitAll(stubborn("awaitAll child"), failer());
  } catch (error) {
    console.log(`awaitAll threw: ${(error as Error).message}`);
  }
  try {
    yield* timeout(2, stubborn("timeout child"));
  } catch (error) {
    console.log(`timeout threw: ${(error as Error).name}`);
  }
}());
