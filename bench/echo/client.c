// Closed-loop TCP echo load generator for strom's echo benchmark (issue 4).
//
// N connections; each sends a fixed-size message (64 bytes by default), waits
// until the whole echo is back, checks it, and sends the next one at once.
// One thread, level-triggered epoll, non-blocking sockets: per round trip the
// client makes one send, one recv (usually) and a share of one epoll_wait, so
// it stays well ahead of the servers it measures (check "client_busy" in the
// output: near 1.0 means the client, not the server, limited throughput).
//
// Phases:
// 1. connect and prime: every connection makes one round trip and then stays
//    quiet until all N have, so each one has been accepted and served before
//    timing starts. At most 256 connections are between connect() and their
//    first echo at any time, so the server's accept queue never overflows
//    (an overflow drops handshakes, which come back a second later or as
//    resets).
// 2. all N start their loops at once; warm-up (-w seconds, not measured);
// 3. the measured window (-d seconds).
//
// With -P PID the client reads the server's utime+stime from /proc/PID/stat
// itself at the exact start and end of the measured window, so the CPU time
// and the round-trip count cover the same interval.
//
// Idle mode (-i): connect and prime N connections, print one JSON line
// {"idle_ready":N,...}, then hold the connections open without traffic until
// stdin reaches EOF (or the process is killed). Used to measure the server's
// RSS per idle connection.
//
// Triggered mode (-T): for counting the server's syscalls with a tracer that
// attaches only around the measured window. After the warm-up the client lets
// every message in flight come back and stops, prints {"ready":true}, and
// waits for a line on stdin; then it runs the window, stops sending new
// messages and waits until every echo is back (those round trips count too),
// prints its JSON line and holds the quiet connections until stdin reaches
// EOF. So the server does no work for this client outside [go, result line]:
// the tracer may attach before "go" and detach after the result at leisure.
//
// Output: one JSON line on stdout. Diagnostics go to stderr. Exit code 0 on
// success, 1 on any error (a wrong echo byte, a reset, a refused connect, a
// phase that does not finish in time).
//
// Build: gcc -O2 -o echo-client client.c   (Linux only)
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_MSG 4096
#define MAX_CONNECTING 256
#define EVENTS 1024

struct conn {
  int fd;
  int sent;     // bytes of the current message written
  int got;      // bytes of the current echo read
  int state;    // 0 = connecting, 1 = waiting for an echo, 2 = quiet (no message out)
  int want_out; // EPOLLOUT registered (partial send)
  uint64_t t_send; // ns, time the current message's first byte was sent
  uint32_t seq;    // message counter, stamped into the message
};

static int msg_size = 64;
static uint64_t done;          // completed round trips (all phases)
static int measuring;          // inside the measured window: record latencies
static int primed;             // connections that completed their first round trip
static int pause_new;          // do not start another message after an echo
static int inflight;           // connections waiting for an echo
static struct conn *conns;
static int nconns;
static int epfd;
static unsigned char *rxbuf;

// ---- time --------------------------------------------------------------

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double cpu_self_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// ---- latency histogram (log-linear, 64 sub-buckets per power of two: <1.6% error)

#define SUB 64
#define NBUCKETS (SUB * 60)
static uint64_t hist[NBUCKETS];
static uint64_t hist_n;

static int bucket_of(uint64_t ns) {
  if (ns < SUB) return (int)ns;
  int msb = 63 - __builtin_clzll(ns);
  int shift = msb - 6;
  return SUB * (msb - 5) + (int)((ns >> shift) & (SUB - 1));
}

static double bucket_mid_ns(int b) {
  if (b < SUB) return b;
  int msb = b / SUB + 5;
  int shift = msb - 6;
  uint64_t lo = ((uint64_t)(SUB + b % SUB)) << shift;
  return (double)lo + (double)(1ull << shift) / 2.0;
}

static double percentile_us(double p) {
  if (hist_n == 0) return 0;
  uint64_t rank = (uint64_t)(p * (double)hist_n);
  if (rank >= hist_n) rank = hist_n - 1;
  uint64_t seen = 0;
  for (int b = 0; b < NBUCKETS; b++) {
    seen += hist[b];
    if (seen > rank) return bucket_mid_ns(b) / 1000.0;
  }
  return 0;
}

// ---- server CPU from /proc ----------------------------------------------

