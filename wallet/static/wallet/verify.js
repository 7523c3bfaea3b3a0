/* The verify page: checks, in this browser, that a transfer's ledger entries are in the
 * network's signed log. Everything is recomputed here from the raw bytes the server sends
 * (proof.json), with the browser's own WebCrypto (SHA-256, Ed25519):
 *   1. the checkpoint (a C2SP signed note: origin, tree size, root hash) is signed by the
 *      operator's Ed25519 key, and each witness's cosignature (tlog-cosignature/v1) verifies;
 *   2. each entry's RFC 9162 inclusion proof leads from SHA-256(0x00 || leaf) to that root;
 *   3. each entry's statement is signed (Ed25519 over "remit-ledger/v1/statement\n" + JCS)
 *      by the bank that made it, under the key its key_id names.
 * Formats: docs/ledger.md. No library: the code below is the whole check. */
(() => {
  "use strict";

  const root = document.getElementById("verify");
  if (!root) return;
  const messages = JSON.parse(document.getElementById("verify-messages").textContent);
  const summary = document.getElementById("verify-summary");
  const list = document.getElementById("verify-checks");
  const encoder = new TextEncoder();

  const say = (key, values = {}) =>
    (messages[key] || key).replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));

  const fromB64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  const concat = (...parts) => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  };
  const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
  const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  const sha256 = async (bytes) => new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  const leafHash = (leaf) => sha256(concat(Uint8Array.of(0), leaf));
  const nodeHash = (left, right) => sha256(concat(Uint8Array.of(1), left, right));

  class Unsupported extends Error {}

  async function ed25519Verify(publicKey, signature, message) {
    let key;
    try {
      key = await crypto.subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
    } catch (error) {
      if (error && error.name === "NotSupportedError") throw new Unsupported();
      return false;
    }
    try {
      return await crypto.subtle.verify({ name: "Ed25519" }, key, signature, message);
    } catch (error) {
      return false;
    }
  }

  // RFC 9162 §2.1.3.2 (numbers stay below 2^53: arithmetic, not 32-bit bit operations)
  async function verifyInclusion(hash, index, size, proof, rootHash) {
    if (!(Number.isSafeInteger(index) && Number.isSafeInteger(size)) || index < 0 || index >= size) {
      return false;
    }
    let fn = index, sn = size - 1, r = hash;
    for (const p of proof) {
      if (p.length !== 32 || sn === 0) return false;
      if (fn % 2 === 1 || fn === sn) {
        r = await nodeHash(p, r);
        while (fn !== 0 && fn % 2 === 0) { fn /= 2; sn = Math.floor(sn / 2); }
      } else {
        r = await nodeHash(r, p);
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    return sn === 0 && equal(r, rootHash);
  }

  // C2SP signed note: text, a blank line, then "— <name> <base64(key id || signature)>" lines
  function parseNote(note) {
    const split = note.lastIndexOf("\n\n");
    if (split < 0 || !note.endsWith("\n")) throw new Error("not a signed note");
    const text = note.slice(0, split + 1);
    const signatures = note.slice(split + 2).split("\n").slice(0, -1).map((line) => {
      if (!line.startsWith("\u2014 ")) throw new Error("bad signature line");
      const rest = line.slice(2);
      const space = rest.indexOf(" ");
      const payload = fromB64(rest.slice(space + 1));
      return { name: rest.slice(0, space), keyId: payload.slice(0, 4), body: payload.slice(4) };
    });
    const [origin, size, rootB64] = text.slice(0, -1).split("\n");
    if (!/^(0|[1-9][0-9]*)$/.test(size)) throw new Error("bad tree size");
    return { text, signatures, origin, size: Number(size), root: fromB64(rootB64) };
  }

  async function keyId(name, type, publicKey) {
    return (await sha256(concat(encoder.encode(name + "\n"), Uint8Array.of(type), publicKey))).slice(0, 4);
  }

  // RFC 8785: sorted keys (UTF-16 code units, JavaScript's default sort), ECMAScript
  // serialisation of strings and numbers — which is what JSON.stringify does for them
  function jcs(value) {
    if (value === null || typeof value !== "object") return JSON.stringify(value);
    if (Array.isArray(value)) return "[" + value.map(jcs).join(",") + "]";
    return "{" + Object.keys(value).sort()
      .map((k) => JSON.stringify(k) + ":" + jcs(value[k])).join(",") + "}";
  }

  function show(ok, text, detail) {
    const item = document.createElement("li");
    item.className = ok ? "check-ok" : "check-failed";
    item.dataset.result = ok ? "passed" : "failed";
    const mark = document.createElement("strong");
    mark.textContent = ok ? say("passed") : say("failed");
    item.append(mark, " ", text);
    if (detail) {
      const small = document.createElement("span");
      small.className = "muted detail";
      small.dir = "ltr";
      small.textContent = " " + detail;
      item.append(small);
    }
    list.append(item);
    return ok;
  }

  function finish(state, text) {
    root.dataset.state = state;
    summary.className = "verify-summary verify-" + state;
    summary.textContent = text;
  }

  async function run() {
    finish("checking", say("checking"));
    const response = await fetch(root.dataset.proofUrl, {
      credentials: "same-origin", headers: { Accept: "application/json" },
    });
    if (!response.ok) throw new Error("HTTP " + response.status);
    const bundle = await response.json();
    if (!bundle.entries.length || !bundle.checkpoint) {
      finish("pending", say("pending_none"));
      return;
    }
    let allOk = true;
    const note = parseNote(bundle.checkpoint);
    const operator = bundle.operator_key;
    const operatorKey = fromB64(operator.public_key);
    const operatorId = await keyId(operator.name, 0x01, operatorKey);
    const operatorLines = note.signatures.filter((s) => s.name === operator.name && equal(s.keyId, operatorId));
    let operatorOk = note.origin === bundle.origin && operatorLines.length > 0;
    for (const line of operatorLines) {
      operatorOk = (await ed25519Verify(operatorKey, line.body, encoder.encode(note.text))) && operatorOk;
    }
    allOk = show(operatorOk, say("check_operator", { size: note.size, origin: note.origin }), operator.vkey) && allOk;

    let witnessed = 0;
    for (const witness of bundle.witness_keys) {
      const key = fromB64(witness.public_key);
      const id = await keyId(witness.name, 0x04, key);
      const line = note.signatures.find((s) => s.name === witness.name && equal(s.keyId, id));
      let ok = false;
      if (line && line.body.length === 72) {
        const time = new DataView(line.body.buffer, line.body.byteOffset, 8).getBigUint64(0);
        const message = encoder.encode("cosignature/v1\ntime " + time.toString() + "\n" + note.text);
        ok = await ed25519Verify(key, line.body.slice(8), message);
      }
      witnessed += ok ? 1 : 0;
      allOk = show(ok, say("check_witness", { name: witness.institution, code: witness.name })) && allOk;
    }
    if (!bundle.witness_keys.length) {
      const item = document.createElement("li");
      item.className = "check-note";
      item.textContent = say("no_witness");
      list.append(item);
    }

    for (const entry of bundle.entries) {
      const leaf = fromB64(entry.leaf);
      const step = messages["kind_" + entry.kind.replace(/\W/g, "_")] || entry.kind;
      const included = await verifyInclusion(
        await leafHash(leaf), entry.seq, note.size, entry.proof.map(fromB64), note.root);
      allOk = show(included, say("check_inclusion", { seq: entry.seq, step })) && allOk;

      let signedOk = false, signer = entry.signer;
      try {
        const parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(leaf));
        const statement = parsed.statement;
        const key = bundle.signer_keys.find((k) => k.signer === statement.signer && k.key_id === statement.key_id);
        if (key && parsed.seq === entry.seq) {
          signer = key.institution;
          const raw = fromB64(key.public_key);
          const idOk = hex((await sha256(raw)).slice(0, 8)) === statement.key_id;
          const message = encoder.encode("remit-ledger/v1/statement\n" + jcs(statement));
          signedOk = idOk && (await ed25519Verify(raw, fromB64(parsed.sig), message));
        }
      } catch (error) {
        if (error instanceof Unsupported) throw error;
        signedOk = false;
      }
      allOk = show(signedOk, say("check_statement", { seq: entry.seq, signer })) && allOk;
    }

    if (!allOk) finish("failed", say("summary_failed"));
    else if (bundle.pending > 0) finish("passed", say("summary_passed") + " " + say("pending_some", { n: bundle.pending }));
    else finish("passed", say("summary_passed"));
  }

  run().catch((error) => {
    if (error instanceof Unsupported) finish("error", say("unsupported"));
    else finish("error", say("error", { error: error.message }));
  });
})();
