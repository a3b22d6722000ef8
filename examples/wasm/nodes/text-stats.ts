// as.text-stats: a Conductor node in AssemblyScript compiled to WebAssembly (docs/webassembly.md).
// Built with: asc nodes/text-stats.ts --runtime stub --optimize (examples/wasm/build.sh).

/** Memory for the host to write the request into. */
export function conductor_alloc(size: i32): usize {
  return heap.alloc(<usize>size);
}

/** Inputs: text (a string). Outputs: words, lines and characters (code points) of the text. */
export function text_stats(request: usize, length: i32): i64 {
  const json = String.UTF8.decodeUnsafe(request, <usize>length);
  const text = stringField(json, "text");
  if (text === null) return answer('{"failure":{"type":"as.input","message":"input text is not a string"}}');
  let words = 0;
  let lines = text.length > 0 ? 1 : 0;
  let characters = 0;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    // A low surrogate continues the character its high surrogate began.
    if (code < 0xdc00 || code > 0xdfff) characters++;
    if (code === 10) lines++;
    const space = code === 32 || code === 9 || code === 10 || code === 13;
    if (!space && !inWord) words++;
    inWord = !space;
  }
  return answer(
    '{"outputs":{"words":' +
      words.toString() +
      ',"lines":' +
      lines.toString() +
      ',"characters":' +
      characters.toString() +
      "}}",
  );
}

function answer(json: string): i64 {
  const bytes = String.UTF8.encode(json);
  return (i64(changetype<usize>(bytes)) << 32) | i64(bytes.byteLength);
}

/** The JSON string value of "name": in the request, unescaped, or null when it is not a string. */
function stringField(json: string, name: string): string | null {
  const key = `"${name}":`;
  const at = json.indexOf(key);
  if (at < 0) return null;
  let i = at + key.length;
  if (i >= json.length || json.charCodeAt(i) !== 34) return null;
  i++;
  let out = "";
  let start = i;
  while (i < json.length) {
    const code = json.charCodeAt(i);
    if (code === 34) return out + json.substring(start, i);
    if (code === 92) {
      out += json.substring(start, i);
      const escaped = json.charCodeAt(i + 1);
      if (escaped === 110) out += "\n";
      else if (escaped === 116) out += "\t";
      else if (escaped === 114) out += "\r";
      else if (escaped === 98) out += "\b";
      else if (escaped === 102) out += "\f";
      else if (escaped === 117) {
        out += String.fromCharCode(<i32>parseInt(json.substring(i + 2, i + 6), 16));
        i += 4;
      } else out += String.fromCharCode(escaped);
      i += 2;
      start = i;
      continue;
    }
    i++;
  }
  return null;
}
