import { describe, it, expect } from "vitest";
import { runInNewContext } from "node:vm";
import {
  ValueCodecError,
  decodeFromJson,
  decodeValue,
  encodeToJson,
  encodeValue,
  serializeError,
} from "../src/codec/index.ts";

/** Round trip through the real wire form: JSON text. */
function viaJson<T>(value: T): T {
  return decodeFromJson(encodeToJson(value)) as T;
}

/** Round trip through the in-memory tree, checking it is JSON-compatible on the way. */
function viaTree<T>(value: T): T {
  const encoded = encodeValue(value);
  expect(JSON.parse(JSON.stringify(encoded))).toStrictEqual(encoded);
  return decodeValue(encoded) as T;
}

function refusal(value: unknown, rootPath?: string): ValueCodecError {
  try {
    encodeValue(value, rootPath);
  } catch (err) {
    expect(err).toBeInstanceOf(ValueCodecError);
    return err as ValueCodecError;
  }
  throw new Error("expected encodeValue to refuse the value");
}

function malformation(encoded: unknown): ValueCodecError {
  try {
    decodeValue(encoded);
  } catch (err) {
    expect(err).toBeInstanceOf(ValueCodecError);
    return err as ValueCodecError;
  }
  throw new Error("expected decodeValue to reject the input");
}

function randomBytes(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 255;
  }
  return bytes;
}

describe("primitives", () => {
  it("round-trips strings, booleans, null and undefined", () => {
    for (const value of ["", "héllo 🌍", "\u0000\n\"", "\ud800 lone surrogate", true, false, null, undefined]) {
      expect(viaJson(value)).toBe(value);
      expect(viaTree(value)).toBe(value);
    }
  });

  it("round-trips every number including NaN, ±Infinity and -0", () => {
    for (const value of [0, -0, 1, -1.5, Number.MAX_VALUE, Number.MIN_VALUE, Number.MAX_SAFE_INTEGER, NaN, Infinity, -Infinity]) {
      expect(Object.is(viaJson(value), value)).toBe(true);
      expect(Object.is(viaTree(value), value)).toBe(true);
    }
    expect(Object.is(viaJson([-0])[0], -0)).toBe(true);
  });

  it("round-trips BigInts of any size and sign", () => {
    for (const value of [0n, 1n, -1n, 2n ** 200n, -(3n ** 150n)]) {
      expect(viaJson(value)).toBe(value);
    }
  });
});

describe("plain JSON fast path", () => {
  const doc = {
    id: "fn_123",
    count: 42,
    ratio: 0.25,
    ok: true,
    nothing: null,
    tags: ["a", "b", ""],
    nested: { deep: [{ x: 1 }, [2, [3]]], empty: {} },
  };

  it("encodes plain JSON-shaped values to exactly JSON.stringify's output", () => {
    expect(encodeToJson(doc)).toBe(JSON.stringify(doc));
    expect(encodeToJson([1, "two", [3]])).toBe(JSON.stringify([1, "two", [3]]));
  });

  it("does not copy plain JSON trees on encode or decode", () => {
    expect(encodeValue(doc)).toBe(doc);
    expect(decodeValue(doc)).toBe(doc);
  });

  it("copies only the spine above a special value and leaves the input untouched", () => {
    const value = { keep: { a: [1, 2] }, change: { when: new Date(7) } };
    const encoded = encodeValue(value) as { keep: unknown; change: { when: unknown } };
    expect(encoded).not.toBe(value);
    expect(encoded.keep).toBe(value.keep);
    expect(encoded.change.when).toEqual({ $f: "date", v: 7 });
    expect(value.change.when).toBeInstanceOf(Date);
  });
});

