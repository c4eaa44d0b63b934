/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// `npm run dev` serves the UI with hot reload and sends /api to a running Baton
// (`BATON_URL`, default the `make run` address). The proxy keeps the browser on one origin,
// so the session cookie and the CSRF token work as they do when Baton serves the UI.
const target = process.env.BATON_URL ?? "http://127.0.0.1:12345";

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: {
      "/api": { target, changeOrigin: true, headers: { origin: target } },
    },
  },
  build: {
    outDir: "dist",
    assetsDir: "assets",
    sourcemap: false,
    chunkSizeWarningLimit: 600,
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
