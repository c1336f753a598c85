/**
 * One multishot poll of one fd through Linux io_uring, read from the memory
 * the kernel shares with us: {@linkcode MultishotPoll.fired} tells, without
 * a syscall, whether the fd signalled readiness since the last
 * {@linkcode MultishotPoll.consume}.
 *
 * The epoll reactor polls its own epoll fd this way (`src/io/epoll_reactor.ts`):
 * while tasks stay ready, the scheduler then makes a zero-timeout wait only
 * when an event arrived, instead of on a clock.
 *
 * How the kernel tells us, with no interrupt of the running thread:
 * - the ring is set up with `IORING_SETUP_COOP_TASKRUN |
 *   IORING_SETUP_TASKRUN_FLAG` (Linux 5.19). A wake-up of the polled fd (on
 *   whichever CPU it happens) queues work for this thread and sets
 *   `IORING_SQ_TASKRUN` in the shared ring flags; the thread's next syscall
 *   runs that work, which posts a completion (CQE) and clears the flag.
 * - So "fired" is: the flag is set, or a CQE is unread.
 * - The poll is multishot (`IORING_POLL_ADD_MULTI`, Linux 5.13): it stays
 *   armed. If the kernel ends it (a full completion queue), the CQE says so
 *   (no `IORING_CQE_F_MORE`) and `consume` arms it again.
 * - Armed, every wake-up of the fd costs the kernel some work for this
 *   thread, so the owner {@linkcode MultishotPoll.disarm}s it while it is of
 *   no use (the epoll reactor: while its thread is not busy).
 *
 * No fd stays open: the ring fd is registered with the thread
 * (`IORING_REGISTER_RING_FDS`) and closed; the registration and the mappings
 * keep the ring alive until {@linkcode MultishotPoll.close} drops them (it
 * names the ring by its registered index: Linux 6.3's
 * `IORING_FEAT_REG_REG_RING`, which `open` requires). A thread that
 * dies without closing leaks the two small mappings (not an fd).
 *
 * Where any of this is missing (an older kernel, io_uring disabled by
 * `kernel.io_uring_disabled` or a container's seccomp filter),
 * {@linkcode MultishotPoll.open} returns null and the caller does without.
 *
 * Linux only, and the struct offsets below assume a little-endian CPU
 * (x86_64, aarch64: the archs strom supports).
 *
 * @module
 */

import { bindSymbols, externalBuffer, libc, pointerAddress } from "./host.ts";

// Syscall numbers: the same on x86_64 and aarch64 (new syscalls share one table).
const SYS_IO_URING_SETUP = 425;
const SYS_IO_URING_ENTER = 426;
const SYS_IO_URING_REGISTER = 427;

const IORING_SETUP_CQSIZE = 1 << 3;
const IORING_SETUP_COOP_TASKRUN = 1 << 8;
const IORING_SETUP_TASKRUN_FLAG = 1 << 9;
const IORING_FEAT_SINGLE_MMAP = 1 << 0;
const IORING_FEAT_REG_REG_RING = 1 << 13;
const IORING_OFF_SQES = 0x10000000;
const IORING_OP_POLL_ADD = 6;
const IORING_OP_POLL_REMOVE = 7;
const IORING_POLL_ADD_MULTI = 1 << 0;
const IORING_ENTER_GETEVENTS = 1 << 0;
const IORING_ENTER_REGISTERED_RING = 1 << 4;
const IORING_REGISTER_RING_FDS = 20;
const IORING_UNREGISTER_RING_FDS = 21;
const IORING_REGISTER_USE_REGISTERED_RING = 0x80000000;
const IORING_SQ_CQ_OVERFLOW = 1 << 1;
const IORING_SQ_TASKRUN = 1 << 2;
const IORING_CQE_F_MORE = 1 << 1;

const PROT_READ_WRITE = 0x1 | 0x2;
const MAP_SHARED_POPULATE = 0x01 | 0x8000;
const MAP_FAILED = 0xffffffffffffffffn;

// struct io_uring_params: 120 bytes; the offsets of the fields read here.
const PARAMS_SIZE = 120;
const P_SQ_ENTRIES = 0;
const P_CQ_ENTRIES = 4;
const P_FLAGS = 8;
const P_FEATURES = 20;
const P_SQ_OFF = 40; // struct io_sqring_offsets: head, tail, ring_mask, ring_entries, flags, dropped, array
const P_CQ_OFF = 80; // struct io_cqring_offsets: head, tail, ring_mask, ring_entries, overflow, cqes
const SQE_SIZE = 64;
const CQE_SIZE = 16;

