// `dis`: the opcodes of a checkpoint's data.pkl.
import { dis as listing } from "../pickle/dis.ts";
import { Checkpoint } from "../torch/checkpoint.ts";
import { type Command, onePath, parse } from "./_command.ts";

export const dis: Command = {
  help: `Usage: deno run -A cli.ts dis CKPT

Lists the opcodes of CKPT's data.pkl in the layout of python -m pickletools:
offset, opcode, argument, indented by MARK. Nothing is decoded into objects.`,
  async run(args, context) {
    const { positionals } = parse(args, {}, context);
    const path = onePath(positionals, "dis");
    context.subject = path;
    const ckpt = await Checkpoint.open(path);
    try {
      console.log(listing(ckpt.pickleBytes));
    } finally {
      ckpt.close();
    }
    return 0;
  },
};