describe("objects and arrays", () => {
  it("keeps keys whose value is undefined", () => {
    const decoded = viaJson({ a: undefined, b: [undefined, 1] });
    expect(Object.keys(decoded)).toEqual(["a", "b"]);
    expect(decoded).toStrictEqual({ a: undefined, b: [undefined, 1] });
  });

  it("keeps null-prototype objects null-prototype", () => {
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { x: 1, inner: { y: 2n } });
    const decoded = viaJson(bare);
    expect(Object.getPrototypeOf(decoded)).toBeNull();
    expect(Object.getPrototypeOf(decoded.inner)).toBe(Object.prototype);
    expect({ ...decoded }).toStrictEqual({ x: 1, inner: { y: 2n } });
  });

  it("turns array holes into undefined and keeps the length", () => {
    // eslint-disable-next-line no-sparse-arrays
    const decoded = viaJson([1, , 3, , ]);
    expect(decoded).toHaveLength(4);
    expect(1 in decoded).toBe(true);
    expect(decoded).toStrictEqual([1, undefined, 3, undefined]);
  });

  it("round-trips object keys that look like codec tags", () => {
    const tricky = [
      { $f: "date", v: 1 },
      { $f: "u" },
      { $f: "obj", v: { $f: "map", v: [] } },
      { $f: 1, props: { $f: "err" }, v: undefined },
      { nested: { $f: "big", v: "10" }, when: new Date(3) },
    ];
    expect(viaJson(tricky)).toStrictEqual(tricky);
    expect(viaTree(tricky)).toStrictEqual(tricky);
  });

  it("round-trips a __proto__ own key as data without touching prototypes", () => {
    const value = JSON.parse('{"__proto__": {"polluted": true}, "n": 1}') as Record<string, unknown>;
    value.d = new Date(0); // forces the copying path
    const decoded = viaJson(value);
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(Object.hasOwn(decoded, "__proto__")).toBe(true);
    expect(Object.getOwnPropertyDescriptor(decoded, "__proto__")?.value).toEqual({ polluted: true });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("duplicates shared references instead of preserving identity", () => {
    const shared = { n: 1 };
    const decoded = viaJson({ a: shared, b: shared, when: new Date(0) });
    expect(decoded.a).toEqual(shared);
    expect(decoded.b).toEqual(shared);
    expect(decoded.a).not.toBe(decoded.b);
  });

  it("drops symbol-keyed and non-enumerable properties", () => {
    const value: Record<string | symbol, unknown> = { kept: 1, [Symbol("s")]: 2 };
    Object.defineProperty(value, "hidden", { value: 3, enumerable: false });
    expect(viaJson(value)).toStrictEqual({ kept: 1 });
  });
});

describe("built-in types", () => {
  it("round-trips valid and invalid Dates", () => {
    const decoded = viaJson([new Date(0), new Date(-8.64e15), new Date("2024-02-29T12:34:56.789Z"), new Date(NaN)]);
    expect(decoded.every((d) => d instanceof Date)).toBe(true);
    expect(decoded.slice(0, 3).map((d) => d.toISOString())).toEqual([
      "1970-01-01T00:00:00.000Z",
      "-271821-04-20T00:00:00.000Z",
      "2024-02-29T12:34:56.789Z",
    ]);
    expect(Number.isNaN(decoded[3].getTime())).toBe(true);
  });

  it("round-trips a Map keyed by Dates whose values are Sets of BigInts", () => {
    const value = new Map<Date, Set<bigint>>([
      [new Date(1), new Set([1n, -2n, 2n ** 70n])],
      [new Date(2), new Set()],
    ]);
    const decoded = viaJson(value);
    expect(decoded).toBeInstanceOf(Map);
    expect(decoded).toStrictEqual(value);
    const [firstKey, firstValue] = [...decoded][0];
    expect(firstKey).toBeInstanceOf(Date);
    expect(firstKey.getTime()).toBe(1);
    expect([...firstValue]).toEqual([1n, -2n, 2n ** 70n]);
  });

  it("round-trips Maps and Sets with mixed, structured keys in insertion order", () => {
    const value = new Map<unknown, unknown>([
      ["s", 1],
      [1, "one"],
      [NaN, "nan"],
      [undefined, null],
      [{ compound: [1, 2] }, new Set([new Set(["inner"]), [1], { a: 1 }, undefined])],
    ]);
    const decoded = viaJson(value);
    expect(decoded).toStrictEqual(value);
    expect([...decoded.keys()].slice(0, 4)).toEqual(["s", 1, NaN, undefined]);
    expect(viaJson(new Set([3, 1, 2]))).toStrictEqual(new Set([3, 1, 2]));
  });

  it("round-trips a Uint8Array holding all 256 byte values", () => {
    const bytes = new Uint8Array(256).map((_, i) => i);
    const decoded = viaJson(bytes);
    expect(decoded).toBeInstanceOf(Uint8Array);
    expect(Array.from(decoded)).toEqual(Array.from(bytes));
  });

  it("round-trips a 1 MB Uint8Array", () => {
    const bytes = randomBytes(1 << 20, 12345);
    const json = encodeToJson({ blob: bytes });
    expect(json.length).toBeLessThan((1 << 20) * 1.34 + 64);
    const decoded = decodeFromJson(json) as { blob: Uint8Array };
    expect(decoded.blob).toBeInstanceOf(Uint8Array);
    expect(decoded.blob.length).toBe(bytes.length);
    expect(decoded.blob).toEqual(bytes);
  });

  it("round-trips byte lengths around base64 padding boundaries", () => {
    for (let length = 0; length <= 9; length++) {
      const bytes = randomBytes(length, length + 1);
      expect(viaJson(bytes)).toEqual(bytes);
    }
    expect(encodeValue(new Uint8Array([104, 105]))).toEqual({ $f: "Uint8Array", v: "aGk=" });
  });

  it("round-trips ArrayBuffer and DataView as their own types", () => {
    const buffer = new Uint8Array([1, 2, 3, 254, 255]).buffer;
    const decodedBuffer = viaJson(buffer);
    expect(decodedBuffer).toBeInstanceOf(ArrayBuffer);
    expect(Array.from(new Uint8Array(decodedBuffer))).toEqual([1, 2, 3, 254, 255]);

    const view = new DataView(new ArrayBuffer(8));
    view.setFloat64(0, Math.PI);
    const decodedView = viaJson(view);
    expect(decodedView).toBeInstanceOf(DataView);
    expect(decodedView.byteLength).toBe(8);
    expect(decodedView.getFloat64(0)).toBe(Math.PI);
  });

  it("round-trips every typed array type with its values", () => {
    const arrays = [
      new Int8Array([-128, 0, 127]),
      new Uint8ClampedArray([0, 128, 255]),
      new Int16Array([-32768, 32767]),
      new Uint16Array([0, 65535]),
      new Int32Array([-(2 ** 31), 2 ** 31 - 1, 7]),
      new Uint32Array([0, 2 ** 32 - 1]),
      new Float32Array([1.5, -0, NaN, Infinity, 3.4e38]),
      new Float64Array([Math.PI, -0, NaN, -Infinity, Number.MIN_VALUE]),
      new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n]),
      new BigUint64Array([0n, 2n ** 64n - 1n]),
    ];
    for (const array of arrays) {
      const decoded = viaJson(array);
      expect(decoded.constructor).toBe(array.constructor);
      expect(decoded).toStrictEqual(array);
      expect(Object.is(decoded[1], array[1])).toBe(true);
    }
  });

  it("sends only the bytes a view covers", () => {
    const backing = new Uint8Array([9, 9, 1, 0, 2, 0, 9, 9]);
    const window = new Uint16Array(backing.buffer, 2, 2);
    const decoded = viaJson(window);
    expect(decoded).toStrictEqual(new Uint16Array([1, 2]));
    expect(decoded.buffer.byteLength).toBe(4);
    expect(viaJson(backing.subarray(6))).toStrictEqual(new Uint8Array([9, 9]));
  });
});