/**
 * Completion queue entries. A poll posts at most one per wake-up of its fd,
 * and the reactor consumes them at every wait; a full queue ends the
 * multishot poll (re-armed by `consume`), so this only bounds how often that
 * happens while a long task step runs.
 */
const CQ_ENTRIES = 64;

const SETUP = { syscall: { args: ["i32", "u32", "buf"], returns: "i32" } } as const;
const ENTER = {
  syscall: { args: ["i32", "i32", "u32", "u32", "u32", "buf", "u32"], returns: "i32" },
} as const;
const REGISTER = {
  syscall: { args: ["i32", "i32", "u32", "buf", "u32"], returns: "i32" },
} as const;
const MMAP = {
  // The offset is an off_t; the two strom maps (0 and IORING_OFF_SQES) fit
  // 31 bits, and a u32 argument is zero-extended (see symbols.ts).
  mmap: { args: ["buf", "u32", "i32", "i32", "i32", "u32"], returns: "ptr" },
  munmap: { args: ["buf", "u32"], returns: "i32" },
} as const;

interface UringCalls {
  setup(entries: number, params: Uint8Array): number;
  enter(ring: number, toSubmit: number, minComplete: number, flags: number): number;
  register(ring: number, opcode: number, arg: Uint8Array, count: number): number;
  mmap(length: number, fd: number, offset: number): unknown;
  munmap(buffer: ArrayBuffer, length: number): number;
}

// Bound on first use, once per thread (most threads never poll busily).
let calls: UringCalls | null = null;

function uringCalls(): UringCalls {
  if (calls !== null) return calls;
  const setup = bindSymbols(SETUP).syscall;
  const enter = bindSymbols(ENTER).syscall;
  const register = bindSymbols(REGISTER).syscall;
  const m = bindSymbols(MMAP);
  calls = {
    setup: (entries, params) => setup(SYS_IO_URING_SETUP, entries, params),
    enter: (ring, toSubmit, minComplete, flags) =>
      enter(SYS_IO_URING_ENTER, ring, toSubmit, minComplete, flags, null, 0),
    register: (ring, opcode, arg, count) =>
      register(SYS_IO_URING_REGISTER, ring, opcode, arg, count),
    mmap: (length, fd, offset) =>
      m.mmap(null, length, PROT_READ_WRITE, MAP_SHARED_POPULATE, fd, offset),
    munmap: (buffer, length) => m.munmap(new Uint8Array(buffer), length),
  };
  return calls;
}

/** Maps `length` bytes of the ring `fd` at `offset`, or null (errno is set). */
function mapRing(c: UringCalls, fd: number, length: number, offset: number): ArrayBuffer | null {
  const p = c.mmap(length, fd, offset);
  const address = pointerAddress(p);
  return address === MAP_FAILED || address === 0n ? null : externalBuffer(p, length);
}

/** See the module documentation. */
export class MultishotPoll {
  readonly #calls: UringCalls;
  /** The ring's index among the thread's registered ring fds. */
  readonly #ring: number;
  #rings: ArrayBuffer | null;
  #sqes: ArrayBuffer | null;
  readonly #ringsLength: number;
  readonly #sqesLength: number;
  /** The rings as 32-bit words (every field read here is a u32). */
  readonly #words: Uint32Array;
  readonly #sqeBytes: DataView;
  // Word indices into #words.
  readonly #sqTail: number;
  readonly #sqMask: number;
  readonly #sqFlags: number;
  readonly #sqArray: number;
  readonly #cqHead: number;
  readonly #cqTail: number;
  readonly #cqMask: number;
  readonly #cqes: number;
  /** The CQ head as last written (the kernel never writes it). */
  #head: number;

