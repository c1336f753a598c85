// The floor for the echo benchmark: a minimal single-thread epoll echo server
// in C (edge-triggered, each fd registered once, a short read means drained).
// Not a peer and not strom: it shows what a round trip costs in the kernel
// alone on this machine, so the other servers' CPU per round trip can be read
// as "floor + runtime overhead". Same contract as examples/echo.ts:
// `floor-server PORT [HOST]` prints `listening on HOST:PORT`, serves until killed.
// Built by run.mjs (gcc -O2); run it with `--servers c-epoll,...`.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
  int port = argc > 1 ? atoi(argv[1]) : 7000;
  const char *host = argc > 2 ? argv[2] : "127.0.0.1";
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
    fprintf(stderr, "floor-server: IPv4 address expected: %s\n", host);
    return 2;
  }
  int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 4096) < 0) {
    perror("floor-server: listen");
    return 1;
  }
  socklen_t alen = sizeof a;
  getsockname(l, (struct sockaddr *)&a, &alen);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event e = {.events = EPOLLIN, .data.fd = l};
  epoll_ctl(ep, EPOLL_CTL_ADD, l, &e);
  printf("listening on %s:%d\n", host, ntohs(a.sin_port));
  fflush(stdout);

  static struct epoll_event ev[1024];
  static char buf[16384];
  for (;;) {
    int n = epoll_wait(ep, ev, 1024, -1);
    if (n < 0 && errno != EINTR) {
      perror("floor-server: epoll_wait");
      return 1;
    }
    for (int i = 0; i < n; i++) {
      int fd = ev[i].data.fd;
      if (fd == l) {
        int c;
        while ((c = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
          setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          struct epoll_event ce = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.fd = c};
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
        }
        continue;
      }
      for (;;) {
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r < 0 && errno == EAGAIN) break;
        if (r <= 0) {
          close(fd); // EOF or error: closing also removes it from the epoll set
          break;
        }
        // 64-byte echoes always fit in the socket buffer; a short send here
        // would drop bytes, which the client detects and reports.
        if (send(fd, buf, (size_t)r, MSG_NOSIGNAL) != r) {
          close(fd);
          break;
        }
        if (r < (ssize_t)sizeof buf) break; // short read: drained (edge-triggered)
      }
    }
  }
}
