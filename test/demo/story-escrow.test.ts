import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { falseTolerance } from "../../host-tools/src/cli/demo";
import { renderStoryReport } from "../../host-tools/src/demo/report";
import { runStory } from "../../host-tools/src/demo/story";

/**
 * The demo's story in an escrow deployment, in-process (issue 17): 3 bands flashed with escrow secrets registered
 * at the authority, a day in a care home of two wings (2 + 1 residents), the kiosk syncs, the positive flow uploads
 * keys and log, and both the kiosk's matching and the authority's F1 list (resolved from the F0's log) are held to
 * the ground truth: the F0's table mate in, the resident of the other wing (never near the F0) out.
 */
test("escrow: the kiosk and the authority's F1 list find every true close contact of the F0", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tracelet-story-"));
  const story = await runStory({ bands: 3, days: 1, seed: 3, deployment: "escrow", dir });
  try {
    const r = story.result;
    expect(r.authority.deployment).toBe("escrow");
    expect(r.uploads.authorityCounts).toMatchObject({ bands: 3, escrowBands: 3, bandLogs: 1 });
    expect(r.faults).toBe(0);
    expect(r.lost).toBe(0);
    for (const b of r.bands) expect(b.synced).toBe(true);
    const others = r.bands.map((b) => b.person).filter((p) => p !== r.f0.person);
    expect(r.truth.closeContacts.length).toBeGreaterThan(0);
    expect(r.truth.neverNear.length).toBeGreaterThan(0);
    expect([...r.truth.closeContacts, ...r.truth.nonContacts].sort()).toEqual(others.sort());
    expect(r.truth.nonContacts).toEqual(expect.arrayContaining(r.truth.neverNear));
    const tolerance = falseTolerance(r.truth.closeContacts.length);
    // The kiosk's matching: every true close contact, nobody from the other wing, false ones within the tolerance.
    expect(r.found.missed).toEqual([]);
    expect(r.found.kiosk).toEqual(expect.arrayContaining(r.truth.closeContacts));
    expect(r.found.kiosk.filter((p) => r.truth.neverNear.includes(p))).toEqual([]);
    expect(r.found.kiosk.filter((p) => !r.truth.closeContacts.includes(p)).length).toBeLessThanOrEqual(tolerance);
    // The authority's F1 list, the same.
    expect(r.found.authority).not.toBeNull();
    const f1 = r.found.authority!.contacts;
    expect(f1).toEqual(expect.arrayContaining(r.truth.closeContacts));
    expect(f1.filter((p) => r.truth.neverNear.includes(p))).toEqual([]);
    expect(f1.filter((p) => !r.truth.closeContacts.includes(p)).length).toBeLessThanOrEqual(tolerance);
    expect(f1).not.toContain(r.f0.person);
    expect(renderStoryReport(r)).toContain("authority's F1 list");
    // The kiosk page is served while the story is up.
    const page = await fetch(r.kiosk.url + "/");
    expect(page.status).toBe(200);
  } finally {
    await story.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 170_000);
