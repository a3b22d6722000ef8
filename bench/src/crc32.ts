/**
 * CRC-32 (IEEE, as zlib computes it) in TypeScript, slicing by 8: the same algorithm as the C++ WebAssembly node
 * `cpp.crc32` and the Rust node `rs.crc32`, so the checksum benchmark compares one algorithm in three forms.
 */
const tables: Uint32Array[] = (() => {
  const table = Array.from({ length: 8 }, () => new Uint32Array(256));
  for (let i = 0; i < 256; i++) {
    let crc = i;
    for (let bit = 0; bit < 8; bit++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
    table[0]![i] = crc >>> 0;
  }
  for (let i = 0; i < 256; i++)
    for (let slice = 1; slice < 8; slice++)
      table[slice]![i] = (table[slice - 1]![i]! >>> 8) ^ table[0]![table[slice - 1]![i]! & 0xff]!;
  return table;
})();

export function crc32(data: Uint8Array): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = tables as [
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
  ];
  let crc = 0xffffffff;
  let at = 0;
  const end8 = data.length - (data.length % 8);
  for (; at < end8; at += 8) {
    const low = (data[at]! | (data[at + 1]! << 8) | (data[at + 2]! << 16) | (data[at + 3]! << 24)) ^ crc;
    const high = data[at + 4]! | (data[at + 5]! << 8) | (data[at + 6]! << 16) | (data[at + 7]! << 24);
    crc =
      t7[low & 0xff]! ^
      t6[(low >>> 8) & 0xff]! ^
      t5[(low >>> 16) & 0xff]! ^
      t4[low >>> 24]! ^
      t3[high & 0xff]! ^
      t2[(high >>> 8) & 0xff]! ^
      t1[(high >>> 16) & 0xff]! ^
      t0[high >>> 24]!;
  }
  for (; at < data.length; at++) crc = (crc >>> 8) ^ t0[(crc ^ data[at]!) & 0xff]!;
  return (crc ^ 0xffffffff) >>> 0;
}