describe("errors", () => {
  it("round-trips built-in error types with name, message and stack", () => {
    for (const err of [new Error("plain"), new TypeError("type"), new RangeError("range"), new SyntaxError("syntax"), new URIError("")]) {
      const decoded = viaJson(err);
      expect(decoded).toBeInstanceOf(err.constructor as ErrorConstructor);
      expect(Object.getPrototypeOf(decoded)).toBe(Object.getPrototypeOf(err));
      expect(decoded.name).toBe(err.name);
      expect(decoded.message).toBe(err.message);
      expect(decoded.stack).toBe(err.stack);
      expect(decoded).toStrictEqual(err);
    }
  });

  it("keeps cause chains, custom names and extra properties like code", () => {
    class DbError extends Error {
      override name = "DbError";
      code = "E_CONN";
      retryable = true;
    }
    const root = Object.assign(new RangeError("port out of range"), { port: 70000n });
    const middle = new DbError("connect failed", { cause: root });
    const top = new Error("request failed", { cause: middle });

    const decoded = viaJson(top);
    expect(decoded).toBeInstanceOf(Error);
    expect(decoded.message).toBe("request failed");
    expect(decoded.stack).toBe(top.stack);

    const decodedMiddle = decoded.cause as Error & { code: string; retryable: boolean };
    expect(decodedMiddle).toBeInstanceOf(Error);
    expect(decodedMiddle.name).toBe("DbError");
    expect(decodedMiddle.message).toBe("connect failed");
    expect(decodedMiddle.stack).toBe(middle.stack);
    expect(decodedMiddle.code).toBe("E_CONN");
    expect(decodedMiddle.retryable).toBe(true);

    const decodedRoot = decodedMiddle.cause as RangeError & { port: bigint };
    expect(decodedRoot).toBeInstanceOf(RangeError);
    expect(decodedRoot.port).toBe(70000n);
    expect(decodedRoot.stack).toBe(root.stack);
    expect(decoded).toEqual(top);
  });

  it("keeps a custom name set on the prototype and a non-Error cause", () => {
    class QuotaError extends Error {}
    QuotaError.prototype.name = "QuotaError";
    const err = new QuotaError("over quota", { cause: { limit: 10, used: new Set([1]) } });
    const decoded = viaJson(err);
    expect(decoded.name).toBe("QuotaError");
    expect(decoded.cause).toStrictEqual({ limit: 10, used: new Set([1]) });
    expect(String(decoded)).toBe("QuotaError: over quota");
  });

  it("keeps AggregateError.errors and the absence of a cause or stack", () => {
    const agg = new AggregateError([new TypeError("a"), "b"], "several");
    const decoded = viaJson(agg);
    expect(decoded).toBeInstanceOf(AggregateError);
    expect(decoded.errors).toStrictEqual(agg.errors);
    expect(Object.hasOwn(decoded, "cause")).toBe(false);

    const stackless = new Error("no stack");
    delete stackless.stack;
    expect(viaJson(stackless).stack).toBeUndefined();
    expect(Object.hasOwn(viaJson(new Error("x", { cause: undefined })), "cause")).toBe(true);
  });

  it("encodes errors nested in ordinary values", () => {
    const value = { results: [1, new Error("second failed")], byId: new Map([["a", new TypeError("bad")]]) };
    const decoded = viaJson(value);
    expect(decoded.results[1]).toBeInstanceOf(Error);
    expect(decoded.byId.get("a")).toBeInstanceOf(TypeError);
    expect(decoded).toEqual(value);
  });
});

