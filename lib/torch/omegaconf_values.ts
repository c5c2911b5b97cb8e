/**
 * The values an omegaconf config holds, as `OmegaConf.to_container` would
 * give them (without resolving interpolations): a `DictConfig` is a dict of
 * its keys, a `ListConfig` a list, a value node its `_val`. What checkpoints
 * pickle is the node graph (metadata, parent links, flags); people asking
 * "what was the learning rate" want the values.
 *
 * @module
 */

import { PyDict } from "../pickle/py_dict.ts";
import { PyGlobal } from "../pickle/py_global.ts";
import { PyObject } from "../pickle/py_object.ts";

const CONTAINERS = new Set(["omegaconf.dictconfig.DictConfig", "omegaconf.listconfig.ListConfig"]);

/** Whether `value` is an omegaconf node (a container, a value node or a union node). */
export function isOmegaconfNode(value: unknown): value is PyObject {
  if (!(value instanceof PyObject) || !(value.callable instanceof PyGlobal)) return false;
  if (!(value.state instanceof PyDict)) return false;
  const { module, name } = value.callable;
  return CONTAINERS.has(`${module}.${name}`) || module === "omegaconf.nodes" ||
    (module === "omegaconf.base" && name === "UnionNode");
}

/**
 * The plain values of the omegaconf node `node`: a new `PyDict` for a
 * `DictConfig`, an array for a `ListConfig`, the `_val` of a value node
 * (`"???"` and `"${...}"` as written). Anything else is returned as is.
 * Shared nodes give shared values, and a node reached again through
 * itself gives the same (incomplete) value, so cycles stay finite.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Checkpoint, omegaconfValues, PyDict } from "../../mod.ts";
 *
 * const ckpt = await Checkpoint.open("tests/fixtures/training.ckpt");
 * const hp = (ckpt.root as PyDict).get("hyper_parameters") as PyDict;
 * const config = omegaconfValues(hp.get("config")) as PyDict<string, PyDict>;
 * assert.equal(config.get("training")!.get("epochs"), 3);
 * assert.equal(config.get("training")!.get("warmup_lr"), "${training.lr}");
 * ckpt.close();
 * ```
 */
export function omegaconfValues(node: unknown): unknown {
  return convert(node, new Map());
}

function convert(node: unknown, done: Map<PyObject, unknown>): unknown {
  if (!isOmegaconfNode(node)) return node;
  const known = done.get(node);
  if (known !== undefined) return known;
  const state = node.state as PyDict;
  const name = (node.callable as PyGlobal).name;
  if (name === "DictConfig" || name === "ListConfig") {
    const content = state.get("_content");
    if (content instanceof PyDict) {
      const dict = new PyDict();
      done.set(node, dict);
      for (const [key, child] of content) dict.set(key, convert(child, done));
      return dict;
    }
    if (Array.isArray(content)) {
      const list: unknown[] = [];
      done.set(node, list);
      for (const child of content) list.push(convert(child, done));
      return list;
    }
    return content === undefined ? null : content; // None, "???" or an interpolation
  }
  // A value node, or a union node holding one.
  const value = state.has("_val") ? state.get("_val") : state.get("_content");
  return convert(value, done);
}
