// The slice of the WebAssembly JS API the GEMM uses, typed here because the project's lib setting
// (ES2022, no DOM) declares no WebAssembly global; follows the WebAssembly JS API spec.

export interface WasmMemory {
  readonly buffer: SharedArrayBuffer;
  grow(deltaPages: number): number;
}

/** A compiled module: opaque here, passed to instances and posted to workers. */
export interface WasmModule {
  readonly __wasmModule?: never;
}

export interface WebAssemblyApi {
  validate(bytes: Uint8Array): boolean;
  Memory: new (descriptor: { initial: number; maximum: number; shared: true }) => WasmMemory;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: { env: { memory: WasmMemory } }) => { exports: Record<string, unknown> };
}

/** The global WebAssembly object, or undefined where the engine has none. */
export const webAssembly: WebAssemblyApi | undefined = (globalThis as unknown as { WebAssembly?: WebAssemblyApi })
  .WebAssembly;