  /**
   * Sets up a ring polling `fd` for `events` (poll(2) bits), armed, or returns null
   * where this kernel or process cannot (see the module documentation).
   * Opens no fd that outlives the call.
   */
  static open(fd: number, events: number): MultishotPoll | null {
    let c: UringCalls;
    try {
      c = uringCalls();
    } catch {
      return null; // the C library lacks syscall/mmap (not glibc Linux)
    }
    const params = new Uint8Array(PARAMS_SIZE);
    const p = new DataView(params.buffer);
    p.setUint32(P_CQ_ENTRIES, CQ_ENTRIES, true);
    p.setUint32(
      P_FLAGS,
      IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
      true,
    );
    const ringFd = c.setup(1, params);
    if (ringFd < 0) return null; // ENOSYS, EPERM (disabled), EINVAL (flags too new)
    let rings: ArrayBuffer | null = null;
    let sqes: ArrayBuffer | null = null;
    let ringsLength = 0;
    let sqesLength = 0;
    let registered = -1;
    try {
      const needed = IORING_FEAT_SINGLE_MMAP | IORING_FEAT_REG_REG_RING;
      if ((p.getUint32(P_FEATURES, true) & needed) !== needed) return null;
      const sqEntries = p.getUint32(P_SQ_ENTRIES, true);
      const cqEntries = p.getUint32(P_CQ_ENTRIES, true);
      ringsLength = Math.max(
        p.getUint32(P_SQ_OFF + 24, true) + sqEntries * 4,
        p.getUint32(P_CQ_OFF + 20, true) + cqEntries * CQE_SIZE,
      );
      sqesLength = sqEntries * SQE_SIZE;
      rings = mapRing(c, ringFd, ringsLength, 0);
      if (rings === null) return null;
      sqes = mapRing(c, ringFd, sqesLength, IORING_OFF_SQES);
      if (sqes === null) return null;
      // struct io_uring_rsrc_update { u32 offset; u32 resv; u64 data }: any free slot.
      const update = new Uint8Array(16);
      const u = new DataView(update.buffer);
      u.setUint32(0, 0xffffffff, true);
      u.setUint32(8, ringFd, true);
      if (c.register(ringFd, IORING_REGISTER_RING_FDS, update, 1) !== 1) return null;
      registered = u.getUint32(0, true);
      const poll = new MultishotPoll(c, registered, rings, ringsLength, sqes, sqesLength, p);
      poll.#fd = fd;
      poll.#events = events;
      if (!poll.arm()) {
        poll.close(); // and nothing left for the finally block to release
        rings = sqes = null;
        registered = -1;
        return null;
      }
      rings = sqes = null; // the poll owns them now
      registered = -1;
      return poll;
    } finally {
      if (registered >= 0) unregister(c, registered);
      if (rings !== null) c.munmap(rings, ringsLength);
      if (sqes !== null) c.munmap(sqes, sqesLength);
      libc.close(ringFd);
    }
  }

  private constructor(
    c: UringCalls,
    ring: number,
    rings: ArrayBuffer,
    ringsLength: number,
    sqes: ArrayBuffer,
    sqesLength: number,
    p: DataView,
  ) {
    this.#calls = c;
    this.#ring = ring;
    this.#rings = rings;
    this.#sqes = sqes;
    this.#ringsLength = ringsLength;
    this.#sqesLength = sqesLength;
    const words = new Uint32Array(rings);
    this.#words = words;
    this.#sqeBytes = new DataView(sqes);
    const word = (offset: number) => p.getUint32(offset, true) >>> 2;
    this.#sqTail = word(P_SQ_OFF + 4);
    this.#sqMask = words[word(P_SQ_OFF + 8)]!;
    this.#sqFlags = word(P_SQ_OFF + 16);
    this.#sqArray = word(P_SQ_OFF + 24);
    this.#cqHead = word(P_CQ_OFF);
    this.#cqTail = word(P_CQ_OFF + 4);
    this.#cqMask = words[word(P_CQ_OFF + 8)]!;
    this.#cqes = word(P_CQ_OFF + 20);
    this.#head = words[this.#cqHead]!;
  }

  /** The polled fd and poll(2) events. */
  #fd = -1;
  #events = 0;
  /** Whether a poll is armed; its CQEs carry `#generation` as user data. */
  #armed = false;
  #generation = 0;

  #completions = 0;

  /** How many completions {@linkcode consume} has read (a diagnostic for tests). */
  get completions(): number {
    return this.#completions;
  }

