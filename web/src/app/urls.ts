// URLs the server hands out (hlsUrl, janusUrl) name serve's public origin. Under the
// Vite dev server that is another origin, so in development they are pointed at the
// page's own origin, where the dev proxy forwards them.

export function viaPageOrigin(url: string, dev: boolean = import.meta.env.DEV): string {
  if (!dev || typeof location === 'undefined') return url;
  try {
    const u = new URL(url, location.href);
    const page = new URL(location.href);
    u.host = page.host;
    if (u.protocol === 'ws:' || u.protocol === 'wss:') u.protocol = page.protocol === 'https:' ? 'wss:' : 'ws:';
    else u.protocol = page.protocol;
    return u.toString();
  } catch {
    return url;
  }
}
