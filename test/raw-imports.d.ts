/** Vite's `?raw` suffix: a file's text as the module's default export (test fixtures read on any runtime). */
declare module '*?raw' {
  const text: string;
  export default text;
}