describe("JSON string round trip", () => {
  it("reproduces a value mixing every supported type", () => {
    const value = {
      s: "text",
      n: [0, -0, NaN, Infinity, -Infinity, 1e-300],
      b: [true, false],
      nil: null,
      u: undefined,
      big: -123456789012345678901234567890n,
      when: new Date(1_700_000_000_000),
      map: new Map<unknown, unknown>([[new Date(5), new Set([1n])], ["k", { $f: "literal" }]]),
      bytes: new Uint8Array([0, 255]),
      floats: new Float32Array([0.5]),
      buffer: new ArrayBuffer(2),
      err: Object.assign(new TypeError("boom", { cause: new Error("root") }), { code: "E_BOOM" }),
    };
    const json = encodeToJson(value, "args");
    expect(typeof json).toBe("string");
    const decoded = decodeFromJson(json) as typeof value;
    expect(decoded).toStrictEqual(value);
    expect(Object.is(decoded.n[1], -0)).toBe(true);
    expect(decoded.err.stack).toBe(value.err.stack);
    expect(encodeToJson(decoded, "args")).toBe(json);
  });
});

describe("refusals", () => {
  it("names the exact path of a function nested in arrays, objects and Map values", () => {
    const value = [0, { user: { hooks: [{ ok: 1 }, new Map<string, unknown>([["a", 1], ["onDone", { callback: () => 1 }]])] } }];
    const err = refusal(value, "args");
    expect(err.message).toBe('Cannot send value at args[1].user.hooks[1].get("onDone").callback: functions are not serializable');
    expect(err.path).toBe('args[1].user.hooks[1].get("onDone").callback');
    expect(err.name).toBe("ValueCodecError");
    expect(err.reason).toBe("functions are not serializable");
  });

  it("uses the spec's path notation for simple object and array paths", () => {
    expect(refusal([1, { user: { callback() {} } }], "args").message).toBe(
      "Cannot send value at args[1].user.callback: functions are not serializable",
    );
    expect(refusal({ "odd key": [() => 1] }).path).toBe('value["odd key"][0]');
    expect(refusal(new Set([1, 2, () => 1])).path).toBe("value.values()[2]");
    expect(refusal(new Map([[{ k: 1 }, Symbol("v")]])).path).toBe("value.values()[0]");
    expect(refusal(new Map([[Symbol("k"), 1]])).path).toBe("value.keys()[0]");
  });

  it("refuses symbols with their path", () => {
    expect(refusal({ id: Symbol("x") }, "result").message).toBe("Cannot send value at result.id: symbols are not serializable");
    expect(refusal(Symbol.iterator).path).toBe("value");
  });

  it("refuses class instances and names the class", () => {
    class Foo {
      x = 1;
    }
    const err = refusal({ items: [1, 2, 3, new Foo()] }, "result");
    expect(err.message).toBe("Cannot send value at result.items[3]: class instance of Foo is not serializable");
    class MyMap extends Map {}
    expect(refusal({ m: new MyMap() }).message).toContain("value.m: class instance of MyMap is not serializable");
    expect(refusal([new WeakMap()]).message).toContain("value[0]: class instance of WeakMap");
    expect(refusal({ p: Promise.resolve(1) }).message).toContain("class instance of Promise is not serializable (await it");
    expect(refusal(/re/).message).toContain("class instance of RegExp");
    expect(refusal({ o: Object.create({ inherited: 1 }) }).message).toBe(
      "Cannot send value at value.o: object with a custom prototype is not serializable",
    );
  });

  it("refuses cycles, naming both ends", () => {
    const node: Record<string, unknown> = { name: "root", children: [] };
    (node.children as unknown[]).push({ name: "child", parent: node });
    const err = refusal({ tree: node }, "args[0]");
    expect(err.message).toBe("Cannot send value at args[0].tree.children[0].parent: circular reference to args[0].tree");
    expect(err.path).toBe("args[0].tree.children[0].parent");

    const map = new Map<string, unknown>();
    map.set("self", [map]);
    expect(refusal(map).message).toBe('Cannot send value at value.get("self")[0]: circular reference to value');

    const loop = new Error("loop");
    loop.cause = loop;
    expect(refusal(loop).path).toBe("value.cause");
  });

  it("refuses absurdly deep nesting with a ValueCodecError instead of a stack overflow", () => {
    let deep: unknown = 1;
    for (let i = 0; i < 200_000; i++) deep = [deep];
    const err = refusal(deep);
    expect(err.reason).toBe("value is nested too deeply");
  });

  it("reports getters that throw with their path", () => {
    const value = {
      get broken(): never {
        throw new Error("nope");
      },
    };
    const err = refusal({ a: value });
    expect(err.path).toBe("value.a.broken");
    expect(err.message).toContain("nope");
  });
});

