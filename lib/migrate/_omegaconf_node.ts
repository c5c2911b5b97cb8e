/**
 * Reading pickled omegaconf nodes: their class, state and metadata, their
 * effective flags (struct, readonly, convert, allow_objects) through the
 * `_parent` chain, the `full_key` omegaconf names them by, and what the
 * config tree knows about its enums.
 *
 * @module
 */

import { PyDict } from "../pickle/py_dict.ts";
import { PyGlobal } from "../pickle/py_global.ts";
import { PyObject } from "../pickle/py_object.ts";
import { containerHint, parseHint, type TypeHint } from "./_omegaconf_types.ts";
import { type EnumLookup, enumMember } from "./_py_value.ts";

/** The omegaconf node classes ckptkit edits. */
export type NodeClass =
  | "DictConfig"
  | "ListConfig"
  | "UnionNode"
  | "AnyNode"
  | "FloatNode"
  | "IntegerNode"
  | "BooleanNode"
  | "StringNode"
  | "EnumNode"
  | "PathNode"
  | "BytesNode";

/** The value-node classes: they hold `_val`. */
export type ValueNodeClass = Exclude<NodeClass, "DictConfig" | "ListConfig" | "UnionNode">;

export const DICT_CONFIG: PyGlobal = PyGlobal.of("omegaconf.dictconfig", "DictConfig");
export const LIST_CONFIG: PyGlobal = PyGlobal.of("omegaconf.listconfig", "ListConfig");
export const UNION_NODE: PyGlobal = PyGlobal.of("omegaconf.base", "UnionNode");

const VALUE_NODES: ValueNodeClass[] = [
  "AnyNode",
  "FloatNode",
  "IntegerNode",
  "BooleanNode",
  "StringNode",
  "EnumNode",
  "PathNode",
  "BytesNode",
];
const CLASSES = new Map<PyGlobal, NodeClass>([
  [DICT_CONFIG, "DictConfig"],
  [LIST_CONFIG, "ListConfig"],
  [UNION_NODE, "UnionNode"],
  ...VALUE_NODES.map((name) => [PyGlobal.of("omegaconf.nodes", name), name] as const),
]);

/** The global of a node class. */
export function classGlobal(name: NodeClass): PyGlobal {
  return name === "DictConfig"
    ? DICT_CONFIG
    : name === "ListConfig"
    ? LIST_CONFIG
    : name === "UnionNode"
    ? UNION_NODE
    : PyGlobal.of("omegaconf.nodes", name);
}

/** The class of an omegaconf node with a state, or undefined for anything else. */
export function nodeClass(node: unknown): NodeClass | undefined {
  if (!(node instanceof PyObject) || !(node.state instanceof PyDict)) return undefined;
  return node.callable instanceof PyGlobal ? CLASSES.get(node.callable) : undefined;
}

/** True for an omegaconf value node of any class (including ones ckptkit does not edit). */
export function isAnyValueNode(node: unknown): node is PyObject {
  return node instanceof PyObject && node.callable instanceof PyGlobal &&
    node.callable.module === "omegaconf.nodes" && node.state instanceof PyDict;
}

/** True for DictConfig and ListConfig. */
export function isContainer(node: unknown): node is PyObject {
  const cls = nodeClass(node);
  return cls === "DictConfig" || cls === "ListConfig";
}

/** True for the value-node classes. */
export function isValueClass(cls: NodeClass | undefined): cls is ValueNodeClass {
  return cls !== undefined && cls !== "DictConfig" && cls !== "ListConfig" && cls !== "UnionNode";
}

/** The BUILD state of a node. */
export function stateOf(node: PyObject): PyDict<string, unknown> {
  return node.state as PyDict<string, unknown>;
}

/** The state of a node's `_metadata` object (empty when it has none). */
export function metadataOf(node: PyObject): PyDict<string, unknown> {
  const metadata = stateOf(node).get("_metadata");
  return metadata instanceof PyObject && metadata.state instanceof PyDict
    ? metadata.state as PyDict<string, unknown>
    : new PyDict();
}

/** The container holding a node, or undefined at the root. */
export function parentOf(node: PyObject): PyObject | undefined {
  const parent = stateOf(node).get("_parent");
  return parent instanceof PyObject && parent.state instanceof PyDict ? parent : undefined;
}

/** The key (dict key or list index) a node has in its container. */
export function keyOf(node: PyObject): unknown {
  return metadataOf(node).get("key");
}

/** Whether None may be assigned to the node (its metadata's `optional`). */
export function isOptional(node: PyObject): boolean {
  return metadataOf(node).get("optional") === true;
}

/** The flag as set on the node itself: true, false, or undefined when unset. */
export function ownFlag(node: PyObject, flag: string): boolean | undefined {
  const flags = metadataOf(node).get("flags");
  const value = flags instanceof PyDict ? flags.get(flag) : undefined;
  return typeof value === "boolean" ? value : undefined;
}

/**
 * The flag in effect on a node (omegaconf's `_get_flag`): its own setting,
 * else unset at a `flags_root` node, else its parent's.
 */
export function flag(node: PyObject, name: string): boolean | undefined {
  const seen = new Set<PyObject>();
  for (let at: PyObject | undefined = node; at !== undefined; at = parentOf(at)) {
    if (seen.has(at)) return undefined;
    seen.add(at);
    const own = ownFlag(at, name);
    if (own !== undefined) return own;
    if (metadataOf(at).get("flags_root") === true) return undefined;
  }
  return undefined;
}

/** The content of a DictConfig/ListConfig: a dict of nodes, a list, None, or a string. */
export function contentOf(node: PyObject): unknown {
  return stateOf(node).get("_content");
}

