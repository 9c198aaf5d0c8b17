/**
 * Module types for what the Worker bundle imports besides code (wrangler.toml `[[rules]]`):
 * configuration text as Text modules, Cedar's WebAssembly as a CompiledWasm module.
 */
declare module '*.yaml' {
  const text: string;
  export default text;
}
declare module '*.cedar' {
  const text: string;
  export default text;
}
declare module '*.cedarschema' {
  const text: string;
  export default text;
}
declare module '*.wasm' {
  const module: WebAssembly.Module;
  export default module;
}