// utime+stime (clock ticks) of a process, all its threads included; -1 if
// the file cannot be read.
static long long proc_cpu_ticks(int pid, long long *ut, long long *st) {
  char path[64], buf[2048];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  // comm may contain spaces and parentheses: fields start after the last ')'.
  char *p = strrchr(buf, ')');
  if (!p) return -1;
  p += 2; // field 3 (state)
  long long u = 0, s = 0;
  // fields 3..13 skipped, 14 = utime, 15 = stime
  for (int field = 3; field < 14; field++) {
    p = strchr(p, ' ');
    if (!p) return -1;
    p++;
  }
  if (sscanf(p, "%lld %lld", &u, &s) != 2) return -1;
  if (ut) *ut = u;
  if (st) *st = s;
  return u + s;
}

// Busy and total jiffies of each CPU (from /proc/stat); returns the number of
// CPUs read (at most max). Used to report how busy each core was during the
// window, so a harness can tell other processes' load from the server's.
static int cpu_jiffies(long long *busy, long long *total, int max) {
  FILE *f = fopen("/proc/stat", "r");
  if (!f) return 0;
  char line[512];
  int n = 0;
  while (n < max && fgets(line, sizeof line, f)) {
    int id;
    long long v[8] = {0};
    if (strncmp(line, "cpu", 3) != 0 || line[3] < '0' || line[3] > '9') continue; // not "cpuN"
    if (sscanf(line, "cpu%d %lld %lld %lld %lld %lld %lld %lld %lld", &id, &v[0], &v[1], &v[2],
               &v[3], &v[4], &v[5], &v[6], &v[7]) < 9)
      continue;
    // user nice system idle iowait irq softirq steal
    busy[n] = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    total[n] = busy[n] + v[3] + v[4];
    n++;
  }
  fclose(f);
  return n;
}

// ---- connections -------------------------------------------------------

static void die(const char *what) {
  fprintf(stderr, "echo-client: %s: %s\n", what, strerror(errno));
  exit(1);
}

__attribute__((format(printf, 1, 2))) static void fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "echo-client: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(1);
}

static void fill_msg(unsigned char *m, int idx, uint32_t seq) {
  // Distinct bytes per connection and per message, so a crossed or stale echo
  // is caught by the comparison in on_readable.
  for (int i = 0; i < msg_size; i++) m[i] = (unsigned char)(i * 7 + idx * 13 + seq * 31);
}

static void ep_mod(struct conn *c, uint32_t ev) {
  struct epoll_event e = {.events = ev, .data.u32 = (uint32_t)(c - conns)};
  if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &e) < 0) die("epoll_ctl MOD");
}

// Writes the rest of the current message; registers EPOLLOUT on a partial
// write (rare with 64-byte messages) and removes it once the message is out.
static void send_rest(struct conn *c) {
  unsigned char m[MAX_MSG];
  int idx = (int)(c - conns);
  fill_msg(m, idx, c->seq);
  while (c->sent < msg_size) {
    ssize_t n = send(c->fd, m + c->sent, (size_t)(msg_size - c->sent), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN) {
        if (!c->want_out) {
          c->want_out = 1;
          ep_mod(c, EPOLLIN | EPOLLOUT);
        }
        return;
      }
      fail("send on connection %d failed (errno %d)", idx, errno);
    }
    c->sent += (int)n;
  }
  if (c->want_out) {
    c->want_out = 0;
    ep_mod(c, EPOLLIN);
  }
}

static void start_msg(struct conn *c, uint64_t t) {
  inflight++;
  c->state = 1;
  c->seq++;
  c->sent = 0;
  c->got = 0;
  c->t_send = t;
  send_rest(c);
}

static int connecting; // connections opened but not yet primed (first echo back)
static int next_conn;  // next connection index to open
static int opened;     // connections established
static struct sockaddr_storage server;
static socklen_t server_len;

static void open_more(void) {
  while (connecting < MAX_CONNECTING && next_conn < nconns) {
    struct conn *c = &conns[next_conn];
    int fd = socket(server.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->fd = fd;
    c->state = 0;
    struct epoll_event e = {.events = EPOLLOUT, .data.u32 = (uint32_t)next_conn};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e) < 0) die("epoll_ctl ADD");
    if (connect(fd, (struct sockaddr *)&server, server_len) < 0 && errno != EINPROGRESS)
      die("connect");
    connecting++;
    next_conn++;
  }
}

// Connection i became writable while connecting: check the result.
static void on_connected(struct conn *c) {
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err) {
    errno = err;
    die("connect (async)");
  }
  opened++;
  c->state = 1;
  ep_mod(c, EPOLLIN);
}


