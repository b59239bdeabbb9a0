// Minimal declarations for yazl 3 and yauzl 3 (no types shipped): only what the export files need.
declare module "yazl" {
  import { Readable } from "stream";
  interface EntryOptions {
    mtime?: Date;
    mode?: number;
    compress?: boolean;
    compressionLevel?: number;
  }
  class ZipFile {
    outputStream: Readable;
    addBuffer(buffer: Buffer, metadataPath: string, options?: EntryOptions): void;
    end(options?: { forceZip64Format?: boolean; comment?: string }): void;
  }
}

declare module "yauzl" {
  import { Readable } from "stream";
  interface Options {
    lazyEntries?: boolean;
    decodeStrings?: boolean;
    validateEntrySizes?: boolean;
    strictFileNames?: boolean;
  }
  interface Entry {
    fileName: string;
    uncompressedSize: number;
    compressedSize: number;
  }
  interface ZipFile {
    entryCount: number;
    eachEntry(): AsyncIterable<Entry>;
    openReadStreamPromise(entry: Entry): Promise<Readable>;
    close(): void;
  }
  function fromBufferPromise(buffer: Buffer, options?: Options): Promise<ZipFile>;
}
