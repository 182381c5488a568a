/**
 * @module media
 * The static files of the account pages (user-1.0 §11): a stylesheet and
 * five small images drawn for this project (no files of the reference are
 * used). Served by `GET /media/<file>` with Content-Type text/html
 * (REF-QUIRK asserted by the reference test suite); unknown names, and
 * anything containing "/" or "..", are 404.
 */
import { fromBase64Padded as fromBase64 } from "../auth/encoding";

/** The one stylesheet of the setup and account pages (src/recovery/pages.ts). */
export const PAGES_CSS = `
body { margin: 0; padding: 0 1em; font: 15px/1.5 "Helvetica Neue", Arial, sans-serif; color: #1d2733; background: #eef3f9; }
#header { max-width: 40em; margin: 1.5em auto 0; }
#content { max-width: 40em; margin: 1em auto; }
.box { background: #fff; border: 1px solid #c9d6e6; border-radius: 6px; padding: 1em 1.5em 1.5em; }
h1 { font-size: 1.4em; margin: 0.2em 0 0.6em; color: #1f5fa8; }
label { font-weight: bold; }
input[type=text], input[type=password] { width: 100%; max-width: 22em; padding: 0.4em; font-size: 1em; border: 1px solid #8aa2bd; border-radius: 3px; box-sizing: border-box; }
input:focus { outline: 3px solid #f0b400; outline-offset: 1px; }
input[type=submit] { padding: 0.5em 1.2em; font-size: 1em; color: #fff; background: #1f5fa8; border: 0; border-radius: 3px; cursor: pointer; }
.error { color: #8b0000; background: #fdecea; border: 1px solid #e4a9a4; padding: 0.5em 0.8em; margin: 0.8em 0; }
h2 { font-size: 1.15em; margin: 1.4em 0 0.4em; color: #1f5fa8; border-bottom: 1px solid #c9d6e6; }
code { background: #eef3f9; padding: 0.1em 0.3em; border-radius: 3px; word-break: break-all; }
dt { font-weight: bold; }
.warn { background: #fff4de; border-left: 4px solid #f0b400; padding: 0.5em 1em; }
#footer { max-width: 40em; margin: 0 auto 2em; color: #44566b; }
#footer p { font-size: 0.85em; }
#footer a { color: #1f5fa8; }
`;

const IMAGES: Record<string, string> = {
  "weave-logo.png":
    "iVBORw0KGgoAAAANSUhEUgAAAKAAAAAwCAMAAAChd4FcAAAAOVBMVEX///8fX6g6crJ4nsq6zuTs8ff+/v5Qgrvb5fH///8nZKurw96sw94nZasvaq7r8feYttdCeLWvxuCrO2QfAAAAAXRSTlMAQObYZgAAAQlJREFUWMPt2dkOgyAUBFBRqCIu4P9/bFvFBorJfWiaGRLnzRtNTlCQpWliFFmaPGiOQERTJCLaIQnRClGIRkhAtEEUogkSEC0QhWjADYQA206bh9Fdi9ZdA/vBnhl6tK8Ejs6mmWYy4GJsHrNQAcdv30s4MgGdLeOIgH00rT6o4Nd4Be0pOTD23y1ebrEv0wDb3PcRpuOh/WckYHe836RyvOWOBaj3u3xS8XtFswCPMSYklbBXDAvwUd5VPHi3YNXfIH0vph8H6f8k/P9iNV20O9NsRs0X80HsnLq2GXWxJnFsaxJFv6p7h3xdzJUb+DOQXFjBDiu3sIpdfmYh+1ET+Wkd+Xnn6XoCcIFElnEsHCAAAAAASUVORK5CYII=",
  "table-top.png":
    "iVBORw0KGgoAAAANSUhEUgAAAlgAAAAMCAMAAACJODMmAAAAJFBMVEX////8/f76+/34+vz2+Pv09/ry9frw9Pnu8vjs8ffq7/bo7vb/UQqLAAAAOElEQVRYw+3ByQGAIADAsIqC1/77MkV/TSAxHImAkQg4EwFXImAmAlYi4E4EPImANxHwJQL+RLABg/SasQej6GUAAAAASUVORK5CYII=",
  "table-sides.png":
    "iVBORw0KGgoAAAANSUhEUgAAAlgAAAAECAMAAABla7FLAAAABlBMVEXJ1ub3+fyn3+M4AAAAI0lEQVRIx+3SMQEAMBADoat/0zXx2UAD9eBcicWAWEyIxUQf6xkJWR2THBAAAAAASUVORK5CYII=",
  "circles.png":
    "iVBORw0KGgoAAAANSUhEUgAAAEAAAABACAMAAACdt4HsAAAABlBMVEX////X4/Fi7ZJuAAAAAXRSTlMAQObYZgAAAMJJREFUWMPtllEOgDAIQ+v9L+3vIpSCNZqY8eegz80hAGz7tx2reeo548htLmcLLX1rtS3vI8qgBkFFuH4V0T5j5YQy8Y2kvgiLDpI/jHBdp1lc5AmTJz4FWFWBkAIyPXtMCVEQv6cClG8IW1AbqM8o7tYFNO45BWAAgAIAOWEDBoBbt2DnwcepbP+Nj9QDryLZNdGvynZf8DuT3Rv97uzPB/aE8tgMZExp/pxIA9tyrCnIFgYIms83EBN5ZIzV2960E26cAw2pYk54AAAAAElFTkSuQmCC",
  "bg.jpg":
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAA0JCgsKCA0LCgsODg0PEyAVExISEyccHhcgLikxMC4pLSwzOko+MzZGNywtQFdBRkxOUlNSMj5aYVpQYEpRUk//2wBDAQ4ODhMREyYVFSZPNS01T09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT0//wAARCAAgACADASIAAhEBAxEB/8QAFgABAQEAAAAAAAAAAAAAAAAAAAIH/8QAFRABAQAAAAAAAAAAAAAAAAAAABH/xAAWAQEBAQAAAAAAAAAAAAAAAAAAAQL/xAAUEQEAAAAAAAAAAAAAAAAAAAAA/9oADAMBAAIRAxEAPwDRaVNK2yqlTSgmlTSqiqVNKD//2Q==",
};

/** The bytes of a bundled file, or null for any other name. */
export function mediaFile(name: string): Uint8Array | string | null {
  if (name === "forgot_password.css") return PAGES_CSS;
  const b64 = Object.hasOwn(IMAGES, name) ? IMAGES[name] : undefined;
  return b64 === undefined ? null : fromBase64(b64);
}
