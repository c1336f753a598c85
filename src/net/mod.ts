/**
 * `src/net`: strom's networking on raw non-blocking sockets: TCP listeners
 * and streams, UDP sockets, and the addresses they take (IPv4 and IPv6);
 * Unix domain sockets; and `AsyncFd`, the one way all of them wait on an
 * fd, public so users can wrap fds of their own.
 *
 * @module
 */

export {
  type AddrLike,
  formatSocketAddr,
  type HostPort,
  type SocketAddr,
  toSocketAddr,
} from "./addr.ts";
export { AsyncFd, type AsyncFdOptions, SocketClosedError } from "./async_fd.ts";
export { lookupHost, ResolveError } from "./resolve.ts";
export { type ListenOptions, TcpListener } from "./tcp_listener.ts";
export {
  type ConnectOptions,
  ConnectTimeoutError,
  type KeepAliveOptions,
  type ShutdownHow,
  TcpStream,
  UnexpectedEofError,
} from "./tcp_stream.ts";
export { type Datagram, type Received, UdpSocket } from "./udp_socket.ts";
export {
  formatUnixAddr,
  type PeerCredentials,
  type UnixAddr,
  type UnixAddrLike,
} from "./unix_addr.ts";
export { UnixDatagram, type UnixDatagramReceived } from "./unix_datagram.ts";
export { UnixListener, type UnixListenOptions } from "./unix_listener.ts";
export { UnixStream } from "./unix_stream.ts";
