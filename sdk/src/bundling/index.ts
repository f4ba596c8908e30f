export * from "./bundle-app.ts";
export * from "./discover-app.ts";
