/**
 * Signatures of migration scripts: a digest of the source that survives
 * reformatting and comment edits, as anemoi-models hashes the Python AST.
 *
 * @module
 */

/**
 * The sha256 (hex) of a TypeScript script's tokens. Whitespace, comments,
 * semicolons, trailing commas and the quote style of strings do not count,
 * so `deno fmt` and comment edits keep the digest; any change to code,
 * names or string values changes it.
 *
 * @example Formatting and comments do not change the digest
 * ```ts
 * import assert from "node:assert/strict";
 * import { scriptDigest } from "../../mod.ts";
 *
 * const a = await scriptDigest(`export const x = { a: 'b' }; // note`);
 * const b = await scriptDigest(`// header\nexport const x = {\n  a: "b",\n};\n`);
 * assert.equal(a, b);
 * assert.notEqual(a, await scriptDigest(`export const x = { a: "c" };`));
 * ```
 */
export async function scriptDigest(source: string): Promise<string> {
  const text = JSON.stringify(scriptTokens(source));
  const hash = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(hash)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

// After these tokens a `/` divides; elsewhere it starts a regular expression.
const ENDS_OPERAND = /^(?:[\w$\u0080-\uffff]+|[)\]}]|["'`].*|\/.+)$/s;
const KEYWORDS_BEFORE_EXPRESSION = new Set([
  "return",
  "typeof",
  "instanceof",
  "in",
  "of",
  "new",
  "delete",
  "void",
  "throw",
  "case",
  "do",
  "else",
  "yield",
  "await",
]);

/** The significant tokens of a script (exported for tests). */
export function scriptTokens(source: string): string[] {
  const tokens: string[] = [];
  // Brace depth of each open `${` in a template literal.
  const templates: number[] = [];
  let depth = 0;
  let i = source.startsWith("#!") ? source.indexOf("\n") + 1 || source.length : 0;
  const n = source.length;

  const lastToken = () => tokens[tokens.length - 1];
  const readTemplateChunk = () => {
    // From just after "`" or "}" of a substitution to the next "${" or closing "`".
    let chunk = "";
    while (i < n) {
      const c = source[i];
      if (c === "\\") {
        chunk += source.slice(i, i + 2);
        i += 2;
      } else if (c === "`") {
        i++;
        tokens.push(chunk, "`");
        return;
      } else if (c === "$" && source[i + 1] === "{") {
        i += 2;
        tokens.push(chunk, "${");
        templates.push(depth);
        return;
      } else {
        chunk += c;
        i++;
      }
    }
    tokens.push(chunk);
  };

  while (i < n) {
    const c = source[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === "/" && source[i + 1] === "/") {
      while (i < n && source[i] !== "\n") i++;
    } else if (c === "/" && source[i + 1] === "*") {
      const end = source.indexOf("*/", i + 2);
      i = end < 0 ? n : end + 2;
    } else if (c === '"' || c === "'") {
      const start = i++;
      while (i < n && source[i] !== c && source[i] !== "\n") i += source[i] === "\\" ? 2 : 1;
      i++;
      tokens.push(JSON.stringify(decodeString(source.slice(start + 1, i - 1))));
    } else if (c === "`") {
      i++;
      tokens.push("`");
      readTemplateChunk();
    } else if (c === "}" && templates.length > 0 && templates[templates.length - 1] === depth) {
      templates.pop();
      i++;
      tokens.push("}");
      readTemplateChunk();
    } else if (c === "/" && startsRegex(lastToken())) {
      const start = i++;
      let inClass = false;
      while (i < n && source[i] !== "\n") {
        const r = source[i];
        if (r === "\\") {
          i += 2;
          continue;
        }
        if (r === "[") inClass = true;
        else if (r === "]") inClass = false;
        else if (r === "/" && !inClass) break;
        i++;
      }
      i++;
      while (i < n && /[a-z]/i.test(source[i])) i++;
      tokens.push(source.slice(start, i));
    } else if (/[\w$\u0080-\uffff]/.test(c)) {
      const start = i;
      while (i < n && /[\w$\u0080-\uffff]/.test(source[i])) i++;
      tokens.push(source.slice(start, i));
    } else {
      if (c === "{") depth++;
      else if (c === "}") depth--;
      i++;
      tokens.push(c);
    }
  }
  // Semicolons and trailing commas are formatting.
  const kept: string[] = [];
  for (let k = 0; k < tokens.length; k++) {
    const token = tokens[k];
    if (token === ";") continue;
    if (token === "," && [")", "]", "}", ">"].includes(tokens[k + 1])) continue;
    kept.push(token);
  }
  return kept;
}

function startsRegex(previous: string | undefined): boolean {
  if (previous === undefined) return true;
  if (KEYWORDS_BEFORE_EXPRESSION.has(previous)) return true;
  return !ENDS_OPERAND.test(previous);
}

const SIMPLE_ESCAPES: Record<string, string> = {
  n: "\n",
  t: "\t",
  r: "\r",
  b: "\b",
  f: "\f",
  v: "\v",
  0: "\0",
};

// The value of a quoted string's body, so 'a' and "a" are the same token.
function decodeString(body: string): string {
  let out = "";
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c !== "\\") {
      out += c;
      continue;
    }
    const e = body[++i];
    if (e === undefined) break;
    if (e in SIMPLE_ESCAPES && !(e === "0" && /\d/.test(body[i + 1] ?? ""))) {
      out += SIMPLE_ESCAPES[e];
    } else if (e === "x" && /^[0-9a-f]{2}$/i.test(body.slice(i + 1, i + 3))) {
      out += String.fromCharCode(parseInt(body.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (e === "u" && body[i + 1] === "{") {
      const close = body.indexOf("}", i);
      const code = parseInt(body.slice(i + 2, close), 16);
      out += Number.isFinite(code) && code <= 0x10ffff ? String.fromCodePoint(code) : "";
      i = close;
    } else if (e === "u" && /^[0-9a-f]{4}$/i.test(body.slice(i + 1, i + 5))) {
      out += String.fromCharCode(parseInt(body.slice(i + 1, i + 5), 16));
      i += 4;
    } else if (e === "\r" || e === "\n") {
      if (e === "\r" && body[i + 1] === "\n") i++;
    } else {
      out += e;
    }
  }
  return out;
}
