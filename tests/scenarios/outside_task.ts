// Advances a strom operation by hand, with no task running: halts.
import { sleep } from "../../mod.ts";
sleep(10).next();
console.log("not reached");
