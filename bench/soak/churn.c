// churn PORT SECONDS MODE: connect, send 64 bytes, then
//   MODE 1: read the echo and close with a reset (SO_LINGER 0);
//   MODE 2: close with a reset at once, before the echo (the server meets ECONNRESET/EPIPE).
// Prints "N cycles, M failures". Built by run.sh.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
int main(int argc, char **argv) {
  int port = atoi(argv[1]); double secs = atof(argv[2]); int reset = argc > 3 && atoi(argv[3]);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  char buf[64]; memset(buf, 'x', 64);
  long cycles = 0, fails = 0; double end = now() + secs;
  while (now() < end) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) { fails++; close(fd); usleep(1000); continue; }
    int one = 1; setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (write(fd, buf, 64) != 64) { fails++; close(fd); continue; }
    if (reset == 2) { struct linger l = { 1, 0 }; setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l); close(fd); cycles++; continue; }
    int got = 0; while (got < 64) { int n = read(fd, buf + got, 64 - got); if (n <= 0) break; got += n; }
    if (got != 64) fails++;
    if (reset) { struct linger l = { 1, 0 }; setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l); }
    close(fd); cycles++;
  }
  printf("%ld cycles, %ld failures\n", cycles, fails);
  return 0;
}
