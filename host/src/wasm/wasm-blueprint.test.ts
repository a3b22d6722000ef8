import { join } from "node:path";
import { crc32 } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Conductor, createConductor } from "../conductor.js";
import { repositoryPath } from "../package-dir.js";

// The modules are built by scripts/setup-wasm.sh (examples/wasm/build.sh), which scripts/setup.sh runs.
const example = repositoryPath("examples", "wasm");

/** The example's image and blur, in TypeScript: what the C++ nodes must agree with. */
function referenceBlur(width: number, height: number): Uint8Array {
  const pixels = new Uint8Array(width * height);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) pixels[y * width + x] = ((x + y) * 7) & 0xff;
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let sum = 0;
      let count = 0;
      for (let dy = -1; dy <= 1; dy++)
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          const ny = y + dy;
          if (nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
          sum += pixels[ny * width + nx]!;
          count++;
        }
      out[y * width + x] = Math.floor(sum / count);
    }
  }
  return out;
}

describe("a blueprint of built-in, TypeScript and WebAssembly nodes", () => {
  let conductor: Conductor;
  beforeAll(async () => {
    conductor = await createConductor({ projectDir: example });
  });
  afterAll(() => conductor.close());

  it("runs the example and gives what TypeScript and zlib compute", async () => {
    const result = await conductor.run(join(example, "image-report.blueprint.yaml"));
    expect(result.status).toBe("completed");
    const crc = crc32(referenceBlur(640, 480));
    expect(result.outputs).toEqual({
      checksum: crc,
      report: `307200 pixels blurred, CRC-32 ${crc.toString(16).padStart(8, "0")}; caption: 6 words, 41 characters`,
    });
    expect(Object.entries(result.nodes).map(([id, node]) => [id, node.runtime])).toEqual(
      expect.arrayContaining([
        ["image", "builtin"],
        ["blur", "wasm"],
        ["checksum", "wasm"],
        ["caption", "wasm"],
        ["report", "builtin"],
      ]),
    );
  });

  it("fails only the execution whose wasm node misbehaves; the others complete", async () => {
    const failing = conductor.run(
      {
        conductor: "blueprint/v1",
        id: "bad-config",
        nodes: {
          image: { type: "example.test-image", inputs: { width: { value: 4 }, height: { value: 4 } } },
          blur: { type: "cpp.box-blur", config: { width: 5, height: 4 }, inputs: { pixels: "image.pixels" } },
        },
      },
      {},
    );
    const fine = conductor.run(join(example, "image-report.blueprint.yaml"));
    const [bad, good] = await Promise.all([failing, fine]);
    expect(bad.status).toBe("failed");
    expect(bad.failure?.message).toBe(
      'wasm module "nodes/checksum.wasm" (node type "cpp.box-blur") failed: config width * height must equal the number of pixels',
    );
    expect(good.status).toBe("completed");
  });
});