describe("values from another realm", () => {
  it("encodes plain objects, built-ins and errors created in a vm context", () => {
    const foreign = runInNewContext(`({
      obj: { a: [1, 2] },
      when: new Date(9),
      map: new Map([[1, new Set(["x"])]]),
      bytes: new Uint8Array([1, 2]),
      err: new TypeError("foreign"),
    })`) as Record<string, unknown>;
    const decoded = viaJson(foreign) as Record<string, unknown>;
    expect(Object.getPrototypeOf(decoded.obj)).toBe(Object.prototype);
    expect(decoded.when).toBeInstanceOf(Date);
    expect((decoded.when as Date).getTime()).toBe(9);
    expect(decoded.map).toStrictEqual(new Map([[1, new Set(["x"])]]));
    expect(decoded.bytes).toStrictEqual(new Uint8Array([1, 2]));
    expect(decoded.err).toBeInstanceOf(TypeError);
    expect((decoded.err as Error).message).toBe("foreign");
    expect(refusal(runInNewContext("class Foo {}; ({ x: new Foo() })")).message).toContain("class instance of Foo");
  });
});

describe("malformed input", () => {
  const cases: [string, unknown, string][] = [
    ["unknown tag", { items: [1, { $f: "nope" }] }, "value.items[1]"],
    ["non-string tag", { $f: 42 }, "value"],
    ["bad BigInt", [{ $f: "big", v: "12x" }], "value[0]"],
    ["empty BigInt", { $f: "big", v: "" }, "value"],
    ["bad special number", { $f: "n", v: "NAN" }, "value"],
    ["bad date", { $f: "date", v: "2024-01-01" }, "value"],
    ["odd Map payload", { $f: "map", v: [1, 2, 3] }, "value"],
    ["Map payload not an array", { $f: "map", v: {} }, "value"],
    ["bad Map value", { $f: "map", v: ["k", { $f: "zzz" }] }, 'value.get("k")'],
    ["Set payload not an array", { x: { $f: "set" } }, "value.x"],
    ["invalid base64", { $f: "Uint8Array", v: "AQID!" }, "value"],
    ["base64 with foreign characters", { $f: "Uint8Array", v: "AQ\u00e9D" }, "value"],
    ["misaligned typed array", { $f: "Float32Array", v: "AQID" }, "value"],
    ["non-string error message", { $f: "err", name: "Error", message: 1 }, "value"],
    ["bad error props", { $f: "err", name: "Error", message: "m", props: [1] }, "value"],
    ["bad error cause", { $f: "err", name: "Error", message: "m", cause: { $f: "?" } }, "value.cause"],
    ["escaped object payload not an object", { $f: "obj", v: "x" }, "value"],
    ["non-finite number", { a: NaN }, "value.a"],
    ["raw undefined", { a: [undefined] }, "value.a[0]"],
    ["array hole", [1, , 2], "value[1]"], // eslint-disable-line no-sparse-arrays
    ["function", { f: () => 1 }, "value.f"],
    ["class instance", { d: new Date() }, "value.d"],
  ];
  for (const [label, encoded, path] of cases) {
    it(`rejects ${label} with its path`, () => {
      const err = malformation(encoded);
      expect(err.path).toBe(path);
      expect(err.message).toMatch(/^Cannot decode value at /);
      expect(err.message).toContain(path);
    });
  }

  it("rejects invalid JSON text with a ValueCodecError", () => {
    expect(() => decodeFromJson("{not json")).toThrow(ValueCodecError);
    expect(() => decodeFromJson('{"$f":"big","v":1}')).toThrow(/BigInt payload/);
  });

  it("never mutates the tree it decodes", () => {
    const encoded = encodeValue({ a: [new Date(1), { b: 2n }], m: new Map([[1, 2]]) });
    const before = JSON.stringify(encoded);
    decodeValue(encoded);
    expect(JSON.stringify(encoded)).toBe(before);
  });
});

