export { CLS_BRAND, FerryCls, type ClassInstance, type ClassOptions, type ClsHandle, type UserClass } from "./cls.ts";
export { Cls } from "./cls-lookup.ts";
export { FerryMethod } from "./method-handle.ts";
export { UnknownMethodError } from "./unknown-method-error.ts";
export type { ClassParams, MethodNames } from "./class-members.ts";
