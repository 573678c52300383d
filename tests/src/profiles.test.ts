/**
 * Profile directories (issue 8): a profile name cannot leave the tsparallel directory, a directory we
 * did not create keeps its mode, and an unwritable location is named in the error with its cause.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, test } from "node:test";
import { ProfileError, securityDir, logDir } from "@tsparallel/protocol";
import { Client } from "tsparallel";
import { bins } from "./support/paths.js";

const mode = (path: string) => statSync(path).mode & 0o7777;

describe("profile directories", () => {
  let sandbox: string;
  const saved = { dir: process.env.TSPARALLEL_DIR, home: process.env.HOME };

  beforeEach(() => {
    sandbox = mkdtempSync(join(tmpdir(), "tsp-profiles-"));
  });
  afterEach(() => {
    process.env.TSPARALLEL_DIR = saved.dir;
    if (saved.dir === undefined) delete process.env.TSPARALLEL_DIR;
    process.env.HOME = saved.home;
    rmSync(sandbox, { recursive: true, force: true });
  });

  test("a profile name with ../ is refused and creates or chmods nothing outside", async () => {
    const base = join(sandbox, "home", ".tsparallel");
    const victim = join(sandbox, "victim");
    mkdirSync(base, { recursive: true });
    mkdirSync(victim, { mode: 0o755 });
    chmodSync(victim, 0o755);
    process.env.TSPARALLEL_DIR = base;
    for (const name of ["../../victim", "../victim", "..", ".", "a/b", "a\\b", "", "x\0y"]) {
      assert.throws(() => securityDir(name), (err: Error) => err instanceof ProfileError && /invalid profile name/.test(err.message), name);
      assert.throws(() => logDir(name), ProfileError, name);
    }
    await assert.rejects(Client.connect({ profile: "../../victim", timeout: 1000 }), /invalid profile name/);
    assert.equal(mode(victim), 0o755, "the victim directory keeps its mode");
    assert.ok(!existsSync(join(victim, "security")), "nothing is created in the victim directory");
    assert.ok(securityDir("ok.name_1-2").startsWith(base), "a plain name still works");
  });

  test("tspcluster start --profile ../../x fails with a clear error", () => {
    process.env.TSPARALLEL_DIR = join(sandbox, "base");
    const run = spawnSync(process.execPath, [bins.cluster, "start", "-n", "1", "--profile", "../../x"], { encoding: "utf8", timeout: 60_000, env: process.env });
    assert.notEqual(run.status, 0);
    assert.match(run.stderr + run.stdout, /invalid profile name/);
    assert.ok(!existsSync(join(sandbox, "x")), "nothing is created outside the base directory");
  });

  test("a 1777 TSPARALLEL_DIR is left as it is; the directories we create are 0700", () => {
    const shared = join(sandbox, "shared");
    mkdirSync(shared);
    chmodSync(shared, 0o1777);
    process.env.TSPARALLEL_DIR = shared;
    const security = securityDir("p");
    assert.equal(mode(shared), 0o1777, "the shared directory keeps mode 1777");
    assert.equal(mode(join(shared, "profile_p")), 0o700);
    assert.equal(mode(security), 0o700);
  });

  test("a read-only HOME gives an error naming the directory and the cause", (t) => {
    const home = join(sandbox, "rohome");
    mkdirSync(home);
    const mounted = spawnSync("mount", ["-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", home], { encoding: "utf8" });
    if (mounted.status !== 0) {
      t.skip(`cannot mount a read-only tmpfs here: ${mounted.stderr.trim()}`);
      return;
    }
    try {
      delete process.env.TSPARALLEL_DIR;
      process.env.HOME = home;
      assert.throws(() => securityDir("default"), (err: Error) => {
        assert.ok(err instanceof ProfileError, `${err.name}: ${err.message}`);
        assert.match(err.message, new RegExp(`cannot create the tsparallel directory ${join(home, ".tsparallel").replace(/[.]/g, "\\.")}: the file system is read-only`));
        return true;
      });
    } finally {
      spawnSync("umount", [home]);
    }
  });
});
