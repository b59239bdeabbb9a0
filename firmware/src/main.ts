// Placeholder entry point: replaced by the band firmware (issue: band firmware). Kept minimal so the build pipeline
// and the dialect gate have a real bundle to work on.
import { toHex } from "./protocol/bytes";

const boot = new Uint8Array(4);
console.log("tracelet " + toHex(boot));
