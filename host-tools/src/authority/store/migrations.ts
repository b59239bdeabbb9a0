/**
 * Schema migrations, applied in order at start-up inside one transaction each. Never edit a released
 * migration: add a new one.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: "initial schema",
    sql: `
CREATE TABLE bands (
  row_id INTEGER PRIMARY KEY,
  band_id TEXT NOT NULL UNIQUE,
  board TEXT NOT NULL,
  registered_at INTEGER NOT NULL,
  registered_by TEXT NOT NULL,
  secret_sealed BLOB
);
CREATE INDEX bands_escrow ON bands(row_id) WHERE secret_sealed IS NOT NULL;

CREATE TABLE verification_codes (
  id INTEGER PRIMARY KEY,
  uuid TEXT NOT NULL UNIQUE,
  code_hash BLOB NOT NULL UNIQUE,
  test_type TEXT NOT NULL,
  symptom_date TEXT,
  test_date TEXT,
  issued_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  issued_by TEXT NOT NULL,
  claimed_at INTEGER,
  token_hash BLOB UNIQUE,
  token_expires_at INTEGER,
  token_used_at INTEGER
);

CREATE TABLE used_certificates (
  jti TEXT NOT NULL,
  purpose TEXT NOT NULL,
  used_at INTEGER NOT NULL,
  ref INTEGER,
  PRIMARY KEY (jti, purpose)
);

CREATE TABLE exposures (
  id INTEGER PRIMARY KEY,
  key_data BLOB NOT NULL UNIQUE,
  rolling_start INTEGER NOT NULL,
  rolling_period INTEGER NOT NULL,
  transmission_risk INTEGER,
  report_type TEXT NOT NULL,
  days_since_onset INTEGER,
  traveler INTEGER NOT NULL,
  health_authority TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  release_at INTEGER NOT NULL,
  revised_at INTEGER,
  revised_report_type TEXT,
  revised_days_since_onset INTEGER
);
CREATE INDEX exposures_release ON exposures(release_at);
CREATE INDEX exposures_end ON exposures(rolling_start);
CREATE INDEX exposures_revised ON exposures(revised_at) WHERE revised_at IS NOT NULL;

CREATE TABLE band_logs (
  id INTEGER PRIMARY KEY,
  sha256 BLOB NOT NULL UNIQUE,
  band_id TEXT NOT NULL,
  body BLOB NOT NULL,
  size INTEGER NOT NULL,
  segments INTEGER NOT NULL,
  records INTEGER NOT NULL,
  uploaded_at INTEGER NOT NULL,
  report_type TEXT NOT NULL,
  symptom_onset_interval INTEGER,
  resolution TEXT NOT NULL,
  resolved_at INTEGER,
  resolution_summary TEXT
);
CREATE INDEX band_logs_pending ON band_logs(id) WHERE resolution = 'pending';
CREATE INDEX band_logs_uploaded ON band_logs(uploaded_at);

CREATE TABLE f1_sightings (
  f0_band_id TEXT NOT NULL,
  rpi_prefix TEXT NOT NULL,
  start_time INTEGER NOT NULL,
  f1_band_id TEXT NOT NULL,
  duration_minutes INTEGER NOT NULL,
  scans INTEGER NOT NULL,
  rssi_max INTEGER NOT NULL,
  rssi_mean INTEGER NOT NULL,
  tx_power INTEGER,
  day INTEGER NOT NULL,
  log_id INTEGER NOT NULL,
  PRIMARY KEY (f0_band_id, rpi_prefix, start_time)
);
CREATE INDEX f1_sightings_group ON f1_sightings(f0_band_id, f1_band_id, day);
CREATE INDEX f1_sightings_start ON f1_sightings(start_time);

CREATE TABLE contacts (
  id INTEGER PRIMARY KEY,
  f0_band_id TEXT NOT NULL,
  f1_band_id TEXT NOT NULL,
  day INTEGER NOT NULL,
  minutes TEXT NOT NULL,
  min_attenuation INTEGER,
  sightings INTEGER NOT NULL,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  close_contact INTEGER NOT NULL,
  status TEXT NOT NULL DEFAULT 'new',
  updated_at INTEGER NOT NULL,
  last_log_id INTEGER NOT NULL,
  UNIQUE (f0_band_id, f1_band_id, day)
);

CREATE TABLE export_files (
  name TEXT PRIMARY KEY,
  start_ts INTEGER NOT NULL,
  end_ts INTEGER NOT NULL,
  batch_num INTEGER NOT NULL,
  batch_size INTEGER NOT NULL,
  key_count INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  zip BLOB NOT NULL
);
CREATE INDEX export_files_end ON export_files(end_ts);

CREATE TABLE export_cursor (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  end_ts INTEGER NOT NULL
);

CREATE INDEX used_certificates_at ON used_certificates(used_at);
CREATE INDEX verification_codes_expiry ON verification_codes(expires_at);

CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  subject TEXT,
  ip TEXT,
  detail TEXT
);
CREATE INDEX audit_log_at ON audit_log(at);
`,
  },
  {
    version: 2,
    name: "log format v2: records carry no scan count or max RSSI",
    sql: `
ALTER TABLE f1_sightings DROP COLUMN scans;
ALTER TABLE f1_sightings DROP COLUMN rssi_max;
`,
  },
  {
    version: 3,
    name: "band sync keys for kiosks, change times and deletion records",
    // Rows registered before sync keys existed keep sync_key_sealed NULL and are not served to kiosks until a
    // registration supplies the key. changed_at drives the kiosks' incremental refresh; band_deletions tells
    // them which bands to forget (deleted, or re-registered without a sync key).
    sql: `
ALTER TABLE bands ADD COLUMN sync_key_sealed BLOB;
ALTER TABLE bands ADD COLUMN changed_at INTEGER NOT NULL DEFAULT 0;
UPDATE bands SET changed_at = registered_at;
CREATE INDEX bands_changed ON bands(changed_at) WHERE sync_key_sealed IS NOT NULL;

CREATE TABLE band_deletions (
  band_id TEXT PRIMARY KEY,
  deleted_at INTEGER NOT NULL
);
CREATE INDEX band_deletions_at ON band_deletions(deleted_at);
`,
  },
  {
    version: 4,
    name: "band health as kiosks last read it",
    // The band's STATUS frame at its latest sync (fault and reset counters, battery, firmware), JSON, and the
    // band's sync time it was read at: a late report never replaces a newer one.
    sql: `
ALTER TABLE bands ADD COLUMN health TEXT;
ALTER TABLE bands ADD COLUMN health_at INTEGER;
`,
  },
];
