import * as nodeCrypto from "crypto";
import { aes128EncryptBlock, aes128ExpandKey } from "../../../../firmware/src/protocol/aes128";
import { bytesEqual } from "../../../../firmware/src/protocol/bytes";
import { CryptoPrims, pureCrypto } from "../../../../firmware/src/protocol/crypto";
import { computeAem, computeRpi, deriveAemk, deriveRpik, enMetadata } from "../../../../firmware/src/protocol/gaen";
import { nodePrims } from "../../crypto/native";
import { opsPerSecond, sig } from "../measure";
import { BenchSection } from "../types";

/**
 * What the band's pure JavaScript crypto costs, as a ratio to Node's native crypto, running the same protocol code
 * (firmware/src/protocol/gaen.ts) with the primitives swapped: pure AES-128 and SHA-256 (what boards without
 * native crypto run) versus node:crypto's AES-128-ECB and SHA-256. `pureOverNative` is pure time / native time:
 * above 1 the pure code is that many times slower. Calling node:crypto once per 16-byte block pays for a cipher
 * context each time, so the raw AES primitive is also compared with its key schedule reused on both sides.
 * Node on a laptop is not a 64 MHz Cortex-M4: read the ratios, not the absolute numbers, for the band.
 */

interface Timing {
  rounds: number;
  ms: number;
}

const TEK = new Uint8Array(nodeCrypto.randomBytes(16));
const ENIN = 2_700_000;
const METADATA = enMetadata(-8);

/** One TEK -> RPIK, AEMK -> RPI + AEM for one interval: everything a band computes for a fresh identifier. */
function rpiFromTek(c: CryptoPrims): Uint8Array {
  const rpi = computeRpi(c, deriveRpik(c, TEK), ENIN);
  computeAem(c, deriveAemk(c, TEK), rpi, METADATA);
  return rpi;
}

/** Alternates pure and native runs and keeps each one's best round, so load from other processes hurts less. */
function compare(what: string, pure: () => unknown, native: () => unknown, timing: Timing) {
  let pureOps = 0;
  let nativeOps = 0;
  for (let r = 0; r < timing.rounds; r++) {
    pureOps = Math.max(pureOps, opsPerSecond(pure, timing.ms));
    nativeOps = Math.max(nativeOps, opsPerSecond(native, timing.ms));
  }
  return {
    what,
    pureOpsPerSec: sig(pureOps),
    nativeOpsPerSec: sig(nativeOps),
    pureMicros: sig(1e6 / pureOps),
    nativeMicros: sig(1e6 / nativeOps),
    pureOverNative: sig(nativeOps / pureOps, 3),
  };
}

export const protocolCryptoSection: BenchSection = {
  name: "protocol-crypto",
  description: "pure AES-128 / HKDF-SHA256 cost per RPI in Node, as a ratio to node:crypto (same protocol code)",
  run: async (opts) => {
    const timing: Timing = opts.quick ? { rounds: 1, ms: 40 } : { rounds: 3, ms: 100 };
    if (!bytesEqual(rpiFromTek(pureCrypto), rpiFromTek(nodePrims))) {
      throw new Error("pure and node:crypto RPIs differ: the benchmark would compare different computations");
    }
    const block = new Uint8Array(16).fill(7);
    const message = new Uint8Array(64).fill(9);
    const roundKeys = aes128ExpandKey(TEK);
    const cipher = nodeCrypto.createCipheriv("aes-128-ecb", TEK, null);
    cipher.setAutoPadding(false);
    return {
      perRpi: compare(
        "deriveRpik + deriveAemk + computeRpi + computeAem: one TEK to one RPI and AEM (2 HKDF, 2 AES blocks)",
        () => rpiFromTek(pureCrypto),
        () => rpiFromTek(nodePrims),
        timing,
      ),
      perRpiKeysDerived: compare(
        "computeRpi + computeAem with RPIK and AEMK already derived (the band's cost per rotation)",
        () => computeAem(pureCrypto, TEK, computeRpi(pureCrypto, TEK, ENIN), METADATA),
        () => computeAem(nodePrims, TEK, computeRpi(nodePrims, TEK, ENIN), METADATA),
        timing,
      ),
      hkdf: compare(
        "deriveRpik: HKDF-SHA256 to 16 bytes, HMAC composed in JS over pure vs native SHA-256",
        () => deriveRpik(pureCrypto, TEK),
        () => deriveRpik(nodePrims, TEK),
        timing,
      ),
      hkdfFullyNative: compare(
        "deriveRpik (pure) vs node:crypto hkdfSync",
        () => deriveRpik(pureCrypto, TEK),
        () => nodeCrypto.hkdfSync("sha256", TEK, new Uint8Array(0), "EN-RPIK", 16),
        timing,
      ),
      aes128PerCall: compare(
        "one AES-128-ECB block with its key schedule (aesEcb as the protocol calls it)",
        () => pureCrypto.aesEcb(TEK, block),
        () => nodePrims.aesEcb(TEK, block),
        timing,
      ),
      aes128Block: compare(
        "one AES-128 block, key schedule reused (raw primitive speed)",
        () => aes128EncryptBlock(roundKeys, block),
        () => cipher.update(block),
        timing,
      ),
      sha256Block: compare(
        "SHA-256 of 64 bytes",
        () => pureCrypto.sha256(message),
        () => nodePrims.sha256(message),
        timing,
      ),
    };
  },
  // Ratios, not targets: Node on a laptop is not the band's Cortex-M4.
  figures: (result) =>
    Object.entries(result as Record<string, ReturnType<typeof compare>>).map(([name, c]) => ({
      figure: `pure / native time, ${name}`,
      target: "-",
      measured: `${c.pureOverNative}x (${c.pureMicros} us)`,
      pass: null,
      method: `${c.what}; best of rounds`,
    })),
};
