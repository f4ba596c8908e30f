// The app the runtime-conformance suites deploy: plain functions, no custom image.
import { App } from "ferry";

export const app = new App("conformance");

export const square = app.function({}, (x: number) => x * x);

export const greet = app.function({}, (name: string) => `hello ${name}`);

export const fail = app.function({}, (message: string) => {
  class QuotaExceeded extends Error {
    override name = "QuotaExceeded";
  }
  throw new QuotaExceeded(message);
});
