/** The example's TypeScript node: draws a grayscale test image, one byte per pixel, to feed the C++ nodes. */
import { defineNode, values } from "@conductor/sdk";
import { z } from "zod";

export const testImage = defineNode({
  type: "example.test-image",
  title: "Test image",
  description: "A width x height grayscale image of diagonal stripes, one byte per pixel, row by row.",
  input: {
    width: z.number().int().positive().max(16_384),
    height: z.number().int().positive().max(16_384),
  },
  output: { pixels: values.bytes(), width: z.number().int(), height: z.number().int() },
  flags: { deterministic: true },
  run: ({ width, height }) => {
    const pixels = new Uint8Array(width * height);
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) pixels[y * width + x] = ((x + y) * 7) & 0xff;
    return { pixels, width, height };
  },
});

export const report = defineNode({
  type: "example.report",
  title: "Image report",
  description: "One line about the blurred image and its caption.",
  input: {
    size: z.number().int(),
    crc: z.number().int(),
    words: z.number().int(),
    characters: z.number().int(),
  },
  output: { text: z.string() },
  flags: { deterministic: true },
  run: ({ size, crc, words, characters }) => ({
    text: `${size} pixels blurred, CRC-32 ${crc.toString(16).padStart(8, "0")}; caption: ${words} words, ${characters} characters`,
  }),
});
