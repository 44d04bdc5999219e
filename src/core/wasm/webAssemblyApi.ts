// The slice of the WebAssembly JS API the kernels use, typed here (and reached through globalThis)
// so that nothing depends on a lib setting; follows the WebAssembly JS API spec.

export interface WasmMemory {
  /** A SharedArrayBuffer when the memory is shared; an ArrayBuffer (replaced on every grow) otherwise. */
  readonly buffer: SharedArrayBuffer | ArrayBuffer;
  grow(deltaPages: number): number;
}

/** A compiled module: opaque here, passed to instances and posted to workers. */
export interface WasmModule {
  readonly __wasmModule?: never;
}

export type WasmImports = { env: { memory: WasmMemory } & Record<string, unknown> };

export interface WebAssemblyApi {
  validate(bytes: Uint8Array): boolean;
  Memory: new (descriptor: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: WasmImports) => { exports: Record<string, unknown> };
}

/** The global WebAssembly object, or undefined where the engine has none. */
export const webAssembly: WebAssemblyApi | undefined = (globalThis as unknown as { WebAssembly?: WebAssemblyApi })
  .WebAssembly;
