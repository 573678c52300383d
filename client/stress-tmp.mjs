import { Cluster } from "tsparallel";
import { mkdtempSync } from "node:fs";
for (let round = 0; round < 14; round++) {
  const dir = mkdtempSync("/tmp/stress/r-");
  process.env.TSPARALLEL_DIR = dir;
  let c;
  try {
    c = await Cluster.start({ n: 64, profile: "s", timeout: 240_000 });
    const client = await c.connect();
    const out = await client.loadBalancedView().map((x) => x * 2, Array.from({ length: 128 }, (_, i) => i));
    console.log(round, "ok", out.length, dir);
    client.close();
  } catch (err) {
    console.log(round, "FAIL", dir, String(err.message).slice(0, 2000));
  } finally {
    await c?.stop().catch(() => {});
  }
}
