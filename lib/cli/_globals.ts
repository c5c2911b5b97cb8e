// The options every command that vets a pickle shares: the scan policy
// (--allow-global, --policy) and what to refuse (--strict-globals).
import { CkptkitError } from "../errors.ts";
import type { PickleSummary } from "../scan/check_pickle.ts";
import { ScanPolicy } from "../scan/policy.ts";
import { UsageError } from "./_command.ts";

/** parseArgs specs of --allow-global (repeatable) and --policy. */
export const POLICY_OPTIONS = {
  "allow-global": { type: "string", multiple: true },
  policy: { type: "string" },
} as const;

/** The help text of the policy options, descriptions starting at `column`. */
export function policyHelp(column: number): string {
  const pad = " ".repeat(column);
  const option = (name: string) => `  ${name}`.padEnd(column);
  return [
    "  --allow-global MODULE.NAME",
    `${pad}allow a global the built-in allowlist does not (repeatable;`,
    `${pad}MODULE.* allows a module and its submodules); globals the`,
    `${pad}denylist names stay dangerous`,
    `${option("--policy FILE")}more allowed (and denied) globals from a JSON file:`,
    `${pad}{"allow": ["myproject.config.TrainConfig", "myproject.enums.*"],`,
    `${pad} "deny": ["myproject.shell.*"]}`,
  ].join("\n");
}

/** The policy the options describe: the built-in one, extended. */
export async function policyFrom(
  values: { "allow-global"?: string[]; policy?: string },
): Promise<ScanPolicy> {
  let policy = ScanPolicy.default;
  if (values.policy !== undefined) policy = await ScanPolicy.fromFile(values.policy);
  const allow = values["allow-global"] ?? [];
  if (allow.length === 0) return policy;
  try {
    return policy.extend({ allow });
  } catch (error) {
    if (error instanceof CkptkitError) {
      throw new UsageError(
        `--allow-global: ${error.message.replace(/^Cannot use allowed global /, "")}`,
      );
    }
    throw error;
  }
}

function listed(paths: string[]): string {
  return paths.length > 5 ? `${paths.slice(0, 5).join(", ")}, ...` : paths.join(", ");
}

/**
 * The warning `check` and `inspect` print about a checkpoint's data.pkl:
 * always when it is dangerous, and when it is unknown with `strict`.
 */
export function globalsWarning(summary: PickleSummary, strict = false): string | undefined {
  if (summary.verdict === "dangerous") {
    const what = summary.dangerous.length > 0
      ? `it references dangerous globals (${listed(summary.dangerous)})`
      : `it is dangerous to load: ${summary.finding}`;
    return `warning: ${what}: loading data.pkl in Python (torch.load with weights_only=False) runs code; see 'scan'`;
  }
  if (summary.verdict === "unknown" && strict) {
    const what = summary.unknown.length > 0
      ? `it references globals not on the allowlist (${listed(summary.unknown)})`
      : `it cannot be vetted: ${summary.finding}`;
    return `warning: ${what}; see 'scan'`;
  }
  return undefined;
}