describe("serializeError", () => {
  it("encodes Errors exactly", () => {
    const err = Object.assign(new TypeError("bad input", { cause: new Error("root") }), { code: "E_INPUT" });
    const decoded = decodeValue(serializeError(err)) as TypeError & { code: string };
    expect(decoded).toBeInstanceOf(TypeError);
    expect(decoded.stack).toBe(err.stack);
    expect(decoded.code).toBe("E_INPUT");
    expect(decoded).toEqual(err);
  });

  it("passes serializable non-Error throws through as themselves", () => {
    expect(decodeValue(serializeError("a thrown string"))).toBe("a thrown string");
    expect(decodeValue(serializeError(null))).toBeNull();
    expect(decodeValue(serializeError(undefined))).toBeUndefined();
    expect(decodeValue(serializeError({ status: 404 }))).toEqual({ status: 404 });
  });

  it("turns an unserializable non-Error throw into a descriptive Error", () => {
    const decoded = decodeValue(serializeError({ status: 500, retry: () => 1 })) as Error;
    expect(decoded).toBeInstanceOf(Error);
    expect(decoded.message).toBe(
      "Thrown value is not serializable: Cannot send value at error.retry: functions are not serializable",
    );
    expect((decodeValue(serializeError(Symbol("s"))) as Error).message).toContain("symbols are not serializable");
    expect(decodeValue(serializeError(() => 1))).toBeInstanceOf(Error);
  });

  it("salvages Errors whose extra parts cannot be sent", () => {
    const err = Object.assign(new RangeError("too big"), { code: "E_BIG", handler: () => 1 });
    const cyclic = new Error("cyclic", { cause: err });
    err.cause = cyclic;
    const decoded = decodeValue(serializeError(cyclic)) as Error;
    expect(decoded.message).toBe("cyclic");
    expect(decoded.stack).toBe(cyclic.stack);
    const cause = decoded.cause as RangeError & { code: string; handler?: unknown };
    expect(cause).toBeInstanceOf(RangeError);
    expect(cause.code).toBe("E_BIG");
    expect(cause.handler).toBeUndefined();
    expect(cause.cause).toBeInstanceOf(Error);
    expect((cause.cause as Error).message).toContain("circular reference");
  });

  it("never throws, even for hostile values", () => {
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error("get trap");
        },
        ownKeys() {
          throw new Error("ownKeys trap");
        },
        getPrototypeOf() {
          throw new Error("getPrototypeOf trap");
        },
      },
    );
    const badGetters = new Error("x");
    // V8 formats stacks lazily via the message, so read it before the getter breaks.
    const stack = badGetters.stack;
    Object.defineProperty(badGetters, "message", {
      get() {
        throw new Error("message getter");
      },
    });
    for (const thrown of [hostile, badGetters, Object.create(null), new WeakSet(), Promise.reject(new Error("later")).catch(() => 0)]) {
      const encoded = serializeError(thrown);
      expect(() => JSON.stringify(encoded)).not.toThrow();
      expect(() => decodeFromJson(JSON.stringify(encoded))).not.toThrow();
    }
    const decoded = decodeValue(serializeError(badGetters)) as Error;
    expect(decoded).toBeInstanceOf(Error);
    expect(decoded.message).toBe("");
    expect(decoded.stack).toBe(stack);
  });
});