static void on_readable(struct conn *c, uint64_t t) {
  int idx = (int)(c - conns);
  for (;;) {
    ssize_t n = recv(c->fd, rxbuf + c->got, (size_t)(MAX_MSG - c->got), 0);
    if (n < 0) {
      if (errno == EAGAIN) return;
      fail("recv on connection %d failed (errno %d)", idx, errno);
    }
    if (n == 0) fail("connection %d: server closed it (after %d bytes)", idx, c->got);
    c->got += (int)n;
    if (c->got > msg_size) fail("connection %d: %d bytes echoed, more than sent", idx, c->got);
    if (c->got < msg_size) continue; // partial echo: read the rest
    unsigned char m[MAX_MSG];
    fill_msg(m, idx, c->seq);
    if (memcmp(m, rxbuf, (size_t)msg_size) != 0)
      fail("connection %d: echo differs from message %d", idx, (int)c->seq);
    if (c->seq == 1) {
      primed++;
      connecting--;
    }
    done++;
    inflight--;
    if (measuring) {
      hist[bucket_of(t - c->t_send)]++;
      hist_n++;
    }
    if (pause_new) {
      c->state = 2;
      c->got = 0;
      return;
    }
    start_msg(c, t);
    return; // the next echo cannot be there yet; epoll will tell
  }
}

