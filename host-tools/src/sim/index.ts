/**
 * The Tracelet simulator's public API (see README.md in this folder): a deterministic world of virtual Espruino
 * bands running the flashed bundle, phones, hostile beacons and BLE centrals, with noble bindings and a virtual
 * serial console for host tools.
 */
export { World } from "./world";
export type { WorldOptions, Advertiser, AdvertState, RxPacket, Scanner, IdOwner } from "./world";
export { EspruinoDevice, CPU_COST } from "./device";
export type { DeviceOptions, Fault } from "./device";
export { Phone } from "./phones";
export type { PhoneOptions } from "./phones";
export { HostileBeacon } from "./hostile";
export type { HostileMode, HostileOptions } from "./hostile";
export { Central, Link } from "./gatt";
export type { CentralOptions, LinkOptions, Sighting, CharInfo } from "./gatt";
export { createNobleBindings, SimNobleBindings, parseAdvertisement } from "./noble-bindings";
export { VirtualSerial } from "./serial";
export { EspruinoConsole } from "./console";
export type { ConsoleDevice } from "./console";
export { NorFlash, PowerCut } from "./flash";
export { EspruinoStorage, StorageError } from "./storage";
export { ENVIRONMENTS, environment, RadioMedium } from "./radio";
export type { Position, RadioEnvironment } from "./radio";
export {
  Track,
  careHome,
  clinicQueue,
  market,
  typicalResident,
  loadScenarioFile,
  resolveScenario,
  BUILTIN_SCENARIOS,
} from "./scenario";
export type { Scenario, Person, Carries } from "./scenario";
export { groundTruth } from "./truth";
export { readBandLog } from "./band-log";
export { runSimulation } from "./run";
export type { SimulationOptions, SimulationResult, BandDays } from "./run";
export { renderReport } from "./report";
export { compareWithDublin } from "./calibration";
export type { EnergyReport } from "./energy";
