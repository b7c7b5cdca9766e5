/// <reference types="vitest" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// `npm run dev` proxies the API, the Janus relay and LL-HLS to a running `amphi serve`
// (AMPHI_DEV_TARGET, default http://127.0.0.1:18080). The Host header is kept (no
// changeOrigin) so serve's Origin check on cookie POSTs sees the dev server's origin.
const target = process.env.AMPHI_DEV_TARGET ?? 'http://127.0.0.1:18080';

export default defineConfig({
  base: '/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    target: 'es2020',
    sourcemap: false,
  },
  server: {
    proxy: {
      '/api': { target },
      '/hls': { target },
      '/janus': { target: target.replace(/^http/, 'ws'), ws: true },
    },
  },
  test: {
    environment: 'jsdom',
    include: ['tests/**/*.test.{ts,tsx}'],
  },
});
