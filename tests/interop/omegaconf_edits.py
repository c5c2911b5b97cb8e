"""What ckptkit's Config edits mean in omegaconf, and how their outcomes are recorded.

Shared by tests/fixtures/make_config_fixtures.py (which records what
omegaconf does) and tests/interop/config_roundtrip.py (which redoes the
edits in Python and compares with the configs ckptkit wrote). Needs
tests/fixtures/stubs on sys.path (ckptkit_configs).

An edit is a dict: {"op": "set" | "pop" | "delete", "path": [key or index,
...], "value": <encoded>, "default": <encoded> (pop only), "options":
{"openDict": true, "readWrite": true}}. In Python:

- set: setattr(container, key, value) for a str key of a DictConfig,
  container[key] = value for other keys and list indices, and
  container.append(value) for the index just past a ListConfig's end;
- pop: container.pop(key) or container.pop(key, default);
- delete: del container[key]; a missing key or index gives False instead of
  omegaconf's error, as Config.delete returns;
- openDict runs the edit inside open_dict(container); readWrite inside
  read_write(container) and read_write(node at key).

Values are encoded as JSON: str, bool, null and ints up to 2**53 as
themselves; {"int": "<digits>"}, {"float": "<repr>"}, {"bytes": "<hex>"},
{"enum": [class, name]}, {"path": "<str>"}, {"tuple": [...]}, {"dict":
[[key, value], ...]}, {"set": [...]}, lists as arrays; a DictConfig or
ListConfig as {"config": class, "content": <its raw content>}.
"""

import contextlib
import enum
import math
import pathlib

from omegaconf import DictConfig, ListConfig, Node, open_dict, read_write
from omegaconf.base import UnionNode
from omegaconf.nodes import ValueNode

import ckptkit_configs

MAX_SAFE = 2**53


def enc(value):
    """A Python value as JSON."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, enum.Enum):
        return {"enum": [type(value).__name__, value.name]}
    if isinstance(value, int):
        return value if -MAX_SAFE <= value <= MAX_SAFE else {"int": str(value)}
    if isinstance(value, float):
        return {"float": repr(value)}
    if isinstance(value, bytes):
        return {"bytes": value.hex()}
    if isinstance(value, pathlib.PurePath):
        return {"path": str(value)}
    if isinstance(value, (DictConfig, ListConfig)):
        return {"config": type(value).__name__, "content": raw(value)}
    if isinstance(value, tuple):
        return {"tuple": [enc(item) for item in value]}
    if isinstance(value, list):
        return [enc(item) for item in value]
    if isinstance(value, dict):
        return {"dict": [[enc(k), enc(v)] for k, v in value.items()]}
    if isinstance(value, (set, frozenset)):
        return {"set": [enc(item) for item in sorted(value, key=repr)]}
    raise TypeError(f"cannot encode {value!r}")


def dec(value):
    """The Python value of an encoded JSON value."""
    if isinstance(value, list):
        return [dec(item) for item in value]
    if not isinstance(value, dict):
        return value
    (tag, body), = value.items()
    if tag == "int":
        return int(body)
    if tag == "float":
        return float(body)
    if tag == "bytes":
        return bytes.fromhex(body)
    if tag == "enum":
        return getattr(getattr(ckptkit_configs, body[0]), body[1])
    if tag == "path":
        return pathlib.Path(body)
    if tag == "tuple":
        return tuple(dec(item) for item in body)
    if tag == "dict":
        return {dec(k): dec(v) for k, v in body}
    if tag == "set":
        return {dec(item) for item in body}
    raise ValueError(f"unknown tag {tag}")


def raw(node):
    """The stored value of a node, interpolations and "???" unresolved, as JSON."""
    if isinstance(node, UnionNode):
        content = node._value()
        return raw(content) if isinstance(content, Node) else enc(content)
    if isinstance(node, ValueNode):
        return enc(node._value())
    content = node.__dict__["_content"]
    if isinstance(content, dict):
        return {"dict": [[enc(k), raw(v)] for k, v in content.items()]}
    if isinstance(content, list):
        return [raw(v) for v in content]
    return enc(content)


def type_label(node):
    """The Python type of what the node stores: its _val's type, or DictConfig/ListConfig."""
    if isinstance(node, UnionNode):
        content = node._value()
        return type_label(content) if isinstance(content, Node) else type(content).__name__
    if isinstance(node, ValueNode):
        return type(node._value()).__name__
    content = node.__dict__["_content"]
    if isinstance(content, (dict, list)):
        return type(node).__name__
    return type(content).__name__


def type_name(t):
    if t is None:
        return None
    name = getattr(t, "__name__", None)
    return name if name is not None and name != "Any" else str(t).replace("typing.", "")


def child(container, key):
    return container._get_node(key, validate_access=False) if isinstance(
        container, DictConfig
    ) else container._get_node(key)


