// What a glibc older than 2.32 (no strerrorname_np) and 2.30 (no gettid)
// gives, forced with STROM_WITHOUT_SYMBOLS=gettid,strerrorname_np: the
// thread id through syscall(SYS_gettid), errno names from the host's
// node:util table (E<n> where it has none), texts from strerror.
import process from "node:process";
import { errnoName, libc, SysError } from "../../src/ffi/mod.ts";

console.log(`gettid is pid: ${libc.gettid() === process.pid}`);
console.log(`names: ${errnoName(111)} ${errnoName(11)} ${errnoName(4242)}`);
console.log(new SysError("connect", 111).message);
