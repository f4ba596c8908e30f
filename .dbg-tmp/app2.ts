import ms from "ms";
import { App, Image } from "ferry";
export const app = new App("dbg2");
export const probe = app.function({ image: Image.base("ferry/node").npmInstall({ ms: "2.1.3" }) }, async () => ms("1h"));
