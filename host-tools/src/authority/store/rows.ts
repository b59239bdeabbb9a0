import {
  AuditEntry,
  BandLogRow,
  BandRow,
  CodeRow,
  ContactRow,
  ContactStatus,
  ExportFileRow,
  ExposureRow,
  F1Job,
  F1JobStatus,
  F1Sighting,
  KioskBandRow,
  ResolutionStatus,
  TestType,
} from "./store";

/**
 * Rows as both stores read them back: column names and types are the same in SQLite and PostgreSQL (flags are
 * integers 0/1, times integers, blobs Buffers), so one set of mappers serves both.
 */
export type Row = Record<string, unknown>;

export const LOG_COLUMNS =
  "id, sha256, band_id, size, segments, records, uploaded_at, report_type, symptom_onset_interval, resolution, resolved_at, resolution_summary";

export function bandRow(r: Row): BandRow {
  return {
    bandId: r.band_id as string,
    board: r.board as string,
    registeredAt: r.registered_at as number,
    registeredBy: r.registered_by as string,
    secretSealed: (r.secret_sealed as Buffer | null) ?? null,
    syncKeySealed: (r.sync_key_sealed as Buffer | null) ?? null,
    changedAt: r.changed_at as number,
    health: (r.health as string | null) ?? null,
    healthAt: (r.health_at as number | null) ?? null,
  };
}

export function codeRow(r: Row): CodeRow {
  return {
    uuid: r.uuid as string,
    codeHash: r.code_hash as Buffer,
    testType: r.test_type as TestType,
    symptomDate: r.symptom_date as string | null,
    testDate: r.test_date as string | null,
    issuedAt: r.issued_at as number,
    expiresAt: r.expires_at as number,
    issuedBy: r.issued_by as string,
    claimedAt: r.claimed_at as number | null,
    tokenExpiresAt: r.token_expires_at as number | null,
    tokenUsedAt: r.token_used_at as number | null,
  };
}

export function exposureRow(r: Row): ExposureRow {
  return {
    keyData: r.key_data as Buffer,
    rollingStart: r.rolling_start as number,
    rollingPeriod: r.rolling_period as number,
    transmissionRisk: r.transmission_risk as number | null,
    reportType: r.report_type as TestType,
    daysSinceOnset: r.days_since_onset as number | null,
    traveler: r.traveler === 1,
    healthAuthority: r.health_authority as string,
    createdAt: r.created_at as number,
    releaseAt: r.release_at as number,
    revisedAt: r.revised_at as number | null,
    revisedReportType: r.revised_report_type as TestType | null,
    revisedDaysSinceOnset: r.revised_days_since_onset as number | null,
  };
}

export function bandLogRow(r: Row): BandLogRow {
  return {
    id: r.id as number,
    sha256: r.sha256 as Buffer,
    bandId: r.band_id as string,
    size: r.size as number,
    segments: r.segments as number,
    records: r.records as number,
    uploadedAt: r.uploaded_at as number,
    reportType: r.report_type as TestType,
    symptomOnsetInterval: r.symptom_onset_interval as number | null,
    resolution: r.resolution as ResolutionStatus,
    resolvedAt: r.resolved_at as number | null,
    resolutionSummary: r.resolution_summary as string | null,
  };
}

export function kioskBandRow(r: Row): KioskBandRow {
  return {
    bandId: r.band_id as string,
    board: r.board as string,
    registeredAt: r.registered_at as number,
    changedAt: r.changed_at as number,
    escrow: r.escrow === 1,
    syncKeySealed: r.sync_key_sealed as Buffer,
  };
}

export function sightingRow(r: Row): F1Sighting {
  return {
    f0BandId: r.f0_band_id as string,
    f1BandId: r.f1_band_id as string,
    rpiPrefix: r.rpi_prefix as string,
    startTime: r.start_time as number,
    durationMinutes: r.duration_minutes as number,
    rssiMean: r.rssi_mean as number,
    txPower: r.tx_power as number | null,
    day: r.day as number,
    logId: r.log_id as number,
  };
}

export function f1JobRow(r: Row): F1Job {
  return {
    id: r.id as number,
    logId: r.log_id as number,
    day: r.day as number,
    bandFrom: r.band_from as number,
    bandTo: r.band_to as number | null,
    plannedAt: r.planned_at as number,
    status: r.status as F1JobStatus,
    attempt: r.attempt as number,
    worker: r.worker as string | null,
    leaseUntil: r.lease_until as number | null,
    doneAt: r.done_at as number | null,
    summary: r.summary as string | null,
  };
}

export function contactRow(r: Row): ContactRow {
  return {
    id: r.id as number,
    f0BandId: r.f0_band_id as string,
    f1BandId: r.f1_band_id as string,
    day: r.day as number,
    minutes: JSON.parse(r.minutes as string) as number[],
    minAttenuationDb: r.min_attenuation as number | null,
    sightings: r.sightings as number,
    firstSeen: r.first_seen as number,
    lastSeen: r.last_seen as number,
    closeContact: r.close_contact === 1,
    status: r.status as ContactStatus,
    updatedAt: r.updated_at as number,
    lastLogId: r.last_log_id as number,
  };
}

export function exportFileInfo(r: Row): Omit<ExportFileRow, "zip"> {
  return {
    name: r.name as string,
    startTs: r.start_ts as number,
    endTs: r.end_ts as number,
    batchNum: r.batch_num as number,
    batchSize: r.batch_size as number,
    keyCount: r.key_count as number,
    createdAt: r.created_at as number,
  };
}

export function auditRow(r: Row): AuditEntry & { id: number } {
  return {
    id: r.id as number,
    at: r.at as number,
    actor: r.actor as string,
    action: r.action as string,
    subject: r.subject as string | null,
    ip: r.ip as string | null,
    detail: r.detail ? (JSON.parse(r.detail as string) as Record<string, unknown>) : null,
  };
}

/**
 * The order in which workers claim F1 jobs (store.claimF1Job), for both dialects (`now` and `prefer` are the
 * dialect's placeholders; the jobs table is aliased `j`): a job of the band range the worker holds unsealed
 * (`prefer`), then a job of a range no other worker is running (two workers on one range would both unseal
 * its secrets), then the oldest.
 */
export function f1ClaimOrder(now: string, prefer: string): string {
  return `COALESCE(j.band_from = ${prefer}, FALSE) DESC,
    EXISTS (SELECT 1 FROM f1_jobs r WHERE r.log_id = j.log_id AND r.band_from = j.band_from
      AND r.status = 'running' AND r.lease_until >= ${now}) ASC,
    j.id`;
}