def navigate(cfg, parts):
    node = cfg
    for part in parts:
        node = child(node, part)
    return node


def keys_of(container):
    content = container.__dict__["_content"]
    if isinstance(content, dict):
        return [enc(k) for k in content]
    if isinstance(content, list):
        return list(range(len(content)))
    return None


def error(e):
    """{error, message}: omegaconf's class and message without its context lines."""
    text = str(e)
    cut = text.find("\n    full_key:")
    return {"error": type(e).__name__, "message": text if cut < 0 else text[:cut]}


@contextlib.contextmanager
def overrides(container, key, options):
    with contextlib.ExitStack() as stack:
        if options.get("openDict"):
            stack.enter_context(open_dict(container))
        if options.get("readWrite"):
            stack.enter_context(read_write(container))
            try:
                target = child(container, key)
            except Exception:  # noqa: BLE001 (an index out of range)
                target = None
            if target is not None:
                stack.enter_context(read_write(target))
        yield


def apply(cfg, edit, results=()):
    """Runs the edit on cfg; returns its value (pop/delete) or raises omegaconf's error.
    A value {"node": path} is the node at path in cfg; {"result": i} what edit i returned."""
    parts = edit["path"]
    container = navigate(cfg, parts[:-1])
    key = parts[-1]
    op = edit["op"]
    with overrides(container, key, edit.get("options", {})):
        if op == "set":
            value = edit["value"]
            if isinstance(value, dict) and list(value) == ["node"]:
                value = navigate(cfg, value["node"])
            elif isinstance(value, dict) and list(value) == ["result"]:
                value = results[value["result"]]
            else:
                value = dec(value)
            if isinstance(container, ListConfig):
                if key == len(container):
                    container.append(value)
                else:
                    container[key] = value
            elif isinstance(key, str):
                setattr(container, key, value)
            else:
                container[key] = value
            return None
        if op == "pop":
            if "default" in edit:
                return container.pop(key, dec(edit["default"]))
            return container.pop(key)
        if op == "delete":
            try:
                del container[key]
            except IndexError:
                return False
            except Exception as e:  # noqa: BLE001
                if type(e).__name__ == "ConfigKeyError" and str(e).startswith("Key not found"):
                    return False
                raise
            return True
    raise ValueError(f"unknown op {op}")


def outcome(cfg, edit):
    """What the edit did: the node now at its key, or the error (and whether anything changed)."""
    parts = edit["path"]
    container = navigate(cfg, parts[:-1])
    key = parts[-1]
    before_dump = dump(cfg)
    before_keys = keys_of(container)
    try:
        before = child(container, key)
    except Exception:  # noqa: BLE001 (an index out of range)
        before = None
    try:
        returned = apply(cfg, edit)
    except Exception as e:  # noqa: BLE001
        result = error(e)
        if dump(cfg) != before_dump:
            result["changed"] = True
        return result
    if edit["op"] == "pop":
        result = {"returned": enc(returned)}
    elif edit["op"] == "delete":
        result = {"returned": returned}
    else:
        node = child(container, key)
        result = {
            "node": type(node).__name__,
            "same": node is before,
            "optional": node._metadata.optional,
            "value": raw(node),
            "type": type_label(node),
        }
        if isinstance(node, (DictConfig, ListConfig)):
            result["object_type"] = type_name(node._metadata.object_type)
    # The container's keys, only when the edit changed them (or their order).
    if keys_of(container) != before_keys:
        result["keys"] = keys_of(container)
    return result


def dump(node, parent=None):
    """Every field of a node tree, for exact comparisons: classes, state and metadata
    fields in order, values with their types, parents, flags."""
    state = node.__dict__
    out = {
        "class": type(node).__name__,
        "state": [k for k in state if k != "_flags_cache"],
        "parent": state["_parent"] is parent,
        "metadata": [[k, _repr(v)] for k, v in vars(state["_metadata"]).items()],
    }
    if "fields" in state:
        out["enum_type"] = _repr(state["enum_type"])
        out["fields"] = [[k, _repr(v)] for k, v in state["fields"].items()]
    if isinstance(node, (DictConfig, ListConfig)):
        content = state["_content"]
        if isinstance(content, dict):
            out["content"] = [[_repr(k), dump(v, node)] for k, v in content.items()]
        elif isinstance(content, list):
            out["content"] = [dump(v, node) for v in content]
        else:
            out["content"] = _repr(content)
    elif isinstance(node, UnionNode):
        content = state["_content"]
        out["content"] = dump(content, node) if isinstance(content, Node) else _repr(content)
    else:
        out["val"] = _repr(state["_val"])
    return out


def _repr(value):
    """repr with the type, floats exact (nan and -0.0 apart)."""
    if isinstance(value, float) and math.isnan(value):
        return "float nan"
    return f"{type(value).__module__}.{type(value).__qualname__} {value!r}"
