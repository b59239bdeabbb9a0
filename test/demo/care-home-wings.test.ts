import { careHome } from "../../host-tools/src/sim/scenario";
import { CLOSE_MINUTES, groundTruth } from "../../host-tools/src/sim/truth";

/**
 * The demo's care home of two wings (issue 17): the residents of one wing never come within 4 m of the other's (so
 * the demo has residents who must not be reported), while table mates within a wing are close contacts; one wing is
 * the scenario without the option, draw for draw.
 */
test("care home in two wings: contacts within a wing, nobody near across wings; one wing unchanged", () => {
  const s = careHome(8, 24, 1, { wings: 2 });
  const wing = (id: string) => (Number(id.replace("resident", "")) < 4 ? 0 : 1);
  const residents = new Set(s.people.filter((p) => p.carries === "band").map((p) => p.id));
  const pairs = groundTruth(s, 1_700_000_000).pairs.filter((e) => residents.has(e.a) && residents.has(e.b));
  expect(pairs.filter((e) => wing(e.a) !== wing(e.b))).toEqual([]);
  const close = pairs.filter((e) => e.minutes2m >= CLOSE_MINUTES);
  // Tables of four: every pair within each wing of four.
  expect(new Set(close.map((e) => `${e.a}~${e.b}`)).size).toBe(12);
  expect(s.description).toContain("2 wings");
  expect(JSON.stringify(careHome(8, 24, 1, { wings: 1 }))).toBe(JSON.stringify(careHome(8, 24, 1)));
});
