/**
 * `src/net`: strom's networking on raw non-blocking sockets: TCP listeners
 * and streams, UDP sockets, and the addresses they take (IPv4 and IPv6).
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
