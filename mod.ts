/**
 * strom: an async runtime for Deno and Bun that owns its I/O.
 *
 * Tasks are generator functions composed with `yield*`; a scheduler of
 * strom's own resumes exactly the tasks whose events fired, waiting for them
 * with epoll (or poll) called through FFI. See the README and
 * `docs/model.md` for the usage model.
 *
 * @module
 */

export { SysError } from "./src/ffi/errors.ts";
export { hardwareConcurrency, host, hostArgs as args } from "./src/ffi/mod.ts";
export { runAsync } from "./src/host/run_async.ts";
export { SHUTDOWN_SIGNALS, untilSignal } from "./src/host/signals.ts";
export { until, type UntilSource } from "./src/host/until.ts";
export type { ReactorKind } from "./src/io/reactor.ts";
export {
  type AddrLike,
  AsyncFd,
  type AsyncFdOptions,
  type ConnectOptions,
  ConnectTimeoutError,
  type Datagram,
  formatSocketAddr,
  formatUnixAddr,
  type HostPort,
  type KeepAliveOptions,
  type ListenOptions,
  lookupHost,
  type PeerCredentials,
  type Received,
  ResolveError,
  type ShutdownHow,
  type SocketAddr,
  SocketClosedError,
  TcpListener,
  TcpStream,
  toSocketAddr,
  UdpSocket,
  UnexpectedEofError,
  type UnixAddr,
  type UnixAddrLike,
  UnixDatagram,
  type UnixDatagramReceived,
  UnixListener,
  type UnixListenOptions,
  UnixStream,
} from "./src/net/mod.ts";
export {
  OwnedFd,
  ownedFd,
  type RootTask,
  rootTask,
  type RootTaskArgs,
} from "./src/runtime/root_task.ts";
export {
  Runtime,
  type RuntimeOptions,
  type RuntimeStats,
  type SpawnResult,
  WorkerCrashedError,
} from "./src/runtime/runtime.ts";
export { SharedChannel, type SharedChannelOptions } from "./src/runtime/shared_channel.ts";
export {
  RuntimeShutdownError,
  shutdownRuntime,
  submit,
  type SubmitStatus,
  trySubmit,
  workerIndex,
} from "./src/runtime/worker_context.ts";
export { type AnyResult, awaitAll, awaitAny } from "./src/sched/await_all.ts";
export { reactorKind } from "./src/sched/current.ts";
export { run } from "./src/sched/run.ts";
export { TaskCancelledError, TaskLimitError } from "./src/sched/scheduler.ts";
export { JoinHandle, spawn } from "./src/sched/spawn.ts";
export type { Operation, Suspend, Task, TaskResults } from "./src/sched/types.ts";
export { HALT_EXIT_CODE, Rule, type RuleName } from "./src/sched/usage.ts";
export { Channel, ChannelClosedError } from "./src/sync/channel.ts";
export { Notify } from "./src/sync/notify.ts";
export { oneshot, OneshotClosedError, OneshotReceiver, OneshotSender } from "./src/sync/oneshot.ts";
export { Permit, Semaphore } from "./src/sync/semaphore.ts";
export { TaskSet } from "./src/sync/task_set.ts";
export { Deadline } from "./src/time/deadline.ts";
export {
  Interval,
  interval,
  type IntervalOptions,
  type MissedTickBehavior,
} from "./src/time/interval.ts";
export { now, sleep, sleepUntil, yieldNow } from "./src/time/sleep.ts";
export { timeout, TimeoutError } from "./src/time/timeout.ts";
