import * as nodeCrypto from "crypto";
import { CryptoPrims } from "../../../firmware/src/protocol/crypto";

/**
 * The protocol's crypto primitives on Node's native crypto: the host tools run the same protocol code as the band
 * (firmware/src/protocol/) with these instead of the band's pure JavaScript AES and SHA-256.
 */
export const nodePrims: CryptoPrims = {
  sha256: (data) => new Uint8Array(nodeCrypto.createHash("sha256").update(data).digest()),
  aesEcb: (key, block) => {
    const c = nodeCrypto.createCipheriv("aes-128-ecb", key, null);
    c.setAutoPadding(false);
    return new Uint8Array(Buffer.concat([c.update(block), c.final()]));
  },
};
