import { describe, expect, it } from "vitest";
import { sandboxImage, sandboxNetwork } from "../src/sandboxes/sandbox-host.ts";

const id = "a".repeat(64);

describe("a sandbox's start options", () => {
  it("name the built image it starts from, as a function container's options do", () => {
    expect(sandboxImage({ optionsJson: JSON.stringify({ image: { id, env: { A: "1" }, workdir: "/srv", root: "full" } }) }))
      .toEqual({ id, env: { A: "1" }, workdir: "/srv", root: "full" });
    // An overlay image leaves its root kind out; env and workdir default to none and "/".
    expect(sandboxImage({ optionsJson: JSON.stringify({ image: { id, root: "overlay" } }) })).toEqual({ id, env: {}, workdir: "/" });
  });

  it("without an image, or unreadable, start from the default image", () => {
    expect(sandboxImage({ optionsJson: JSON.stringify({ network: "none" }) })).toBeUndefined();
    expect(sandboxImage({ optionsJson: "null" })).toBeUndefined();
    expect(sandboxImage({ optionsJson: "{not json" })).toBeUndefined();
    expect(sandboxNetwork({ optionsJson: JSON.stringify({ image: { id }, network: "none" }) })).toBe("none");
  });
});