  /** The word index of the CQE at queue position `h` (user data, res, flags at +0, +2, +3). */
  #cqe(h: number): number {
    return this.#cqes + (h & this.#cqMask) * (CQE_SIZE >>> 2);
  }

  /** Whether the poll is armed (see {@linkcode arm}). */
  get armed(): boolean {
    return this.#armed;
  }

  /** Puts one entry in the submission queue and submits it; false if refused. */
  #submit(opcode: number, fd: number, addr: number, flags: number, events: number): boolean {
    const words = this.#words;
    const tail = words[this.#sqTail]!;
    const index = tail & this.#sqMask;
    const sqe = this.#sqeBytes;
    const at = index * SQE_SIZE;
    for (let i = 0; i < SQE_SIZE; i += 4) sqe.setUint32(at + i, 0, true);
    sqe.setUint8(at, opcode);
    sqe.setInt32(at + 4, fd, true);
    sqe.setUint32(at + 16, addr, true); // addr: POLL_REMOVE's target user data
    sqe.setUint32(at + 24, flags, true); // len: the poll's own flags
    sqe.setUint32(at + 28, events, true); // poll32_events
    sqe.setUint32(at + 32, opcode === IORING_OP_POLL_ADD ? this.#generation : 0, true);
    words[this.#sqArray + index] = index;
    Atomics.store(words, this.#sqTail, (tail + 1) >>> 0);
    return this.#calls.enter(this.#ring, 1, 0, IORING_ENTER_REGISTERED_RING) === 1;
  }

  /**
   * Arms the multishot poll (one syscall; nothing if armed already). Armed,
   * every wake-up of the fd costs the kernel a little work for this thread
   * (a completion to post), so a caller arms it only while it saves polls.
   * Returns false if the kernel refused it (should not happen).
   */
  arm(): boolean {
    if (this.#armed) return true;
    this.#generation = (this.#generation + 1) >>> 0 || 1;
    if (!this.#submit(IORING_OP_POLL_ADD, this.#fd, 0, IORING_POLL_ADD_MULTI, this.#events)) {
      return false;
    }
    // A refused poll completes at once, with a negative result and no F_MORE.
    const words = this.#words;
    const cqTail = Atomics.load(words, this.#cqTail);
    for (let h = this.#head; h !== cqTail; h = (h + 1) >>> 0) {
      const cqe = this.#cqe(h);
      if (
        words[cqe] === this.#generation && (words[cqe + 3]! & IORING_CQE_F_MORE) === 0
        && (words[cqe + 2]! | 0) < 0
      ) return false;
    }
    this.#armed = true;
    return true;
  }

  /** Cancels the armed poll (one syscall; nothing if not armed). */
  disarm(): void {
    if (!this.#armed) return;
    this.#armed = false;
    this.#submit(IORING_OP_POLL_REMOVE, -1, this.#generation, 0, 0);
  }

  /**
   * Whether the fd may have signalled readiness since the last
   * {@linkcode consume}: two loads from shared memory, no syscall. Never
   * false, while armed, after a wake-up that {@linkcode consume} did not
   * see. Must not be called after {@linkcode close} (the memory is gone).
   */
  fired(): boolean {
    const words = this.#words;
    // Plain loads, not Atomics.load: V8 takes a slow path for Atomics on a
    // buffer over foreign memory (30 ns per call against 6 ns, Deno; Bun 5 ns
    // either way). Nothing can cache the words across calls (any call may
    // change them), and x86_64 and arm64 loads see the kernel's stores.
    return words[this.#cqTail] !== this.#head
      || (words[this.#sqFlags]! & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW)) !== 0;
  }

  /**
   * Marks every completion so far as seen. Call right before looking at the
   * fd itself (the reactor's epoll wait): a wake-up after this call makes
   * {@linkcode fired} true again. Re-arms an armed poll the kernel ended (a
   * full completion queue); returns false if that failed (should not
   * happen): the poll no longer watches the fd, and the caller must close it
   * and do without.
   */
  consume(): boolean {
    const words = this.#words;
    let ended = false;
    for (let round = 0;; round++) {
      const tail = Atomics.load(words, this.#cqTail);
      for (let h = this.#head; h !== tail; h = (h + 1) >>> 0) {
        const cqe = this.#cqe(h);
        // The last completion of the armed poll (not of a cancelled one).
        if (words[cqe] === this.#generation && (words[cqe + 3]! & IORING_CQE_F_MORE) === 0) {
          ended = true;
        }
      }
      if (this.#head !== tail) {
        this.#completions += (tail - this.#head) >>> 0;
        this.#head = tail;
        Atomics.store(words, this.#cqHead, tail);
      }
      if ((Atomics.load(words, this.#sqFlags) & IORING_SQ_CQ_OVERFLOW) === 0 || round === 3) break;
      // The kernel holds completions the full queue had no room for (the
      // poll's last one among them): now that the queue has room, have them
      // moved in, and read them too.
      this.#calls.enter(this.#ring, 0, 0, IORING_ENTER_GETEVENTS | IORING_ENTER_REGISTERED_RING);
    }
    if (!ended || !this.#armed) return true;
    // Re-arming checks the fd's state at once: nothing between is lost.
    this.#armed = false;
    return this.arm();
  }

  /** Tears the ring down (the kernel cancels the poll); idempotent. */
  close(): void {
    const rings = this.#rings;
    const sqes = this.#sqes;
    if (rings === null || sqes === null) return;
    this.#rings = this.#sqes = null;
    unregister(this.#calls, this.#ring);
    this.#calls.munmap(sqes, this.#sqesLength);
    this.#calls.munmap(rings, this.#ringsLength);
  }
}

function unregister(c: UringCalls, ring: number): void {
  const update = new Uint8Array(16);
  new DataView(update.buffer).setUint32(0, ring, true);
  c.register(
    ring,
    (IORING_UNREGISTER_RING_FDS | IORING_REGISTER_USE_REGISTERED_RING) >>> 0,
    update,
    1,
  );
}
