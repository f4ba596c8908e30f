/** Lifecycle hooks: run by the platform, never callable as methods. */
export const LIFECYCLE_HOOKS = ["enter", "exit"] as const;

/** A class's callable methods: functions on its prototype chain, its lifecycle hooks and constructor aside. */
export const classMethods = (userClass: abstract new () => object): string[] => {
  const names = new Set<string>();
  for (let proto = userClass.prototype as object | null; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      const d = Object.getOwnPropertyDescriptor(proto, name);
      if (name === "constructor" || (LIFECYCLE_HOOKS as ReadonlyArray<string>).includes(name) || typeof d?.value !== "function") continue;
      names.add(name);
    }
  }
  return [...names];
};

/** Method names, lifecycle hooks excluded, of an instance type. */
export type MethodNames<T> = {
  [K in keyof T]: K extends (typeof LIFECYCLE_HOOKS)[number] ? never : T[K] extends (...args: never[]) => unknown ? K : never;
}[keyof T] & string;

/** The parameters `with()` accepts: the instance's data fields, each optional. */
export type ClassParams<T> = { readonly [K in keyof T as T[K] extends (...args: never[]) => unknown ? never : K]?: T[K] };
