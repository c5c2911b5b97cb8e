// `dis`: the opcodes of a checkpoint's data.pkl.
import { dis as listing } from "../pickle/dis.ts";
import { Checkpoint } from "../torch/checkpoint.ts";
import { type Command, onePath, parse, TIMEOUT_HELP, timeoutOption } from "./_command.ts";

export const dis: Command = {
  help: `Usage: deno run -A cli.ts dis CKPT

Lists the opcodes of CKPT's data.pkl in the layout of python -m pickletools:
offset, opcode, argument, indented by MARK. Nothing is decoded into objects.
CKPT may be an http(s) URL, read with range requests.

Options:
${TIMEOUT_HELP}`,
  async run(args, context) {
    const { values, positionals } = parse(args, { timeout: { type: "string" } }, context);
    const path = onePath(positionals, "dis");
    context.subject = path;
    const ckpt = await Checkpoint.open(path, { timeoutMs: timeoutOption(values.timeout) });
    try {
      console.log(listing(ckpt.pickleBytes));
    } finally {
      ckpt.close();
    }
    return 0;
  },
};
