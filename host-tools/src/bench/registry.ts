import { authorityF1Section } from "./sections/authority-f1";
import { authorityLoadSection } from "./sections/authority-load";
import { authorityPostgresSection } from "./sections/authority-postgres";
import { cpuProfileSection } from "./sections/cpu-profile";
import { firmwareBandSection } from "./sections/firmware-band";
import { espruinoRealSection } from "./sections/espruino-real";
import { faultSweepSection } from "./sections/fault-sweep";
import { firmwareBundlesSection } from "./sections/firmware-bundles";
import { flashSection } from "./sections/flash";
import { kioskCrashSection } from "./sections/kiosk-crash";
import { kioskMatchSection } from "./sections/kiosk-match";
import { kioskMemorySection } from "./sections/kiosk-memory";
import { kioskSyncSection } from "./sections/kiosk-sync";
import { logRetentionSection } from "./sections/log-retention";
import { protocolCryptoSection } from "./sections/protocol-crypto";
import { simScaleSection } from "./sections/sim-scale";
import { BenchSection } from "./types";

/**
 * Every benchmark `tracelet bench` runs, in order. To add one: write host-tools/src/bench/sections/<name>.ts
 * exporting a BenchSection (types.ts) and add it to this list.
 */
export const BENCH_SECTIONS: BenchSection[] = [
  firmwareBundlesSection,
  protocolCryptoSection,
  authorityLoadSection,
  authorityF1Section,
  authorityPostgresSection,
  kioskMatchSection,
  kioskSyncSection,
  kioskCrashSection,
  kioskMemorySection,
  flashSection,
  simScaleSection,
  firmwareBandSection,
  logRetentionSection,
  espruinoRealSection,
  cpuProfileSection,
  faultSweepSection,
];
