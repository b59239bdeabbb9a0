import { generateKeyPairSync, randomBytes } from "crypto";
import { digestApiKey, matchApiKey } from "../../host-tools/src/authority/crypto/api-keys";
import { decodeBase64Strict } from "../../host-tools/src/authority/crypto/base64";
import { signJwt, verifyJwt } from "../../host-tools/src/authority/crypto/jwt";
import { open, seal } from "../../host-tools/src/authority/crypto/secret-box";
import { computeTekmac, tekmacMatches, tekmacMessages } from "../../host-tools/src/authority/crypto/tekmac";

describe("tekmac (verification protocol key HMAC)", () => {
  const secret = Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);

  // Vectors from google/exposure-notifications-server pkg/verification (TestCalculateHMAC, TestCalculateDualHMACs).
  test("matches the reference server's vector with transmission risks", () => {
    const keys = [
      { key: "z2Cx9hdz2SlxZ8GEgqTYpA==", rollingStartNumber: 1, rollingPeriod: 144, transmissionRisk: 3 },
      { key: "dPCphLzfG4uzXneNimkPRQ==", rollingStartNumber: 144, rollingPeriod: 144, transmissionRisk: 5 },
    ];
    expect(computeTekmac(keys, secret).toString("base64")).toBe("2u1nHt5WWurJytFLF3xitNzM99oNrad2y4YGOL53AeY=");
    expect(tekmacMessages(keys)).toHaveLength(1);
  });

  test("accepts both forms the reference server accepts when every risk is 0", () => {
    const keys = [
      { key: "z2Cx9hdz2SlxZ8GEgqTYpA==", rollingStartNumber: 1, rollingPeriod: 144, transmissionRisk: 0 },
      { key: "dPCphLzfG4uzXneNimkPRQ==", rollingStartNumber: 144, rollingPeriod: 144, transmissionRisk: 0 },
    ];
    for (const mac of [
      "mFNI9zhTA17n4ndd1Vu5tsn4XQX0gPrIKyjeh/9noUE=",
      "J9S7xVebH/66dm14wGsIcAnSUR3PHD4NtDQEOGZbDUo=",
    ]) {
      expect(tekmacMatches(keys, secret, Buffer.from(mac, "base64"))).toBe(true);
    }
    expect(tekmacMatches(keys, secret, randomBytes(32))).toBe(false);
    expect(
      tekmacMatches(keys.slice(1), secret, Buffer.from("mFNI9zhTA17n4ndd1Vu5tsn4XQX0gPrIKyjeh/9noUE=", "base64")),
    ).toBe(false);
  });
});

describe("ES256 JWT", () => {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const keys = new Map([["v1", publicKey]]);

  test("round trip, and the signature is 64-byte P1363", async () => {
    const jwt = await signJwt({ a: 1, tekmac: "x" }, privateKey, "v1");
    expect(Buffer.from(jwt.split(".")[2], "base64url")).toHaveLength(64);
    const r = await verifyJwt(jwt, keys);
    expect(r.ok && r.claims).toEqual({ a: 1, tekmac: "x" });
  });

  test.each([
    [
      "unknown kid",
      (j: string) => {
        const [, p, s] = j.split(".");
        return Buffer.from(JSON.stringify({ alg: "ES256", kid: "v2" })).toString("base64url") + "." + p + "." + s;
      },
    ],
    [
      "alg none",
      (j: string) => {
        const [, p] = j.split(".");
        return Buffer.from(JSON.stringify({ alg: "none" })).toString("base64url") + "." + p + ".";
      },
    ],
    [
      "changed claims",
      (j: string) => {
        const [h, , s] = j.split(".");
        return h + "." + Buffer.from(JSON.stringify({ a: 2 })).toString("base64url") + "." + s;
      },
    ],
    ["two parts", (j: string) => j.split(".").slice(0, 2).join(".")],
    ["DER signature", (j: string) => j.split(".").slice(0, 2).join(".") + "." + randomBytes(70).toString("base64url")],
  ])("rejects %s", async (_n, mutate) => {
    const jwt = await signJwt({ a: 1 }, privateKey, "v1");
    expect((await verifyJwt(mutate(jwt), keys)).ok).toBe(false);
  });
});

describe("strict base64", () => {
  test.each([
    ["AAECAwQFBgcICQoLDA0ODw==", 16],
    ["AAECAwQFBgcICQoLDA0ODw", 16],
    ["-_-_", 3],
    ["+/+/", 3],
  ])("accepts %s", (s, n) => {
    expect(decodeBase64Strict(s)?.length).toBe(n);
  });
  test.each(["", "A", "AB=C", "AAECAwQFBgcICQoLDA0ODx==", "AAEC AwQF", "+_==", "AA===", "ÄÖ=="])("rejects %p", (s) => {
    expect(decodeBase64Strict(s)).toBeUndefined();
  });
});

describe("secret box and API keys", () => {
  test("a sealed secret opens only with its key and for its own row", () => {
    const key = randomBytes(32);
    const secret = randomBytes(16);
    const sealed = seal(key, secret, Buffer.from("band-a"));
    expect(open(key, sealed, Buffer.from("band-a"))).toEqual(secret);
    expect(open(key, sealed, Buffer.from("band-b"))).toBeUndefined();
    expect(open(randomBytes(32), sealed, Buffer.from("band-a"))).toBeUndefined();
    const tampered = Buffer.from(sealed);
    tampered[14] ^= 1;
    expect(open(key, tampered, Buffer.from("band-a"))).toBeUndefined();
    expect(open(key, Buffer.alloc(5), Buffer.from("band-a"))).toBeUndefined();
  });

  test("API keys match by digest, with roles", () => {
    const entries = [
      { name: "hq", role: "admin" as const, digest: digestApiKey("admin-key-000000000000000") },
      { name: "clinic", role: "kiosk" as const, digest: digestApiKey("kiosk-key-000000000000000") },
    ];
    expect(matchApiKey(entries, "kiosk-key-000000000000000")).toEqual({ name: "clinic", role: "kiosk" });
    expect(matchApiKey(entries, "kiosk-key-000000000000001")).toBeUndefined();
    expect(matchApiKey(entries, undefined)).toBeUndefined();
    expect(matchApiKey(entries, "")).toBeUndefined();
  });
});