static void poll_once(int timeout_ms) {
  static struct epoll_event ev[EVENTS];
  int n = epoll_wait(epfd, ev, EVENTS, timeout_ms);
  if (n < 0) {
    if (errno == EINTR) return;
    die("epoll_wait");
  }
  uint64_t t = now_ns();
  for (int i = 0; i < n; i++) {
    struct conn *c = &conns[ev[i].data.u32];
    if (c->state == 0) {
      on_connected(c);
      start_msg(c, t); // the priming round trip starts at once
      continue;
    }
    if ((ev[i].events & EPOLLOUT) && c->want_out) send_rest(c);
    if (ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(c, t);
  }
}

// Stops starting new messages and waits until every echo in flight is back.
static void drain(uint64_t deadline) {
  pause_new = 1;
  while (inflight > 0) {
    poll_once(10);
    if (now_ns() > deadline) fail("%d echoes did not come back in time", inflight);
  }
}

// Blocks until a line (or EOF) arrives on stdin.
static void wait_stdin_line(void) {
  char b[256];
  if (!fgets(b, sizeof b, stdin)) return;
}

static void usage(void) {
  fprintf(stderr,
          "usage: echo-client [-h host] -p port [-c conns] [-d seconds] [-w warmup_s]\n"
          "                   [-m msg_bytes] [-P server_pid] [-t phase_timeout_s] [-i | -T]\n");
  exit(2);
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1";
  int port = 0, idle = 0, triggered = 0, server_pid = 0;
  double dur = 5, warm = 1, phase_timeout = 60;
  nconns = 64;
  int opt;
  while ((opt = getopt(argc, argv, "h:p:c:d:w:m:P:t:iT")) != -1) {
    switch (opt) {
    case 'h': host = optarg; break;
    case 'p': port = atoi(optarg); break;
    case 'c': nconns = atoi(optarg); break;
    case 'd': dur = atof(optarg); break;
    case 'w': warm = atof(optarg); break;
    case 'm': msg_size = atoi(optarg); break;
    case 'P': server_pid = atoi(optarg); break;
    case 't': phase_timeout = atof(optarg); break;
    case 'i': idle = 1; break;
    case 'T': triggered = 1; break;
    default: usage();
    }
  }
  if (port <= 0 || nconns <= 0 || msg_size <= 0 || msg_size > MAX_MSG || dur <= 0) usage();

  memset(&server, 0, sizeof server);
  struct sockaddr_in *s4 = (struct sockaddr_in *)&server;
  struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&server;
  if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    server_len = sizeof *s4;
  } else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)port);
    server_len = sizeof *s6;
  } else {
    fprintf(stderr, "echo-client: not a numeric address: %s\n", host);
    return 2;
  }

  // Enough descriptors for N sockets plus a few; the hard limit must allow it.
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rlim_t need = (rlim_t)nconns + 64;
  if (rl.rlim_cur < need) {
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
      fprintf(stderr, "echo-client: %d connections need RLIMIT_NOFILE >= %lu; hard limit is %lu\n",
              nconns, (unsigned long)need, (unsigned long)rl.rlim_max);
      return 1;
    }
    rl.rlim_cur = need;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) die("setrlimit(RLIMIT_NOFILE)");
  }

  conns = calloc((size_t)nconns, sizeof *conns);
  rxbuf = malloc(MAX_MSG);
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (!conns || !rxbuf || epfd < 0) die("setup");
  // Connections stay quiet after their first echo until all are primed: a
  // server busy echoing on the first thousands would accept the rest slowly.
  pause_new = 1;

  // Connect and prime: every connection completes one round trip.
  uint64_t t_start = now_ns();
  uint64_t deadline = t_start + (uint64_t)(phase_timeout * 1e9);
  while (primed < nconns) {
    open_more();
    poll_once(10);
    if (now_ns() > deadline)
      fail("connect/prime phase timed out: %d opened, %d primed", opened, primed);
  }
  double connect_s = (double)(now_ns() - t_start) / 1e9;

  if (idle) {
    printf("{\"idle_ready\":%d,\"connect_s\":%.3f}\n", nconns, connect_s);
    fflush(stdout);
    // Hold the connections until stdin closes; a server closing one is an error.
    struct pollfd pf = {.fd = 0, .events = POLLIN};
    char b[256];
    for (;;) {
      poll_once(0);
      int r = poll(&pf, 1, 100);
      if (r > 0) {
        ssize_t n = read(0, b, sizeof b);
        if (n <= 0) break;
      }
    }
    return 0;
  }

  // Every connection starts its loop at once; warm-up, then the measured window.
  pause_new = 0;
  {
    uint64_t t = now_ns();
    for (int i = 0; i < nconns; i++) start_msg(&conns[i], t);
  }
  uint64_t t_warm_end = now_ns() + (uint64_t)(warm * 1e9);
  while (now_ns() < t_warm_end) poll_once(10);
  if (triggered) {
    drain(now_ns() + (uint64_t)(phase_timeout * 1e9));
    printf("{\"ready\":true}\n");
    fflush(stdout);
    wait_stdin_line();
    pause_new = 0;
    uint64_t t = now_ns();
    for (int i = 0; i < nconns; i++) start_msg(&conns[i], t);
  }

  long long ut0 = 0, st0 = 0, ut1 = 0, st1 = 0;
  if (server_pid && proc_cpu_ticks(server_pid, &ut0, &st0) < 0) die("read /proc/PID/stat");
  long long jb0[64], jt0[64], jb1[64], jt1[64];
  int ncpu = cpu_jiffies(jb0, jt0, 64);
  double ccpu0 = cpu_self_s();
  uint64_t done0 = done;
  uint64_t t0 = now_ns();
  uint64_t t_end = t0 + (uint64_t)(dur * 1e9);
  measuring = 1;
  uint64_t t1;
  for (;;) {
    poll_once(10);
    t1 = now_ns();
    if (t1 >= t_end) break;
  }
  if (triggered) {
    drain(t1 + (uint64_t)(phase_timeout * 1e9));
    t1 = now_ns();
  }
  if (server_pid && proc_cpu_ticks(server_pid, &ut1, &st1) < 0) die("read /proc/PID/stat");
  uint64_t rts = done - done0;
  double ccpu1 = cpu_self_s();
  if (cpu_jiffies(jb1, jt1, 64) != ncpu) ncpu = 0;
  double secs = (double)(t1 - t0) / 1e9;
  long tck = sysconf(_SC_CLK_TCK);

  printf("{\"conns\":%d,\"msg_bytes\":%d,\"seconds\":%.4f,\"round_trips\":%llu,"
         "\"rt_per_s\":%.1f,\"p50_us\":%.2f,\"p99_us\":%.2f,\"p999_us\":%.2f,"
         "\"client_busy\":%.3f,\"connect_s\":%.3f",
         nconns, msg_size, secs, (unsigned long long)rts, (double)rts / secs,
         percentile_us(0.50), percentile_us(0.99), percentile_us(0.999),
         (ccpu1 - ccpu0) / secs, connect_s);
  if (server_pid) {
    double scpu = (double)((ut1 - ut0) + (st1 - st0)) / (double)tck;
    printf(",\"server_utime_s\":%.3f,\"server_stime_s\":%.3f,\"server_cpu_s\":%.3f,"
           "\"server_cpu_us_per_rt\":%.3f",
           (double)(ut1 - ut0) / tck, (double)(st1 - st0) / tck, scpu,
           rts ? scpu * 1e6 / (double)rts : 0.0);
  }
  printf(",\"cpu_busy\":[");
  for (int i = 0; i < ncpu; i++) {
    long long dt = jt1[i] - jt0[i];
    printf("%s%.3f", i ? "," : "", dt > 0 ? (double)(jb1[i] - jb0[i]) / (double)dt : 0.0);
  }
  printf("]}\n");
  fflush(stdout);
  if (triggered) {
    // Hold the quiet connections until told, so closing them is not traced.
    while (fgets((char[256]){0}, 256, stdin)) {
    }
  }
  return 0;
}
