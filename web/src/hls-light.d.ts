// hls.js ships its "light" build (no alternate audio, subtitles, DRM, CMCD, content
// steering, interstitials: Amphi's LL-HLS is one muxed rendition) without its own types.
declare module 'hls.js/light' {
  import Hls from 'hls.js';
  export default Hls;
}
