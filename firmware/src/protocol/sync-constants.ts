/**
 * The sync protocol's constants (docs/protocol.md section 7). This file imports nothing, so esbuild inlines each
 * constant where the firmware uses it instead of keeping a variable (it does not inline constants of modules that
 * import). protocol/sync.ts re-exports all of them: import from there.
 */

export const DISCOVERY_NONCE_BYTES = 4;
export const DISCOVERY_TOKEN_BYTES = 6;
/** flags 3 B + service data (AD type 0x21: 128-bit UUID) 2 + 16 + nonce 4 + token 6 = 31 B. */
export const DISCOVERY_ADVERT_LENGTH = 31;
/** Unauthenticated kiosk -> band. */
export const OP_AUTH_BEGIN = 0x01;
export const OP_AUTH_PROVE = 0x02;
/** Authenticated kiosk -> band commands. */
export const OP_STATUS = 0x10;
export const OP_READ = 0x11;
export const OP_ACK = 0x12;
export const OP_SET_TIME = 0x13;
export const OP_READ_TEKS = 0x14;
export const OP_WIPE = 0x15;
/** Maintenance: the JavaScript console over Bluetooth (Nordic UART) until the band restarts. */
export const OP_CONSOLE = 0x16;
/** Unauthenticated band -> kiosk. */
export const OP_CHALLENGE = 0x81;
export const OP_AUTH_OK = 0x82;
/**
 * AUTH_OK flags: the band encrypts its frames' payloads in this session. Every protocol-2 band sets it, the flags
 * byte is bound into the session key (a flipped flag leaves the two sides with different keys), and the kiosk
 * refuses a session without it.
 */
export const AUTH_FLAG_ENCRYPTED = 1;
/**
 * The sync protocol version, in AUTH_OK flags bits 4-7 (protocol 1 bands send 0 there). 2: no back-off,
 * per-connection limits, every band encrypts, flags bound into the session key, the page MAC in READ_END.
 */
export const SYNC_PROTOCOL = 2;
/** The AUTH_OK flags byte a protocol-2 band sends. */
export const AUTH_FLAGS = AUTH_FLAG_ENCRYPTED | (SYNC_PROTOCOL << 4);
export const OP_ERROR = 0xe0;
/** Authenticated band -> kiosk replies: command op | 0x80 ... */
export const OP_STATUS_REPLY = 0x90;
export const OP_READ_END = 0x91;
export const OP_ACK_OK = 0x92;
export const OP_TIME_OK = 0x93;
export const OP_TEKS_END = 0x94;
export const OP_WIPE_OK = 0x95;
export const OP_CONSOLE_OK = 0x96;
/** ... and streamed frames. */
export const OP_DATA = 0xa1;
export const OP_TEK = 0xa4;
export const ERR_AUTH_REQUIRED = 1;
/** A wrong or late proof, or too many challenges on one connection: the band ends the link. */
export const ERR_AUTH_FAILED = 2;
export const ERR_BAD_FRAME = 3;
export const ERR_BAD_MAC = 4;
export const ERR_UNPROVISIONED = 5;
export const ERR_BUSY = 6;
export const ERR_BAD_ARGUMENT = 7;
export const NONCE_BYTES = 16;
export const PROOF_BYTES = 16;
export const TAG_BYTES = 8;
/** op (1) + seq (2) + tag (8) around every authenticated payload. */
export const FRAME_OVERHEAD = 3 + TAG_BYTES;
/** The confirmation a WIPE command must carry. */
export const WIPE_CONFIRM = "WIPE";
/** WIPE_CONFIRM read as a little-endian uint32. */
export const WIPE_CONFIRM_U32 = 0x45504957;
export const WIPE_FLAG_PROVISIONING = 1;
/** The confirmation a CONSOLE command must carry. */
export const CONSOLE_CONFIRM = "UART";
/** CONSOLE_CONFIRM read as a little-endian uint32. */
export const CONSOLE_CONFIRM_U32 = 0x54524155;
/** Direction bytes bound into every tag and keystream so a frame cannot be reflected back. */
export const DIR_KIOSK = 0x4b; // 'K'
export const DIR_BAND = 0x42; // 'B'
/** Public status, readable by anyone: "TLS" | version | state. Says nothing but whether to authenticate. */
export const PUBLIC_STATE_UNPROVISIONED = 0;
export const PUBLIC_STATE_AUTH_REQUIRED = 1;
export const PUBLIC_STATUS_VERSION = 1;
export const STATUS_FLAG_TIME_VALID = 1;
export const STATUS_FLAG_ESCROW = 2;
export const STATUS_FLAG_LOW_BATTERY = 4;
export const STATUS_FLAG_LOG_DROPPED_UNSYNCED = 8;
export const STATUS_BYTES = 38;
export const TEK_PAYLOAD_BYTES = 22;
/**
 * The log is a stream of 8-byte units (segment headers and records) addressed by a cursor:
 * cursor = (seq of the first segment header of the unit's file) * 512 + unit index in that file (a file holds
 * LOG_FILE_UNITS, 124, in tuning.ts; format 2's held 338). Cursors only grow; a kiosk never needs to split one, it
 * only compares and resumes from them, so the file size is the band's business alone.
 */
export const UNITS_PER_CURSOR_FILE = 512;

// Declared after the numeric constants: esbuild inlines a module's constants only up to its first array or call.
/**
 * The discovery advert before its nonce and token: flags (LE General Discoverable, BR/EDR not supported), then
 * service data for a 128-bit UUID (length 27, type 0x21) and SYNC_SERVICE_UUID little-endian. A typed array: on the
 * band an array of 21 numbers costs ~22 JsVars for as long as it lives, these 21 bytes ~5.
 */
export const DISCOVERY_ADVERT_PREFIX = new Uint8Array([
  2, 1, 6, 27, 0x21, 0x52, 0x45, 0x12, 0x76, 0xab, 0x13, 0x39, 0x96, 0x7e, 0x42, 0x84, 0x17, 0x01, 0x00, 0x16, 0x2c,
]);
/**
 * Tracelet's 128-bit UUIDs share one base: 2c16000N-1784-427e-9639-13ab76124552, N = 1 service, 2 status (read),
 * 3 control (write: kiosk -> band frames), 4 response (notify: band -> kiosk frames).
 */
export function syncUuid(n: number): string {
  return "2c16000" + n + "-1784-427e-9639-13ab76124552";
}

export const SYNC_SERVICE_UUID = syncUuid(1);
/** Read: public status (5 bytes, see encodePublicStatus). */
export const SYNC_STATUS_UUID = syncUuid(2);
/** Write (with response): kiosk -> band frames. */
export const SYNC_CONTROL_UUID = syncUuid(3);
/** Notify: band -> kiosk frames. */
export const SYNC_RESPONSE_UUID = syncUuid(4);