/**
 * The structured-config class of a DictConfig that refuses new keys, pops
 * and deletions (omegaconf's `_is_typed`): an `object_type` other than
 * dict, Any and None.
 */
export function typedClass(node: PyObject): PyGlobal | undefined {
  const objectType = metadataOf(node).get("object_type");
  if (!(objectType instanceof PyGlobal) || UNTYPED.has(objectType.path)) return undefined;
  return objectType;
}

// dict, Any and the dict subclasses configs meet (omegaconf exempts dict subclasses).
const UNTYPED = new Set([
  "builtins.dict",
  "typing.Any",
  "typing.Dict",
  "collections.OrderedDict",
  "collections.defaultdict",
  "pytorch_lightning.utilities.parsing.AttributeDict",
  "lightning_fabric.utilities.data.AttributeDict",
  "lightning.fabric.utilities.data.AttributeDict",
]);

/** The annotation a node was declared with (`ref_type`, with a container's arguments). */
export function refHint(node: PyObject): TypeHint {
  const metadata = metadataOf(node);
  const cls = nodeClass(node);
  if (cls === "DictConfig" || cls === "ListConfig") {
    return containerHint(
      metadata.get("ref_type"),
      metadata.get("key_type"),
      metadata.get("element_type"),
    );
  }
  return parseHint(metadata.get("ref_type"));
}

/** A container's `element_type` (Any when absent). */
export function elementHint(container: PyObject): TypeHint {
  const elementType = metadataOf(container).get("element_type");
  return elementType === undefined || elementType === null
    ? { kind: "any" }
    : parseHint(elementType);
}

/** A DictConfig's `key_type` (Any when absent). */
export function keyHint(container: PyObject): TypeHint {
  const keyType = metadataOf(container).get("key_type");
  return keyType === undefined || keyType === null ? { kind: "any" } : parseHint(keyType);
}

/**
 * omegaconf's `full_key` of `key` in `container` (or of the container
 * itself): dict keys joined by dots, list indices in brackets, from the
 * root (`model.layers[0].size`).
 */
export function fullKey(container: PyObject, key?: unknown): string {
  const steps: string[] = [];
  let enums: EnumLookup | undefined;
  // Enum member keys are named by their name, as omegaconf does.
  const step = (at: PyObject, part: unknown): string => {
    let text = typeof part === "boolean" ? (part ? "True" : "False") : String(part);
    if (part instanceof PyObject) {
      enums ??= new ConfigTree(container);
      text = enumMember(part, enums)?.name ?? text;
    }
    return nodeClass(at) === "ListConfig" ? `[${text}]` : text;
  };
  if (key !== undefined) steps.push(step(container, key));
  const seen = new Set<PyObject>();
  for (let at: PyObject | undefined = container; at !== undefined; at = parentOf(at)) {
    if (seen.has(at)) break;
    seen.add(at);
    const parent = parentOf(at);
    const own = keyOf(at);
    if (own === null || own === undefined) continue;
    steps.push(parent === undefined ? String(own) : step(parent, own));
  }
  let text = "";
  for (const part of steps.reverse()) {
    text += text === "" || part.startsWith("[") ? part : `.${part}`;
  }
  return text;
}

/** The root of the config a node belongs to. */
export function rootOf(node: PyObject): PyObject {
  const seen = new Set<PyObject>([node]);
  let at = node;
  for (
    let parent = parentOf(at);
    parent !== undefined && !seen.has(parent);
    parent = parentOf(at)
  ) {
    seen.add(parent);
    at = parent;
  }
  return at;
}

/** Every node of the config `root` heads (containers, value nodes, union contents). */
export function* nodesOf(root: PyObject): Generator<PyObject> {
  const seen = new Set<PyObject>();
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    if (!(node instanceof PyObject) || seen.has(node) || !(node.state instanceof PyDict)) continue;
    seen.add(node);
    yield node;
    const content = stateOf(node).get("_content");
    if (content instanceof PyObject) stack.push(content);
    else if (content instanceof PyDict) stack.push(...content.values());
    else if (Array.isArray(content)) stack.push(...content);
  }
}

/**
 * What a config tree knows about its classes, read once per edit: the
 * `fields` of each enum an EnumNode names, and the structured-config
 * classes of its DictConfigs.
 */
export class ConfigTree implements EnumLookup {
  /** The root of the config. */
  readonly root: PyObject;
  #enums: Map<PyGlobal, PyDict> | undefined;
  #structured: Set<PyGlobal> | undefined;

  /** The tree `node` belongs to. */
  constructor(node: PyObject) {
    this.root = rootOf(node);
  }

  /** The `fields` (member name to value) of an enum an EnumNode of the config names. */
  fieldsOf(type: PyGlobal): PyDict | undefined {
    this.#scan();
    return this.#enums!.get(type);
  }

  /** True when a DictConfig of the config has `type` as its structured class. */
  isStructured(type: PyGlobal): boolean {
    this.#scan();
    return this.#structured!.has(type);
  }

  #scan(): void {
    if (this.#enums !== undefined) return;
    this.#enums = new Map();
    this.#structured = new Set();
    for (const node of nodesOf(this.root)) {
      const state = stateOf(node);
      const cls = nodeClass(node);
      if (cls === "EnumNode") {
        const type = state.get("enum_type");
        const fields = state.get("fields");
        if (type instanceof PyGlobal && fields instanceof PyDict) this.#enums.set(type, fields);
      } else if (cls === "DictConfig") {
        const metadata = metadataOf(node);
        for (const type of [metadata.get("ref_type"), metadata.get("object_type")]) {
          if (type instanceof PyGlobal && type.module !== "typing" && type.module !== "builtins") {
            this.#structured.add(type);
          }
        }
      }
    }
  }
}
