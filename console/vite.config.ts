import { defineConfig } from "vite";

// The console is served under /console/ (locally by the stack, deployed by CloudFront from S3).
// JSX compiles to Preact's automatic runtime (tsconfig: jsxImportSource), with no Babel plugin.
export default defineConfig({
  base: "/console/",
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false, target: "es2022", assetsInlineLimit: 0 },
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
});
