// `fix-order` end to end through cli.ts, in a scratch git repository.
import assert from "node:assert/strict";
import { cli, withTempDir } from "./_migrate_cli.ts";
import { git as gitTool } from "./_tools.ts";

async function git(cwd: string, ...args: string[]): Promise<string> {
  const { success, stdout, stderr } = await new Deno.Command("git", {
    args,
    cwd,
    env: {
      GIT_AUTHOR_NAME: "t",
      GIT_AUTHOR_EMAIL: "t@example.org",
      GIT_COMMITTER_NAME: "t",
      GIT_COMMITTER_EMAIL: "t@example.org",
      GIT_CONFIG_GLOBAL: "/dev/null",
      GIT_CONFIG_NOSYSTEM: "1",
    },
  }).output();
  if (!success) throw new Error(`git ${args.join(" ")}: ${new TextDecoder().decode(stderr)}`);
  return new TextDecoder().decode(stdout);
}

const script = (version: string) =>
  `export const metadata = { versions: { migration: "1.0.0", "anemoi-models": "${version}" } };\n`;

async function names(dir: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) found.push(entry.name);
  return found.sort();
}

Deno.test({
  name: "cli fix-order: scripts added on a branch move after the base branch's new one",
  ignore: gitTool.ignore,
  async fn() {
    gitTool.check();
    await withTempDir(async (repo) => {
      const dir = `${repo}/migrations`;
      await Deno.mkdir(dir);
      const registry = new URL("../lib/migrate/registry.ts", import.meta.url).href;
      await Deno.writeTextFile(
        `${dir}/mod.ts`,
        `import type { RegistryEntry } from "${registry}";\nexport const MIGRATIONS: readonly RegistryEntry[] = [\n  // ckptkit-registry-start\n  // ckptkit-registry-end\n];\n`,
      );
      await git(repo, "init", "-q", "-b", "main");
      await Deno.writeTextFile(`${dir}/1000_first.ts`, script("0.9.0"));
      await git(repo, "add", ".");
      await git(repo, "commit", "-q", "-m", "first");
      await git(repo, "checkout", "-q", "-b", "feature");
      await Deno.writeTextFile(`${dir}/2000_mine.ts`, script("0.9.1"));
      await Deno.writeTextFile(`${dir}/2500_mine_too.ts`, script("0.9.1"));
      await git(repo, "add", ".");
      await git(repo, "commit", "-q", "-m", "mine");
      await git(repo, "checkout", "-q", "main");
      await Deno.writeTextFile(`${dir}/3000_upstream.ts`, script("0.9.2"));
      await git(repo, "add", ".");
      await git(repo, "commit", "-q", "-m", "upstream");
      await git(repo, "checkout", "-q", "feature");
      await git(repo, "merge", "-q", "--no-edit", "main");

      const { code, stdout, stderr } = await cli(["fix-order", "--migrations", dir]);
      assert.equal(code, 0, stderr);
      assert.equal(
        stdout,
        `Renaming 2000_mine to 3001_mine.\nRenaming 2500_mine_too to 3002_mine_too.\nUpdated the registry ${dir}/mod.ts\n`,
      );
      assert.deepEqual(await names(dir), [
        "1000_first.ts",
        "3000_upstream.ts",
        "3001_mine.ts",
        "3002_mine_too.ts",
        "mod.ts",
      ]);
      const text = await Deno.readTextFile(`${dir}/mod.ts`);
      assert.deepEqual([...text.matchAll(/name: "(\w+)"/g)].map((m) => m[1]), [
        "1000_first",
        "3000_upstream",
        "3001_mine",
        "3002_mine_too",
      ]);

      const again = await cli(["fix-order", "--migrations", dir, "--base", "main"]);
      assert.equal(again.code, 0);
      assert.match(again.stdout, /^No migration to rename\.\n/);
    });
  },
});

Deno.test({
  name: "cli fix-order: outside git, or with an unknown base, it fails in one line",
  ignore: gitTool.ignore,
  async fn() {
    gitTool.check();
    await withTempDir(async (dir) => {
      const { code, stderr } = await cli(["fix-order", "--migrations", dir], {
        env: { GIT_CEILING_DIRECTORIES: dir },
      });
      assert.equal(code, 1);
      assert.match(
        stderr,
        /^ckptkit: .*: Cannot find the base branch|^ckptkit: .*: Cannot run git/,
      );
      await git(dir, "init", "-q", "-b", "main");
      const unknown = await cli(["fix-order", "--migrations", dir, "--base", "nope"]);
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /^ckptkit: .*: Cannot run git diff: /);
      assert.equal(unknown.stderr.split("\n").length, 2);
      assert.equal((await cli(["fix-order", "extra"])).code, 2);
      assert.equal((await cli(["fix-order", "--help"])).code, 0);
    });
  },
});
