import { createHash } from "crypto";
import type { ListObjectsV2CommandOutput, S3Client } from "@aws-sdk/client-s3";
import { INDEX_PREFIX } from "./batches";
import { EXPORT_FILE_NAME, ExportDirStore, ExportTarget, indexText } from "./publish-dir";

/**
 * Exports for a CDN in an S3-compatible bucket (config `exports.s3`): the same tree as the export directory
 * (publish-dir.ts), under the same paths (`<prefix>v1/exports/<name>`), with the headers the API serves them
 * with. One PUT replaces an object whole, so a reader sees the old object or the new one; index.txt is put after
 * every zip it names is in the bucket, and lists only those; zips the store no longer holds are deleted after
 * the new index stops naming them. An object whose MD5 (its ETag, for a single-part upload) equals the store's
 * zip is not uploaded again.
 *
 * Credentials come from the AWS SDK's default chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile,
 * an instance role), never from the config; they are removed from every error message this target passes on.
 */
export interface S3ExportSettings {
  bucket: string;
  region: string;
  /** An S3-compatible server's URL (MinIO, Ceph, a provider's endpoint); AWS S3 when absent. */
  endpoint?: string;
  /** Key prefix before `v1/exports/` ("" or ending in "/"). */
  prefix: string;
  /** Path-style URLs (`<endpoint>/<bucket>/<key>`), which most S3-compatible servers need. */
  forcePathStyle: boolean;
}

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

const HEADERS: Record<string, { contentType: string; cacheControl: string }> = {
  zip: { contentType: "application/zip", cacheControl: "public, max-age=86400, immutable" },
  "index.txt": { contentType: "text/plain; charset=utf-8", cacheControl: "public, max-age=60" },
  "signing-key.pem": { contentType: "application/x-pem-file", cacheControl: "public, max-age=300" },
  "signing-keys.json": { contentType: "application/json", cacheControl: "public, max-age=300" },
};

/** A bucket target for ExportPublisher. `credentials`: explicit ones (tests); the SDK's default chain otherwise. */
export function bucketTarget(s: S3ExportSettings, credentials?: S3Credentials): ExportTarget {
  let client: S3Client | undefined;
  return {
    name: `export bucket s3://${s.bucket}/${s.prefix}${INDEX_PREFIX}`,
    sync: async (o) => {
      // The SDK is loaded on first use: nodes without a bucket never load it.
      const { S3Client } = await import("@aws-sdk/client-s3");
      client ??= new S3Client({
        region: s.region,
        endpoint: s.endpoint,
        forcePathStyle: s.forcePathStyle,
        credentials,
        maxAttempts: 3,
      });
      try {
        return await syncExportBucket({ client, bucket: s.bucket, prefix: s.prefix, ...o });
      } catch (e) {
        throw new Error(await scrubbed(client, e));
      }
    },
  };
}

/** The error's message (and S3 error code) with every credential value the client signs with replaced by ***. */
async function scrubbed(client: S3Client, e: unknown): Promise<string> {
  const err = e as Error & { Code?: string; name?: string };
  let message = `${err?.name && err.name !== "Error" ? err.name + ": " : ""}${err?.message ?? String(e)}`;
  try {
    const c = await client.config.credentials();
    for (const v of [c.accessKeyId, c.secretAccessKey, c.sessionToken])
      if (v && v.length >= 4) message = message.split(v).join("***");
  } catch {
    // No credentials could be found: the message cannot hold any.
  }
  return message;
}

/** Brings the bucket up to date with the store (see the file comment). Throws on the first request that fails. */
export async function syncExportBucket(o: {
  client: S3Client;
  bucket: string;
  prefix: string;
  store: ExportDirStore;
  indexSince: number;
  signingKeyPem: string;
  signingKeysJson?: string;
  /** Compare every existing zip's MD5 with the store's and upload those that differ. */
  verify: boolean;
}): Promise<{ files: number; written: number; removed: number; index: string; listed: number }> {
  const { DeleteObjectCommand, ListObjectsV2Command, PutObjectCommand } = await import("@aws-sdk/client-s3");
  const base = o.prefix + INDEX_PREFIX;
  const inBucket = new Map<string, string>(); // name -> ETag (MD5 hex for a single-part upload)
  let token: string | undefined;
  do {
    const page: ListObjectsV2CommandOutput = await o.client.send(
      new ListObjectsV2Command({ Bucket: o.bucket, Prefix: base, ContinuationToken: token }),
    );
    for (const obj of page.Contents ?? [])
      if (obj.Key) inBucket.set(obj.Key.slice(base.length), (obj.ETag ?? "").replace(/"/g, ""));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);

  const put = async (name: string, body: Buffer) => {
    const md5 = createHash("md5").update(body).digest();
    if (inBucket.get(name) === md5.toString("hex")) return false;
    const h = HEADERS[EXPORT_FILE_NAME.test(name) ? "zip" : name];
    await o.client.send(
      new PutObjectCommand({
        Bucket: o.bucket,
        Key: base + name,
        Body: body,
        ContentMD5: md5.toString("base64"),
        ContentType: h.contentType,
        CacheControl: h.cacheControl,
      }),
    );
    inBucket.set(name, md5.toString("hex"));
    return true;
  };

  const all = await o.store.listExportFiles(-1);
  const held = new Set(all.map((f) => f.name));
  let written = 0;
  for (const f of all) {
    if (inBucket.has(f.name) && !o.verify) continue;
    const row = await o.store.getExportFile(f.name);
    if (!row) {
      held.delete(f.name); // purged since the listing
      continue;
    }
    if (await put(f.name, row.zip)) written++;
  }
  await put("signing-key.pem", Buffer.from(o.signingKeyPem, "utf8"));
  if (o.signingKeysJson !== undefined) await put("signing-keys.json", Buffer.from(o.signingKeysJson, "utf8"));
  const listed = (await o.store.listExportFiles(o.indexSince))
    .map((f) => f.name)
    .filter((n) => held.has(n) && inBucket.has(n));
  const index = indexText(listed);
  await put("index.txt", Buffer.from(index, "utf8"));
  let removed = 0;
  for (const name of [...inBucket.keys()]) {
    // Asked again: another node may have stored and uploaded a file since the listing.
    if (EXPORT_FILE_NAME.test(name) && !held.has(name) && !(await o.store.getExportFile(name))) {
      await o.client.send(new DeleteObjectCommand({ Bucket: o.bucket, Key: base + name }));
      inBucket.delete(name);
      removed++;
    }
  }
  return { files: held.size, written, removed, index, listed: listed.length };
}
